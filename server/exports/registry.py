"""The provincial registry export: one row per household (and per member), and incremental cursors.

Input is a plain household dict (:class:`HouseholdData`) that the query layer assembles from the
registry, the year's history and the review; nothing here touches the database. The first columns
are exactly the registry import's (``server/households/linking.py``), so an export can be read
back by ``flask households link`` and by the province's own import; our columns follow, then the
province's own columns (``extra``) that came in with the registry, untouched.

Incremental exports: rows ordered by ``(changed_at, id)``; a :class:`Cursor` names the last row a
client has, and the next export starts strictly after it. The cursor is an opaque string so the
encoding can change without breaking clients that only hand it back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, NotRequired, TypedDict

from server.exports.writers import iso_utc, point_feature, unneutralise
from server.households.linking import FIELDS as IMPORT_COLUMNS
from server.households.linking import MEMBER_SEPARATOR
from server.standards.classify import CLASSES
from server.standards.indicators import DEPRIVED, STATUSES
from server.standards.text import Text
from server.timeutil import as_utc

# The columns are fixed by the 2022–2025 standard (and 2026 under Decree 351/2025). A rule set with
# other indicators must fail here loudly rather than lose columns silently.
INDICATOR_IDS = ("1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "4.1", "4.2", "5.1", "5.2", "6.1", "6.2")
INDICATOR_COLUMNS = tuple("i_" + indicator.replace(".", "_") for indicator in INDICATOR_IDS)
# Mirrors household_years.change_type (server/households/models.py); a test keeps the two equal.
CHANGE_TYPES = ("new", "escaped", "fell_back", "moved", "dissolved", "merged", "unchanged")
GENDERS = ("M", "F")
URBAN, RURAL = "urban", "rural"
# Review states (server/review/machine.py): the province receives results the commune has decided,
# including those already exported once, so that a full re-export is complete.
DECIDED, EXPORTED = "decided", "exported"
DEFAULT_STATES = frozenset({DECIDED, EXPORTED})

OWN_COLUMNS = (
    "commune_code", "area", "campaign_year", "class", "national_class", "local_class", "deprivation_count",
    *INDICATOR_COLUMNS, "income_per_person_month", "b1_score", "review_state", "decision_number",
    "decision_date", "start_class", "end_class", "change_type", "changed_at",
)
REGISTRY_COLUMNS = (*IMPORT_COLUMNS, *OWN_COLUMNS)
MEMBER_COLUMNS = ("record_id", "member_no", "full_name", "relation", "birth_year", "gender", "national_id",
                  "village_code", "campaign_year", "changed_at")
HEAD_RELATION = "head"

_INT_COLUMNS = frozenset({"birth_year", "campaign_year", "deprivation_count", "income_per_person_month",
                          "b1_score", "member_no"})
_FLOAT_COLUMNS = frozenset({"lat", "lon"})
_CLASSES = frozenset(CLASSES)
_STATUSES = frozenset(STATUSES)
_CHANGE_TYPES = frozenset(CHANGE_TYPES)
_GENDERS = frozenset(GENDERS)


class MemberData(TypedDict):
    """A household member other than the head."""

    full_name: str
    birth_year: NotRequired[int | None]
    gender: NotRequired[str | None]  # "M" / "F"
    national_id: NotRequired[str | None]
    relation: NotRequired[str | None]  # to the head, e.g. "spouse", "child"


class HouseholdData(TypedDict):
    """What the query layer hands over for one household and one campaign year. Missing = unknown."""

    id: int  # internal, positive; orders rows that changed at the same instant
    record_id: str  # the registry's household id
    head_name: str
    changed_at: datetime  # the latest change to anything exported here (naive = UTC)
    birth_year: NotRequired[int | None]
    gender: NotRequired[str | None]
    national_id: NotRequired[str | None]
    phone: NotRequired[str | None]
    village_code: NotRequired[str | None]
    village_name: NotRequired[str | None]
    commune_code: NotRequired[str | None]
    commune_name: NotRequired[str | None]
    urban: NotRequired[bool | None]
    address: NotRequired[str | None]
    lat: NotRequired[float | None]
    lon: NotRequired[float | None]
    members: NotRequired[Sequence[MemberData]]
    campaign_year: NotRequired[int | None]
    household_class: NotRequired[str | None]  # the class the review recognised (column "class")
    national_class: NotRequired[str | None]  # the engine's verdict under the national standard
    local_class: NotRequired[str | None]  # under the province's local standard, when it has one
    indicators: NotRequired[Mapping[str, str]]  # "1.1" → deprived / not_deprived / not_applicable / unknown
    income_per_person_month: NotRequired[int | None]  # VND, the commune's direct estimate
    b1_score: NotRequired[int | None]
    review_state: NotRequired[str | None]
    decision_number: NotRequired[str | None]
    decision_date: NotRequired[date | None]
    start_class: NotRequired[str | None]
    end_class: NotRequired[str | None]
    change_type: NotRequired[str | None]
    extra: NotRequired[Mapping[str, str | None]]  # the province's own columns, as imported


# One letter per indicator status, for ``models.ClassificationFacts.indicators``; "-" = not listed.
STATUS_LETTERS = {"deprived": "d", "not_deprived": "n", "not_applicable": "a", "unknown": "u"}
LETTER_STATUSES = {letter: status for status, letter in STATUS_LETTERS.items()}
MISSING_LETTER = "-"


def encode_indicators(indicators: Sequence[Mapping[str, Any]] | None) -> str | None:
    """A verdict's indicator list (``[{"id": "1.1", "status": "deprived", …}, …]``) as 12 letters in
    :data:`INDICATOR_IDS` order; None when it lists none. Unknown ids or statuses raise ValueError: a
    rule set with other indicators must fail loudly, not lose columns."""
    if not indicators:
        return None
    statuses = {item["id"]: item["status"] for item in indicators}
    unknown = sorted(set(statuses) - set(INDICATOR_IDS)) + sorted(set(statuses.values()) - set(STATUS_LETTERS))
    if unknown:
        raise ValueError(f"indicators or statuses the export does not know: {unknown}")
    return "".join(STATUS_LETTERS[statuses[i]] if i in statuses else MISSING_LETTER for i in INDICATOR_IDS)


def decode_indicators(letters: str | None) -> dict[str, str]:
    """The inverse of :func:`encode_indicators`: indicator id → status, the unlisted ones left out."""
    if not letters:
        return {}
    return {i: LETTER_STATUSES[letter] for i, letter in zip(INDICATOR_IDS, letters, strict=True)
            if letter != MISSING_LETTER}


class ExportDataError(ValueError):
    """A household dict that cannot be exported as it is; the message names the household."""

    def __init__(self, record_id: object, vi: str, en: str) -> None:
        self.text = Text(f"Hộ {record_id}: {vi}", f"Household {record_id}: {en}")
        super().__init__(f"{self.text.vi} / {self.text.en}")


def registry_header(extra_columns: Sequence[str] = ()) -> tuple[str, ...]:
    """The export's columns: the import's, ours, then the province's own ``extra_columns``."""
    clashes = sorted(set(extra_columns) & set(REGISTRY_COLUMNS))
    if clashes or len(set(extra_columns)) != len(extra_columns):
        raise ValueError(f"province columns clash with the export's or repeat: {clashes or list(extra_columns)}")
    return (*REGISTRY_COLUMNS, *extra_columns)


