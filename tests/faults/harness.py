"""What the fault tests share: a real gunicorn, HTTP clients that behave like phones (re-send until 201),
the database's view of what was stored, and a way to park requests in the middle of their transaction."""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from server.collect.models import Blob, Submission, SubmissionAttachment, SubmissionDef
from server.extensions import db

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "----faults9d2b"
OPENROSA = {"X-OpenRosa-Version": "1.0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def libpq(url: str, dbname: str | None = None) -> str:
    """A psycopg conninfo for a SQLAlchemy URL (optionally another database on the same server)."""
    parsed = make_url(url)
    parts = {"host": parsed.host or "127.0.0.1", "port": parsed.port or 5432, "user": parsed.username or "postgres",
             "password": parsed.password, "dbname": dbname or parsed.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


# ---- the server --------------------------------------------------------------------------------------------

class Gunicorn:
    """gunicorn (gthread) serving wsgi:app with the given settings; workers can be killed and come back."""

    def __init__(self, settings: dict[str, object], log: Path, workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.workers = workers
        env = dict(os.environ, **{k: str(v) for k, v in settings.items()})
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                 "--threads", str(threads), "--worker-class", "gthread", "--no-control-socket", "--preload",
                 "--graceful-timeout", "5", "wsgi:app"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.log = log
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, seconds: float = 60) -> None:
        """Every worker is up and one of them answers."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}:\n{self.log.read_text(errors='replace')[-3000:]}")
            if len(self.worker_pids()) == self.workers \
                    and request(self.port, "GET", "/v1/projects", timeout=2)[0] == 403:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready; see {self.log}")

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid and fields[0] != "Z":
                    pids.append(int(entry.name))
        return pids

    def kill_workers(self, count: int | None = None) -> list[int]:
        """SIGKILL ``count`` workers (all by default); the master starts new ones."""
        pids = self.worker_pids()
        victims = pids if count is None else random.sample(pids, min(count, len(pids)))
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return victims

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)      # quick shutdown: the test is over
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


# ---- clients -----------------------------------------------------------------------------------------------

def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 30) -> tuple[int | str, bytes, dict[str, str]]:
    """(status, or the name of the connection error; body; headers), on a connection of its own."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, b"", {}
    finally:
        connection.close()


def multipart(xml: bytes, files: dict[str, bytes] | None = None) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; filename="s.xml"\r\n'
             f"Content-Type: text/xml\r\n\r\n".encode() + xml + b"\r\n"]
    for name, data in (files or {}).items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def post_submission(port: int, path: str, body: bytes, timeout: float = 30) -> tuple[int | str, bytes, dict]:
    return request(port, "POST", path, body, dict(OPENROSA, **{
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}), timeout)


def photo(instance_id: str, size: int = 30_000) -> bytes:
    return b"\xff\xd8\xff\xe0" + random.Random(instance_id).randbytes(size - 4)


@dataclass
class Phones:
    """Phones sending submissions concurrently, each re-sending an instance until it gets a 201 (as Collect
    does with a failed send). Records every outcome; ``acknowledged`` is what the server promised."""

    port: int
    path: str
    make_xml: Callable[[str], bytes]
    patience: float = 90
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: dict[str, list[int | str]] = field(default_factory=lambda: defaultdict(list))
    acknowledged: set[str] = field(default_factory=set)
    photos: dict[str, str] = field(default_factory=dict)       # instance → sha256 of its photo
    acked_event: threading.Event = field(default_factory=threading.Event)
    ack_target: int = 0

    def failures(self) -> int:
        with self.lock:
            return sum(1 for results in self.outcomes.values() for r in results if r != 201)

    def send(self, instance_id: str) -> None:
        data = photo(instance_id)
        with self.lock:
            self.photos[instance_id] = hashlib.sha256(data).hexdigest()
        body = multipart(self.make_xml(instance_id), {"house.jpg": data})
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            status, _, _ = post_submission(self.port, self.path, body)
            with self.lock:
                self.outcomes[instance_id].append(status)
                if status == 201:
                    self.acknowledged.add(instance_id)
                    if len(self.acknowledged) >= self.ack_target:
                        self.acked_event.set()
                    return
            time.sleep(random.uniform(0.1, 0.4))

    def run(self, phones: int, each: int, prefix: str) -> list[threading.Thread]:
        def phone(number: int) -> None:
            for n in range(each):
                self.send(f"uuid:{prefix}-{number:02d}-{n:02d}")

        threads = [threading.Thread(target=phone, args=(number,)) for number in range(phones)]
        for thread in threads:
            thread.start()
        return threads

    def wait_acks(self, count: int, seconds: float = 60) -> None:
        with self.lock:
            self.ack_target = count
            if len(self.acknowledged) >= count:
                return
            self.acked_event.clear()
        assert self.acked_event.wait(seconds), f"fewer than {count} submissions acknowledged"


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()


# ---- the database's view -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    submissions: Counter       # instance → rows
    defs: Counter              # instance → versions
    photos: dict[str, list[str | None]]   # instance → the blob sha256 of each attachment row (None: not arrived)
    blobs: dict[str, int]      # sha256 → size


def stored(app: Flask) -> Stored:
    with app.app_context():
        photos: dict[str, list[str | None]] = defaultdict(list)
        for instance_id, sha256 in db.session.execute(
                select(SubmissionDef.instance_id, Blob.sha256)
                .join(SubmissionAttachment, SubmissionAttachment.submission_def_id == SubmissionDef.id)
                .outerjoin(Blob, Blob.id == SubmissionAttachment.blob_id)):
            photos[instance_id].append(sha256)
        result = Stored(Counter(db.session.scalars(select(Submission.instance_id))),
                        Counter(db.session.scalars(select(SubmissionDef.instance_id))), dict(photos),
                        {sha256: size for sha256, size in db.session.execute(select(Blob.sha256, Blob.size))})
        db.session.remove()
        db.engine.dispose()
    return result


def assert_exactly_once(app: Flask, phones: Phones, blob_dir: Path) -> Stored:
    """Every acknowledged submission and its photo once; nothing else in the database; every blob's file there."""
    state = stored(app)
    assert phones.acknowledged == set(phones.photos), "a phone never got its submission acknowledged"
    assert set(state.submissions) == phones.acknowledged
    assert set(state.submissions.values()) == {1} and set(state.defs.values()) == {1}
    for instance_id in phones.acknowledged:
        assert state.photos.get(instance_id) == [phones.photos[instance_id]], instance_id
    for sha256, size in state.blobs.items():
        path = blob_dir / sha256[:2] / sha256
        assert path.is_file() and path.stat().st_size == size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    return state


# ---- parking requests mid-transaction ----------------------------------------------------------------------

@contextmanager
def audit_log_locked(url: str) -> Iterator[Callable[[int], None]]:
    """Hold an EXCLUSIVE lock on the audit table: every write request stops at its audit row, after its own
    rows are written and before it commits. Yields ``wait_parked(n)``: until n requests are stopped there."""
    with psycopg.connect(libpq(url)) as locker, psycopg.connect(libpq(url), autocommit=True) as watcher:
        locker.execute("LOCK TABLE audits IN EXCLUSIVE MODE")
        holder = locker.info.backend_pid

        def wait_parked(count: int, seconds: float = 30) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                parked = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> %s", (holder,)).fetchone()[0]
                if parked >= count:
                    return
                time.sleep(0.05)
            raise AssertionError(f"fewer than {count} requests reached the audit row")

        try:
            yield wait_parked
        finally:
            locker.rollback()
