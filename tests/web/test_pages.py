"""Issue 5 part 3 through the Flask test client: every page, login, scope, CSRF, language, conflicts,
the village meeting and the commune's bulk actions."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from server.campaigns import services as campaigns
from server.campaigns.models import Campaign
from server.collect.models import Submission
from server.extensions import db
from server.households.models import DuplicatePair, Household, HouseholdYear
from server.review.models import Review, ReviewEvent
from tests.factories import PASSWORD
from tests.web.world import HEADS, PHOTO, YESTERDAY, build_review_world, csrf_in, login, submit

TOMORROW = (date.today() + timedelta(days=1)).isoformat()
MEETING = {"held_on": YESTERDAY, "chair": "Nguyễn Văn Ba", "attendees": "40", "minutes_ref": "BB-01"}


@pytest.fixture
def world(app):
    return build_review_world(app)


def _ids(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Submission.instance_id, Review.id)
                                       .join(Review, Review.submission_id == Submission.id)).all())


def _states(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(Submission.instance_id, Review.state)
                                       .join(Review, Review.submission_id == Submission.id)).all())


def _households(client, world, count: int, village: str = "07210-01") -> dict[str, int]:
    for number in range(count):
        submit(client, world, f"uuid:{village}-{number}", head=HEADS[number], village=village,
               gps="21.28 106.215 10 5" if village == "07210-02" else "21.28 106.205 10 5")
    return _ids(world.app)


def _api(client, world, persona: str, review_id: int, action: str, **payload):
    response = client.post(f"/v1/reviews/{review_id}/actions", json={"action": action, **payload},
                           headers=world.basic(persona))
    assert response.status_code == 200, response.get_json()


def _agree(client, world, review_id: int) -> None:
    meeting = {**MEETING, "attendees": 40}
    _api(client, world, "admin", review_id, "record_meeting_vote", meeting=meeting, votes_in_favour=30)


def _text(response) -> str:
    return response.get_data(as_text=True)


# ---- login and session ---------------------------------------------------------------------------

def test_login__get__vietnamese_form_with_csrf(client, world):
    response = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 200
    assert '<html lang="vi">' in _text(response)
    assert "Đăng nhập" in _text(response)
    assert csrf_in(_text(response))


def test_login__good_password__httponly_lax_cookie_and_redirect(client, world):
    page = client.get("/login")
    response = client.post("/login", data={"email": world.users["verifier_07210_01"], "password": PASSWORD,
                                           "csrf_token": csrf_in(_text(page))})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session_token="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_login__over_https__cookie_secure(app, world):
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post("/login", base_url="https://localhost", data={
        "email": world.users["verifier_07210_01"], "password": PASSWORD, "csrf_token": csrf_in(_text(page))})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session_token="))
    assert "Secure" in cookie


def test_login__wrong_password__401_and_no_session(client, world):
    page = client.get("/login")
    response = client.post("/login", data={"email": world.users["verifier_07210_01"], "password": "wrong",
                                           "csrf_token": csrf_in(_text(page))})
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in _text(response)
    assert not any(c.startswith("session_token=") for c in response.headers.getlist("Set-Cookie"))


def test_login__without_csrf__refused(client, world):
    client.get("/login")
    response = client.post("/login", data={"email": world.users["verifier_07210_01"], "password": PASSWORD})
    assert response.status_code == 403
    assert not any(c.startswith("session_token=") for c in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/queue?state=returned"])
def test_login__next__only_local_paths_followed(client, world, target):
    page = client.get("/login")
    response = client.post("/login", data={"email": world.users["verifier_07210_01"], "password": PASSWORD,
                                           "csrf_token": csrf_in(_text(page)), "next": target})
    assert response.headers["Location"] == (target if target.startswith("/queue") else "/")


@pytest.mark.parametrize(("persona", "landing"), [("verifier_07210_01", "/queue"), ("commune_07210", "/commune"),
                                                  ("enumerator_07210_01", "/returned"), ("admin", "/queue")])
def test_home__by_role__redirects_to_own_queue(client, world, persona, landing):
    login(client, world, persona)
    assert client.get("/").headers["Location"] == landing


@pytest.mark.parametrize("path", ["/", "/queue", "/reviews/1", "/reviews/1/photo", "/meetings/new", "/commune",
                                  "/returned"])
def test_pages__anonymous__redirect_to_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logout__session_closed_and_cookie_cleared(client, world):
    csrf = login(client, world, "verifier_07210_01")
    response = client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/queue").status_code == 302


def test_logout__old_token_replayed__refused(client, world):
    csrf = login(client, world, "verifier_07210_01")
    token = client.get_cookie("session_token").value
    client.post("/logout", data={"csrf_token": csrf})
    client.set_cookie("session_token", token)
    assert client.get("/queue").status_code == 302


# ---- every page, scope -----------------------------------------------------------------------------

def test_pages__verifier__every_page_renders(client, world):
    ids = _households(client, world, 2)
    login(client, world, "verifier_07210_01")
    review_id = ids["uuid:07210-01-0"]
    for path in ["/queue", "/queue?village=07210-01&state=village_review&class=near_poor&flag=gps&age=0&sort=age",
                 f"/reviews/{review_id}", "/meetings/new?village=07210-01", "/returned", "/commune"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    photo = client.get(f"/reviews/{review_id}/photo")
    assert photo.status_code == 200 and photo.data == PHOTO


def test_meeting__one_village__chooser_skipped(client, world):
    login(client, world, "verifier_07210_01")
    assert client.get("/meetings/new").headers["Location"] == "/meetings/new?village=07210-01"


def test_meeting__several_villages__chooser_lists_them(client, world):
    login(client, world, "commune_07210")
    page = _text(client.get("/meetings/new"))
    assert "village=07210-01" in page and "village=07210-02" in page and "07228" not in page


def test_scope__other_village_verifier__sees_and_does_nothing(app, client, world):
    ids = _households(client, world, 1)
    review_id = ids["uuid:07210-01-0"]
    csrf = login(client, world, "verifier_07228_01")
    assert 'data-review="' not in _text(client.get("/queue"))
    assert client.get(f"/reviews/{review_id}").status_code == 404
    assert client.get(f"/reviews/{review_id}/photo").status_code == 404
    assert client.get("/meetings/new?village=07210-01").status_code == 404
    response = client.post(f"/reviews/{review_id}/actions", data={
        "csrf_token": csrf, "action": "return_to_enumerator", "expected_state": "village_review", "reason": "x"})
    assert response.status_code == 404
    response = client.post("/meetings/new?village=07228-01", data={
        "csrf_token": csrf, **MEETING, "review": str(review_id), f"votes-{review_id}": "30",
        f"expected-{review_id}": "village_review"})
    assert response.status_code == 404
    assert _states(app)["uuid:07210-01-0"] == "village_review"


def test_scope__commune_officer__sees_own_commune_only(client, world):
    _households(client, world, 1)
    submit(client, world, "uuid:far", head=HEADS[4], village="07228-01", commune="07228", gps="21.305 106.125 10 5",
           device="device_07228_01")
    login(client, world, "commune_07210")
    page = _text(client.get("/queue"))
    assert HEADS[0] in page and HEADS[4] not in page


def test_enumerator__posts_an_action__refused_403(app, client, world):
    ids = _households(client, world, 1)
    csrf = login(client, world, "enumerator_07210_01")
    review_id = ids["uuid:07210-01-0"]
    response = client.post(f"/reviews/{review_id}/actions", data={
        "csrf_token": csrf, "action": "return_to_enumerator", "expected_state": "village_review", "reason": "x"})
    assert response.status_code == 403
    assert _states(app)["uuid:07210-01-0"] == "village_review"
    assert client.get("/meetings/new").status_code == 403


# ---- CSRF -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "forged"])
def test_csrf__action_without_session_token__403_nothing_changes(app, client, world, token):
    ids = _households(client, world, 1)
    login(client, world, "verifier_07210_01")
    review_id = ids["uuid:07210-01-0"]
    data = {"action": "return_to_enumerator", "expected_state": "village_review", "reason": "x"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/reviews/{review_id}/actions", data=data)
    assert response.status_code == 403
    assert "tải lại trang" in _text(response)
    assert _states(app)["uuid:07210-01-0"] == "village_review"


def test_csrf__other_sessions_token__refused(app, client, world):
    ids = _households(client, world, 1)
    other = app.test_client()
    other_csrf = login(other, world, "verifier_07210_01")
    login(client, world, "verifier_07210_01")
    response = client.post(f"/reviews/{ids['uuid:07210-01-0']}/actions", data={
        "csrf_token": other_csrf, "action": "request_resurvey", "expected_state": "village_review", "reason": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/meetings/new?village=07210-01", "/commune", "/logout"])
def test_csrf__every_form__refused_without_token(client, world, path):
    login(client, world, "commune_07210")
    assert client.post(path, data={"action": "commune_confirm"}).status_code == 403


# ---- language ---------------------------------------------------------------------------------------------

def test_language__default__vietnamese_even_for_english_browser(client, world):
    login(client, world, "verifier_07210_01")
    page = _text(client.get("/queue", headers={"Accept-Language": "en"}))
    assert '<html lang="vi">' in page and "Danh sách hộ cần rà soát" in page


def test_language__switch_to_english__remembered_by_cookie(client, world):
    _households(client, world, 1)
    login(client, world, "verifier_07210_01")
    response = client.get("/queue?lang=en")
    assert '<html lang="en">' in _text(response) and "Households to review" in _text(response)
    assert any(c.startswith("lang=en") for c in response.headers.getlist("Set-Cookie"))
    detail = _text(client.get(f"/reviews/{_ids(client.application)['uuid:07210-01-0']}"))
    assert "In village review" in detail and "Not deprived" in detail
    assert "Đăng xuất" not in detail
    assert "Chờ thôn rà soát" in _text(client.get("/queue?lang=vi"))


def test_language__switch_link__keeps_the_filters(client, world):
    login(client, world, "verifier_07210_01")
    page = _text(client.get("/queue?village=07210-01&state=returned"))
    assert 'href="/queue?village=07210-01&amp;state=returned&amp;lang=en"' in page


# ---- one household: detail and actions -----------------------------------------------------------------------

def test_detail__shows_indicators_map_photo_and_history(client, world):
    ids = _households(client, world, 1)
    login(client, world, "verifier_07210_01")
    page = _text(client.get(f"/reviews/{ids['uuid:07210-01-0']}"))
    assert "Hộ cận nghèo" in page
    assert "diện tích bình quân 60 m²/người ≥ 8 m²" in page  # an indicator's reason
    assert '<svg class="map"' in page and "<path d=\"M" in page and "<circle" in page
    assert f'src="/reviews/{ids["uuid:07210-01-0"]}/photo"' in page
    assert "Kiểm tra tự động" in page and "Chuyển thôn rà soát" in page  # the history
    assert 'name="expected_state" value="village_review"' in page


def test_detail__gps_outside_village__flag_shown_on_page_and_queue(client, world):
    submit(client, world, "uuid:out", gps="21.28 106.215 10 5")  # in the neighbouring village
    login(client, world, "verifier_07210_01")
    review_id = _ids(client.application)["uuid:out"]
    assert "Toạ độ GPS không nằm trong thôn đã khai." in _text(client.get(f"/reviews/{review_id}"))
    assert f'data-review="{review_id}"' in _text(client.get("/queue?flag=gps"))


def test_detail__duplicate_candidate__listed(app, client, world):
    ids = _households(client, world, 1)
    with app.app_context():
        household = Household(code="HH-REG-1", head_name="Nguyễn Văn Ân", village_code="07210-01")
        db.session.add(household)
        db.session.flush()
        submission_id = db.session.scalar(select(Submission.id).where(Submission.instance_id == "uuid:07210-01-0"))
        db.session.add(DuplicatePair(submission_id=submission_id, household_id=household.id, village_code="07210-01",
                                     score=7.5, reasons=["cùng năm sinh"], status="open"))
        db.session.commit()
    login(client, world, "verifier_07210_01")
    page = _text(client.get(f"/reviews/{ids['uuid:07210-01-0']}"))
    assert "Nguyễn Văn Ân" in page and "HH-REG-1" in page and "cùng năm sinh" in page
    assert f'data-review="{ids["uuid:07210-01-0"]}"' in _text(client.get("/queue?flag=duplicate"))


def test_detail__previous_year__side_by_side(app, client, world):
    year = date.today().year
    with app.app_context():
        campaigns.create_campaign(world.project_id, year - 1, date(year - 1, 1, 1), date(year - 1, 12, 31), [],
                                  by=None)
        db.session.commit()
    submit(client, world, "uuid:old", living_area_m2="30")
    submit(client, world, "uuid:new", living_area_m2="45", head=HEADS[1])
    with app.app_context():
        old = db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:old"))
        last_year = db.session.scalar(select(Campaign.id).where(Campaign.year == year - 1))
        old.campaign_id = last_year
        review_id = db.session.scalar(select(Review.id).where(Review.submission_id == old.id))
        db.session.execute(ReviewEvent.__table__.delete().where(ReviewEvent.review_id == review_id))
        db.session.execute(Review.__table__.delete().where(Review.id == review_id))
        db.session.execute(update(Submission).where(Submission.instance_id == "uuid:new")
                           .values(household_id=old.household_id))
        db.session.add(HouseholdYear(household_id=old.household_id, year=year - 1, start_class="poor",
                                     end_class="near_poor", change_type="escaped"))
        db.session.commit()
    login(client, world, "verifier_07210_01")
    page = _text(client.get(f"/reviews/{_ids(app)['uuid:new']}"))
    assert f"So sánh với năm {year - 1}" in page
    assert "Đầu năm: Hộ nghèo; cuối năm: Hộ cận nghèo" in page and "Thoát nghèo" in page
    section = page[page.index('id="previous-year"'):]
    row = section[section.index("Diện tích nhà ở"):][:400]
    assert "30" in row and "45" in row and "thay đổi" in row


def test_action__return_with_reason__returned_and_listed_for_enumerator(app, client, world):
    ids = _households(client, world, 1)
    csrf = login(client, world, "verifier_07210_01")
    review_id = ids["uuid:07210-01-0"]
    response = client.post(f"/reviews/{review_id}/actions", data={
        "csrf_token": csrf, "action": "return_to_enumerator", "expected_state": "village_review",
        "reason": "Thiếu ảnh nhà"})
    assert response.status_code == 302 and response.headers["Location"] == f"/reviews/{review_id}"
    assert "Đã thực hiện «Trả lại rà soát viên»" in _text(client.get(response.headers["Location"]))
    assert _states(app)["uuid:07210-01-0"] == "returned"
    enumerator = app.test_client()
    login(enumerator, world, "enumerator_07210_01")
    returned = _text(enumerator.get("/returned"))
    assert "Thiếu ảnh nhà" in returned and HEADS[0] in returned


def test_action__missing_reason__400_message_state_unchanged(app, client, world):
    ids = _households(client, world, 1)
    csrf = login(client, world, "verifier_07210_01")
    response = client.post(f"/reviews/{ids['uuid:07210-01-0']}/actions", data={
        "csrf_token": csrf, "action": "request_resurvey", "expected_state": "village_review", "reason": "  "})
    assert response.status_code == 400
    assert "«Yêu cầu rà soát lại» cần lý do." in _text(response)
    assert _states(app)["uuid:07210-01-0"] == "village_review"


def test_action__stale_expected_state__409_conflict_message(app, client, world):
    ids = _households(client, world, 1)
    review_id = ids["uuid:07210-01-0"]
    csrf = login(client, world, "verifier_07210_01")
    form = {"csrf_token": csrf, "expected_state": "village_review", "reason": "Sai diện tích"}
    first = client.post(f"/reviews/{review_id}/actions", data={**form, "action": "request_resurvey"})
    second = client.post(f"/reviews/{review_id}/actions", data={**form, "action": "return_to_enumerator"})
    assert first.status_code == 302
    assert second.status_code == 409
    assert "vừa được người khác xử lý" in _text(second) and 'id="action-error"' in _text(second)
    assert _states(app)["uuid:07210-01-0"] == "resurvey"


# ---- the village meeting ---------------------------------------------------------------------------------------

def _meeting_form(csrf: str, votes: dict[int, str], meeting: dict | None = None, expected: str = "village_review"):
    data = {"csrf_token": csrf, **(meeting or MEETING), "review": [str(i) for i in votes]}
    for review_id, count in votes.items():
        data[f"votes-{review_id}"] = count
        data[f"expected-{review_id}"] = expected
    return data


def test_meeting__votes__half_agrees_under_half_resurvey_blank_untouched(app, client, world):
    ids = _households(client, world, 3)
    a, b, c = (ids[f"uuid:07210-01-{n}"] for n in range(3))
    csrf = login(client, world, "verifier_07210_01")
    response = client.post("/meetings/new?village=07210-01", data=_meeting_form(csrf, {a: "20", b: "19", c: ""}))
    assert response.status_code == 302 and response.headers["Location"] == "/queue?village=07210-01"
    assert "1 hộ thống nhất, 1 hộ phải rà soát lại" in _text(client.get(response.headers["Location"]))
    assert _states(app) == {"uuid:07210-01-0": "village_agreed", "uuid:07210-01-1": "resurvey",
                            "uuid:07210-01-2": "village_review"}
    with app.app_context():
        record = db.session.scalar(select(ReviewEvent.record).where(ReviewEvent.review_id == a,
                                                                    ReviewEvent.action == "record_meeting_vote"))
    assert record["payload"]["meeting"] == {"held_on": YESTERDAY, "chair": "Nguyễn Văn Ba", "attendees": 40,
                                            "minutes_ref": "BB-01"}
    assert record["payload"]["votes_in_favour"] == 20


def test_meeting__bad_record_and_votes__400_every_problem_nothing_recorded(app, client, world):
    ids = _households(client, world, 2)
    a, b = ids["uuid:07210-01-0"], ids["uuid:07210-01-1"]
    csrf = login(client, world, "verifier_07210_01")
    bad = {"held_on": TOMORROW, "chair": "", "attendees": "40", "minutes_ref": ""}
    response = client.post("/meetings/new?village=07210-01", data=_meeting_form(csrf, {a: "41", b: "nhiều"}, bad))
    assert response.status_code == 400
    page = _text(response)
    for expected in ("ở tương lai", "Thiếu người chủ trì", "Thiếu ảnh hoặc bản quét biên bản",
                     f"{HEADS[0]}: Số phiếu đồng ý (41) lớn hơn số người dự họp (40)",
                     f"{HEADS[1]}: số người đồng ý phải là số nguyên"):
        assert expected in page, expected
    assert 'value="41"' in page  # what was typed is kept
    assert set(_states(app).values()) == {"village_review"}


def test_meeting__no_votes_at_all__400(app, client, world):
    ids = _households(client, world, 1)
    csrf = login(client, world, "verifier_07210_01")
    response = client.post("/meetings/new?village=07210-01", data=_meeting_form(csrf, {ids["uuid:07210-01-0"]: ""}))
    assert response.status_code == 400
    assert "ít nhất một hộ" in _text(response)


def test_meeting__one_household_moved_meanwhile__409_none_recorded(app, client, world):
    ids = _households(client, world, 2)
    a, b = ids["uuid:07210-01-0"], ids["uuid:07210-01-1"]
    csrf = login(client, world, "verifier_07210_01")
    _api(client, world, "verifier_07210_01", b, "return_to_enumerator", reason="Thiếu ảnh")
    response = client.post("/meetings/new?village=07210-01", data=_meeting_form(csrf, {a: "30", b: "30"}))
    assert response.status_code == 409
    assert f"{HEADS[1]}: Hộ này vừa được người khác xử lý" in _text(response)
    assert _states(app) == {"uuid:07210-01-0": "village_review", "uuid:07210-01-1": "returned"}


def test_meeting__household_of_another_village__404(app, client, world):
    ids = _households(client, world, 1, village="07210-02")
    csrf = login(client, world, "commune_07210")
    review_id = ids["uuid:07210-02-0"]
    response = client.post("/meetings/new?village=07210-01", data=_meeting_form(csrf, {review_id: "30"}))
    assert response.status_code == 404
    assert _states(app)["uuid:07210-02-0"] == "village_review"


# ---- the commune ---------------------------------------------------------------------------------------------------

def _bulk(csrf: str, action: str, review_ids: list[int], expected: str, **inputs: str) -> dict:
    data = {"csrf_token": csrf, "action": action, "review": [str(i) for i in review_ids], **inputs}
    data.update({f"expected-{i}": expected for i in review_ids})
    return data


def test_commune__bulk_through_to_decision__all_decided(app, client, world):
    ids = _households(client, world, 2)
    chosen = [ids["uuid:07210-01-0"], ids["uuid:07210-01-1"]]
    for review_id in chosen:
        _agree(client, world, review_id)
    csrf = login(client, world, "commune_07210")
    assert all(f'id="pick-{i}"' in _text(client.get("/commune")) for i in chosen)
    steps = [("commune_confirm", "village_agreed", {}), ("open_posting", "commune_confirmed", {}),
             ("close_posting", "posted", {}),
             ("decide", "awaiting_decision", {"decision_number": "125/QĐ-UBND", "decision_date": YESTERDAY})]
    for action, expected, inputs in steps:
        response = client.post("/commune", data=_bulk(csrf, action, chosen, expected, **inputs))
        assert response.status_code == 302, (action, _text(response))
    assert set(_states(app).values()) == {"decided"}
    assert "cho 2 hộ" in _text(client.get("/commune"))


def test_commune__decide_without_number__400_nothing_decided(app, client, world):
    ids = _households(client, world, 1)
    review_id = ids["uuid:07210-01-0"]
    _agree(client, world, review_id)
    for action in ("commune_confirm", "open_posting", "close_posting"):
        _api(client, world, "commune_07210", review_id, action)
    csrf = login(client, world, "commune_07210")
    response = client.post("/commune", data=_bulk(csrf, "decide", [review_id], "awaiting_decision",
                                                  decision_date=YESTERDAY))
    assert response.status_code == 400
    assert "cần số quyết định" in _text(response)
    response = client.post("/commune", data=_bulk(csrf, "decide", [review_id], "awaiting_decision",
                                                  decision_number="1/QĐ", decision_date=TOMORROW))
    assert response.status_code == 400 and "ở tương lai" in _text(response)
    assert _states(app)["uuid:07210-01-0"] == "awaiting_decision"


def test_commune__not_a_bulk_action__400(app, client, world):
    ids = _households(client, world, 1)
    _agree(client, world, ids["uuid:07210-01-0"])
    csrf = login(client, world, "commune_07210")
    response = client.post("/commune", data=_bulk(csrf, "commune_return", [ids["uuid:07210-01-0"]], "village_agreed",
                                                  reason="x"))
    assert response.status_code == 400
    assert "phải làm riêng cho từng hộ" in _text(response)
    assert _states(app)["uuid:07210-01-0"] == "village_agreed"


def test_commune__nothing_selected__400(client, world):
    csrf = login(client, world, "commune_07210")
    response = client.post("/commune", data={"csrf_token": csrf, "action": "commune_confirm"})
    assert response.status_code == 400 and "Hãy chọn ít nhất một hộ" in _text(response)


def test_commune__one_of_two_in_wrong_state__409_none_applied(app, client, world):
    ids = _households(client, world, 2)
    a, b = ids["uuid:07210-01-0"], ids["uuid:07210-01-1"]
    _agree(client, world, a)
    csrf = login(client, world, "commune_07210")
    response = client.post("/commune", data=_bulk(csrf, "commune_confirm", [a, b], "village_agreed"))
    assert response.status_code == 409
    assert HEADS[1] in _text(response)
    assert _states(app) == {"uuid:07210-01-0": "village_agreed", "uuid:07210-01-1": "village_review"}


def test_commune__return_one_household_from_its_page__back_to_village(app, client, world):
    ids = _households(client, world, 1)
    review_id = ids["uuid:07210-01-0"]
    _agree(client, world, review_id)
    csrf = login(client, world, "commune_07210")
    assert 'id="action-commune_return"' in _text(client.get(f"/reviews/{review_id}"))
    response = client.post(f"/reviews/{review_id}/actions", data={
        "csrf_token": csrf, "action": "commune_return", "expected_state": "village_agreed",
        "reason": "Biên bản thiếu chữ ký"})
    assert response.status_code == 302
    assert _states(app)["uuid:07210-01-0"] == "village_review"


def test_commune__verifier__sees_no_bulk_buttons(client, world):
    ids = _households(client, world, 1)
    _agree(client, world, ids["uuid:07210-01-0"])
    csrf = login(client, world, "verifier_07210_01")
    page = _text(client.get("/commune"))
    assert f'data-review="{ids["uuid:07210-01-0"]}"' in page
    assert 'id="pick-' not in page and 'name="action"' not in page
    response = client.post("/commune", data=_bulk(csrf, "commune_confirm", [ids["uuid:07210-01-0"]],
                                                  "village_agreed"))
    assert response.status_code == 403


# ---- the queue ---------------------------------------------------------------------------------------------------

def test_queue__filters__state_class_enumerator_age_sort(app, client, world):
    submit(client, world, "uuid:q1", head=HEADS[0])
    submit(client, world, "uuid:q2", head=HEADS[1], income="1800000", living_area_m2="6", water_source="surface",
           latrine="open")
    ids = _ids(app)
    _api(client, world, "verifier_07210_01", ids["uuid:q1"], "return_to_enumerator", reason="x")
    login(client, world, "verifier_07210_01")

    def shown(query: str) -> list[int]:
        page = _text(client.get("/queue" + query))
        return [int(part.split('"')[0]) for part in page.split('data-review="')[1:]]

    assert shown("?state=returned") == [ids["uuid:q1"]]
    assert shown("?class=poor") == [ids["uuid:q2"]]
    assert shown("?age=1") == []
    assert shown("?sort=class") == [ids["uuid:q2"], ids["uuid:q1"]]
    assert shown("?sort=name") == [ids["uuid:q1"], ids["uuid:q2"]]  # Nguyễn before Trần
    with app.app_context():
        device = db.session.scalar(select(Submission.submitter_id).where(Submission.instance_id == "uuid:q1"))
    assert shown(f"?enumerator={device}") == [ids["uuid:q1"], ids["uuid:q2"]]
    assert shown(f"?enumerator={device + 1000}") == []
    assert shown("?state=bogus&class=rich&sort=weird") == [ids["uuid:q1"], ids["uuid:q2"]]  # dropped, not refused


def test_queue__edited_after_return__flagged(app, client, world):
    submit(client, world, "uuid:r1")
    ids = _ids(app)
    _api(client, world, "verifier_07210_01", ids["uuid:r1"], "return_to_enumerator", reason="Sai diện tích")
    submit(client, world, "uuid:r2", deprecated_id="uuid:r1", living_area_m2="45")
    login(client, world, "verifier_07210_01")
    assert f'data-review="{ids["uuid:r1"]}"' in _text(client.get("/queue?flag=edited"))
    page = _text(client.get(f"/reviews/{ids['uuid:r1']}"))
    assert "Thay đổi so với bản trước" in page and "living_area_m2: 60 → 45" in page


def test_commune__complaint_on_household_page__rechecked_then_awaiting_decision(app, client, world):
    ids = _households(client, world, 1)
    review_id = ids["uuid:07210-01-0"]
    _agree(client, world, review_id)
    for action in ("commune_confirm", "open_posting"):
        _api(client, world, "commune_07210", review_id, action)
    csrf = login(client, world, "commune_07210")
    page = _text(client.get(f"/reviews/{review_id}"))
    assert 'id="action-register_complaint"' in page and 'id="action-close_posting"' in page
    for action, expected, reason in [("register_complaint", "posted", "Hàng xóm báo hộ có xe ô tô"),
                                     ("recheck_done", "complaint", "Đã phúc tra: xe của người thuê nhà")]:
        response = client.post(f"/reviews/{review_id}/actions", data={
            "csrf_token": csrf, "action": action, "expected_state": expected, "reason": reason})
        assert response.status_code == 302, _text(response)
    assert _states(app)["uuid:07210-01-0"] == "awaiting_decision"
    history = _text(client.get(f"/reviews/{review_id}"))
    assert "Hàng xóm báo hộ có xe ô tô" in history and "Đã phúc tra: xe của người thuê nhà" in history


def test_pages__no_resource_from_another_host(client, world):
    ids = _households(client, world, 1)
    login(client, world, "commune_07210")
    for path in ["/queue", f"/reviews/{ids['uuid:07210-01-0']}", "/meetings/new?village=07210-01", "/commune",
                 "/returned"]:
        page = _text(client.get(path))
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page), path


def test_login__english_switch__login_page_in_english(client, world):
    page = _text(client.get("/login?lang=en"))
    assert '<html lang="en">' in page and ">Log in<" in page


def test_commune__household_of_another_commune__404_unchanged(app, client, world):
    submit(client, world, "uuid:far", head=HEADS[4], village="07228-01", commune="07228", gps="21.305 106.125 10 5",
           device="device_07228_01")
    review_id = _ids(app)["uuid:far"]
    _agree(client, world, review_id)
    csrf = login(client, world, "commune_07210")
    response = client.post("/commune", data=_bulk(csrf, "commune_confirm", [review_id], "village_agreed"))
    assert response.status_code == 404
    assert _states(app)["uuid:far"] == "village_agreed"


def test_detail__unclassifiable__reasons_shown_and_stopped_by_checks(app, client, world):
    submit(client, world, "uuid:bad", income="nhiều")
    login(client, world, "verifier_07210_01")
    review_id = _ids(app)["uuid:bad"]
    page = _text(client.get(f"/reviews/{review_id}"))
    assert "Chưa qua kiểm tra tự động" in page and "Chưa phân loại được" in page
    assert "Hộ chưa được phân loại theo chuẩn nghèo." in page  # the automatic check's finding, in the history
