"""Attachments in S3-compatible object storage, against a real S3 server process (moto's standalone
server on a free port): the store's own contract, then a submission with a photo through the app
configured for S3, read back through the API."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from server.collect import storage
from server.collect.storage import S3Store, digest, open_store
from tests.factories import build_world, device_post, submission_xml

pytestmark = pytest.mark.slow
ACCESS_KEY, SECRET_KEY = "test-access-key", "test-secret-do-not-log-0123456789"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the environment carries credentials (boto3's standard chain), never the settings."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def bucket(s3_endpoint: str, credentials: None) -> str:
    name = f"blobs-{uuid.uuid4().hex[:16]}"
    storage.s3_client(s3_endpoint, "us-east-1").create_bucket(Bucket=name)
    return name


def _store(endpoint: str, bucket: str) -> S3Store:
    store = open_store({"BLOB_STORE": "s3", "S3_ENDPOINT_URL": endpoint, "S3_BUCKET": bucket,
                        "S3_REGION": "us-east-1", "S3_PREFIX": "blobs/"})
    assert isinstance(store, S3Store)
    return store


def _keys(store: S3Store) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_s3_store__put__content_addressed_key_and_bytes_back(s3_endpoint, bucket):
    store = _store(s3_endpoint, bucket)
    data = b"\xff\xd8\xff\xe0 a house photo" * 100
    stored = store.put(data)
    assert stored == digest(data)
    assert _keys(store) == [f"blobs/{stored.sha256[:2]}/{stored.sha256}"]
    assert store.get(stored.sha256) == data


def test_s3_store__put_twice__one_object_same_digest(s3_endpoint, bucket):
    store = _store(s3_endpoint, bucket)
    first, second = store.put(b"same bytes"), store.put(b"same bytes")
    assert first == second
    assert len(_keys(store)) == 1


def test_s3_store__missing_object__file_not_found_like_disk(s3_endpoint, bucket):
    store = _store(s3_endpoint, bucket)
    with pytest.raises(FileNotFoundError):
        store.get("0" * 64)


def test_s3_store__debug_logging__secret_never_written(s3_endpoint, bucket, caplog):
    caplog.set_level(logging.DEBUG)
    store = _store(s3_endpoint, bucket)
    store.get(store.put(b"logged?").sha256)
    assert caplog.records  # botocore did log at DEBUG
    assert SECRET_KEY not in caplog.text


def test_open_store__unknown_or_incomplete__refused(tmp_path):
    assert isinstance(open_store({"BLOB_DIR": str(tmp_path)}), storage.LocalDiskStore)
    with pytest.raises(ValueError, match="S3_BUCKET"):
        open_store({"BLOB_STORE": "s3", "BLOB_DIR": str(tmp_path)})
    with pytest.raises(ValueError, match="local or s3"):
        open_store({"BLOB_STORE": "ftp", "BLOB_DIR": str(tmp_path)})


def test_submission_with_photo__app_on_s3__stored_in_bucket_and_read_back_through_api(app, client, s3_endpoint,
                                                                                      bucket, tmp_path):
    app.config.update(BLOB_STORE="s3", S3_ENDPOINT_URL=s3_endpoint, S3_BUCKET=bucket, S3_REGION="us-east-1",
                      BLOB_DIR=str(tmp_path / "unused-blob-dir"))
    world = build_world(app)
    photo = bytes(range(256)) * 64
    response = device_post(client, world, submission_xml("uuid:s3-one"), files={"house.jpg": photo})
    assert response.status_code == 201
    url = f"/v1/projects/{world.project_id}/forms/demo/submissions/uuid:s3-one/attachments/house.jpg"
    read = client.get(url, headers=world.basic("admin"))
    assert read.status_code == 200
    assert read.data == photo
    store = _store(s3_endpoint, bucket)
    assert f"blobs/{digest(photo).sha256[:2]}/{digest(photo).sha256}" in _keys(store)
    assert not (tmp_path / "unused-blob-dir").exists()  # nothing went to the local disk
