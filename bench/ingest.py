"""Submission ingest throughput: gunicorn + PostgreSQL, 1 and 8 concurrent devices.

Each submission is a typical household review: a roster of 5 members and one 200 KB photo, sent as
ODK Collect sends it (multipart, X-OpenRosa-Version). Afterwards every acknowledged submission and
photo must be in the database exactly once.

    .venv/bin/python bench/ingest.py [--seconds 20] [--workers 2] [--threads 4] [--deferred]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from urllib.parse import urlparse

from common import bench_config, fresh_postgres, gunicorn, migrate

FORM = """
| survey |
| | type | name | label |
| | text | head_name | Họ tên chủ hộ |
| | text | village | Thôn |
| | geopoint | gps | GPS |
| | image | house_photo | Ảnh nhà |
| | begin repeat | member | Thành viên |
| | text | m_name | Tên |
| | select_one sex | m_sex | Giới tính |
| | integer | m_birth_year | Năm sinh |
| | text | m_national_id | CCCD |
| | select_one yn | m_insurance | BHYT |
| | end repeat | | |
| | decimal | living_area_m2 | Diện tích |
| choices |
| | list_name | name | label |
| | sex | male | Nam |
| | sex | female | Nữ |
| | yn | yes | Có |
| | yn | no | Không |
| settings |
| | form_id | version |
| | bench | 1 |
"""
PHOTO = os.urandom(200 * 1024)
PHOTO_ID_BYTES = 64
BOUNDARY = "----odkbench7f3a"


def setup(config: dict[str, object]) -> tuple[int, str]:
    from server import create_app
    from server.accounts import services as accounts
    from server.collect import forms_service
    from server.collect.models import FormAssignment, Project
    from server.extensions import db
    from server.units.services import UnitRecord, upsert_units

    app = create_app(config)
    with app.app_context():
        upsert_units([UnitRecord("24", "province", "Tỉnh Bắc Ninh"),
                      UnitRecord("07210", "commune", "Phường Bắc Giang", "24"),
                      UnitRecord("07210-01", "village", "Tổ dân phố 1", "07210")])
        project = Project(name="bench")
        db.session.add(project)
        db.session.flush()
        form_def = forms_service.publish(project, FORM.encode(), "text/markdown", None, filename="bench.md")
        key = accounts.create_app_user(project.id, "bench device", ["07210-01"], by=None)
        db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form_def.form_id))
        token = accounts.app_user_token(key)
        db.session.commit()
        db.engine.dispose()
        return project.id, token


SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Lan", "Long", "Mai", "Minh", "Nam", "Ngọc")


def household_xml(instance_id: str) -> bytes:
    """A distinct household per submission (so the matcher sees what a real burst looks like)."""
    rng = random.Random(instance_id)

    def name() -> str:
        return f"{rng.choice(SURNAMES)} {rng.choice(('Văn', 'Thị', 'Đức', 'Minh'))} {rng.choice(GIVEN)}"

    head = name()
    members = "".join(
        f"<member><m_name>{head if i == 0 else name()}</m_name><m_sex>{'male' if i % 2 else 'female'}</m_sex>"
        f"<m_birth_year>{1960 + i * 9}</m_birth_year><m_national_id>0270{rng.randrange(10**8):08d}</m_national_id>"
        f"<m_insurance>yes</m_insurance></member>" for i in range(5))
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" id="bench" version="1"><head_name>{head}'
            f"</head_name><village>07210-01</village><gps>21.28 106.21 12 4.5</gps>"
            f"<house_photo>house.jpg</house_photo>{members}<living_area_m2>42.5</living_area_m2>"
            f"<meta><instanceID>{instance_id}</instanceID></meta></data>").encode()


def photo_for(instance_id: str) -> bytes:
    """A photo of its own per household, as phones send: every upload is a new file to hash, write and fsync."""
    return instance_id.encode().ljust(PHOTO_ID_BYTES, b"\0") + PHOTO[PHOTO_ID_BYTES:]


def multipart(xml: bytes, photo: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; filename="submission.xml"\r\n'
        f"Content-Type: text/xml\r\n\r\n".encode() + xml + b"\r\n",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="house.jpg"; filename="house.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode() + photo + b"\r\n",
        f"--{BOUNDARY}--\r\n".encode(),
    ]
    return b"".join(parts)


def run_clients(base: str, path: str, clients: int, seconds: float) -> tuple[list[str], list[float], int]:
    acknowledged: list[str] = []
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    host = urlparse(base)

    def device() -> None:
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        while time.perf_counter() < deadline:
            instance_id = f"uuid:{uuid.uuid4()}"
            body = multipart(household_xml(instance_id), photo_for(instance_id))
            started = time.perf_counter()
            connection.request("POST", path, body=body, headers={
                "X-OpenRosa-Version": "1.0", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                if response.status == 201:
                    acknowledged.append(instance_id)
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=device) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acknowledged, latencies, errors[0]


def verify(config: dict[str, object], acknowledged: list[str]) -> tuple[int, int, int]:
    """(acknowledged and present, submissions in the database, photos present)."""
    from sqlalchemy import func, select

    from server import create_app
    from server.collect.models import Submission, SubmissionAttachment
    from server.extensions import db

    app = create_app(config)
    with app.app_context():
        ids = set(db.session.scalars(select(Submission.instance_id)))
        total = db.session.scalar(select(func.count()).select_from(Submission))
        photos = db.session.scalar(select(func.count()).select_from(SubmissionAttachment)
                                   .where(SubmissionAttachment.blob_id.is_not(None)))
        db.engine.dispose()
    return len(ids & set(acknowledged)), total, photos


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    # Two processes of four threads did best on this 2-core machine (3×3, 4×2, 2×8 and sync workers tried).
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--deferred", action="store_true",
                        help="PROCESS_INLINE=false: store only; classification/matching left to workers")
    args = parser.parse_args()
    print(f"bench/ingest.py: {args.seconds:.0f} s per run, gunicorn {args.workers} workers × {args.threads} "
          f"threads, PostgreSQL, 5-member roster + 200 KB photo, fsync on, "
          f"{'processing deferred to workers' if args.deferred else 'processing inline'}")
    for clients in [int(c) for c in args.clients.split(",")]:
        with fresh_postgres("bench_ingest") as url, tempfile.TemporaryDirectory() as blobs:
            config = bench_config(url, blobs)
            config["PROCESS_INLINE"] = not args.deferred
            migrate(config)
            project_id, token = setup(config)
            with gunicorn(config, workers=args.workers, threads=args.threads) as base:
                acknowledged, latencies, errors = run_clients(
                    base, f"/v1/key/{token}/projects/{project_id}/submission", clients, args.seconds)
            present, total, photos = verify(config, acknowledged)
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
        print(f"clients={clients}: {len(acknowledged) / args.seconds:7.1f} submissions/s  "
              f"p50={quantiles[49] * 1000:.1f} ms p95={quantiles[94] * 1000:.1f} ms  "
              f"acknowledged={len(acknowledged)} errors={errors}  in database: {present}/{len(acknowledged)} "
              f"(rows {total}, photos {photos})  lost={len(acknowledged) - present} duplicated={total - present}")


if __name__ == "__main__":
    main()
