"""Reading what the web forms send (no Flask, no database): the CSRF check, queue filters, the village
meeting form and bulk selections.

Rules (the tests cite them):
WF001 A form is accepted only when its ``csrf_token`` equals the session's token (constant-time
      comparison); a missing or empty token on either side never matches.
WF002 Queue filters that are not understood are dropped, not refused: a bookmarked link from an older
      version shows the whole queue rather than an error page.
WF003 The meeting form reports every problem at once (the meeting record's and each household's), each
      in Vietnamese and English; a household left blank is not voted on at this meeting, but at least
      one household must be. A minutes file sent with the form stands in for the typed minutes number
      (MT002); the file itself is judged by server/review/minutes.py.
WF004 A bulk selection is the list of checked review ids, each with the state its row showed
      (``expected-<id>``), so a household someone else moved meanwhile is refused as a conflict.
WF005 After login only a path on this site is followed (``/…`` but not ``//…``), never another host.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from server.review.machine import State
from server.review.meeting import InvalidMeeting, read_meeting, vote_problems
from server.review.queries import FLAGS, SORTS, QueueFilters
from server.standards.classify import CLASSES
from server.standards.text import Text


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """WF001."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def read_queue_filters(args: Mapping[str, str]) -> QueueFilters:
    """WF002: the queue's query string as filters."""
    state = args.get("state", "")
    household_class = args.get("class", "")
    flag = args.get("flag", "")
    sort = args.get("sort", "")
    return QueueFilters(states=(state,) if state in {s.value for s in State} else (),
                        village=args.get("village") or None, commune=args.get("commune") or None,
                        household_class=household_class if household_class in CLASSES else None,
                        flag=flag if flag in FLAGS else None, enumerator=_whole_number(args.get("enumerator")),
                        min_age_days=_whole_number(args.get("age")), sort=sort if sort in SORTS else "id")


@dataclass(frozen=True)
class MeetingForm:
    meeting: dict[str, Any]        # held_on, chair, attendees, minutes_ref, as the review machine reads them
    votes: dict[int, int]          # review id → votes in favour
    expected: dict[int, str]       # review id → the state the page showed
    problems: tuple[Text, ...] = field(default_factory=tuple)


def read_meeting_form(form: Mapping[str, str], households: Mapping[int, str], today: date, *,
                      minutes_attached: bool = False) -> MeetingForm:
    """WF003: the meeting record and the votes for ``households`` (review id → label for messages)."""
    attendees_raw = (form.get("attendees") or "").strip()
    attendees = _whole_number(attendees_raw)
    meeting = {"held_on": (form.get("held_on") or "").strip(), "chair": form.get("chair") or "",
               "attendees": attendees if attendees is not None else attendees_raw,
               "minutes_ref": form.get("minutes_ref") or ""}
    problems: list[Text] = []
    try:
        read_meeting(meeting, today, minutes_attached=minutes_attached)
    except InvalidMeeting as error:
        problems.extend(r.text for r in error.reasons)
    votes: dict[int, int] = {}
    answered = 0
    for review_id, label in households.items():
        raw = (form.get(f"votes-{review_id}") or "").strip()
        if not raw:
            continue
        answered += 1
        count = _whole_number(raw)
        if count is None:
            problems.append(Text(f"{label}: số người đồng ý phải là số nguyên không âm.",
                                 f"{label}: the votes in favour must be a whole number ≥ 0."))
            continue
        if attendees is not None:
            problems.extend(Text(f"{label}: {r.text.vi}", f"{label}: {r.text.en}")
                            for r in vote_problems(count, attendees))
        votes[review_id] = count
    if not answered:
        problems.append(Text("Hãy nhập số người đồng ý cho ít nhất một hộ.",
                             "Enter the votes in favour for at least one household."))
    expected = {review_id: form.get(f"expected-{review_id}", "") for review_id in households}
    return MeetingForm(meeting, votes, expected, tuple(problems))


def read_selection(selected: Iterable[str], form: Mapping[str, str]) -> dict[int, str | None]:
    """WF004: checked review ids → the state each row showed (None when the page sent none)."""
    chosen: dict[int, str | None] = {}
    for value in selected:
        review_id = _whole_number(value)
        if review_id is not None:
            chosen[review_id] = form.get(f"expected-{review_id}") or None
    return chosen


def safe_next(target: str | None) -> str | None:
    """WF005."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _whole_number(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None
