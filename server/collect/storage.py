"""Where attachment bytes live, behind one interface (local disk now; object storage can follow)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    md5: str
    size: int


class BlobStore(Protocol):
    def put(self, data: bytes) -> StoredBlob: ...

    def get(self, sha256: str) -> bytes: ...


def digest(data: bytes) -> StoredBlob:
    return StoredBlob(hashlib.sha256(data).hexdigest(),
                      hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))


class LocalDiskStore:
    """Files named by their SHA-256, written atomically (temp file, fsync, rename).

    Writing the same content twice is harmless, which is what makes retried uploads safe.
    """

    def __init__(self, root: str | Path, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> StoredBlob:
        stored = digest(data)
        path = self._path(stored.sha256)
        if path.exists():
            return stored
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return stored

    def get(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()
