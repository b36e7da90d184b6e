"""The Phiếu B1 income score: points per answer from a region table, compared with cut-offs.

Income is not measured but estimated: each household characteristic earns points (a column for rural
and one for urban communes), the total is compared with the table's cut-offs for a rule set, which
place the household at or below the income line, in the average-living band, or above it.
The official table was not found, so the bundled one is a labelled sample (format in FORMAT.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from server.standards.checks import fail, get, is_count, is_names, read_json, text
from server.standards.household import Household, Member, to_decimal
from server.standards.text import Text, field_label, format_number

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_TABLE = DATA_DIR / "b1-red-river-delta-sample.json"
FORMAT_VERSION = 1
COLUMNS = ("rural", "urban")

Points = Mapping[str, int]  # column ("rural" / "urban") -> points


class MissingScoreAnswer(Exception):
    """An item cannot be scored; ``text`` says which answer is missing or unusable."""

    def __init__(self, text: Text):
        super().__init__(text.en)
        self.text = text


@dataclass(frozen=True)
class TableRef:
    """What every result records about the table it used."""

    id: str
    version: str
    sample: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "sample": self.sample}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableRef:
        return cls(id=str(data["id"]), version=str(data["version"]), sample=bool(data["sample"]))


@dataclass(frozen=True)
class Cutoffs:
    line: int  # score <= line: income at or below the rule set's line
    average_band: int | None  # score <= average_band: in the average-living band; None = not known


@dataclass(frozen=True)
class Range:
    lower: Decimal  # the range runs from here (inclusive) to the next range's lower bound
    points: Points


class ScoreItem(Protocol):
    id: str

    def points(self, household: Household, column: str) -> int: ...


def _missing(name: str) -> MissingScoreAnswer:
    label = field_label(name)
    return MissingScoreAnswer(Text(f"thiếu {label.vi}", f"no answer for {label.en}"))


def _unusable(name: str, value: str) -> MissingScoreAnswer:
    label = field_label(name)
    return MissingScoreAnswer(Text(f"{label.vi} = '{value}' không có trong bảng điểm",
                                   f"{label.en} = '{value}' is not in the score table"))


def _in_ranges(ranges: tuple[Range, ...], value: Decimal, column: str, name: str) -> int:
    chosen = [r for r in ranges if r.lower <= value]
    if not chosen:
        raise _unusable(name, format_number(value, "en"))
    return chosen[-1].points[column]


@dataclass(frozen=True)
class ChoiceItem:
    id: str
    field: str
    choices: Mapping[str, Points]

    def points(self, household: Household, column: str) -> int:
        value = household.get(self.field)
        if value is None:
            raise _missing(self.field)
        if value not in self.choices:
            raise _unusable(self.field, value)
        return self.choices[value][column]


@dataclass(frozen=True)
class MultipleItem:
    id: str
    field: str
    choices: Mapping[str, Points]

    def points(self, household: Household, column: str) -> int:
        chosen = household.choices(self.field)
        if chosen is None:
            raise _missing(self.field)
        unknown = sorted(chosen - set(self.choices))
        if unknown:
            raise _unusable(self.field, " ".join(unknown))
        return sum(self.choices[c][column] for c in chosen)


@dataclass(frozen=True)
class NumberItem:
    id: str
    field: str
    per_person: bool
    ranges: tuple[Range, ...]

    def points(self, household: Household, column: str) -> int:
        raw = household.get(self.field)
        if raw is None:
            raise _missing(self.field)
        try:
            value = to_decimal(raw)
        except ValueError as error:
            raise _unusable(self.field, raw) from error
        if self.per_person:
            value /= len(household.members)
        return _in_ranges(self.ranges, value, column, self.field)


@dataclass(frozen=True)
class MembersItem:
    """Points by the number of members (aged age_from..age_to) whose ``field`` is in ``values``."""

    id: str
    age_from: int
    age_to: int | None
    field: str | None
    values: frozenset[str]
    ranges: tuple[Range, ...]

    def _counts(self, member: Member) -> bool:
        if member.age < self.age_from or (self.age_to is not None and member.age > self.age_to):
            return False
        if self.field is None:
            return True
        value = member.get(self.field)
        if value is None:
            label = field_label(self.field)
            raise MissingScoreAnswer(Text(f"thành viên số {member.index}: thiếu {label.vi}",
                                          f"member #{member.index}: no answer for {label.en}"))
        return value in self.values

    def points(self, household: Household, column: str) -> int:
        count = sum(1 for member in household.members if self._counts(member))
        return _in_ranges(self.ranges, Decimal(count), column, f"{self.id} (count)")


@dataclass(frozen=True)
class Score:
    """A household's B1 score under one table; ``total`` is None when an item could not be scored."""

    table: TableRef
    total: int | None
    points: Mapping[str, int] = field(default_factory=dict)  # item id -> points, for audit
    problems: tuple[Text, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table.to_dict(), "total": self.total, "points": dict(self.points),
                "problems": [p.to_dict() for p in self.problems]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Score:
        return cls(table=TableRef.from_dict(data["table"]), total=data["total"],
                   points={str(k): int(v) for k, v in data["points"].items()},
                   problems=tuple(Text.from_dict(p) for p in data["problems"]))


@dataclass(frozen=True)
class ScoreTable:
    id: str
    version: str
    sample: bool
    note: str
    region: str
    intercept: Points
    items: tuple[ScoreItem, ...]
    cutoffs: Mapping[str, Mapping[str, Cutoffs]]  # rule-set id -> column -> cut-offs

    @property
    def ref(self) -> TableRef:
        return TableRef(self.id, self.version, self.sample)

    def cutoffs_for(self, ruleset_id: str, urban: bool) -> Cutoffs | None:
        by_column = self.cutoffs.get(ruleset_id)
        return None if by_column is None else by_column[_column(urban)]

    def score(self, household: Household, urban: bool) -> Score:
        column = _column(urban)
        points: dict[str, int] = {"intercept": self.intercept[column]}
        problems: list[Text] = []
        for item in self.items:
            try:
                points[item.id] = item.points(household, column)
            except MissingScoreAnswer as missing:
                problems.append(missing.text)
        if problems:
            return Score(self.ref, None, {}, tuple(problems))
        return Score(self.ref, sum(points.values()), points)


def _column(urban: bool) -> str:
    return "urban" if urban else "rural"


def load_score_table(path: str | Path | None = None) -> ScoreTable:
    """Load and check a B1 score table; without ``path``, the bundled (sample) table.

    Only the bundled table is cached: a province may replace its own file while the server runs.
    """
    return _bundled_table() if path is None else _load(Path(path))


@lru_cache(maxsize=1)
def _bundled_table() -> ScoreTable:
    return _load(DEFAULT_TABLE)


def _load(path: Path) -> ScoreTable:
    return score_table_from_data(read_json(path), str(path))


def score_table_from_data(raw: Mapping[str, Any], source: str) -> ScoreTable:
    """Check and build a B1 score table already read (e.g. kept in the database)."""
    if raw.get("format") != FORMAT_VERSION:
        raise fail(source, "format", f"expected {FORMAT_VERSION}, got {raw.get('format')!r}")
    items = get(raw, "items", list, source, "")
    ids = [item.get("id") if isinstance(item, dict) else None for item in items]
    if not items or len(set(ids)) != len(ids) or "intercept" in ids:
        raise fail(source, "items", "need at least one item, with unique ids other than 'intercept'")
    return ScoreTable(
        id=get(raw, "id", str, source, ""),
        version=get(raw, "version", str, source, ""),
        sample=get(raw, "sample", bool, source, ""),
        note=get(raw, "note", str, source, ""),
        region=get(raw, "region", str, source, ""),
        intercept=_points(get(raw, "intercept", dict, source, ""), source, "intercept"),
        items=tuple(_item(item, source, f"items[{n}]") for n, item in enumerate(items)),
        cutoffs=_cutoffs(get(raw, "cutoffs", dict, source, ""), source),
    )


def _points(data: Mapping[str, Any], source: str, where: str) -> Points:
    for column in COLUMNS:
        get(data, column, int, source, where)
    if set(data) != set(COLUMNS):
        raise fail(source, where, f"columns must be exactly {COLUMNS}")
    return {column: data[column] for column in COLUMNS}


def _ranges(item: Mapping[str, Any], source: str, where: str) -> tuple[Range, ...]:
    raw = get(item, "ranges", list, source, where)
    ranges = tuple(Range(Decimal(get(r, "from", (int, Decimal), source, f"{where}.ranges[{n}]")),
                         _points(get(r, "points", dict, source, f"{where}.ranges[{n}]"), source,
                                 f"{where}.ranges[{n}].points"))
                   for n, r in enumerate(raw))
    lowers = [r.lower for r in ranges]
    if not ranges or lowers != sorted(set(lowers)):
        raise fail(source, f"{where}.ranges", "need at least one range, with strictly rising 'from'")
    return ranges


def _choices(item: Mapping[str, Any], source: str, where: str) -> Mapping[str, Points]:
    raw = get(item, "points", dict, source, where)
    if not raw:
        raise fail(source, f"{where}.points", "need at least one choice")
    return {name: _points(p if isinstance(p, dict) else {}, source, f"{where}.points.{name}")
            for name, p in raw.items()}


def _item(item: Any, source: str, where: str) -> ScoreItem:
    if not isinstance(item, dict):
        raise fail(source, where, "expected an object")
    item_id, kind = get(item, "id", str, source, where), get(item, "kind", str, source, where)
    text(item, "label", source, where)  # required so that officers can read the table
    if kind == "choice":
        return ChoiceItem(item_id, get(item, "field", str, source, where), _choices(item, source, where))
    if kind == "multiple":
        return MultipleItem(item_id, get(item, "field", str, source, where), _choices(item, source, where))
    if kind == "number":
        per_person = item.get("per_person", False)
        if not isinstance(per_person, bool):
            raise fail(source, f"{where}.per_person", "expected true or false")
        return NumberItem(item_id, get(item, "field", str, source, where), per_person,
                          _ranges(item, source, where))
    if kind == "members":
        return _members_item(item_id, item, source, where)
    raise fail(source, f"{where}.kind", f"unknown kind {kind!r}; use choice, multiple, number, members")


def _members_item(item_id: str, item: Mapping[str, Any], source: str, where: str) -> MembersItem:
    age_from, age_to = item.get("age_from", 0), item.get("age_to")
    if not is_count(age_from) or not (age_to is None or is_count(age_to)):
        raise fail(source, where, "age_from / age_to must be whole numbers")
    name, values = item.get("field"), item.get("values", [])
    if (name is None) != (values == []) or not (name is None or isinstance(name, str)) \
            or not is_names(values):
        raise fail(source, where, "'field' and a non-empty 'values' list go together")
    return MembersItem(item_id, age_from, age_to, name, frozenset(values), _ranges(item, source, where))


def _cutoffs(data: Mapping[str, Any], source: str) -> Mapping[str, Mapping[str, Cutoffs]]:
    result: dict[str, dict[str, Cutoffs]] = {}
    for ruleset_id, by_column in data.items():
        if not isinstance(by_column, dict) or set(by_column) != set(COLUMNS):
            raise fail(source, f"cutoffs.{ruleset_id}", f"columns must be exactly {COLUMNS}")
        result[ruleset_id] = {}
        for column in COLUMNS:
            where = f"cutoffs.{ruleset_id}.{column}"
            line = get(by_column[column], "line", int, source, where)
            band = get(by_column[column], "average_band", (int, type(None)), source, where)
            if band is not None and band <= line:
                raise fail(source, f"{where}.average_band", "must be above the line cut-off")
            result[ruleset_id][column] = Cutoffs(line, band)
    return result

