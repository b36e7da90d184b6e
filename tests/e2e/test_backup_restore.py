"""The backup and restore procedure of docs/deploy.md, run for real: submissions with photos in a fresh
database, the documented backup commands, a restore into another fresh database and a copy of the
attachment directory, and the app on the restored copy serving the same submissions and files,
byte for byte.

PostgreSQL: ``pg_dump -Fc`` + ``tar`` of BLOB_DIR, then ``pg_restore`` into an empty database. SQLite (the
embedded mode, and the first CI pass): the same with sqlite3's online backup API.
"""

from __future__ import annotations

import sqlite3
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from server import create_app
from server.extensions import db
from tests.conftest import SECRET
from tests.factories import build_world, device_post, submission_xml

pytestmark = pytest.mark.slow
HOUSEHOLDS = {f"uuid:backup-{n}": bytes([n]) * 5000 + uuid.uuid4().bytes for n in range(4)}


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump/pg_restore take it (no driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def fresh_urls(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two new, empty databases next to the test database: the original and the restore target."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'original.sqlite3'}", f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    names = [f"backup_{kind}_{uuid.uuid4().hex[:10]}" for kind in ("original", "restored")]
    admin = _libpq(url.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield tuple(url.set(database=n).render_as_string(hide_password=False) for n in names)  # type: ignore[misc]
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _app(url: str, blob_dir: Path):  # type: ignore[no-untyped-def]
    return create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "BLOB_DIR": str(blob_dir), "BLOB_FSYNC": False,
                       "TESTING": True, "PASSWORD_KDF": "scrypt:1024:8:1", "PUBLIC_URL": "http://localhost"})


def _backup(url: str, blob_dir: Path, into: Path) -> None:
    """docs/deploy.md, "Back up": the database, then the attachment files (content-addressed, never
    rewritten, so copying them after the dump misses nothing the dump names)."""
    if make_url(url).get_backend_name() == "sqlite":
        with sqlite3.connect(make_url(url).database) as source, sqlite3.connect(into / "server.sqlite3") as target:
            source.backup(target)
    else:
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(into / "server.dump"),
                        _libpq(url)], check=True)
    subprocess.run(["tar", "-C", str(blob_dir), "-czf", str(into / "blobs.tar.gz"), "."], check=True)


def _restore(backup: Path, url: str, blob_dir: Path) -> None:
    """docs/deploy.md, "Restore": into an empty database and an empty attachment directory."""
    if make_url(url).get_backend_name() == "sqlite":
        with sqlite3.connect(backup / "server.sqlite3") as source, sqlite3.connect(make_url(url).database) as target:
            source.backup(target)
    else:
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", _libpq(url),
                        str(backup / "server.dump")], check=True)
    blob_dir.mkdir()
    with tarfile.open(backup / "blobs.tar.gz") as archive:
        archive.extractall(blob_dir, filter="data")


def test_backup_restore__documented_commands__restored_app_serves_identical_submissions_and_photos(
        fresh_urls, tmp_path):
    original_url, restored_url = fresh_urls
    original = _app(original_url, tmp_path / "blobs")
    with original.app_context():
        upgrade()
    world = build_world(original)
    client = original.test_client()
    for instance_id, photo in HOUSEHOLDS.items():
        response = device_post(client, world, submission_xml(instance_id), files={"house.jpg": photo})
        assert response.status_code == 201
    before = {i: client.get(f"/v1/projects/{world.project_id}/forms/demo/submissions/{i}.xml",
                            headers=world.basic("admin")).data for i in HOUSEHOLDS}
    with original.app_context():
        db.engine.dispose()

    backup = tmp_path / "backup"
    backup.mkdir()
    _backup(original_url, tmp_path / "blobs", backup)
    _restore(backup, restored_url, tmp_path / "restored-blobs")

    restored = _app(restored_url, tmp_path / "restored-blobs")
    with restored.app_context():
        upgrade()  # a no-op on a restored copy: the schema version came with the data
    reader = restored.test_client()
    base = f"/v1/projects/{world.project_id}/forms/demo/submissions"
    listed = reader.get(base, headers=world.basic("admin"))
    assert listed.status_code == 200
    assert sorted(s["instanceId"] for s in listed.json) == sorted(HOUSEHOLDS)
    for instance_id, photo in HOUSEHOLDS.items():
        assert reader.get(f"{base}/{instance_id}.xml", headers=world.basic("admin")).data == before[instance_id]
        served = reader.get(f"{base}/{instance_id}/attachments/house.jpg", headers=world.basic("admin"))
        assert served.status_code == 200 and served.data == photo
    # The restored copy takes new work: the device's token (derived from SECRET_KEY) still works.
    assert device_post(reader, world, submission_xml("uuid:after-restore"),
                       files={"house.jpg": b"new photo"}).status_code == 201
    with restored.app_context():
        db.engine.dispose()
