"""Load: many phones and a few verifiers against the real server (gunicorn + a fresh PostgreSQL database).

Each simulated device behaves like ODK Collect: on start it fetches the form list, every form's XML,
manifest and media files; then, with think time between actions (a person fills in the form), it
re-checks the form list now and then, sends HEAD /submission and POSTs a Phiếu B household (a 5-member
roster, GPS and one ~200 KB photo, multipart). Some uploads are split as Collect splits large ones
(the XML first, then the photo in a second POST with the same instanceID); some give up on a short
client-side timeout and re-send the same instance; any error or dropped connection is retried with
back-off, as Collect retries a failed send. Verifiers log in (POST /v1/sessions), load their queue
(JSON and the web page), open a household and record decisions through /v1/reviews.

Afterwards the database is checked: every acknowledged (201) submission and each of its attachments is
there exactly once, no review decision acknowledged to a verifier is missing or doubled, and nothing
that was never acknowledged is half-stored.

    .venv/bin/python bench/load.py [--devices 50] [--seconds 60] [--think 5] [--verifiers 3]
                                   [--workers 4] [--threads 4] [--no-fsync] [--profile]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

from common import bench_config, fresh_postgres, gunicorn_server, migrate

from tests.factories import DEMO_FORM, PHIEU_B, UNITS

PASSWORD = "bench password 123"
BOUNDARY = "----odkload5c1e"
VILLAGES = {"07210-01": ("07210", 21.28, 106.205), "07210-02": ("07210", 21.281, 106.207),
            "07228-01": ("07228", 21.30, 106.17), "07228-02": ("07228", 21.301, 106.172)}
VERIFIERS = [("verifier-07210-01@bench.vn", "verifier", ["07210-01"]),
             ("verifier-07228-01@bench.vn", "verifier", ["07228-01"]),
             ("commune-07210@bench.vn", "commune", ["07210"]),
             ("verifier-07210-02@bench.vn", "verifier", ["07210-02"]),
             ("commune-07228@bench.vn", "commune", ["07228"])]
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Thu", "Ngọc", "Hữu")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Lan", "Long", "Mai", "Minh", "Nam", "Ngọc",
         "Oanh", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Tuấn", "Vân", "Xuân", "Yến")
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
MEETING = {"held_on": YESTERDAY, "chair": "Trưởng thôn", "attendees": 40, "minutes_ref": "bien-ban.jpg"}


# ---- the world -------------------------------------------------------------------------------------------

@dataclass
class World:
    project_id: int
    devices: list[tuple[str, str]]          # (token, village)
    verifiers: list[tuple[str, str, list[str]]]


def seed(config: dict[str, object], devices: int, verifiers: int) -> World:
    from server import create_app
    from server.accounts import services as accounts
    from server.campaigns import services as campaigns
    from server.collect import forms_service
    from server.collect.models import FormAssignment, Project
    from server.extensions import db
    from server.units.services import choice_lists, set_area_members, upsert_units

    app = create_app(config)
    year = date.today().year
    with app.app_context():
        upsert_units(UNITS)
        set_area_members("AREA-A", ["07210"])
        set_area_members("AREA-B", ["07228"])
        project = Project(name="Rà soát (load)")
        db.session.add(project)
        db.session.flush()
        form_ids = []
        for name, md in (("phieu_b", PHIEU_B), ("demo", DEMO_FORM)):
            form_def = forms_service.publish(project, md.encode(), "text/markdown", None, filename=f"{name}.md",
                                             generate=choice_lists)
            form_ids.append(form_def.form_id)
        campaigns.create_campaign(project.id, year, date(year, 1, 1), date(year, 12, 31), [], by=None)
        villages = list(VILLAGES)
        world = World(project.id, [], VERIFIERS[:verifiers])
        for number in range(devices):
            village = villages[number % len(villages)]
            key = accounts.create_app_user(project.id, f"Điện thoại {number:03d}", [village], by=None)
            for form_id in form_ids:
                db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form_id))
            world.devices.append((accounts.app_user_token(key), village))
        for email, role, units in world.verifiers:
            accounts.create_user(email, PASSWORD, role, units, by=None)
        db.session.commit()
        db.engine.dispose()
    return world


def household_xml(instance_id: str, village: str, photo: str) -> bytes:
    rng = random.Random(instance_id)
    commune, lat, lon = VILLAGES[village]

    def name() -> str:
        return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"

    head = name()
    roster = "".join(
        f"<member><m_name>{head if i == 0 else name()}</m_name><m_sex>{'male' if i % 2 == 0 else 'female'}</m_sex>"
        f"<m_birth_year>{1950 + rng.randrange(50) if i < 2 else 2005 + rng.randrange(15)}</m_birth_year>"
        f"<m_relation>{'head' if i == 0 else 'spouse' if i == 1 else 'child'}</m_relation>"
        f"<m_insurance>{rng.choice(('yes', 'yes', 'no'))}</m_insurance>"
        f"<m_in_school>{'yes' if i >= 2 else 'no'}</m_in_school><m_school_level>primary</m_school_level>"
        f"<m_diploma>upper_secondary</m_diploma><m_work>self_employed</m_work><m_disability>no</m_disability>"
        f"</member>" for i in range(5))
    house = {"wall_material": "durable", "column_material": rng.choice(("durable", "non_durable")),
             "roof_material": "durable", "living_area_m2": str(rng.randrange(15, 90)),
             "water_source": rng.choice(("piped", "drilled_well", "surface")),
             "latrine": rng.choice(("septic", "open")),
             "uses_phone": "yes", "uses_internet": rng.choice(("yes", "no")), "info_devices": "tv smartphone",
             "income_per_person_month": str(rng.randrange(900_000, 2_600_000, 50_000))}
    body = "".join(f"<{k}>{v}</{k}>" for k, v in house.items())
    gps = f"{lat + rng.uniform(-0.002, 0.002):.6f} {lon + rng.uniform(-0.002, 0.002):.6f} 12 4.5"
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" id="phieu_b" '
            f'version="1"><head_name>{head}</head_name><commune>{commune}</commune><village>{village}</village>'
            f"<gps>{gps}</gps><house_photo>{photo}</house_photo>{roster}{body}"
            f"<meta><instanceID>{instance_id}</instanceID></meta></data>").encode()


def multipart(xml: bytes, files: dict[str, bytes]) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
             f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'.encode() + xml + b"\r\n"]
    for name, data in files.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


# ---- measuring -------------------------------------------------------------------------------------------

@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def record(self, kind: str, status: int | str, seconds: float | None) -> None:
        with self.lock:
            self.statuses[kind][status] += 1
            if seconds is not None:
                self.latencies[kind].append(seconds)


@dataclass
class Ledger:
    """What the clients were told: the truth the database must agree with afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    attempted: dict[str, tuple[str, str]] = field(default_factory=dict)   # instance → (photo name, sha256)
    acked_xml: set[str] = field(default_factory=set)                      # some POST got 201
    acked_photo: set[str] = field(default_factory=set)                    # a 201 for a POST carrying the photo
    decisions: Counter = field(default_factory=Counter)                   # (review, action) acknowledged