_CLASS_KEYS = ("household_class", "national_class", "local_class", "start_class", "end_class")
_CLASS_OR_NONE = _CLASSES | {None}
_GENDER_OR_NONE = _GENDERS | {None}
_CHANGE_TYPE_OR_NONE = _CHANGE_TYPES | {None}
_INDICATOR_SET = frozenset(INDICATOR_IDS)
_FULL_NAME = itemgetter("full_name")
# Keys copied straight into the row, in column order around the computed cells.
_IDENTITY_KEYS = ("record_id", "head_name", "birth_year", "gender", "national_id", "phone", "village_code",
                  "address", "lat", "lon")
_CLASS_COLUMN_KEYS = ("campaign_year", "household_class", "national_class", "local_class")
_TAIL_KEYS = ("income_per_person_month", "b1_score", "review_state", "decision_number", "decision_date",
              "start_class", "end_class", "change_type")


def _invalid(record_id: object, key: str, value: object) -> ExportDataError:
    return ExportDataError(record_id, f"giá trị không hợp lệ ở {key}: {value!r}", f"invalid {key}: {value!r}")


def _check_choices(h: Mapping[str, Any]) -> None:
    # One set test per group on the common path; the loops only run to name the culprit.
    get = h.get
    if not _CLASS_OR_NONE.issuperset(map(get, _CLASS_KEYS)):
        key = next(k for k in _CLASS_KEYS if get(k) not in _CLASS_OR_NONE)
        raise _invalid(h["record_id"], key, get(key))
    if get("gender") not in _GENDER_OR_NONE:
        raise _invalid(h["record_id"], "gender", get("gender"))
    if get("change_type") not in _CHANGE_TYPE_OR_NONE:
        raise _invalid(h["record_id"], "change_type", get("change_type"))


