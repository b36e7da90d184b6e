"""Shared helpers for benchmarks: a fresh PostgreSQL database, a gunicorn server, a seeded world."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_postgres(name: str) -> Iterator[str]:
    database = f"{name}_{os.getpid()}"
    subprocess.run(PG_ADMIN + [f"DROP DATABASE IF EXISTS {database}"], check=True)
    subprocess.run(PG_ADMIN + [f"CREATE DATABASE {database}"], check=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    finally:
        subprocess.run(PG_ADMIN + [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)


def bench_config(database_url: str, blob_dir: str) -> dict[str, object]:
    return {"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret", "BLOB_DIR": blob_dir,
            "PASSWORD_KDF": "scrypt:1024:8:1"}


def migrate(config: dict[str, object]) -> None:
    from flask_migrate import upgrade

    from server import create_app
    from server.extensions import db

    app = create_app(config)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@contextmanager
def gunicorn(config: dict[str, object], workers: int = 4, threads: int = 2, app: str = "wsgi:app",
             cwd: Path = ROOT) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    env.update({key: str(value) for key, value in config.items()})
    log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--worker-class", "gthread", "--no-control-socket", app],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(base + "/v1/projects", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn did not start; see {log.name}")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


# --- helpers for bench/load.py (appended) --------------------------------------------------------------------

class Server:
    """A running gunicorn: its base URL, master process and log file."""

    def __init__(self, base: str, process: subprocess.Popen, log_path: str) -> None:
        self.base, self.process, self.log_path = base, process, log_path

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid)


def child_pids(parent: int) -> list[int]:
    """Direct children of a process (gunicorn's workers), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..." — comm may contain spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


@contextmanager
def gunicorn_server(config: dict[str, object], workers: int = 4, threads: int = 4,
                    extra: tuple[str, ...] = ()) -> Iterator[Server]:
    """Like ``gunicorn`` but yields the process and its log (for worker counts, py-spy, error logs)."""
    port = free_port()
    env = dict(os.environ)
    env.update({key: str(value) for key, value in config.items()})
    fd, log_path = tempfile.mkstemp(prefix="gunicorn-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), "--worker-class", "gthread", *extra, "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(base + "/v1/projects", timeout=1).close()
            except urllib.error.HTTPError as error:
                error.close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn did not start; see {log_path}")
        yield Server(base, process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def classified_households(count: int, year: int) -> list[dict]:
    """``count`` varied real classification results (``ClassificationResult.to_dict()``) of ``year``, for
    seeding: houses, incomes and rosters drawn with a fixed seed, one urban household in three."""
    import random

    from server.standards.classify import classify

    rng = random.Random(7)
    adult = {"m_sex": "male", "m_birth_year": "1980", "m_relation": "head", "m_insurance": "yes",
             "m_in_school": "no", "m_diploma": "upper_secondary", "m_work": "self_employed", "m_disability": "no"}
    results = []
    for n in range(count):
        house = {"wall_material": rng.choice(("durable", "bamboo")), "column_material": rng.choice(("durable", "wood")),
                 "roof_material": rng.choice(("durable", "leaves")), "living_area_m2": str(rng.choice((12, 30, 60))),
                 "water_source": rng.choice(("piped", "river")), "latrine": rng.choice(("septic", "none")),
                 "uses_phone": "yes", "uses_internet": rng.choice(("yes", "no")), "info_devices": "tv smartphone",
                 "income_per_person_month": str(rng.randrange(800_000, 3_000_000, 50_000)), "head_name": "A"}
        members = [dict(adult, m_name="A")] + [dict(adult, m_name=f"M{k}", m_relation="child",
                                                    m_birth_year=str(rng.randrange(2008, 2022)),
                                                    m_insurance=rng.choice(("yes", "no")))
                                               for k in range(n % 4)]
        results.append(classify({"fields": house, "repeats": {"member": members}}, year=year,
                                urban=n % 3 == 0).to_dict())
    return results


def phieu_b_campaign(project_name: str, year: int):  # type: ignore[no-untyped-def]
    """A project with a stand-in Phiếu B (no XForm body: seeded rows never go through a phone) and the year's
    campaign, flushed inside the caller's app context; returns (form, form definition, campaign)."""
    from datetime import date

    from server.campaigns.models import Campaign
    from server.collect.models import Form, FormDef, Project
    from server.extensions import db

    project = Project(name=project_name)
    db.session.add(project)
    db.session.flush()
    form = Form(project_id=project.id, xml_form_id="phieu_b")
    db.session.add(form)
    db.session.flush()
    form_def = FormDef(form_id=form.id, version="1", name="Phiếu B", xml=b"<h:html/>", md5="0" * 32, sha256="0" * 64)
    db.session.add(form_def)
    db.session.flush()
    form.current_def_id = form_def.id
    campaign = Campaign(project_id=project.id, year=year, name="Bench", starts_on=date(year, 9, 1),
                        ends_on=date(year, 12, 15))
    db.session.add(campaign)
    db.session.flush()
    return form, form_def, campaign
