"""The village meeting's minutes file through the JSON API: upload (POST /v1/reviews/minutes), the meeting
record naming it (minutes_id), and who may open it (GET /v1/reviews/minutes/<id>)."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from server.accounts.models import Audit
from server.collect.models import Blob
from server.extensions import db
from server.review.minutes import MAX_MINUTES_BYTES
from server.review.models import MeetingMinutes, Review
from tests.api.test_classification import household_xml
from tests.factories import PHIEU_B, build_world, device_post, open_campaign

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
VERIFIER = "verifier_07210_01"


@pytest.fixture
def world(app):
    world = build_world(app, forms={"phieu_b": PHIEU_B})
    open_campaign(app, world.project_id)
    return world


def _upload(client, world, persona: str = VERIFIER, data: bytes = JPEG, name: str = "biên bản.jpg",
            village: str | None = "07210-01", content_type: str = "image/jpeg"):
    form: dict = {"file": (BytesIO(data), name, content_type)}
    if village is not None:
        form["village"] = village
    return client.post("/v1/reviews/minutes", data=form, content_type="multipart/form-data",
                       headers=world.basic(persona))


def _submit(app, client, world, instance_id: str = "uuid:m1", village: str = "07210-01") -> int:
    commune = village.split("-")[0]
    xml = household_xml(instance_id, commune=commune, village=village)
    device = "device_07228_01" if commune == "07228" else "device_07210_01"
    assert device_post(client, world, xml, device=device).status_code == 201
    with app.app_context():
        return db.session.scalar(select(Review.id).order_by(Review.id.desc()))


def _vote(client, world, review_id: int, persona: str = VERIFIER, **meeting):
    record = {"held_on": YESTERDAY, "chair": "Nguyễn Văn Ba", "attendees": 40, **meeting}
    return client.post(f"/v1/reviews/{review_id}/actions", headers=world.basic(persona),
                       json={"action": "record_meeting_vote", "meeting": record, "votes_in_favour": 30,
                             "expectedState": "village_review"})


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_minutes_upload__jpeg_by_verifier__201_stored_audited_and_downloadable(app, client, world):
    response = _upload(client, world)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["villageCode"] == "07210-01" and body["contentType"] == "image/jpeg" and body["size"] == len(JPEG)
    assert body["fileName"] == "biên bản.jpg" and body["url"] == f"/v1/reviews/minutes/{body['id']}"
    download = client.get(body["url"], headers=world.basic(VERIFIER))
    assert download.status_code == 200 and download.data == JPEG
    assert download.mimetype == "image/jpeg"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    with app.app_context():
        assert db.session.scalar(select(Audit.action).where(Audit.actee_type == "meeting_minutes")) == \
            "meeting.minutes.upload"


def test_minutes_upload__pdf_declared_as_jpeg__stored_and_served_as_pdf(client, world):
    """MM001: the bytes decide, not the name or the declared type."""
    body = _upload(client, world, data=PDF, name="scan.jpg", content_type="image/jpeg").get_json()
    assert body["contentType"] == "application/pdf" and body["fileName"] == "scan.pdf"
    assert client.get(body["url"], headers=world.basic(VERIFIER)).mimetype == "application/pdf"


def test_minutes_upload__html_named_pdf__415_nothing_stored(app, client, world):
    """MM001."""
    blobs = _count(app, Blob)
    response = _upload(client, world, data=b"<html><script>alert(1)</script></html>", name="bien-ban.pdf",
                       content_type="application/pdf")
    assert response.status_code == 415
    assert response.get_json()["code"] == 415.2
    assert "JPEG, PNG" in response.get_json()["message"]
    assert _count(app, MeetingMinutes) == 0 and _count(app, Blob) == blobs


def _multipart(data: bytes, name: str, village: str) -> tuple[bytes, str]:
    """A multipart body built by hand: the test client would spool a large one to a file it never closes."""
    boundary = "minutes-boundary-7f3a"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="village"\r\n\r\n{village}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_minutes_upload__over_the_limit__413_nothing_stored(app, client, world):
    """MM002."""
    body, content_type = _multipart(PDF + b"0" * MAX_MINUTES_BYTES, "scan.pdf", "07210-01")
    response = client.post("/v1/reviews/minutes", data=body, content_type=content_type,
                           headers=world.basic(VERIFIER))
    assert response.status_code == 413 and response.get_json()["code"] == 413.2
    assert _count(app, MeetingMinutes) == 0


def test_minutes_upload__empty_file__refused(app, client, world):
    """MM002."""
    assert _upload(client, world, data=b"").status_code == 415
    assert _count(app, MeetingMinutes) == 0


@pytest.mark.parametrize(("village", "field"), [(None, "village"), ("07210-01", "file")])
def test_minutes_upload__part_missing__400_names_it(client, world, village, field):
    headers = world.basic(VERIFIER)
    form = {"village": village} if field == "file" else {"file": (BytesIO(JPEG), "a.jpg")}
    response = client.post("/v1/reviews/minutes", data=form, content_type="multipart/form-data", headers=headers)
    assert response.status_code == 400 and response.get_json()["code"] == 400.2
    assert field in response.get_json()["message"]


@pytest.mark.parametrize(("persona", "village", "status"), [
    ("verifier_07228_01", "07210-01", 404),   # another village's verifier
    (VERIFIER, "07210-99", 404),               # no such village
    ("enumerator_07210_01", "07210-01", 403),  # may not record meetings
    ("supervisor_a", "07210-01", 403),         # monitors, does not record
    ("commune_07210", "07210-02", 201),        # any village of the commune
    ("admin", "07228-01", 201),
])
def test_minutes_upload__who_and_where__only_meeting_recorders_of_the_village(app, client, world, persona,
                                                                               village, status):
    assert _upload(client, world, persona=persona, village=village).status_code == status
    assert _count(app, MeetingMinutes) == (1 if status == 201 else 0)


@pytest.mark.parametrize(("persona", "status"), [
    (VERIFIER, 200), ("commune_07210", 200), ("supervisor_a", 200), ("province", 200), ("admin", 200),
    ("verifier_07228_01", 404), ("enumerator_07210_01", 403),
])
def test_minutes_download__by_role_and_area__in_scope_only(client, world, persona, status):
    url = _upload(client, world).get_json()["url"]
    assert client.get(url, headers=world.basic(persona)).status_code == status


def test_minutes_download__unknown_id__404(client, world):
    assert client.get("/v1/reviews/minutes/999", headers=world.basic("admin")).status_code == 404


def test_meeting_vote__names_uploaded_minutes__recorded_and_listed_on_the_review(app, client, world):
    review_id = _submit(app, client, world)
    minutes = _upload(client, world).get_json()
    response = _vote(client, world, review_id, minutes_id=minutes["id"])
    assert response.status_code == 200 and response.get_json()["state"] == "village_agreed"
    detail = client.get(f"/v1/reviews/{review_id}", headers=world.basic("commune_07210")).get_json()
    vote = next(e for e in detail["events"] if e["action"] == "record_meeting_vote")
    assert vote["record"]["payload"]["meeting"]["minutes_id"] == minutes["id"]
    assert vote["record"]["payload"]["meeting"]["held_on"] == YESTERDAY
    assert [m["id"] for m in detail["minutes"]] == [minutes["id"]]
    assert detail["minutes"][0]["url"] == minutes["url"]


def test_meeting_vote__minutes_of_another_village__400_state_unchanged(app, client, world):
    review_id = _submit(app, client, world)
    other = _upload(client, world, persona="commune_07210", village="07210-02").get_json()
    response = _vote(client, world, review_id, minutes_id=other["id"])
    assert response.status_code == 400 and response.get_json()["code"] == 400.11
    assert "biên bản" in response.get_json()["message"]
    assert client.get(f"/v1/reviews/{review_id}", headers=world.basic(VERIFIER)).get_json()["state"] == \
        "village_review"


def test_meeting_vote__unknown_minutes_id__400(app, client, world):
    review_id = _submit(app, client, world)
    assert _vote(client, world, review_id, minutes_id=12345).status_code == 400


def test_meeting_vote__neither_file_nor_number__400_machine_reason(app, client, world):
    """MT002 through the API: the machine's bilingual reason reaches the caller."""
    review_id = _submit(app, client, world)
    body = _vote(client, world, review_id).get_json()
    assert body["code"] == 400.11 and "Thiếu ảnh hoặc bản quét biên bản" in body["message"]
    assert "minutes" in body["messageEn"]


@pytest.mark.parametrize("change", [{"attendees": "40"}, {"held_on": "27/11/2026"}, {"minutes_id": "1"}])
def test_meeting_vote__wrong_json_types__400_invalid_input(app, client, world, change):
    """The request schema (also served in /v1/openapi.json) checks types before the machine judges."""
    review_id = _submit(app, client, world)
    body = _vote(client, world, review_id, minutes_ref="BB-01", **change).get_json()
    assert body["code"] == 400.1 and "meeting" in body["message"]


def test_action__unknown_action_name__400_lists_nothing_changed(app, client, world):
    review_id = _submit(app, client, world)
    response = client.post(f"/v1/reviews/{review_id}/actions", json={"action": "approve_everything"},
                           headers=world.basic("admin"))
    assert response.status_code == 400 and "action" in response.get_json()["message"]
