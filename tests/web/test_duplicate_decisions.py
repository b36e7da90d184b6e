"""Deciding possible duplicates from the household's review page: one small form per open pair, CSRF, the
caller's area, one transaction, and a conflict message when someone decided the pair meanwhile."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from server.collect.models import Submission
from server.extensions import db
from server.households.models import DuplicatePair, Household
from server.review.models import Review, ReviewEvent
from tests.web.world import build_review_world, login, submit


@pytest.fixture
def world(app):
    return build_review_world(app)


def _candidates(app, client, world, count: int = 1, village: str = "07210-01") -> tuple[int, list[int]]:
    """One household under review with ``count`` open duplicate candidates; (review id, pair ids)."""
    submit(client, world, "uuid:dup", village=village,
           gps="21.28 106.215 10 5" if village == "07210-02" else "21.28 106.205 10 5")
    with app.app_context():
        submission_id = db.session.scalar(select(Submission.id).where(Submission.instance_id == "uuid:dup"))
        pair_ids = []
        for number in range(count):
            household = Household(code=f"HH-REG-{number}", head_name=f"Nguyễn Văn Ân {number}", village_code=village)
            db.session.add(household)
            db.session.flush()
            pair = DuplicatePair(submission_id=submission_id, household_id=household.id, village_code=village,
                                 score=7.5, reasons=["cùng năm sinh"], status="open")
            db.session.add(pair)
            db.session.flush()
            pair_ids.append(pair.id)
        review_id = db.session.scalar(select(Review.id).where(Review.submission_id == submission_id))
        db.session.commit()
    return review_id, pair_ids


def _pair(app, pair_id: int) -> DuplicatePair:
    with app.app_context():
        pair = db.session.get(DuplicatePair, pair_id)
        db.session.expunge(pair)
        return pair


def _decide(client, csrf: str, review_id: int, pair_id: int, decision: str):
    return client.post(f"/reviews/{review_id}/duplicates/{pair_id}", data={"csrf_token": csrf, "decision": decision})


def _hold_back(app, review_id: int) -> None:
    """As if the automatic check had stopped the household for its open duplicates."""
    with app.app_context():
        db.session.execute(update(Review).where(Review.id == review_id).values(state="check_failed"))
        db.session.commit()


def test_review_page__open_pairs__one_form_each_with_csrf(app, client, world):
    review_id, (first, second) = _candidates(app, client, world, count=2)
    login(client, world, "verifier_07210_01")
    page = client.get(f"/reviews/{review_id}").get_data(as_text=True)
    for pair_id in (first, second):
        assert f'id="decide-{pair_id}"' in page
        assert f'action="/reviews/{review_id}/duplicates/{pair_id}"' in page
    form = page[page.index(f'id="decide-{first}"'):][:600]
    assert 'name="csrf_token"' in form and 'value="same"' in form and 'value="not_same"' in form
    assert "Là cùng một hộ" in form and "Là hai hộ khác nhau" in form


def test_duplicate_decide__same__pair_decided_submission_linked_flash(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    csrf = login(client, world, "verifier_07210_01")
    response = _decide(client, csrf, review_id, pair_id, "same")
    assert response.status_code == 302 and response.headers["Location"] == f"/reviews/{review_id}#duplicates"
    pair = _pair(app, pair_id)
    assert pair.status == "same" and pair.decided_by is not None
    with app.app_context():
        assert db.session.scalar(select(Submission.household_id).where(Submission.instance_id == "uuid:dup")) == \
            pair.household_id
    page = client.get(f"/reviews/{review_id}").get_data(as_text=True)
    assert "Đã ghi quyết định: Cùng một hộ." in page
    assert f'id="decide-{pair_id}"' not in page  # decided: no form any more


def test_duplicate_decide__last_open_pair__held_back_household_sent_to_village(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    _hold_back(app, review_id)
    csrf = login(client, world, "verifier_07210_01")
    _decide(client, csrf, review_id, pair_id, "not_same")
    with app.app_context():
        assert db.session.scalar(select(Review.state).where(Review.id == review_id)) == "village_review"
        actions = list(db.session.scalars(select(ReviewEvent.action).where(ReviewEvent.review_id == review_id)
                                          .order_by(ReviewEvent.id)))
    assert actions[-2:] == ["check", "send_to_village"]
    assert "Trạng thái hồ sơ: Chờ thôn rà soát" in client.get(f"/reviews/{review_id}").get_data(as_text=True)


def test_duplicate_decide__another_pair_still_open__household_stays_held_back(app, client, world):
    review_id, (first, _) = _candidates(app, client, world, count=2)
    _hold_back(app, review_id)
    csrf = login(client, world, "verifier_07210_01")
    assert _decide(client, csrf, review_id, first, "not_same").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Review.state).where(Review.id == review_id)) == "check_failed"


def test_duplicate_decide__decided_meanwhile__409_conflict_message_unchanged(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    csrf = login(client, world, "verifier_07210_01")
    other = app.test_client()
    assert _decide(other, login(other, world, "commune_07210"), review_id, pair_id, "not_same").status_code == 302
    response = _decide(client, csrf, review_id, pair_id, "same")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'id="duplicate-error"' in page
    assert "Cặp hồ sơ nghi trùng này đã được quyết định trước đó (khác hộ). Hãy tải lại trang." in page
    assert _pair(app, pair_id).status == "not_same"


def test_duplicate_decide__english__conflict_message_in_english(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    csrf = login(client, world, "verifier_07210_01")
    _decide(client, csrf, review_id, pair_id, "same")
    client.get("/queue?lang=en")
    page = _decide(client, csrf, review_id, pair_id, "same").get_data(as_text=True)
    assert "This possible duplicate has already been decided (same household). Please reload the page." in page


@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_duplicate_decide__without_valid_csrf__403_unchanged(app, client, world, token):
    review_id, (pair_id,) = _candidates(app, client, world)
    login(client, world, "verifier_07210_01")
    assert _decide(client, token, review_id, pair_id, "same").status_code == 403
    assert _pair(app, pair_id).status == "open"


def test_duplicate_decide__verifier_of_another_village__404_unchanged(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    csrf = login(client, world, "verifier_07228_01")
    assert _decide(client, csrf, review_id, pair_id, "same").status_code == 404
    assert _pair(app, pair_id).status == "open"


def test_duplicate_decide__pair_of_another_household__404_unchanged(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    submit(client, world, "uuid:other", head="Trần Thị Bình")
    with app.app_context():
        other_review = db.session.scalar(select(Review.id).where(Review.id != review_id))
    csrf = login(client, world, "verifier_07210_01")
    assert _decide(client, csrf, other_review, pair_id, "same").status_code == 404
    assert _pair(app, pair_id).status == "open"


def test_duplicate_decide__supervisor__no_form_and_403(app, client, world):
    """Area supervisors monitor; deciding is for those who review (as on /v1/duplicates)."""
    review_id, (pair_id,) = _candidates(app, client, world)
    csrf = login(client, world, "supervisor_a")
    assert f'id="decide-{pair_id}"' not in client.get(f"/reviews/{review_id}").get_data(as_text=True)
    assert _decide(client, csrf, review_id, pair_id, "same").status_code == 403
    assert _pair(app, pair_id).status == "open"


def test_duplicate_decide__unknown_decision__400_message_unchanged(app, client, world):
    review_id, (pair_id,) = _candidates(app, client, world)
    csrf = login(client, world, "verifier_07210_01")
    response = _decide(client, csrf, review_id, pair_id, "maybe")
    assert response.status_code == 400 and 'id="duplicate-error"' in response.get_data(as_text=True)
    assert _pair(app, pair_id).status == "open"
