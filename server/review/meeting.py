"""The village meeting (họp dân): its record and the rule that decides a household's result there.

Rules (the tests cite them):
MT001 A household's result is agreed iff ``votes_in_favour * 2 >= attendees``: at least half of the
      attendees, exactly half included (Decision 24/2021/QĐ-TTg). Integer arithmetic, no rounding.
MT002 A meeting record needs: a date not after today (Vietnam's date, given by the caller), a chair,
      an integer number of attendees of at least 1, and the signed minutes (the legal evidence of the
      vote, so the record is not complete without them): the uploaded photo or scan (``minutes_id``, an
      integer ≥ 1, see minutes.py) or a typed reference (``minutes_ref``: the minutes' number, where the
      scan is kept elsewhere), or both. ``minutes_attached`` says a file comes with the record and will
      be named once stored, so the reference may be left out.
MT003 Votes in favour are an integer from 0 to the number of attendees.
MT004 Reading a record reports every problem found, not only the first, each as a bilingual reason.
MT005 Dates are ``datetime.date`` values or ISO ``YYYY-MM-DD`` strings; a ``datetime`` is refused
      because its date would depend on a time zone nobody stated.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from server.standards.text import Reason, reason


@dataclass(frozen=True)
class MeetingRecord:
    held_on: date
    chair: str
    attendees: int
    minutes_ref: str
    minutes_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        record = {"held_on": self.held_on.isoformat(), "chair": self.chair, "attendees": self.attendees,
                  "minutes_ref": self.minutes_ref}
        if self.minutes_id is not None:
            record["minutes_id"] = self.minutes_id
        return record


class InvalidMeeting(ValueError):
    """A meeting record or a vote that cannot be accepted; ``reasons`` lists every problem (MT004)."""

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.text.en for r in reasons))
        self.reasons = tuple(reasons)


def is_agreed(votes_in_favour: int, attendees: int) -> bool:
    """MT001."""
    return votes_in_favour * 2 >= attendees


def vote_outcome(votes_in_favour: int, attendees: int) -> Reason:
    """The meeting's result for one household, worded for the review history."""
    # Floor keeps the shown percentage consistent with MT001: 50 % is shown only when agreed.
    percent = votes_in_favour * 100 // attendees
    counted_vi = f"{votes_in_favour}/{attendees} người dự họp đồng ý ({percent}%)"
    counted_en = f"{votes_in_favour} of {attendees} attendees in favour ({percent}%)"
    if is_agreed(votes_in_favour, attendees):
        return reason("meeting.agreed", f"{counted_vi}: đạt từ 50% trở lên, thống nhất.",
                      f"{counted_en}: at least 50%, agreed.")
    return reason("meeting.not_agreed", f"{counted_vi}: dưới 50%, phải rà soát lại và họp lại.",
                  f"{counted_en}: under 50%, the household is re-surveyed and the meeting repeated.")


def vote_problems(votes_in_favour: Any, attendees: int) -> list[Reason]:
    """MT003."""
    if not _is_int(votes_in_favour):
        return [reason("meeting.votes_not_integer", "Số phiếu đồng ý phải là số nguyên.",
                       "Votes in favour must be a whole number.")]
    if votes_in_favour < 0:
        return [reason("meeting.votes_negative", "Số phiếu đồng ý không được âm.",
                       "Votes in favour cannot be negative.")]
    if votes_in_favour > attendees:
        return [reason("meeting.votes_exceed_attendees",
                       f"Số phiếu đồng ý ({votes_in_favour}) lớn hơn số người dự họp ({attendees}).",
                       f"Votes in favour ({votes_in_favour}) exceed the number of attendees ({attendees}).")]
    return []


def read_meeting(data: Mapping[str, Any] | MeetingRecord, today: date, *,
                 minutes_attached: bool = False) -> MeetingRecord:
    """A valid meeting record from a mapping (or a record), else ``InvalidMeeting`` (MT002, MT004, MT005)."""
    if isinstance(data, MeetingRecord):
        data = data.to_dict()
    problems: list[Reason] = []
    held_on = _read_date(data.get("held_on"), problems)
    if held_on is not None and held_on > today:
        problems.append(reason("meeting.date_in_future", f"Ngày họp {held_on:%d/%m/%Y} ở tương lai.",
                               f"The meeting date {held_on.isoformat()} is in the future."))
    chair, minutes_ref, attendees = _text(data.get("chair")), _text(data.get("minutes_ref")), data.get("attendees")
    if not chair:
        problems.append(reason("meeting.no_chair", "Thiếu người chủ trì cuộc họp.", "The meeting chair is missing."))
    if not _is_int(attendees):
        problems.append(reason("meeting.attendees_not_integer", "Số người dự họp phải là số nguyên.",
                               "The number of attendees must be a whole number."))
    elif attendees < 1:
        problems.append(reason("meeting.no_attendees", "Số người dự họp phải từ 1 trở lên.",
                               "The number of attendees must be at least 1."))
    minutes_id = data.get("minutes_id")
    if minutes_id is not None and (not _is_int(minutes_id) or minutes_id < 1):
        problems.append(reason("meeting.bad_minutes_id", "Mã tệp biên bản không hợp lệ.",
                               "The minutes file id is invalid."))
    elif not minutes_ref and minutes_id is None and not minutes_attached:
        problems.append(reason("meeting.no_minutes", "Thiếu ảnh hoặc bản quét biên bản họp.",
                               "The photo or scan of the meeting minutes is missing."))
    if problems:  # a missing date is among them
        raise InvalidMeeting(problems)
    return MeetingRecord(held_on=held_on, chair=chair, attendees=attendees, minutes_ref=minutes_ref,
                         minutes_id=minutes_id)


def _read_date(value: Any, problems: list[Reason]) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(reason("meeting.bad_date", "Ngày họp không hợp lệ (cần dạng YYYY-MM-DD).",
                           "The meeting date is invalid (expected YYYY-MM-DD)."))
    return None


def _is_int(value: Any) -> bool:
    # bool is an int subclass; True attendees is a form bug, not one attendee.
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return unicodedata.normalize("NFC", value.strip()) if isinstance(value, str) else ""
