"""The household as the engine sees it, read from raw form answers (see forms/FIELDS.md).

Reading refuses answers that cannot describe a real household (no roster, no head, impossible birth
years, no living area): those are reported, never repaired, because any repair would be a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from server.standards.text import Reason, reason

# Older than any documented living person: such a birth year is a typing error, not a member.
MAX_AGE = 120


class UnclassifiableAnswers(ValueError):
    """The answers cannot be classified; ``reasons`` says why (all problems found, not the first)."""

    def __init__(self, reasons: tuple[Reason, ...]):
        super().__init__("; ".join(r.text.en for r in reasons))
        self.reasons = reasons


def clean(value: Any) -> str | None:
    """A raw answer as a stripped string, or None when unanswered."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def to_decimal(value: str) -> Decimal:
    """Parse a form number; raise ValueError for anything that is not a finite number."""
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(value) from error
    if not number.is_finite():
        raise ValueError(value)
    return number


def to_int(value: str) -> int:
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(value)
    return int(number)


@dataclass(frozen=True)
class Member:
    index: int  # 1-based position in the roster, used to name the member in reasons
    age: int  # campaign year - birth year
    answers: Mapping[str, Any]

    def get(self, name: str) -> str | None:
        return clean(self.answers.get(name))


@dataclass(frozen=True)
class Household:
    year: int
    fields: Mapping[str, Any]
    members: tuple[Member, ...]
    living_area_m2: Decimal

    def get(self, name: str) -> str | None:
        return clean(self.fields.get(name))

    def choices(self, name: str) -> frozenset[str] | None:
        """A select_multiple answer as a set of choice names, or None when unanswered."""
        value = self.get(name)
        return None if value is None else frozenset(value.split())


def read_household(answers: Mapping[str, Any], year: int) -> Household:
    """Build the household from ``{"fields": {...}, "repeats": {"member": [...]}}``.

    Raise UnclassifiableAnswers listing every structural problem found.
    """
    fields = answers.get("fields") or {}
    roster = (answers.get("repeats") or {}).get("member")
    problems: list[Reason] = []
    members: list[Member] = []
    if roster is None:
        problems.append(reason("no_roster", "không có danh sách thành viên hộ",
                               "the member roster is missing"))
    elif len(roster) == 0:
        problems.append(reason("no_members", "hộ không có thành viên nào (0 nhân khẩu)",
                               "the household has no members (member count 0)"))
    else:
        members, member_problems = _read_members(roster, year)
        problems.extend(member_problems)
        problems.extend(_head_problems(roster))
    area, area_problems = _read_living_area(fields)
    problems.extend(area_problems)
    if problems or area is None:
        raise UnclassifiableAnswers(tuple(problems))
    return Household(year=year, fields=fields, members=tuple(members), living_area_m2=area)


def _read_members(roster: list[Mapping[str, Any]], year: int) -> tuple[list[Member], list[Reason]]:
    members: list[Member] = []
    problems: list[Reason] = []
    for index, answers in enumerate(roster, start=1):
        raw = clean(answers.get("m_birth_year"))
        if raw is None:
            problems.append(reason("birth_year_missing", f"thành viên số {index}: thiếu năm sinh",
                                   f"member #{index}: birth year missing"))
            continue
        try:
            birth_year = to_int(raw)
        except ValueError:
            problems.append(reason("birth_year_invalid",
                                   f"thành viên số {index}: năm sinh không hợp lệ ({raw})",
                                   f"member #{index}: invalid birth year ({raw})"))
            continue
        age = year - birth_year
        if age < 0:
            problems.append(reason("birth_year_in_future",
                                   f"thành viên số {index}: năm sinh {birth_year} sau năm rà soát {year}",
                                   f"member #{index}: birth year {birth_year} is after the review "
                                   f"year {year}"))
        elif age > MAX_AGE:
            problems.append(reason("age_impossible",
                                   f"thành viên số {index}: {age} tuổi là không thể (năm sinh {birth_year})",
                                   f"member #{index}: age {age} is impossible (born {birth_year})"))
        else:
            members.append(Member(index=index, age=age, answers=answers))
    return members, problems


def _head_problems(roster: list[Mapping[str, Any]]) -> list[Reason]:
    heads = sum(1 for answers in roster if clean(answers.get("m_relation")) == "head")
    if heads == 0:
        return [reason("no_head", "không có chủ hộ trong danh sách thành viên",
                       "no member is recorded as head of household")]
    if heads > 1:
        return [reason("several_heads", f"có {heads} người được ghi là chủ hộ",
                       f"{heads} members are recorded as head of household")]
    return []


def _read_living_area(fields: Mapping[str, Any]) -> tuple[Decimal | None, list[Reason]]:
    raw = clean(fields.get("living_area_m2"))
    if raw is None:
        return None, [reason("living_area_missing", "thiếu diện tích nhà ở",
                             "living area is missing")]
    try:
        area = to_decimal(raw)
    except ValueError:
        return None, [reason("living_area_invalid", f"diện tích nhà ở không hợp lệ ({raw})",
                             f"invalid living area ({raw})")]
    if area <= 0:
        return None, [reason("living_area_not_positive", f"diện tích nhà ở phải lớn hơn 0 (ghi {raw})",
                             f"living area must be greater than 0 (recorded {raw})")]
    return area, []
