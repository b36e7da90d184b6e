"""Fault: gunicorn workers die (SIGKILL) while phones upload and while a person decides a review.

Requests are first parked inside their transaction (the audit table locked: the submission's rows, or the
review's new state and event row, are written but not committed), then the workers are killed, so the
fault always lands mid-request. PostgreSQL rolls the dead requests back; phones re-send, people retry."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from server.accounts.models import Audit
from server.extensions import db
from server.households.models import HouseholdYear
from server.review.models import Review, ReviewEvent
from tests.api.test_classification import household_xml
from tests.factories import ADULT, PHIEU_B, build_world, device_post, open_campaign, submission_xml
from tests.faults.harness import Phones, assert_exactly_once, audit_log_locked, join, request

pytestmark = pytest.mark.slow


def test_fault__worker_killed_mid_upload__no_loss_no_duplicate(fault_app, settings, blob_dir, start_server):
    world = build_world(fault_app)
    server = start_server(settings, workers=2, threads=4)
    path = f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission"
    phones = Phones(server.port, path, submission_xml)
    threads = phones.run(phones=12, each=5, prefix="killed")
    phones.wait_acks(8)
    with audit_log_locked(settings["DATABASE_URL"]) as wait_parked:
        wait_parked(3)                       # three uploads written, none committed
        server.kill_workers()
    phones.wait_acks(len(phones.acknowledged) + 8)
    server.kill_workers(1)                   # and once more at an unplanned moment
    join(threads)
    assert phones.failures() >= 3            # the killed requests: each phone re-sent its instance
    assert_exactly_once(fault_app, phones, blob_dir)


SURNAMES, GIVEN = ("Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng"), ("An", "Bình", "Cường", "Dũng", "Hải", "Long")
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
MEETING = {"held_on": YESTERDAY, "chair": "Trưởng thôn Nguyễn Văn Ba", "attendees": 40, "minutes_ref": "bb.jpg"}
TO_DECISION = [("verifier_07210_01", "record_meeting_vote", {"meeting": MEETING, "votes_in_favour": 30}),
               ("commune_07210", "commune_confirm", {}), ("commune_07210", "open_posting", {}),
               ("commune_07210", "close_posting", {})]
DECIDE = {"action": "decide", "expectedState": "awaiting_decision", "decision_number": "9/QĐ-UBND",
          "decision_date": YESTERDAY}


def _awaiting_decision(app, world, households: int) -> list[int]:
    client = app.test_client()
    for number in range(households):
        head = f"{SURNAMES[number]} Văn {GIVEN[number]}"
        xml = household_xml(f"uuid:decide-{number}", commune="07210", village="07210-01", head=head,
                            members=[dict(ADULT, m_name=head, m_birth_year=str(1960 + 3 * number))])
        assert device_post(client, world, xml).status_code == 201
    with app.app_context():
        ids = list(db.session.scalars(select(Review.id).order_by(Review.id)))
        db.session.remove()
    for review_id in ids:
        for persona, action, payload in TO_DECISION:
            response = client.post(f"/v1/reviews/{review_id}/actions", json={"action": action, **payload},
                                   headers=world.basic(persona))
            assert response.status_code == 200, response.get_json()
    return ids


def _decision(app, review_id: int) -> tuple[str, int, int, int]:
    """(state, decide events, decide audit rows, household-year rows) of one review."""
    with app.app_context():
        review = db.session.get(Review, review_id)
        events = db.session.scalar(select(func.count()).select_from(ReviewEvent).where(
            ReviewEvent.review_id == review_id, ReviewEvent.action == "decide"))
        audits = db.session.scalar(select(func.count()).select_from(Audit).where(
            Audit.action == "review.decide", Audit.actee_id == str(review_id)))
        years = db.session.scalar(select(func.count()).select_from(HouseholdYear))
        result = (review.state, events, audits, years)
        db.session.remove()
        db.engine.dispose()
    return result


def test_fault__worker_killed_mid_review_decision__decided_once_or_untouched(fault_app, settings, start_server):
    world = build_world(fault_app, forms={"phieu_b": PHIEU_B})
    open_campaign(fault_app, world.project_id)
    first, *others = _awaiting_decision(fault_app, world, 5)
    server = start_server(settings, workers=1, threads=4)
    headers = {**world.basic("commune_07210"), "Content-Type": "application/json"}

    def decide(review_id: int) -> int | str:
        return request(server.port, "POST", f"/v1/reviews/{review_id}/actions", json.dumps(DECIDE).encode(),
                       headers)[0]

    # The worker dies while the decision is written but not committed.
    outcome: list[int | str] = []
    sender = threading.Thread(target=lambda: outcome.append(decide(first)))
    with audit_log_locked(settings["DATABASE_URL"]) as wait_parked:
        sender.start()
        wait_parked(1)
        server.kill_workers()
    sender.join()
    assert outcome != [200]
    state, events, audits, _ = _decision(fault_app, first)
    assert (state, events, audits) in {("awaiting_decision", 0, 0), ("decided", 1, 1)}
    server.wait_ready()
    retries = [decide(first), decide(first)]
    assert retries == ([200, 409] if state == "awaiting_decision" else [409, 409])
    assert _decision(fault_app, first)[:3] == ("decided", 1, 1)

    # Decisions in flight when the worker dies at an unplanned moment: each ends decided exactly once.
    answers: dict[int, list[int | str]] = {review_id: [] for review_id in others}

    def until_answered(review_id: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answers[review_id].append(decide(review_id))
            if answers[review_id][-1] in (200, 409):
                return
            time.sleep(0.2)

    threads = [threading.Thread(target=until_answered, args=(review_id,)) for review_id in others]
    for thread in threads:
        thread.start()
    server.kill_workers()
    join(threads)
    for review_id in others:
        assert answers[review_id].count(200) <= 1
        assert answers[review_id][-1] == 200 or any(a not in (200, 409) for a in answers[review_id])
        assert _decision(fault_app, review_id)[:3] == ("decided", 1, 1)
    assert _decision(fault_app, first)[3] == 5
