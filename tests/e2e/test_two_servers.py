"""Two server processes (gunicorn, different ports) on one database: concurrent duplicate submissions
split across them still give exactly one submission, and every client gets a success."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.collect.models import Submission, SubmissionAttachment
from server.extensions import db
from tests.factories import build_world, submission_xml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "----twoservers"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(app, port: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], SECRET_KEY=app.config["SECRET_KEY"],
               BLOB_DIR=app.config["BLOB_DIR"], BLOB_FSYNC="false")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                "--no-control-socket", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            probe.request("GET", "/v1/projects")
            probe.getresponse().read()
            return process
        except OSError:
            time.sleep(0.2)
        finally:
            probe.close()
    process.kill()
    raise RuntimeError("gunicorn did not start")


def _body(xml: bytes) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
             f'filename="s.xml"\r\nContent-Type: text/xml\r\n\r\n'.encode() + xml + b"\r\n",
             f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="house.jpg"; filename="house.jpg"\r\n'
             f"Content-Type: image/jpeg\r\n\r\n".encode() + b"\xff\xd8photo" * 1000 + b"\r\n",
             f"--{BOUNDARY}--\r\n".encode()]
    return b"".join(parts)


def test_two_servers__duplicates_split_across_them__exactly_one(app):
    world = build_world(app)
    ports = [_free_port(), _free_port()]
    servers = [_start(app, port) for port in ports]
    try:
        body = _body(submission_xml("uuid:both"))
        path = f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission"
        statuses: list[int] = []
        barrier = threading.Barrier(12)

        def send(port: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            barrier.wait()
            connection.request("POST", path, body=BytesIO(body).read(), headers={
                "X-OpenRosa-Version": "1.0", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
            response = connection.getresponse()
            response.read()
            connection.close()
            statuses.append(response.status)

        threads = [threading.Thread(target=send, args=(ports[i % 2],)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    assert statuses == [201] * 12
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 1
        assert db.session.scalar(select(func.count()).select_from(SubmissionAttachment)
                                 .where(SubmissionAttachment.blob_id.is_not(None))) == 1