class Client:
    """One HTTP/1.1 connection at a time, opened per burst of requests (a phone wakes up, sends, sleeps)."""

    def __init__(self, base: str, stats: Stats, timeout: float = 60) -> None:
        url = urlparse(base)
        self.host, self.port, self.stats, self.timeout = url.hostname, url.port, stats, timeout
        self.connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, kind: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float | None = None) -> tuple[int | str, bytes]:
        """(status or error name, body). Errors close the connection, as a phone's stack would."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            if timeout is not None:
                self.connection.timeout = timeout
                if self.connection.sock is not None:
                    self.connection.sock.settimeout(timeout)
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
            data = response.read()
            status: int | str = response.status
            if response.will_close:
                self.close()
        except TimeoutError:
            self.close()
            self.stats.record(kind, "client_timeout", None)
            return "client_timeout", b""
        except (OSError, http.client.HTTPException) as error:
            self.close()
            self.stats.record(kind, type(error).__name__, None)
            return type(error).__name__, b""
        finally:
            if timeout is not None and self.connection is not None:
                self.connection.timeout = self.timeout
                if self.connection.sock is not None:
                    self.connection.sock.settimeout(self.timeout)
        self.stats.record(kind, status, time.perf_counter() - started)
        return status, data


OPENROSA = {"X-OpenRosa-Version": "1.0"}
OUT = Path(__file__).resolve().parent / "out"


def pause(seconds: float, deadline: float) -> None:
    time.sleep(max(0.0, min(seconds, deadline - time.perf_counter())))


def device(base: str, project_id: int, token: str, village: str, args: argparse.Namespace, stats: Stats,
           ledger: Ledger, deadline: float, rng: random.Random) -> None:
    prefix = f"/v1/key/{token}/projects/{project_id}"
    client = Client(base, stats)
    time.sleep(rng.uniform(0, args.think))           # phones do not all start at once

    def fetch_forms() -> None:
        status, body = client.request("formList", "GET", prefix + "/formList", headers=OPENROSA)
        if status != 200:
            return
        text = body.decode()
        for chunk in text.split("<xform>")[1:]:
            form_url = chunk.split("<downloadUrl>")[1].split("</downloadUrl>")[0]
            client.request("form_xml", "GET", urlparse(form_url).path)
            if "<manifestUrl>" in chunk:
                manifest_url = chunk.split("<manifestUrl>")[1].split("</manifestUrl>")[0]
                status, manifest = client.request("manifest", "GET", urlparse(manifest_url).path, headers=OPENROSA)
                for media in manifest.decode().split("<downloadUrl>")[1:]:
                    client.request("media", "GET", urlparse(media.split("</downloadUrl>")[0]).path)

    def post(kind: str, body: bytes, timeout: float | None = None) -> int | str:
        headers = dict(OPENROSA, **{"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        status, _ = client.request(kind, "POST", prefix + "/submission?deviceID=collect:" + token[:8], body=body,
                                   headers=headers, timeout=timeout)
        return status

    def send_until_acknowledged(kind: str, body: bytes, first_timeout: float | None = None) -> bool:
        """Collect re-sends a failed instance; give up only when the run is long over."""
        timeout, backoff = first_timeout, 1.0
        while True:
            status = post(kind, body, timeout)
            if status == 201:
                return True
            if time.perf_counter() > deadline + args.grace:
                return False
            kind, timeout = "submission_retry", None
            time.sleep(backoff * rng.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 8)

    fetch_forms()
    client.close()
    while time.perf_counter() < deadline:
        pause(rng.expovariate(1 / args.think), deadline)
        if time.perf_counter() >= deadline:
            break
        if rng.random() < 0.1:
            fetch_forms()
        status, _ = client.request("head_submission", "HEAD", prefix + "/submission", headers=OPENROSA)
        instance_id = f"uuid:{uuid.uuid4()}"
        photo_name = f"{int(time.time() * 1000)}_{rng.randrange(10**6):06d}.jpg"
        photo = b"\xff\xd8\xff\xe0" + rng.randbytes(args.photo_kb * 1024 - 4)
        xml = household_xml(instance_id, village, photo_name)
        with ledger.lock:
            ledger.attempted[instance_id] = (photo_name, hashlib.sha256(photo).hexdigest())
        mode = rng.random()
        if mode < args.split:                      # Collect splits a large upload: XML first, then the files
            if send_until_acknowledged("submission_xml_only", multipart(xml, {})):
                with ledger.lock:
                    ledger.acked_xml.add(instance_id)
                if send_until_acknowledged("submission_second_part", multipart(xml, {photo_name: photo})):
                    with ledger.lock:
                        ledger.acked_photo.add(instance_id)
        else:
            # a short client-side timeout on some sends: the phone gives up and re-sends the same instance
            timeout = rng.uniform(0.005, 0.1) if mode < args.split + args.timeouts else None
            kind = "submission_short_timeout" if timeout else "submission"
            if send_until_acknowledged(kind, multipart(xml, {photo_name: photo}), timeout):
                with ledger.lock:
                    ledger.acked_xml.add(instance_id)
                    ledger.acked_photo.add(instance_id)
        client.close()


NEXT_ACTION = {"verifier": ("village_review", "record_meeting_vote", {"meeting": MEETING, "votes_in_favour": 30}),
               "commune": ("village_agreed", "commune_confirm", {})}


def verifier(base: str, email: str, role: str, args: argparse.Namespace, stats: Stats, ledger: Ledger,
             deadline: float, rng: random.Random) -> None:
    client = Client(base, stats)
    status, body = client.request("login", "POST", "/v1/sessions",
                                  body=json.dumps({"email": email, "password": PASSWORD}).encode(),
                                  headers={"Content-Type": "application/json"})
    if status != 200:
        return
    token = json.loads(body)["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    state, action, payload = NEXT_ACTION[role]
    while time.perf_counter() < deadline:
        client.close()                             # idle longer than the server's keep-alive
        pause(rng.expovariate(1 / args.verifier_think), deadline)
        if time.perf_counter() >= deadline:
            break
        if rng.random() < 0.3:
            client.request("queue_page", "GET", "/queue" if role == "verifier" else "/commune",
                           headers={"Cookie": f"session_token={token}"})
        status, body = client.request("reviews_queue", "GET", f"/v1/reviews?state={state}", headers=bearer)
        if status != 200:
            continue
        rows = json.loads(body)
        if not rows:
            continue
        review = rng.choice(rows[:20])
        client.request("review_detail", "GET", f"/v1/reviews/{review['id']}", headers=bearer)
        time.sleep(rng.uniform(0.2, 1.0))          # reading the household before deciding
        status, body = client.request("review_action", "POST", f"/v1/reviews/{review['id']}/actions",
                                      body=json.dumps({"action": action, "expectedState": state, **payload}).encode(),
                                      headers={**bearer, "Content-Type": "application/json"})
        if status == 200:
            with ledger.lock:
                ledger.decisions[(review["id"], action)] += 1
    client.close()


# ---- checking the database -------------------------------------------------------------------------------

def verify(config: dict[str, object], ledger: Ledger, blob_dir: str) -> list[str]:
    from sqlalchemy import func, select

    from server import create_app
    from server.collect.models import Blob, Submission, SubmissionAttachment, SubmissionDef
    from server.extensions import db
    from server.review.models import Review, ReviewEvent

    app = create_app(config)
    lines = []
    with app.app_context():
        subs = Counter(db.session.scalars(select(Submission.instance_id)))
        defs = Counter(db.session.scalars(select(SubmissionDef.instance_id)))
        rows = db.session.execute(
            select(SubmissionDef.instance_id, SubmissionAttachment.name, Blob.sha256, Blob.size)
            .join(SubmissionAttachment, SubmissionAttachment.submission_def_id == SubmissionDef.id)
            .outerjoin(Blob, Blob.id == SubmissionAttachment.blob_id)).all()
        attachments: dict[str, list[tuple[str, str | None, int | None]]] = defaultdict(list)
        for instance_id, name, sha256, size in rows:
            attachments[instance_id].append((name, sha256, size))
        blobs = db.session.execute(select(Blob.sha256, Blob.size)).all()
        defless = db.session.scalar(select(func.count()).select_from(Submission).where(
            ~select(SubmissionDef.id).where(SubmissionDef.submission_id == Submission.id).exists()))
        events = Counter(db.session.execute(select(ReviewEvent.review_id, ReviewEvent.action)).all())
        review_states = dict(db.session.execute(select(Review.id, Review.state)).all())
        last_events = dict(db.session.execute(
            select(ReviewEvent.review_id, ReviewEvent.to_state)
            .where(ReviewEvent.id.in_(select(func.max(ReviewEvent.id)).group_by(ReviewEvent.review_id)))).all())
        db.engine.dispose()

    def photo_ok(instance_id: str) -> bool:
        name, sha256 = ledger.attempted[instance_id]
        found = [a for a in attachments.get(instance_id, []) if a[0] == name]
        if len(found) != 1 or found[0][1] != sha256:
            return False
        path = Path(blob_dir) / sha256[:2] / sha256
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256

    acked = ledger.acked_xml
    lost = [i for i in acked if subs[i] == 0 or defs[i] == 0]
    duplicated = [i for i in subs if subs[i] > 1 or defs[i] > 1]
    photos_lost = [i for i in ledger.acked_photo if not photo_ok(i)]
    photo_rows_doubled = [i for i, items in attachments.items() if len({n for n, _, _ in items}) != len(items)]
    strangers = [i for i in subs if i not in ledger.attempted]
    unacked = [i for i in subs if i not in acked and i in ledger.attempted]
    # half-stored: a submission without its version, an attachment pointing at a blob whose file is missing
    def file_ok(sha256: str, size: int) -> bool:
        path = Path(blob_dir) / sha256[:2] / sha256
        return path.is_file() and path.stat().st_size == size

    missing_files = [s for s, size in blobs if not file_ok(s, size)]
    lines.append(f"submissions: attempted={len(ledger.attempted)} acknowledged={len(acked)} "
                 f"(photo acknowledged={len(ledger.acked_photo)}) in database={len(subs)}")
    lines.append(f"lost={len(lost)} duplicated={len(duplicated)}")
    lines.append(f"attachments: lost={len(photos_lost)} duplicated={len(photo_rows_doubled)}")
    lines.append(f"unacknowledged in database={len(unacked)} unknown={len(strangers)} "
                 f"half_stored={defless + len(missing_files)} (submissions without a version {defless}, "
                 f"blob rows without their file {len(missing_files)})")
    decided_lost = [k for k, n in ledger.decisions.items() if events[k] < 1]
    decided_twice = [k for k, n in events.items() if n > 1 and k[1] not in ("check", "send_to_village", "resubmitted")]
    inconsistent = [r for r, state in review_states.items() if last_events.get(r) != state]
    lines.append(f"review decisions: acknowledged={sum(ledger.decisions.values())} lost={len(decided_lost)} "
                 f"duplicated={len(decided_twice)}; reviews={len(review_states)} whose state disagrees with "
                 f"their last event={len(inconsistent)}; states {dict(Counter(review_states.values()))}")
    return lines


# ---- reporting -------------------------------------------------------------------------------------------

ORDER = ("formList", "form_xml", "manifest", "media", "head_submission", "submission", "submission_xml_only",
         "submission_second_part", "submission_short_timeout", "submission_retry", "login", "queue_page",
         "reviews_queue", "review_detail", "review_action")
SUBMISSION_KINDS = ("submission", "submission_xml_only", "submission_second_part", "submission_retry")


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(stats: Stats, seconds: float) -> list[str]:
    lines = [f"{'kind':<26}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses"]
    kinds = sorted(stats.statuses, key=lambda k: ORDER.index(k) if k in ORDER else 99)
    for kind in kinds:
        times = stats.latencies.get(kind, [])
        count = sum(stats.statuses[kind].values())
        statuses = " ".join(f"{s}:{n}" for s, n in sorted(stats.statuses[kind].items(), key=str))
        lines.append(f"{kind:<26}{count:>7}{count / seconds:>8.2f}{percentile(times, 50) * 1000:>9.1f}"
                     f"{percentile(times, 95) * 1000:>9.1f}{percentile(times, 99) * 1000:>9.1f}"
                     f"{(max(times) if times else float('nan')) * 1000:>9.1f}  {statuses}")
    posts = [t for k in SUBMISSION_KINDS for t in stats.latencies.get(k, [])]
    lines.append(f"{'all submission POSTs':<26}{len(posts):>7}{len(posts) / seconds:>8.2f}"
                 f"{percentile(posts, 50) * 1000:>9.1f}{percentile(posts, 95) * 1000:>9.1f}"
                 f"{percentile(posts, 99) * 1000:>9.1f}{(max(posts) if posts else float('nan')) * 1000:>9.1f}"
                 "  (answered ones, excluding the deliberately short-timeout sends)")
    return lines


def start_processor(config: dict[str, object]) -> subprocess.Popen:
    env = dict(os.environ, FLASK_APP="wsgi", **{k: str(v) for k, v in config.items()})
    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen([str(root / ".venv/bin/flask"), "submissions", "process", "--loop", "--batch", "20",
                             "--idle-seconds", "0.5"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def drain(config: dict[str, object], processor: subprocess.Popen, grace: float) -> tuple[int, float]:
    """Let the worker finish what the run left; (versions still unprocessed, seconds waited)."""
    from sqlalchemy import func, select

    from server import create_app
    from server.collect.models import SubmissionDef
    from server.extensions import db

    app = create_app(config)
    started = time.perf_counter()
    with app.app_context():
        while True:
            pending = db.session.scalar(select(func.count()).select_from(SubmissionDef)
                                        .where(SubmissionDef.processed_at.is_(None)))
            db.session.rollback()
            if not pending or time.perf_counter() - started > grace:
                break
            time.sleep(0.5)
        db.engine.dispose()
    processor.terminate()
    processor.wait(timeout=30)
    return pending, time.perf_counter() - started


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy") or ""
    if not Path(py_spy).is_file():
        print("--profile: py-spy not found (pip install py-spy, or PY_SPY=/path/to/py-spy); not profiling")
        return None
    return subprocess.Popen([py_spy, "record", "--subprocesses", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", "50", "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PROJECT_DIRS = ("server/", "sync/", "forms/")


def summarize_profile(path: Path, top: int = 25) -> list[str]:
    """Where the workers' samples went: inclusive share of this project's functions and of libraries."""
    if not path.is_file():
        return [f"no profile written at {path}"]
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        if not any("Flask.wsgi_app" in f for f in frames):
            continue                                   # idle threads, the master
        total += samples
        seen = set()
        for frame in frames:
            name, _, where = frame.partition(" (")
            path = where.split(":")[0]
            if path.startswith(PROJECT_DIRS):
                key = f"{name} ({path})"
            elif "/" in path and not path.startswith("<"):
                key = f"[{path.split('/')[0]}]"        # a library, all its frames together
            else:
                continue
            if key not in seen:
                seen.add(key)
                inclusive[key] += samples
        own[frames[-1].split(" (")[0] + " (" + frames[-1].split(" (")[-1]] += samples
    if not total:
        return ["the profile holds no request samples"]
    lines = [f"profile: {total} samples in requests (py-spy, all workers); inclusive share:"]
    lines += [f"  {n / total:6.1%}  {key}" for key, n in inclusive.most_common(top)]
    lines.append("hottest leaf frames:")
    lines += [f"  {n / total:6.1%}  {key}" for key, n in own.most_common(12)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=5.0,
                        help="mean seconds a phone's user spends between sends (exponential); default 5")
    parser.add_argument("--verifiers", type=int, default=3, choices=range(0, len(VERIFIERS) + 1))
    parser.add_argument("--verifier-think", type=float, default=3.0)
    parser.add_argument("--split", type=float, default=0.15, help="share of uploads split in two POSTs")
    parser.add_argument("--timeouts", type=float, default=0.05,
                        help="share of uploads sent with a short client-side timeout, then re-sent")
    parser.add_argument("--photo-kb", type=int, default=200)
    parser.add_argument("--grace", type=float, default=30, help="seconds after the end to finish retries")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-fsync", action="store_true", help="BLOB_FSYNC=false (default: fsync on)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gunicorn workers (raw stacks to a file)")
    parser.add_argument("--deferred", action="store_true",
                        help="PROCESS_INLINE=false: the request stores; a `flask submissions process --loop` worker "
                             "classifies, matches and opens reviews")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(f"bench/load.py: {args.devices} devices (think ~{args.think:g} s, {args.split:.0%} split uploads, "
          f"{args.timeouts:.0%} short client timeouts), {args.verifiers} verifiers, {args.seconds:g} s; gunicorn "
          f"{args.workers} workers × {args.threads} threads (gthread), PostgreSQL, Phiếu B with a 5-member roster "
          f"and a {args.photo_kb} KB photo, fsync {'off' if args.no_fsync else 'on'}, processing "
          f"{'deferred to one `flask submissions process --loop` worker' if args.deferred else 'inline'}")
    offered = args.devices / args.think
    print(f"offered: ≈{offered:.1f} households/s ({offered * (1 + args.split):.1f} submission POSTs/s, "
          f"{offered * (2 + args.split):.1f} device requests/s) once every phone is running; "
          f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    stats, ledger = Stats(), Ledger()
    with fresh_postgres("bench_load") as url, tempfile.TemporaryDirectory() as blobs:
        config = bench_config(url, blobs)
        config["BLOB_FSYNC"] = not args.no_fsync
        config["PROCESS_INLINE"] = not args.deferred
        migrate(config)
        world = seed(config, args.devices, args.verifiers)
        with gunicorn_server(config, workers=args.workers, threads=args.threads,
                             extra=("--no-control-socket",)) as server:
            OUT.mkdir(exist_ok=True)
            profile_path = OUT / "load.pyspy.txt"
            profiler = start_profiler(server.process.pid, args.seconds, profile_path) if args.profile else None
            started = time.perf_counter()
            deadline = started + args.seconds
            threads = [threading.Thread(target=device, args=(server.base, world.project_id, token, village, args,
                                                              stats, ledger, deadline, random.Random(args.seed + n)))
                       for n, (token, village) in enumerate(world.devices)]
            threads += [threading.Thread(target=verifier, args=(server.base, email, role, args, stats, ledger,
                                                                deadline, random.Random(args.seed * 1000 + n)))
                        for n, (email, role, _) in enumerate(world.verifiers)]
            loads = []

            def sample_load() -> None:
                while time.perf_counter() < deadline:
                    loads.append(os.getloadavg()[0])
                    time.sleep(5)

            sampler = threading.Thread(target=sample_load, daemon=True)
            sampler.start()
            processor = start_processor(config) if args.deferred else None
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            if server.process.poll() is not None:
                raise SystemExit(f"the server died during the run; see {server.log_path}")
            backlog = drain(config, processor, args.grace) if processor is not None else None
            if profiler is not None:
                profiler.wait(timeout=60)
            errors = sum(1 for line in Path(server.log_path).read_text(errors="replace").splitlines()
                         if "Traceback" in line)
        print(f"ran {elapsed:.1f} s (the last sends and retries finish after the {args.seconds:g} s); load average "
              f"during: max {max(loads, default=0):.2f}, at the end {os.getloadavg()[0]:.2f} (2 shared cores: "
              f"other work on the machine adds to the client's and the server's)")
        for line in report(stats, args.seconds):
            print(line)
        print(f"server tracebacks in the gunicorn log: {errors} ({server.log_path})")
        if backlog is not None:
            print(f"deferred processing: {backlog[0]} versions still unprocessed {backlog[1]:.1f} s after the run")
        for line in verify(config, ledger, blobs):
            print(line)
        if profiler is not None:
            for line in summarize_profile(profile_path):
                print(line)


if __name__ == "__main__":
    main()
