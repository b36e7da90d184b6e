"""The local blob store: what it writes, and what it makes durable before a submission is acknowledged."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from server.collect.storage import LocalDiskStore


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths handed to fsync, in order (the real fsync still runs)."""
    paths: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return paths


def test_local_store__put__content_named_by_sha256_and_read_back(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    stored = store.put(b"photo bytes")
    assert stored.sha256 == hashlib.sha256(b"photo bytes").hexdigest()
    assert stored.md5 == hashlib.md5(b"photo bytes").hexdigest()
    assert store.get(stored.sha256) == b"photo bytes"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [stored.sha256]


def test_local_store__put__file_then_its_directory_synced(tmp_path: Path, synced: list[str]) -> None:
    stored = LocalDiskStore(tmp_path).put(b"photo bytes")
    directory = tmp_path / stored.sha256[:2]
    assert len(synced) == 2
    assert Path(synced[0]).parent == directory and Path(synced[0]).name.startswith(".tmp-")
    assert synced[1] == str(directory)


def test_local_store__put__fsync_off__nothing_synced(tmp_path: Path, synced: list[str]) -> None:
    LocalDiskStore(tmp_path, fsync=False).put(b"photo bytes")
    assert synced == []


def test_local_store__same_content_twice__written_once(tmp_path: Path, synced: list[str]) -> None:
    store = LocalDiskStore(tmp_path)
    first, second = store.put(b"photo bytes"), store.put(b"photo bytes")
    assert first == second
    assert len(synced) == 2
