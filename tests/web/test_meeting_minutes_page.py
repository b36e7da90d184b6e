"""The minutes file on the village meeting page: sent with the form (multipart, CSRF kept), stored with the
meeting in one transaction, linked from the household's page, opened only within the caller's area."""

from __future__ import annotations

from io import BytesIO

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.review.models import MeetingMinutes, Review, ReviewEvent
from tests.web.world import HEADS, PHOTO, YESTERDAY, build_review_world, login, submit

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
MEETING = {"held_on": YESTERDAY, "chair": "Nguyễn Văn Ba", "attendees": "40"}


@pytest.fixture
def world(app):
    return build_review_world(app)


def _reviews(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Review.id).order_by(Review.id)))


def _states(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Review.state).order_by(Review.id)))


def _minutes_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MeetingMinutes))


def _post(client, csrf: str, review_id: int, file: tuple[bytes, str] | None, **fields: str):
    data: dict = {"csrf_token": csrf, **MEETING, "review": str(review_id), f"votes-{review_id}": "30",
                  f"expected-{review_id}": "village_review", **fields}
    if file is not None:
        data["minutes_file"] = (BytesIO(file[0]), file[1])
    return client.post("/meetings/new?village=07210-01", data=data, content_type="multipart/form-data")


def test_meeting_page__form__multipart_with_file_input_and_csrf(client, world):
    submit(client, world, "uuid:a")
    login(client, world, "verifier_07210_01")
    page = client.get("/meetings/new?village=07210-01").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    assert 'type="file" name="minutes_file" accept="image/jpeg,image/png,application/pdf"' in page
    assert "Ảnh chụp hoặc bản quét biên bản đã ký (JPEG, PNG hoặc PDF, tối đa 10 MB)" in page


def test_meeting__file_without_number__recorded_stored_and_linked_from_household_page(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    response = _post(client, csrf, review_id, (PDF, "Biên bản họp.pdf"))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _states(app) == ["village_agreed"]
    with app.app_context():
        row = db.session.scalar(select(MeetingMinutes))
        record = db.session.scalar(select(ReviewEvent.record).where(ReviewEvent.action == "record_meeting_vote"))
        assert (row.village_code, row.content_type, row.file_name) == ("07210-01", "application/pdf",
                                                                       "Biên bản họp.pdf")
    assert record["payload"]["meeting"]["minutes_id"] == row.id
    page = client.get(f"/reviews/{review_id}").get_data(as_text=True)
    assert f'href="/meetings/minutes/{row.id}"' in page and "Xem biên bản họp" in page
    assert "Họp ngày" in page and "Biên bản họp.pdf" in page
    opened = client.get(f"/meetings/minutes/{row.id}")
    assert opened.status_code == 200 and opened.data == PDF and opened.mimetype == "application/pdf"
    assert opened.headers["Content-Disposition"].startswith("inline;")
    assert opened.headers["Cache-Control"] == "no-store"


def test_meeting__number_and_png__both_kept(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    assert _post(client, csrf, review_id, (PHOTO, "anh.jpg"), minutes_ref="BB-07").status_code == 302
    with app.app_context():
        record = db.session.scalar(select(ReviewEvent.record).where(ReviewEvent.action == "record_meeting_vote"))
        content_type = db.session.scalar(select(MeetingMinutes.content_type))
    assert record["payload"]["meeting"]["minutes_ref"] == "BB-07" and content_type == "image/png"


def test_meeting__file_not_image_or_pdf__400_reason_choose_again_nothing_recorded(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    response = _post(client, csrf, review_id, (b"<html>not minutes</html>", "bien-ban.pdf"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Tệp biên bản phải là ảnh JPEG, PNG hoặc tệp PDF." in page and 'id="minutes-again"' in page
    assert 'value="Nguyễn Văn Ba"' in page  # what was typed is kept
    assert _states(app) == ["village_review"] and _minutes_count(app) == 0


def test_meeting__file_and_bad_votes__every_problem_at_once(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    response = _post(client, csrf, review_id, (b"GIF89a", "x.gif"), **{f"votes-{review_id}": "41"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "JPEG, PNG" in page and "lớn hơn số người dự họp" in page


def test_meeting__neither_number_nor_file__400_minutes_missing(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    response = _post(client, csrf, review_id, None)
    assert response.status_code == 400
    assert "Thiếu ảnh hoặc bản quét biên bản họp." in response.get_data(as_text=True)


def test_meeting__household_moved_meanwhile__409_minutes_not_kept(app, client, world):
    """The minutes row is written in the meeting's transaction: a refused meeting leaves none behind."""
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    response = _post(client, csrf, review_id, (PDF, "bb.pdf"), **{f"expected-{review_id}": "returned"})
    assert response.status_code == 409
    assert _minutes_count(app) == 0 and _states(app) == ["village_review"]


def test_meeting__file_without_csrf__403_nothing_stored(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    login(client, world, "verifier_07210_01")
    response = _post(client, "", review_id, (PDF, "bb.pdf"))
    assert response.status_code == 403
    assert _minutes_count(app) == 0 and _states(app) == ["village_review"]


def test_meeting__english__file_problem_in_english(app, client, world):
    submit(client, world, "uuid:a")
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    client.get("/queue?lang=en")
    page = _post(client, csrf, review_id, (b"plain text", "a.pdf")).get_data(as_text=True)
    assert "The minutes file must be a JPEG or PNG image or a PDF file." in page
    assert "choose the file again" in page


def _recorded_minutes(app, client, world) -> int:
    submit(client, world, "uuid:a", head=HEADS[0])
    (review_id,) = _reviews(app)
    csrf = login(client, world, "verifier_07210_01")
    assert _post(client, csrf, review_id, (PDF, "bb.pdf")).status_code == 302
    with app.app_context():
        return db.session.scalar(select(MeetingMinutes.id))


@pytest.mark.parametrize(("persona", "status"), [
    ("commune_07210", 200), ("supervisor_a", 200), ("province", 200), ("admin", 200),
    ("verifier_07228_01", 404), ("enumerator_07210_01", 403),
])
def test_minutes_page__by_role_and_area__in_scope_only(app, client, world, persona, status):
    minutes_id = _recorded_minutes(app, client, world)
    other = app.test_client()
    login(other, world, persona)
    assert other.get(f"/meetings/minutes/{minutes_id}").status_code == status


def test_minutes_page__anonymous__redirect_to_login(app, client, world):
    minutes_id = _recorded_minutes(app, client, world)
    response = app.test_client().get(f"/meetings/minutes/{minutes_id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
