"""Fault: the attachment disk is full. BLOB_DIR is a 1 MiB tmpfs (mounting needs root; skipped otherwise),
filled up by another file; submissions get a clear OpenRosa error and leave nothing behind, and are
accepted when they are sent again after space is freed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import build_world, submission_xml
from tests.faults.harness import multipart, photo, post_submission, stored

pytestmark = pytest.mark.slow
PHOTO_BYTES = 150_000


@pytest.fixture
def small_disk() -> Iterator[Path]:
    mount_point = Path(tempfile.mkdtemp(prefix="faults-disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()


def _fill(disk: Path, leave: int) -> Path:
    """A file taking all the space but ``leave`` bytes."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return filler


def test_fault__attachment_disk_full__clear_error_nothing_half_stored_then_accepted(
        fault_app, settings, small_disk, start_server):
    blobs = small_disk / "blobs"
    world = build_world(fault_app)
    server = start_server({**settings, "BLOB_DIR": str(blobs)}, workers=1, threads=2)
    path = f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission"

    def send(instance_id: str, with_photo: bool = True) -> tuple[int | str, bytes, dict]:
        files = {"house.jpg": photo(instance_id, PHOTO_BYTES)} if with_photo else {}
        return post_submission(server.port, path, multipart(submission_xml(instance_id), files))

    assert send("uuid:before")[0] == 201
    filler = _fill(small_disk, leave=PHOTO_BYTES // 2)
    refused = [send("uuid:full-1"), send("uuid:full-2")]
    for status, body, headers in refused:
        assert status == 507
        assert headers["Content-Type"].startswith("text/xml") and headers["X-OpenRosa-Version"] == "1.0"
        assert b"<OpenRosaResponse" in body and b'nature="error"' in body
    # A split upload: the XML needs no disk and is kept; its photo is refused until there is room.
    assert send("uuid:split", with_photo=False)[0] == 201
    assert send("uuid:split")[0] == 507
    state = stored(fault_app)
    assert set(state.submissions) == {"uuid:before", "uuid:split"}
    assert state.photos["uuid:split"] == [None]
    before = hashlib.sha256(photo("uuid:before", PHOTO_BYTES)).hexdigest()
    assert state.photos["uuid:before"] == [before]
    assert {p.name for p in blobs.rglob("*") if p.is_file()} == {before}     # no partial or temporary files

    filler.unlink()
    assert [send(i)[0] for i in ("uuid:full-1", "uuid:full-2", "uuid:split")] == [201, 201, 201]
    state = stored(fault_app)
    assert set(state.submissions.values()) == {1} and len(state.submissions) == 4
    for instance_id, shas in state.photos.items():
        assert shas == [hashlib.sha256(photo(instance_id, PHOTO_BYTES)).hexdigest()]
