"""What the review pages show, from the stored answers (pure: no Flask, no database).

Answers have the shape of forms/FIELDS.md. Rules (the tests cite them):
PR001 A value made only of known form choices is shown in words (``tv smartphone`` → "TV, smartphone",
      ``yes`` → "Có"); anything else (names, codes, numbers) is shown as stored.
PR002 Fields that change on every edit or only follow from others (the diff's ignored fields) are not
      listed; the rest keep the form's order.
PR003 The members table has one column per answered member field, in first-seen order.
PR004 Side by side: every field of either year in this year's order then last year's, flagged when the
      answer differs (same comparison as the edit diff: trimmed, NFC, empty = absent), plus the number
      of members and their names.
PR005 The GPS point is read from the ``gps`` answer (latitude first, as ODK sends it) and returned in
      GeoJSON order (longitude, latitude); no or an unreadable answer gives None.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from server.geo.locate import parse_geopoint
from server.review.diff import DEFAULT_IGNORED, diff_fields
from server.standards.text import CHOICE_LABELS, choice_label, plain_label
from server.web.texts import has_text, text


@dataclass(frozen=True)
class AnswerRow:
    name: str
    label: str
    value: str


@dataclass(frozen=True)
class MemberTable:
    columns: tuple[tuple[str, str], ...]  # (field name, label)
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class SideBySideRow:
    label: str
    before: str
    after: str
    changed: bool


def answer_text(value: Any, lang: str) -> str:
    """PR001."""
    raw = "" if value is None else str(value).strip()
    parts = raw.split()
    if parts and all(has_text(f"choice.{part}") or part in CHOICE_LABELS for part in parts):
        return ", ".join(_choice(part, lang) for part in parts)
    return raw


def field_text(name: str, lang: str) -> str:
    """A field's label; the engine's labels are written for the middle of a sentence, so capitalised here."""
    label = text(f"field.{name}", lang) if has_text(f"field.{name}") else plain_label(name).get(lang)
    return label[:1].upper() + label[1:]


def _choice(value: str, lang: str) -> str:
    return text(f"choice.{value}", lang) if has_text(f"choice.{value}") else choice_label(value).get(lang)


def answer_rows(answers: Mapping[str, Any] | None, lang: str,
                ignored: Collection[str] = DEFAULT_IGNORED) -> list[AnswerRow]:
    """PR002."""
    fields = (answers or {}).get("fields") or {}
    return [AnswerRow(name, field_text(name, lang), answer_text(value, lang))
            for name, value in fields.items() if name not in ignored]


def member_table(answers: Mapping[str, Any] | None, lang: str,
                 ignored: Collection[str] = DEFAULT_IGNORED) -> MemberTable:
    """PR003."""
    members = ((answers or {}).get("repeats") or {}).get("member") or []
    names = list(dict.fromkeys(name for member in members for name, value in member.items()
                               if name not in ignored and answer_text(value, lang)))
    return MemberTable(tuple((name, field_text(name, lang)) for name in names),
                       tuple(tuple(answer_text(member.get(name), lang) for name in names) for member in members))


def side_by_side(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, lang: str,
                 ignored: Collection[str] = DEFAULT_IGNORED) -> list[SideBySideRow]:
    """PR004: last year's answers (``before``) beside this year's (``after``)."""
    old_fields, new_fields = (before or {}).get("fields") or {}, (after or {}).get("fields") or {}
    changed = {change.name for change in diff_fields(old_fields, new_fields, ignored)}
    rows = [SideBySideRow(field_text(name, lang), answer_text(old_fields.get(name), lang),
                          answer_text(new_fields.get(name), lang), name in changed)
            for name in dict.fromkeys([*new_fields, *old_fields]) if name not in ignored]
    old_members, new_members = _member_names(before), _member_names(after)
    rows.append(SideBySideRow(text("members.count", lang), str(len(old_members)), str(len(new_members)),
                              len(old_members) != len(new_members)))
    rows.append(SideBySideRow(text("members.names", lang), ", ".join(old_members), ", ".join(new_members),
                              old_members != new_members))
    return rows


def gps_point(answers: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """PR005."""
    point = parse_geopoint(((answers or {}).get("fields") or {}).get("gps"))
    return (point.lon, point.lat) if point is not None else None


def _member_names(answers: Mapping[str, Any] | None) -> list[str]:
    members = ((answers or {}).get("repeats") or {}).get("member") or []
    return [answer_text(member.get("m_name"), "vi") for member in members]
