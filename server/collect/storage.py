"""Where attachment bytes live, behind one interface: local disk (the default) or S3-compatible storage."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


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
        if self.fsync:
            _sync_directory(path.parent)  # the new name itself survives a power cut, not only the bytes
        return stored

    def get(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Store:
    """Objects named by their SHA-256 (``<prefix><first two hex digits>/<sha256>``, the disk store's layout)
    in an S3-compatible bucket: AWS, MinIO, Ceph, a cloud's object storage.

    ``put`` is idempotent: an object already there under its own content hash is not written again, and
    writing it twice writes the same bytes. Content-MD5 makes the server refuse bytes damaged on the way.
    Credentials are never passed here: the client is built from boto3's standard chain (environment,
    shared files, instance role), so they are neither in the settings nor in any log.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "blobs/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def put(self, data: bytes) -> StoredBlob:
        stored = digest(data)
        key = self.key(stored.sha256)
        if not self._exists(key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                   ContentMD5=base64.b64encode(bytes.fromhex(stored.md5)).decode("ascii"))
        return stored

    def get(self, sha256: str) -> bytes:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except self.client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(self.key(sha256)) from error
        return found["Body"].read()


def s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 S3 client with the standard credential chain; path-style addressing for custom endpoints,
    which MinIO and most self-hosted servers need."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120,
                    s3={"addressing_style": "path" if endpoint_url else "auto"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                                          config=config)


def open_store(settings: Mapping[str, Any]) -> BlobStore:
    """The store the settings name: BLOB_STORE=local (BLOB_DIR) or s3 (S3_BUCKET, S3_ENDPOINT_URL, S3_REGION)."""
    kind = (settings.get("BLOB_STORE") or "local").strip().lower()
    if kind == "local":
        return LocalDiskStore(settings["BLOB_DIR"], fsync=settings.get("BLOB_FSYNC", True))
    if kind == "s3":
        if not settings.get("S3_BUCKET"):
            raise ValueError("BLOB_STORE=s3 needs S3_BUCKET")
        return S3Store(s3_client(settings.get("S3_ENDPOINT_URL"), settings.get("S3_REGION")), settings["S3_BUCKET"],
                       settings.get("S3_PREFIX") or "")
    raise ValueError(f"BLOB_STORE must be local or s3, not {kind!r}")


def store_for(app: Any) -> BlobStore:
    """One store per application (an S3 client is costly to build and safe to share between threads).

    It holds no per-user state: every app server reaches the same disk (shared mount) or bucket."""
    store = app.extensions.get("blob_store")
    if store is None:
        store = app.extensions["blob_store"] = open_store(app.config)
    return store
