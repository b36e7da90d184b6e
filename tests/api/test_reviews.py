"""Issue 5 through the JSON API: the procedure's paths, refusals, scope and concurrent decisions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.collect.models import Submission
from server.extensions import db
from server.households.models import HouseholdYear
from server.review.models import Review
from tests.api.test_classification import household_xml
from tests.factories import PHIEU_B, build_world, device_post, open_campaign

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
MEETING = {"held_on": YESTERDAY, "chair": "Trưởng thôn Nguyễn Văn Ba", "attendees": 40, "minutes_ref": "bien-ban.jpg"}


@pytest.fixture
def world(app):
    world = build_world(app, forms={"phieu_b": PHIEU_B})
    open_campaign(app, world.project_id)
    return world


def _submit(client, world, instance_id: str = "uuid:r1", **kwargs) -> None:
    xml = household_xml(instance_id, commune="07210", village="07210-01", **kwargs)
    assert device_post(client, world, xml).status_code == 201


def _review_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Review.id))


def _act(client, world, persona: str, review_id: int, action: str, **payload):
    return client.post(f"/v1/reviews/{review_id}/actions", json={"action": action, **payload},
                       headers=world.basic(persona))


VERIFIER, COMMUNE = "verifier_07210_01", "commune_07210"
TO_POSTING = [(VERIFIER, "record_meeting_vote", {"meeting": MEETING, "votes_in_favour": 30}),
              (COMMUNE, "commune_confirm", {}), (COMMUNE, "open_posting", {})]
DECIDE = (COMMUNE, "decide", {"decision_number": "9/QĐ-UBND", "decision_date": YESTERDAY})


def _walk(client, world, review_id: int, steps) -> None:  # type: ignore[no-untyped-def]
    for persona, action, payload in steps:
        response = _act(client, world, persona, review_id, action, **payload)
        assert response.status_code == 200, (action, response.get_json())


def _state(client, world, review_id: int, persona: str = "admin") -> dict:
    return client.get(f"/v1/reviews/{review_id}", headers=world.basic(persona)).get_json()


def test_review__submitted_phieu_b__checked_and_sent_to_village(app, client, world):
    _submit(client, world)
    body = _state(client, world, _review_id(app))
    assert body["state"] == "village_review"
    assert [e["action"] for e in body["events"]] == ["check", "send_to_village"]


def test_review__unclassifiable__stopped_by_checks(app, client, world):
    _submit(client, world, members=[])
    body = _state(client, world, _review_id(app))
    assert body["state"] == "check_failed"
    assert body["events"][0]["record"]["findings"]


def test_review__happy_path_to_exported__review_state_mirrored(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    # exactly half of the attendees (20 of 40) agree: the result stands
    steps = [(VERIFIER, "record_meeting_vote", {"meeting": MEETING, "votes_in_favour": 20}), *TO_POSTING[1:],
             (COMMUNE, "close_posting", {}), DECIDE, ("admin", "export", {})]
    _walk(client, world, rid, steps)
    body = _state(client, world, rid)
    assert body["state"] == "exported"
    assert body["reviewState"] == "approved"
    with app.app_context():
        history = db.session.scalar(select(HouseholdYear))
        assert (history.year, history.start_class, history.end_class, history.change_type) == \
            (date.today().year, None, "near_poor", "new")
    assert [e["action"] for e in body["events"]][2:] == [a for _, a, _ in steps]


def test_review__meeting_below_half__resurvey_automatically(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    response = _act(client, world, "verifier_07210_01", rid, "record_meeting_vote", meeting=MEETING,
                    votes_in_favour=19)
    assert response.get_json()["state"] == "resurvey"
    assert _state(client, world, rid)["reviewState"] == "hasIssues"


def test_review__returned_then_resubmitted__back_in_village_review_with_diff(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    response = _act(client, world, "verifier_07210_01", rid, "return_to_enumerator", reason="Thiếu ảnh nhà")
    assert response.get_json()["state"] == "returned"
    edit = household_xml("uuid:r2", commune="07210", village="07210-01", living_area_m2="45").replace(
        b"<instanceID>uuid:r2</instanceID>", b"<instanceID>uuid:r2</instanceID><deprecatedID>uuid:r1</deprecatedID>")
    assert device_post(client, world, edit).status_code == 201
    body = _state(client, world, rid)
    assert body["state"] == "village_review"
    assert body["reviewState"] == "edited"
    assert "living_area_m2" in str(body["changes"])


def test_review__complaint_and_recheck__then_decided(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    _walk(client, world, rid, [*TO_POSTING, (COMMUNE, "register_complaint", {"reason": "Hộ có xe ô tô"}),
                                (COMMUNE, "recheck_done", {"reason": "Đã phúc tra, giữ kết quả"}), DECIDE])
    assert _state(client, world, rid)["state"] == "decided"


def test_review__enumerator__never_acts(app, client, world):
    _submit(client, world)
    response = _act(client, world, "enumerator_07210_01", _review_id(app), "return_to_enumerator", reason="x")
    assert response.status_code == 403


def test_review__verifier_of_other_village__404(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    assert client.get(f"/v1/reviews/{rid}", headers=world.basic("verifier_07228_01")).status_code == 404
    assert _act(client, world, "verifier_07228_01", rid, "request_resurvey", reason="x").status_code == 404
    assert client.get("/v1/reviews", headers=world.basic("verifier_07228_01")).get_json() == []


def test_review__illegal_transition__409_state_unchanged(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    response = _act(client, world, "commune_07210", rid, "decide", decision_number="1", decision_date=YESTERDAY)
    assert response.status_code == 409
    assert _state(client, world, rid)["state"] == "village_review"


def test_review__two_tabs_same_decision__second_gets_conflict(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    first = _act(client, world, "verifier_07210_01", rid, "return_to_enumerator", reason="Thiếu ảnh",
                 expectedState="village_review")
    second = _act(client, world, "verifier_07210_01", rid, "request_resurvey", reason="Sai diện tích",
                  expectedState="village_review")
    assert first.status_code == 200
    assert second.status_code == 409
    assert "tải lại" in second.get_json()["message"].lower() or "reload" in second.get_json()["message"].lower()


def test_review__reopen_decided__commune_with_reason_only(app, client, world):
    _submit(client, world)
    rid = _review_id(app)
    _walk(client, world, rid, [*TO_POSTING, (COMMUNE, "close_posting", {}), DECIDE])
    assert _act(client, world, "verifier_07210_01", rid, "reopen", reason="x").status_code == 403
    assert _act(client, world, "commune_07210", rid, "reopen").status_code == 400
    assert _act(client, world, "commune_07210", rid, "reopen", reason="Sai sót").get_json()["state"] == \
        "village_review"


def test_review__queue_filters_by_state_and_class(app, client, world):
    _submit(client, world, "uuid:a")
    _submit(client, world, "uuid:b", income="1800000", head="Trần Thị Thu")
    headers = world.basic("verifier_07210_01")
    assert len(client.get("/v1/reviews?state=village_review", headers=headers).get_json()) == 2
    near_poor = client.get("/v1/reviews?class=near_poor", headers=headers).get_json()
    assert [r["instanceId"] for r in near_poor] == ["uuid:a", "uuid:b"]
    with app.app_context():
        assert db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:a")) is not None


@pytest.mark.parametrize("start, end, expected", [
    (None, "poor", "new"), ("near_poor", "not_classified", "escaped"), ("near_poor", "poor", "fell_back"),
    ("poor", "poor", "unchanged"), ("poor", "near_poor", "unchanged"), (None, "average_living", "unchanged"),
])
def test_change_type__from_start_and_end_class(start, end, expected):
    from server.review.services import change_type

    assert change_type(start, end) == expected


def _open_pair(app) -> int:
    """An open duplicate candidate for the only submission, which the checks therefore hold back."""
    from server.households.models import DuplicatePair, Household

    with app.app_context():
        submission = db.session.scalar(select(Submission))
        household = Household(code="HH-REG-9", head_name="Nguyễn Văn Ân", village_code="07210-01")
        db.session.add(household)
        db.session.flush()
        pair = DuplicatePair(submission_id=submission.id, household_id=household.id, village_code="07210-01",
                             score=8.0, reasons=["cùng số điện thoại"], status="open")
        db.session.add(pair)
        db.session.execute(Review.__table__.update().values(state="check_failed"))
        db.session.commit()
        return pair.id


def test_duplicate_decided_via_api__last_open_pair__household_checked_again_and_sent_to_village(app, client, world):
    _submit(client, world)
    pair_id = _open_pair(app)
    response = client.post(f"/v1/duplicates/{pair_id}", json={"decision": "not_same"}, headers=world.basic(VERIFIER))
    assert response.status_code == 200
    body = _state(client, world, _review_id(app))
    assert body["state"] == "village_review"
    assert [e["action"] for e in body["events"]][-2:] == ["check", "send_to_village"]


def test_duplicate_decided_via_api__twice__409_already_decided(app, client, world):
    _submit(client, world)
    pair_id = _open_pair(app)
    headers = world.basic(VERIFIER)
    assert client.post(f"/v1/duplicates/{pair_id}", json={"decision": "same"}, headers=headers).status_code == 200
    second = client.post(f"/v1/duplicates/{pair_id}", json={"decision": "not_same"}, headers=headers)
    assert second.status_code == 409 and second.get_json()["code"] == 409.7
    assert "cùng một hộ" in second.get_json()["message"]


@pytest.mark.parametrize("body", [{}, {"decision": "maybe"}, {"decision": 1}])
def test_duplicate_decided_via_api__bad_body__400_invalid_input(app, client, world, body):
    _submit(client, world)
    pair_id = _open_pair(app)
    response = client.post(f"/v1/duplicates/{pair_id}", json=body, headers=world.basic(VERIFIER))
    assert response.status_code == 400 and response.get_json()["code"] == 400.1
