"""Fault: the database restarts during a burst of uploads. Not the shared server: a private PostgreSQL
cluster in a temporary directory (initdb, pg_ctl; as the postgres user when run as root), on a free port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.extensions import db
from tests.factories import build_world, submission_xml
from tests.faults.conftest import migrated_app, settings_for
from tests.faults.harness import Phones, assert_exactly_once, free_port, join

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    bindir: Path
    data: Path
    port: int
    as_user: list[str]

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self.pg_ctl("-l", str(self.data.parent / "server.log"), "-o",
                    f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c fsync=off "
                    f"-c full_page_writes=off -c shared_buffers=16MB -c max_connections=60", "start")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres(fault_database: str) -> Iterator[Cluster]:
    """A throw-away cluster (needs fault_database only to run in the PostgreSQL pass, like the other faults)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1] or not Path(found[-1]).exists():
        pytest.skip("initdb is not installed: cannot start a private PostgreSQL cluster")
    bindir = Path(found[-1]).parent
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    if os.geteuid() == 0:                       # initdb refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no postgres user to own a private cluster")
        if shutil.which("runuser") is None:
            shutil.rmtree(root)
            pytest.skip("running as root without runuser: cannot start a private cluster as postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(bindir, root / "data", free_port(), as_user)
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cluster.start()
        yield cluster
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop"],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


def _wait(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the burst did not get that far"
        time.sleep(0.05)


def test_fault__database_restarted_mid_burst__no_loss_no_duplicate(private_postgres, blob_dir, start_server):
    settings = settings_for(private_postgres.url, blob_dir)
    app = migrated_app(settings)
    world = build_world(app)
    with app.app_context():
        db.engine.dispose()                                  # no pooled connection outlives the restarts
    server = start_server(settings, workers=2, threads=4)
    path = f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission"
    phones = Phones(server.port, path, submission_xml)
    threads = phones.run(phones=10, each=6, prefix="restart")
    phones.wait_acks(8)
    private_postgres.pg_ctl("-m", "fast", "restart")         # a clean restart: connections are cut
    phones.wait_acks(len(phones.acknowledged) + 8)
    failures = phones.failures()
    private_postgres.pg_ctl("-m", "immediate", "stop")      # a crash: in-flight transactions are lost
    _wait(lambda: phones.failures() > failures)              # phones find the database gone
    private_postgres.start()                                 # crash recovery, then the phones get through
    join(threads)
    assert_exactly_once(app, phones, blob_dir)
