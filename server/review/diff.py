"""What changed between two versions of a submission's answers, for reviewing a phone edit.

Answers have the shape of forms/FIELDS.md: ``{"fields": {leaf: value}, "repeats": {name: [{leaf: value}]}}``.

Rules (the tests cite them):
DF001 Empty and absent are the same answer (FIELDS.md); values are compared after trimming and NFC
      normalisation, so a change of Unicode form alone is not a change.
DF002 A field is ``added`` (empty → value), ``removed`` (value → empty) or ``changed`` (value → another
      value); unchanged fields are not listed. Order: the new version's field order, then fields only the
      old version had.
DF003 Fields that change on every edit or only follow from other answers (``start``, ``end``,
      ``deviceid``, ``username``, ``member_count``, ``m_age``) are ignored by default.
DF004 Repeat instances (roster members) are matched first by name, in order, where the name is compared
      without case, accents, Đ/đ and extra spaces (a corrected spelling is the same person); the rest by
      position. Unmatched instances are ``added`` or ``removed`` with all their non-empty answers.
      A matched instance is listed only if one of its answers changed (moving in the roster is not a change).
DF005 A repeat without a name field (``name_fields``) is matched by position only.
DF006 Positions are 1-based, as people count roster members.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class FieldChange:
    name: str
    kind: ChangeKind
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": str(self.kind), "before": self.before, "after": self.after}


@dataclass(frozen=True)
class InstanceChange:
    """One repeat instance (a roster member) that was added, removed or changed."""

    repeat: str
    kind: ChangeKind
    before_position: int | None
    after_position: int | None
    label: str  # the instance's name for display (new version's if any), "" without a name field
    fields: tuple[FieldChange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"repeat": self.repeat, "kind": str(self.kind), "before_position": self.before_position,
                "after_position": self.after_position, "label": self.label,
                "fields": [change.to_dict() for change in self.fields]}


@dataclass(frozen=True)
class AnswersDiff:
    fields: tuple[FieldChange, ...]
    instances: tuple[InstanceChange, ...]

    @property
    def is_empty(self) -> bool:
        return not self.fields and not self.instances

    def to_dict(self) -> dict[str, Any]:
        return {"fields": [change.to_dict() for change in self.fields],
                "instances": [change.to_dict() for change in self.instances]}


DEFAULT_IGNORED = frozenset({"start", "end", "deviceid", "username", "member_count", "m_age"})
DEFAULT_NAME_FIELDS: Mapping[str, str] = MappingProxyType({"member": "m_name"})


def diff_answers(before: Mapping[str, Any], after: Mapping[str, Any], *,
                 name_fields: Mapping[str, str] = DEFAULT_NAME_FIELDS,
                 ignored: Collection[str] = DEFAULT_IGNORED) -> AnswersDiff:
    """The changes from ``before`` to ``after`` (DF001–DF006)."""
    fields = diff_fields(before.get("fields") or {}, after.get("fields") or {}, ignored)
    old_repeats, new_repeats = before.get("repeats") or {}, after.get("repeats") or {}
    instances: list[InstanceChange] = []
    for repeat in dict.fromkeys([*new_repeats, *old_repeats]):
        instances.extend(_diff_repeat(repeat, old_repeats.get(repeat) or [], new_repeats.get(repeat) or [],
                                      name_fields.get(repeat), ignored))
    return AnswersDiff(fields, tuple(instances))


def diff_fields(before: Mapping[str, Any], after: Mapping[str, Any],
                ignored: Collection[str] = DEFAULT_IGNORED) -> tuple[FieldChange, ...]:
    """Changed leaves of one flat answers dict (DF001–DF003)."""
    changes = []
    for name in dict.fromkeys([*after, *before]):
        if name in ignored:
            continue
        old, new = _value(before.get(name)), _value(after.get(name))
        if old == new:
            continue
        kind = ChangeKind.ADDED if old is None else ChangeKind.REMOVED if new is None else ChangeKind.CHANGED
        changes.append(FieldChange(name, kind, old, new))
    return tuple(changes)


def _diff_repeat(repeat: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
                 name_field: str | None, ignored: Collection[str]) -> list[InstanceChange]:
    pairs = _match(old, new, name_field)
    matched_old = {i for i, _ in pairs}
    matched_new = {j for _, j in pairs}
    changes: list[tuple[int, InstanceChange]] = []
    for i, j in pairs:
        fields = diff_fields(old[i], new[j], ignored)
        if fields:
            changes.append((j, InstanceChange(repeat, ChangeKind.CHANGED, i + 1, j + 1,
                                              _label(new[j], name_field), fields)))
    for j in sorted(set(range(len(new))) - matched_new):
        changes.append((j, InstanceChange(repeat, ChangeKind.ADDED, None, j + 1, _label(new[j], name_field),
                                          diff_fields({}, new[j], ignored))))
    for i in sorted(set(range(len(old))) - matched_old):
        # Removed instances sort after the new roster, in their old order.
        changes.append((len(new) + i, InstanceChange(repeat, ChangeKind.REMOVED, i + 1, None,
                                                     _label(old[i], name_field), diff_fields(old[i], {}, ignored))))
    return [change for _, change in sorted(changes, key=lambda item: item[0])]


def _match(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
           name_field: str | None) -> list[tuple[int, int]]:
    """(old index, new index) pairs: by folded name in order (DF004), then by position (DF005)."""
    pairs: list[tuple[int, int]] = []
    if name_field is not None:
        unmatched_new: dict[str, list[int]] = {}
        for j, instance in enumerate(new):
            key = _name_key(instance.get(name_field))
            if key:
                unmatched_new.setdefault(key, []).append(j)
        for i, instance in enumerate(old):
            waiting = unmatched_new.get(_name_key(instance.get(name_field)))
            if waiting:
                pairs.append((i, waiting.pop(0)))
    taken_old, taken_new = {i for i, _ in pairs}, {j for _, j in pairs}
    pairs.extend((k, k) for k in range(min(len(old), len(new))) if k not in taken_old and k not in taken_new)
    return pairs


def _value(raw: Any) -> str | None:
    if raw is None:
        return None
    text = unicodedata.normalize("NFC", str(raw).strip())
    return text or None


def _name_key(raw: Any) -> str:
    text = _value(raw) or ""
    text = text.replace("Đ", "D").replace("đ", "d")
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _label(instance: Mapping[str, Any], name_field: str | None) -> str:
    return (_value(instance.get(name_field)) or "") if name_field else ""