def _indicator_cells(household: Mapping[str, Any]) -> tuple[list[str | None], int | None]:
    indicators = household.get("indicators") or {}
    if not (indicators.keys() <= _INDICATOR_SET and _STATUSES.issuperset(indicators.values())):
        raise _invalid(household["record_id"], "indicators", dict(indicators))
    cells = list(map(indicators.get, INDICATOR_IDS))
    # No indicators means the household was not surveyed this year: the count is unknown, not zero.
    return cells, (cells.count(DEPRIVED) if indicators else None)


def _member_names(household: Mapping[str, Any]) -> str:
    members = household.get("members") or ()
    joined = MEMBER_SEPARATOR.join(map(_FULL_NAME, members))
    if joined.count(MEMBER_SEPARATOR) != max(len(members) - 1, 0):
        raise ExportDataError(household["record_id"], f"tên thành viên chứa '{MEMBER_SEPARATOR}'",
                              f"a member's name contains '{MEMBER_SEPARATOR}'")
    return joined


def registry_row(household: HouseholdData, extra_columns: Sequence[str] = ()) -> list[Any]:
    """The household's cells in :func:`registry_header` order (typed values, None = empty).

    ``changed_at`` is given as ISO 8601 UTC text: it must keep its microseconds and its zone in every
    format (Excel has no time zones), and text is also what the CSV writer passes straight through.
    An empty string and None both give an empty cell (and come back as None).
    """
    h: Mapping[str, Any] = household
    if not h.get("record_id") or not h.get("head_name"):
        raise ExportDataError(h.get("record_id"), "thiếu mã hộ hoặc tên chủ hộ", "record_id or head_name missing")
    _check_choices(h)
    indicators, deprivations = _indicator_cells(h)
    get = h.get
    urban = get("urban")
    row = [
        *map(get, _IDENTITY_KEYS), _member_names(h), get("commune_code"),
        None if urban is None else URBAN if urban else RURAL,
        *map(get, _CLASS_COLUMN_KEYS), deprivations, *indicators, *map(get, _TAIL_KEYS), iso_utc(h["changed_at"]),
    ]
    if extra_columns:
        row.extend(map((h.get("extra") or {}).get, extra_columns))
    return row


def member_rows(household: HouseholdData) -> Iterator[list[Any]]:
    """One row per person in :data:`MEMBER_COLUMNS` order, the head first (member 1)."""
    h: Mapping[str, Any] = household
    record_id = h["record_id"]
    common = (h.get("village_code"), h.get("campaign_year"), iso_utc(h["changed_at"]))
    people = [{"full_name": h["head_name"], "relation": HEAD_RELATION, "birth_year": h.get("birth_year"),
               "gender": h.get("gender"), "national_id": h.get("national_id")}, *(h.get("members") or ())]
    for number, person in enumerate(people, start=1):
        if person.get("gender") not in _GENDER_OR_NONE:
            raise _invalid(record_id, "gender", person.get("gender"))
        yield [record_id, number, person["full_name"], person.get("relation"), person.get("birth_year"),
               person.get("gender"), person.get("national_id"), *common]


