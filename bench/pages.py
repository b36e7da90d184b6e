"""Web page speed: a village queue of 500 households on a fresh PostgreSQL database.

500 Phiếu B reviews of one village go through the real ingest path (OpenRosa POST, classification,
matching, automatic checks) with a 3-member roster and a photo each; then a logged-in village verifier
asks for GET /queue?village=… 20 times (after 2 warm-up requests) through the application in process
(WSGI, no network), and the same for the village meeting form (the same 500 rows as inputs) and for one
household's page. Prints p50 / p95 and the states the households reached.

    .venv/bin/python bench/pages.py [--households 500] [--requests 20]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from datetime import date
from io import BytesIO

from common import bench_config, fresh_postgres, migrate

from tests.factories import PHIEU_B

FORM = PHIEU_B  # the same compact Phiếu B the page tests use
VILLAGE, COMMUNE = "07210-01", "07210"
PASSWORD = "bench password 123"
PHOTO = bytes(range(256)) * 40
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Thu", "Ngọc", "Hữu")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Lan", "Long", "Mai", "Minh", "Nam", "Ngọc",
         "Oanh", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Tuấn", "Vân", "Xuân", "Yến")


def household_xml(number: int) -> bytes:
    rng = random.Random(number)

    def name() -> str:
        return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"

    head = name()
    roster = "".join(
        f"<member><m_name>{head if i == 0 else name()}</m_name><m_sex>{'male' if i % 2 == 0 else 'female'}</m_sex>"
        f"<m_birth_year>{1950 + rng.randrange(50) if i < 2 else 2005 + rng.randrange(15)}</m_birth_year>"
        f"<m_national_id>0270{rng.randrange(10**8):08d}</m_national_id>"
        f"<m_relation>{'head' if i == 0 else 'spouse' if i == 1 else 'child'}</m_relation>"
        f"<m_insurance>{rng.choice(('yes', 'yes', 'no'))}</m_insurance><m_in_school>no</m_in_school>"
        f"<m_diploma>upper_secondary</m_diploma><m_work>self_employed</m_work></member>" for i in range(3))
    house = {"wall_material": "durable", "column_material": rng.choice(("durable", "non_durable")),
             "roof_material": "durable", "living_area_m2": str(rng.randrange(15, 90)),
             "water_source": rng.choice(("piped", "drilled_well", "surface")),
             "latrine": rng.choice(("septic", "open")),
             "uses_phone": "yes", "uses_internet": rng.choice(("yes", "no")), "info_devices": "tv smartphone",
             "income_per_person_month": str(rng.randrange(900_000, 2_600_000, 50_000))}
    body = "".join(f"<{k}>{v}</{k}>" for k, v in house.items())
    gps = f"{21.28 + rng.uniform(-0.004, 0.004):.6f} {106.205 + rng.uniform(-0.004, 0.004):.6f} 12 4.5"
    return (f'<data id="phieu_b" version="1"><head_name>{head}</head_name><commune>{COMMUNE}</commune>'
            f"<village>{VILLAGE}</village><gps>{gps}</gps><house_photo>house.jpg</house_photo>{roster}{body}"
            f"<meta><instanceID>uuid:bench-{number:05d}</instanceID></meta></data>").encode()


def seed(app, households: int) -> tuple[str, Counter]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from server.accounts import services as accounts
    from server.campaigns import services as campaigns
    from server.collect import forms_service
    from server.collect.models import FormAssignment, Project
    from server.extensions import db
    from server.review.models import Review
    from server.units.services import UnitRecord, upsert_units

    today = date.today()
    with app.app_context():
        upsert_units([UnitRecord("24", "province", "Tỉnh Bắc Ninh"),
                      UnitRecord(COMMUNE, "commune", "Phường Bắc Giang", "24", "phường", True, 21.28, 106.21),
                      UnitRecord(VILLAGE, "village", "Tổ dân phố 1", COMMUNE)])
        project = Project(name="bench pages")
        db.session.add(project)
        db.session.flush()
        form_def = forms_service.publish(project, FORM.encode(), "text/markdown", None, filename="phieu_b.md")
        campaigns.create_campaign(project.id, today.year, date(today.year, 1, 1), date(today.year, 12, 31), [],
                                  by=None)
        key = accounts.create_app_user(project.id, "bench device", [VILLAGE], by=None)
        db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form_def.form_id))
        accounts.create_user("verifier@bench.vn", PASSWORD, "verifier", [VILLAGE], by=None)
        token, project_id = accounts.app_user_token(key), project.id
        db.session.commit()
    client = app.test_client()
    started = time.perf_counter()
    for number in range(households):
        response = client.post(f"/v1/key/{token}/projects/{project_id}/submission", headers={
            "X-OpenRosa-Version": "1.0"}, content_type="multipart/form-data", data={
            "xml_submission_file": (BytesIO(household_xml(number)), "submission.xml", "text/xml"),
            "house.jpg": (BytesIO(PHOTO), "house.jpg", "image/jpeg")})
        assert response.status_code == 201, response.data
    print(f"seeded {households} households through the ingest path in {time.perf_counter() - started:.1f} s")
    with app.app_context():
        states = Counter(db.session.scalars(select(Review.state).where(Review.village_code == VILLAGE)))
        first = db.session.scalar(select(Review.id).order_by(Review.id))
    return str(first), states


def timed(client, path: str, requests: int, expect: str) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(2):
        assert expect in client.get(path).get_data(as_text=True)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200 and body
    return times


def report(name: str, times: list[float]) -> None:
    quantiles = statistics.quantiles(times, n=100, method="inclusive")
    print(f"{name:<42} p50={quantiles[49] * 1000:6.1f} ms  p95={quantiles[94] * 1000:6.1f} ms  "
          f"max={max(times) * 1000:6.1f} ms  ({len(times)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=500)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    from server import create_app
    from server.extensions import db

    with fresh_postgres("bench_pages") as url, tempfile.TemporaryDirectory() as blobs:
        config = {**bench_config(url, blobs), "BLOB_FSYNC": False}
        migrate(config)
        app = create_app(config)
        first_review, states = seed(app, args.households)
        print("review states:", dict(states))
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        login = client.post("/login", data={"email": "verifier@bench.vn", "password": PASSWORD, "csrf_token": csrf})
        assert login.status_code == 302
        queue = f"/queue?village={VILLAGE}"
        print(f"GET {queue} shows {client.get(queue).get_data(as_text=True).count('data-review=')} households")
        report(f"GET {queue}", timed(client, queue, args.requests, "data-review"))
        meeting = f"/meetings/new?village={VILLAGE}"
        report(f"GET {meeting}", timed(client, meeting, args.requests, "votes-"))
        report(f"GET /reviews/{first_review}", timed(client, f"/reviews/{first_review}", args.requests, "<svg"))
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
