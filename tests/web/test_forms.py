"""server/web/forms.py: WF001–WF005."""

from __future__ import annotations

from datetime import date

import pytest

from server.review.queries import QueueFilters
from server.web.forms import csrf_matches, read_meeting_form, read_queue_filters, read_selection, safe_next

TODAY = date(2026, 11, 20)
MEETING = {"held_on": "2026-11-19", "chair": "Nguyễn Văn Ba", "attendees": "40", "minutes_ref": "BB-01"}


@pytest.mark.parametrize(("expected", "given", "ok"), [
    ("abc123", "abc123", True), ("abc123", "abc124", False), ("abc123", "", False), ("abc123", None, False),
    ("", "", False), (None, None, False), ("abc123", "ABC123", False)])
def test_csrf_matches__wf001__only_identical_nonempty_tokens(expected, given, ok):
    assert csrf_matches(expected, given) is ok


def test_queue_filters__wf002__understood_values_read():
    filters = read_queue_filters({"state": "village_review", "class": "poor", "flag": "gps", "enumerator": "7",
                                  "age": "3", "sort": "age", "village": "07210-01", "commune": "07210"})
    assert filters == QueueFilters(states=("village_review",), village="07210-01", commune="07210",
                                   household_class="poor", flag="gps", enumerator=7, min_age_days=3, sort="age")


def test_queue_filters__wf002__unknown_values_dropped():
    filters = read_queue_filters({"state": "nonsense", "class": "rich", "flag": "x", "enumerator": "-1", "age": "a",
                                  "sort": "drop table", "village": ""})
    assert filters == QueueFilters()


def _form(votes: dict[int, str], **meeting: str) -> dict[str, str]:
    form = {**MEETING, **meeting}
    form.update({f"votes-{i}": v for i, v in votes.items()})
    form.update({f"expected-{i}": "village_review" for i in votes})
    return form


def test_meeting_form__wf003__valid__meeting_votes_and_expected_states():
    result = read_meeting_form(_form({1: "20", 2: " 3 ", 3: ""}), {1: "A", 2: "B", 3: "C"}, TODAY)
    assert result.problems == ()
    assert result.meeting == {"held_on": "2026-11-19", "chair": "Nguyễn Văn Ba", "attendees": 40,
                              "minutes_ref": "BB-01"}
    assert result.votes == {1: 20, 2: 3}
    assert result.expected == {1: "village_review", 2: "village_review", 3: "village_review"}


def test_meeting_form__wf003__every_problem_reported_in_both_languages():
    form = _form({1: "41", 2: "x", 3: "-2"}, held_on="2026-11-21", chair=" ", minutes_ref="")
    problems = read_meeting_form(form, {1: "Hộ A", 2: "Hộ B", 3: "Hộ C"}, TODAY).problems
    vi = [p.vi for p in problems]
    assert len(problems) == 6
    assert any("tương lai" in text for text in vi) and any("chủ trì" in text for text in vi)
    assert any("biên bản" in text for text in vi)
    assert any(text.startswith("Hộ A: ") and "(41)" in text for text in vi)
    assert any(text.startswith("Hộ B: ") for text in vi) and any(text.startswith("Hộ C: ") for text in vi)
    assert all(p.en and p.en != p.vi for p in problems)


def test_meeting_form__wf003__attendees_not_a_number__reported_votes_not_compared():
    problems = read_meeting_form(_form({1: "5"}, attendees="bốn mươi"), {1: "A"}, TODAY).problems
    assert [p.en for p in problems] == ["The number of attendees must be a whole number."]


def test_meeting_form__wf003__no_household_voted__refused():
    problems = read_meeting_form(_form({1: "", 2: " "}), {1: "A", 2: "B"}, TODAY).problems
    assert [p.en for p in problems] == ["Enter the votes in favour for at least one household."]


def test_selection__wf004__ids_with_the_states_shown():
    form = {"expected-4": "posted", "expected-9": ""}
    assert read_selection(["4", "9", "x", "-3"], form) == {4: "posted", 9: None}


@pytest.mark.parametrize(("target", "followed"), [
    ("/queue?village=1", "/queue?village=1"), ("/", "/"), ("//evil.example", None), ("https://evil.example", None),
    ("/\\evil.example", None), ("", None), (None, None), ("queue", None)])
def test_safe_next__wf005__only_paths_on_this_site(target, followed):
    assert safe_next(target) == followed
