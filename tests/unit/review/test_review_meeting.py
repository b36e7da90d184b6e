"""The village meeting: the ≥ 50 % rule and the meeting record."""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.review.meeting import InvalidMeeting, MeetingRecord, is_agreed, read_meeting, vote_outcome, vote_problems

TODAY = date(2025, 11, 20)
VALID = {"held_on": "2025-11-15", "chair": "Nguyễn Văn Hùng", "attendees": 40, "minutes_ref": "bien-ban.jpg"}


def codes(error: InvalidMeeting) -> set[str]:
    return {r.code for r in error.reasons}


@pytest.mark.parametrize(("votes", "attendees", "agreed"), [
    (5, 10, True), (4, 10, False), (6, 10, True), (5, 9, True), (4, 9, False), (1, 2, True), (0, 2, False),
    (1, 1, True), (0, 1, False), (20, 40, True), (19, 40, False),
])
def test_is_agreed__share_of_attendees__exactly_half_agrees(votes, attendees, agreed):
    """MT001."""
    assert is_agreed(votes, attendees) is agreed


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))))
def test_is_agreed__any_vote__equals_exact_fraction_at_least_half(vote):
    """MT001: no rounding anywhere."""
    votes, attendees = vote
    assert is_agreed(votes, attendees) is (Fraction(votes, attendees) >= Fraction(1, 2))


def test_vote_outcome__agreed_and_not__bilingual_with_counts():
    agreed, refused = vote_outcome(5, 10), vote_outcome(99, 199)
    assert agreed.code == "meeting.agreed" and "5/10" in agreed.text.vi and "50%" in agreed.text.en
    assert refused.code == "meeting.not_agreed" and "49%" in refused.text.vi and "99 of 199" in refused.text.en


@pytest.mark.parametrize(("votes", "code"), [
    ("3", "meeting.votes_not_integer"), (True, "meeting.votes_not_integer"), (2.0, "meeting.votes_not_integer"),
    (-1, "meeting.votes_negative"), (41, "meeting.votes_exceed_attendees"),
])
def test_vote_problems__bad_votes__named(votes, code):
    """MT003."""
    assert [r.code for r in vote_problems(votes, 40)] == [code]


@pytest.mark.parametrize("votes", [0, 20, 40])
def test_vote_problems__votes_within_attendees__none(votes):
    assert vote_problems(votes, 40) == []


def test_read_meeting__valid_mapping__gives_a_typed_record():
    record = read_meeting(VALID, TODAY)
    assert record == MeetingRecord(date(2025, 11, 15), "Nguyễn Văn Hùng", 40, "bien-ban.jpg")
    assert record.to_dict() == VALID


def test_read_meeting__record__round_trips():
    record = read_meeting(VALID, TODAY)
    assert read_meeting(record, TODAY) == record


def test_read_meeting__held_today__is_accepted():
    assert read_meeting({**VALID, "held_on": TODAY}, TODAY).held_on == TODAY


@pytest.mark.parametrize(("changes", "code"), [
    ({"held_on": "2025-11-21"}, "meeting.date_in_future"),
    ({"held_on": "15/11/2025"}, "meeting.bad_date"),
    ({"held_on": None}, "meeting.bad_date"),
    ({"held_on": datetime(2025, 11, 15, 9, 0)}, "meeting.bad_date"),
    ({"chair": "  "}, "meeting.no_chair"),
    ({"chair": None}, "meeting.no_chair"),
    ({"attendees": 0}, "meeting.no_attendees"),
    ({"attendees": -3}, "meeting.no_attendees"),
    ({"attendees": "40"}, "meeting.attendees_not_integer"),
    ({"attendees": True}, "meeting.attendees_not_integer"),
    ({"minutes_ref": ""}, "meeting.no_minutes"),
])
def test_read_meeting__one_problem__is_named(changes, code):
    """MT002, MT005."""
    with pytest.raises(InvalidMeeting) as caught:
        read_meeting({**VALID, **changes}, TODAY)
    assert codes(caught.value) == {code}


def test_read_meeting__several_problems__all_reported():
    """MT004."""
    with pytest.raises(InvalidMeeting) as caught:
        read_meeting({"held_on": "x", "chair": "", "attendees": 0}, TODAY)
    assert codes(caught.value) == {"meeting.bad_date", "meeting.no_chair", "meeting.no_attendees",
                                   "meeting.no_minutes"}
    assert "chair" in str(caught.value)


def test_read_meeting__decomposed_chair_name__stored_nfc():
    record = read_meeting({**VALID, "chair": " Nguye\u0302\u0303n Va\u0306n Hu\u0300ng "}, TODAY)
    assert record.chair == "Nguyễn Văn Hùng"