def registry_feature(household: HouseholdData, extra_columns: Sequence[str] = ()) -> dict[str, Any]:
    """The household as a GeoJSON Feature: the registry columns as properties, lat/lon as the Point."""
    properties = dict(zip(registry_header(extra_columns), registry_row(household, extra_columns), strict=True))
    lon, lat = properties.pop("lon"), properties.pop("lat")
    return point_feature(lon, lat, properties, feature_id=household["record_id"])


def _parse_cell(column: str, text: str) -> Any:
    if text == "":
        return None
    if column in _INT_COLUMNS:
        return int(text)
    if column in _FLOAT_COLUMNS:
        return float(text)
    if column == "decision_date":
        return date.fromisoformat(text)
    if column == "changed_at":
        return datetime.fromisoformat(text)
    return unneutralise(text)


def parse_registry_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row of the export (as ``csv.DictReader`` gives it) back to the typed cells.

    The inverse of :func:`registry_row` and :func:`member_rows` through :func:`csv_chunks`:
    empty cells become None, the neutralising quote is dropped, times come back in UTC.
    """
    return {column: _parse_cell(column, text) for column, text in row.items()}


class InvalidCursor(ValueError):
    def __init__(self, token: str) -> None:
        self.text = Text(f"Con trỏ xuất dữ liệu không hợp lệ: {token!r}", f"Invalid export cursor: {token!r}")
        super().__init__(f"{self.text.vi} / {self.text.en}")


_CURSOR_VERSION = "1"


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in an export ordered by ``(changed_at, id)``; exports resume strictly after it.

    Caveat for the query layer: a transaction that commits *after* an export read the rows may carry
    an earlier ``changed_at`` and be skipped for good. Export up to a little before "now" (longer
    than the longest write transaction) and stamp ``changed_at`` in the committing transaction.
    """

    changed_at: datetime  # aware, UTC
    id: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "changed_at", as_utc(self.changed_at).astimezone(UTC))
        if self.id < 0:
            raise ValueError(f"cursor id must not be negative: {self.id}")

    @classmethod
    def since(cls, moment: datetime) -> Cursor:
        """Everything changed at or after ``moment`` (ids are positive, so id 0 precedes them all)."""
        return cls(moment, 0)

    @classmethod
    def of(cls, household: Mapping[str, Any]) -> Cursor:
        """The cursor just at ``household``: hand it back to continue after it."""
        return cls(household["changed_at"], household["id"])

    def precedes(self, household: Mapping[str, Any]) -> bool:
        """True when ``household`` comes after this cursor, i.e. belongs in the next export."""
        return Cursor.of(household) > self

    def encode(self) -> str:
        raw = f"{_CURSOR_VERSION}|{iso_utc(self.changed_at)}|{self.id}".encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            version, moment, number = raw.split("|")
            if version != _CURSOR_VERSION or not moment.endswith("Z"):
                raise ValueError(version)
            return cls(datetime.fromisoformat(moment), int(number))
        except (binascii.Error, UnicodeError, ValueError):
            raise InvalidCursor(token) from None


@dataclass(frozen=True)
class ExportFilter:
    """Which households an export holds. Empty ``unit_codes`` = every unit; ``states=None`` = every
    review state; dates are inclusive and apply to the decision date."""

    campaign_year: int | None = None
    unit_codes: frozenset[str] = frozenset()  # commune or village codes (an area = its communes)
    states: frozenset[str] | None = DEFAULT_STATES
    decided_from: date | None = None
    decided_until: date | None = None
    after: Cursor | None = None

    def matches(self, household: HouseholdData) -> bool:
        h: Mapping[str, Any] = household
        if self.campaign_year is not None and h.get("campaign_year") != self.campaign_year:
            return False
        if self.unit_codes and h.get("commune_code") not in self.unit_codes \
                and h.get("village_code") not in self.unit_codes:
            return False
        if self.states is not None and h.get("review_state") not in self.states:
            return False
        if self.decided_from is not None or self.decided_until is not None:
            decided = h.get("decision_date")
            if decided is None or (self.decided_from is not None and decided < self.decided_from) \
                    or (self.decided_until is not None and decided > self.decided_until):
                return False
        return self.after is None or self.after.precedes(h)
