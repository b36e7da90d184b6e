"""A database that cannot be reached (restart, failover) is a 503 with Retry-After in the caller's protocol —
OpenRosa XML for a phone, Central's JSON for the API — so that clients retry instead of showing an HTML page."""

from __future__ import annotations

import socket

import pytest

from server import create_app
from tests.conftest import SECRET
from tests.factories import OPENROSA


@pytest.fixture
def unreachable(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app({"DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere",
                      "SECRET_KEY": SECRET, "BLOB_DIR": str(tmp_path), "TESTING": True})
    yield app.test_client()
    with app.app_context():
        from server.extensions import db

        db.engine.dispose()


def test_database_unreachable__device_submission__503_openrosa_xml_with_retry_after(unreachable):
    response = unreachable.head("/v1/key/sometoken/projects/1/submission", headers=OPENROSA)
    assert response.status_code == 503
    response = unreachable.get("/v1/key/sometoken/projects/1/formList", headers=OPENROSA)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.content_type.startswith("text/xml") and b"<OpenRosaResponse" in response.data


def test_database_unreachable__api__503_json_problem(unreachable):
    response = unreachable.post("/v1/sessions", json={"email": "a@b.vn", "password": "x" * 12})
    assert response.status_code == 503 and response.get_json()["code"] == 503.1
