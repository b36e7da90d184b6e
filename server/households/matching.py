"""Household matching: blocking keys, pairwise scores that explain themselves, decisions, an index.

Scores follow Fellegi–Sunter: each comparison adds a log2 likelihood ratio ("bits": how much more
likely this outcome is for the same household than for two different ones) and the total is compared
with two thresholds. Name agreement is term-frequency adjusted: agreeing on Nguyễn (~38% of people)
is worth far less than agreeing on a rare surname. The weights are hand-tuned on the generator's
tuning configuration (``synthetic.TUNING``), not estimated; the benchmark also reports a second
configuration that was never used for tuning.

Some comparisons are conditional on the heads being the same person: a birth year, sex or citizen ID
that differs between two *different* heads (the spouse took over) says nothing, while between two
records of one named person it reveals a namesake.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from server.households.identity import (
    WEAK_MIDDLE_NAMES,
    NationalId,
    PersonName,
    fold,
    id_agrees_with_person,
    normalize_phone,
    parse_name,
    parse_national_id,
    within_one_edit,
)

# The record types below are built once per row or per scored pair: they are plain slotted
# dataclasses, read-only by convention, because frozen ones cost five times as much to construct.


@dataclass(slots=True)
class HouseholdRecord:
    """One household as submitted or as held in the registry; ``None`` means unknown."""

    record_id: str
    head_name: str
    birth_year: int | None = None
    gender: str | None = None  # "M" / "F"
    national_id: str | None = None
    phone: str | None = None
    village_code: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    member_names: tuple[str, ...] = ()  # the other members' full names


# About 55 m north–south and 52 m east–west at Bắc Ninh's latitude.
CELL_DEGREES = 0.0005


@dataclass(slots=True)
class Prepared:
    """A record with everything the comparisons need computed once."""

    record: HouseholdRecord
    head: PersonName | None
    persons: tuple[PersonName, ...]  # head first, then members
    national_id: NationalId | None
    id_fits_head: bool | None
    phone: str | None
    village: str
    cell: tuple[int, int] | None


def grid_cell(lat: float | None, lon: float | None) -> tuple[int, int] | None:
    """The proximity cell of a point (see ``CELL_DEGREES``); None without a point."""
    if lat is None or lon is None:
        return None
    return (math.floor(lat / CELL_DEGREES), math.floor(lon / CELL_DEGREES))


def prepare(record: HouseholdRecord) -> Prepared:
    head = parse_name(record.head_name)
    members = [name for name in map(parse_name, record.member_names) if name is not None]
    persons = tuple([head, *members] if head is not None else members)
    national_id = parse_national_id(record.national_id)
    fits = (
        id_agrees_with_person(national_id, record.gender, record.birth_year, year_tolerance=1)
        if national_id is not None
        else None
    )
    return Prepared(
        record=record,
        head=head,
        persons=persons,
        national_id=national_id,
        id_fits_head=fits,
        phone=normalize_phone(record.phone),
        village=record.village_code or "",
        cell=grid_cell(record.lat, record.lon),
    )


# --- Blocking ----------------------------------------------------------------------------------

def _as_prepared(record: HouseholdRecord | Prepared) -> Prepared:
    return record if isinstance(record, Prepared) else prepare(record)


def household_keys(
    village: str,
    persons: Iterable[PersonName],
    head: PersonName | None,
    birth_year: int | None,
    national_id: NationalId | None,
    phone: str | None,
    cells: Iterable[tuple[int, int]],
) -> set[str]:
    """The blocking keys of a household from its parts, as ``prepare`` computes them; for callers
    that can get the parts more cheaply than by preparing the whole record (see ``linking``)."""
    # Plain loops: this runs for every row of a province's registry.
    keys: set[str] = set()
    add = keys.add
    surnames: set[str] = set()
    for person in persons:
        if person.surname:
            surnames.add(person.surname)
            if village:
                add(f"n|{village}|{person.key}")
    if village and head is not None and birth_year is not None:
        add(f"y|{village}|{head.given}|{birth_year}")
    # ID and phone keys ignore the village: they find households that moved or were coded wrongly.
    if national_id is not None:
        add(f"i|{national_id.digits}")
    if phone is not None:
        add(f"t|{phone}")
    # Proximity alone would pull in every neighbour; pairing it with a surname of the household
    # keeps the candidate lists short and still survives a head change (spouses' surnames differ).
    for cy, cx in cells:
        place = f"g|{cy}|{cx}|"
        for surname in surnames:
            add(place + surname)
    return keys


def _keys(p: Prepared, cells: Iterable[tuple[int, int]]) -> set[str]:
    return household_keys(p.village, p.persons, p.head, p.record.birth_year, p.national_id, p.phone, cells)


def blocking_keys(record: HouseholdRecord | Prepared) -> set[str]:
    """The keys to store for a record. Two records are candidates when the stored keys of one that
    meet the ``probe_keys`` of the other add up to ``CANDIDATE_STRENGTH`` (see ``key_strength``)."""
    p = _as_prepared(record)
    return _keys(p, [p.cell] if p.cell is not None else [])


def probe_keys(record: HouseholdRecord | Prepared) -> set[str]:
    """The keys to look up for a record: its stored keys, with the proximity keys widened to the
    eight neighbouring cells so that a point near a cell edge still meets its match."""
    p = _as_prepared(record)
    if p.cell is None:
        return _keys(p, [])
    cy, cx = p.cell
    return _keys(p, [(cy + dy, cx + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])


# --- Term frequencies ------------------------------------------------------------------------------

# Approximate national surname shares (after merging Hoàng/Huỳnh and Vũ/Võ), the prior before data.
SURNAME_PRIOR: dict[str, float] = {
    "nguyen": 0.384, "tran": 0.121, "le": 0.095, "pham": 0.070, "hoang": 0.051, "phan": 0.045,
    "vu": 0.039, "dang": 0.021, "bui": 0.020, "do": 0.014, "ho": 0.013, "ngo": 0.013, "duong": 0.010,
    "ly": 0.005,
}
_UNLISTED_SURNAME_SHARE = 0.002
_UNLISTED_GIVEN_SHARE = 1 / 150
# How many persons' worth of evidence the prior counts for against observed counts.
_PRIOR_PERSONS = 2000


@dataclass
class NameFrequencies:
    """Shares of surnames and given names among persons, for term-frequency adjusted weights.

    Starts from a national prior and learns from every record added, so a small batch leans on the
    prior and a large registry on its own counts.
    """

    surnames: Counter[str] = field(default_factory=Counter)
    given: Counter[str] = field(default_factory=Counter)
    persons: int = 0

    def add(self, p: Prepared) -> None:
        for person in p.persons:
            self.surnames[person.surname] += 1
            self.given[person.given] += 1
        self.persons += len(p.persons)

    def surname_share(self, surname: str) -> float:
        prior = SURNAME_PRIOR.get(surname, _UNLISTED_SURNAME_SHARE)
        return (self.surnames[surname] + prior * _PRIOR_PERSONS) / (self.persons + _PRIOR_PERSONS)

    def given_share(self, given: str) -> float:
        return (self.given[given] + _UNLISTED_GIVEN_SHARE * _PRIOR_PERSONS) / (self.persons + _PRIOR_PERSONS)


# --- Weights and thresholds ----------------------------------------------------------------------

@dataclass(frozen=True)
class Weights:
    """Log2 likelihood ratios of each comparison level; hand-tuned on ``synthetic.TUNING``."""

    surname_m: float = 0.95  # how often one person's surname is recorded alike twice
    given_m: float = 0.9
    name_cap: float = 12.0  # a very rare name still does not prove identity on its own
    middle_agree: float = 1.5
    middle_agree_weak: float = 0.2  # Văn / Thị
    middle_disagree: float = -2.0
    name_fuzzy_factor: float = 0.5
    name_fuzzy_penalty: float = 1.0
    name_given_only: float = 0.5
    name_head_changed: float = 0.0
    name_same_id: float = 0.0  # names disagree, but the identical citizen ID says it is one person
    name_head_changed_alone: float = -2.0
    name_different: float = -6.0
    year_exact: float = 3.0
    year_near: float = 1.0  # ±1, the commonest slip
    year_off: float = -3.0  # 2–3 years
    year_far: float = -7.0
    gender_agree: float = 0.3
    gender_disagree: float = -4.0
    id_exact: float = 12.0
    id_exact_unfit: float = 6.0  # equal, but its sex/year digits contradict a head: shared or mistyped
    id_typo: float = 6.0
    id_two_slips: float = 0.0  # both records mistyped: says little either way
    id_different_same_head: float = -7.0
    id_different: float = -1.0
    phone_exact: float = 5.0
    phone_different: float = -1.0
    member_cap: float = 8.0  # one shared member, however rare the name
    member_slip_factor: float = 0.5  # a member found one typing slip away
    members_cap: float = 20.0
    roster_some: float = -1.5
    roster_few: float = -6.0
    geo_25m: float = 2.5
    geo_75m: float = 1.5
    geo_1km: float = -0.5
    geo_far: float = -1.5  # phones report wild fixes now and then
    address_numbered: float = 2.0
    address_plain: float = 0.3
    village_different: float = -3.0


@dataclass(frozen=True)
class Thresholds:
    match: float = 13.0
    review: float = 6.0
    # A best candidate that beats the runner-up by less than this is left for a person to choose.
    margin: float = 4.0


DEFAULT_WEIGHTS = Weights()
DEFAULT_THRESHOLDS = Thresholds()


class Decision(StrEnum):
    MATCH = "match"
    REVIEW = "review"
    NEW = "new"


class Reason(NamedTuple):
    vi: str
    en: str


# What each comparison level means, for people: Vietnamese first.
REASONS: dict[tuple[str, str], Reason] = {
    ("head_name", "exact"): Reason("Họ tên chủ hộ trùng khớp", "Head's name identical"),
    ("head_name", "fuzzy"): Reason("Họ tên chủ hộ gần giống", "Head's name nearly identical"),
    ("head_name", "same_id"): Reason("Tên khác nhưng cùng số định danh", "Names differ but the citizen ID is the same"),
    ("head_name", "head_changed_alone"): Reason(
        "Chỉ chủ hộ mới là người chung của hai hộ", "The new head is the only person the two share"
    ),
    ("head_name", "given_only"): Reason("Chỉ trùng tên, khác họ", "Same given name, different surname"),
    ("head_name", "head_changed"): Reason("Chủ hộ mới là thành viên của hộ kia", "New head was a member of the other"),
    ("head_name", "different"): Reason("Họ tên chủ hộ khác nhau", "Heads' names differ"),
    ("middle_name", "agree"): Reason("Tên đệm trùng", "Middle name agrees"),
    ("middle_name", "agree_weak"): Reason("Tên đệm trùng (Văn/Thị)", "Middle name agrees (Văn/Thị)"),
    ("middle_name", "disagree"): Reason("Tên đệm khác", "Middle names differ"),
    ("birth_year", "exact"): Reason("Năm sinh chủ hộ trùng", "Head's birth year identical"),
    ("birth_year", "near"): Reason("Năm sinh lệch 1 năm", "Birth year one year apart"),
    ("birth_year", "off"): Reason("Năm sinh lệch 2–3 năm", "Birth year 2–3 years apart"),
    ("birth_year", "far"): Reason("Năm sinh khác xa", "Birth years far apart"),
    ("gender", "agree"): Reason("Giới tính trùng", "Same sex"),
    ("gender", "disagree"): Reason("Giới tính khác", "Different sex"),
    ("national_id", "exact"): Reason("Số CCCD/CMND trùng", "Citizen ID identical"),
    ("national_id", "exact_unfit"): Reason(
        "Số định danh trùng nhưng không khớp giới tính/năm sinh",
        "Citizen ID identical but its sex/year digits do not fit",
    ),
    ("national_id", "typo"): Reason("Số định danh lệch một chữ số", "Citizen ID differs by one typing slip"),
    ("national_id", "two_slips"): Reason("Số định danh lệch hai chữ số", "Citizen IDs differ in two digits"),
    ("national_id", "different_same_head"): Reason(
        "Cùng họ tên nhưng khác số định danh", "Same name but a different citizen ID"
    ),
    ("national_id", "different"): Reason("Số định danh khác", "Citizen IDs differ"),
    ("phone", "exact"): Reason("Số điện thoại trùng", "Same phone number"),
    ("phone", "different"): Reason("Số điện thoại khác", "Different phone numbers"),
    ("members", "shared"): Reason("Có thành viên trùng tên", "Members with the same names"),
    ("roster", "some"): Reason("Danh sách thành viên chỉ trùng một phần", "Member lists only partly overlap"),
    ("roster", "few"): Reason("Danh sách thành viên hầu như khác", "Member lists mostly differ"),
    ("distance", "25m"): Reason("Vị trí cách nhau dưới 25 m", "Locations within 25 m"),
    ("distance", "75m"): Reason("Vị trí cách nhau dưới 75 m", "Locations within 75 m"),
    ("distance", "1km"): Reason("Vị trí cách nhau 250 m – 1 km", "Locations 250 m – 1 km apart"),
    ("distance", "far"): Reason("Vị trí cách nhau trên 1 km", "Locations over 1 km apart"),
    ("address", "numbered"): Reason("Địa chỉ có số nhà trùng", "Same address with house number"),
    ("address", "plain"): Reason("Địa chỉ trùng", "Same address"),
    ("village", "different"): Reason("Khác thôn", "Different village"),
}


class Contribution(NamedTuple):
    comparison: str
    level: str
    weight: float

    def reason(self, lang: str = "vi") -> str:
        text = REASONS[(self.comparison, self.level)]
        return text.vi if lang == "vi" else text.en


@dataclass(slots=True)
class Score:
    total: float
    contributions: tuple[Contribution, ...]

    def explain(self, lang: str = "vi") -> list[str]:
        """One line per comparison that moved the score, largest effect first."""
        ordered = sorted(self.contributions, key=lambda c: -abs(c.weight))
        return [f"{c.reason(lang)}: {c.weight:+.1f}" for c in ordered]


# --- Comparisons ---------------------------------------------------------------------------------

def _name_weight(a: PersonName, freq: NameFrequencies, w: Weights) -> float:
    surname = math.log2(w.surname_m / freq.surname_share(a.surname)) if a.surname else 0.0
    given = math.log2(w.given_m / freq.given_share(a.given))
    return min(surname + given, w.name_cap)


class PersonPair(NamedTuple):
    incoming: PersonName
    candidate: PersonName
    exact: bool  # same name as it sounds; otherwise one typing slip apart


# Scoring compares the same few thousand name words over and over.
_names_within_one_edit = lru_cache(maxsize=1 << 16)(within_one_edit)


def _is_slip(x: str, y: str, counts: Counter[str]) -> bool:
    """Whether ``y`` is ``x`` with one typing slip. A slip that turns one common name into another
    (Hà/Hải, Hùng/Dũng, Minh/Mạnh) is taken for two names: the rarer spelling must be at most a tenth
    as frequent as the other to count as a misspelling."""
    if not _names_within_one_edit(x, y):
        return False
    cx, cy = counts[x], counts[y]
    return min(cx, cy) * 10 <= max(cx, cy)


def _same_person_name(a: PersonName, b: PersonName, freq: NameFrequencies) -> bool:
    """Same name as it sounds, or one typing slip in the given name or in the surname."""
    if a.key == b.key:
        return True
    # Equal surnames and equal given names would have equal keys: only one part can hold the slip.
    if a.surname == b.surname:
        return _is_slip(a.given, b.given, freq.given)
    return a.given == b.given and _is_slip(a.surname, b.surname, freq.surnames)


def _sexes_conflict(a: Prepared, b: Prepared) -> bool:
    ga, gb = a.record.gender, b.record.gender
    return ga is not None and gb is not None and ga != gb


def _heads_are_one_person(a: Prepared, b: Prepared, freq: NameFrequencies) -> bool:
    """Same head by name (unless the sexes conflict, or the name is found exactly among the other
    household's members instead: Trần Thị Hương who was a member is not a misspelt Trần Hồng Hùng),
    or by an identical citizen ID that fits both."""
    ha, hb = a.head, b.head
    if ha is None or hb is None:
        return False
    if (a.national_id is not None and a.national_id == b.national_id and a.id_fits_head is not False
            and b.id_fits_head is not False):
        return True
    if _sexes_conflict(a, b):
        return False
    if ha.key == hb.key:
        return True
    member_hit = any(q.key == ha.key for q in b.persons[1:]) or any(q.key == hb.key for q in a.persons[1:])
    return not member_hit and _same_person_name(ha, hb, freq)


def _compare_heads(
    a: Prepared, b: Prepared, same_head: bool, pairs: list[PersonPair], freq: NameFrequencies, w: Weights,
    out: list[Contribution],
) -> bool:
    """Adds the head-name contribution; returns whether the head changed (one household's head is a
    member of the other)."""
    ha, hb = a.head, b.head
    if ha is None or hb is None:
        return False
    if same_head:
        if ha.surname == hb.surname and ha.given == hb.given:
            out.append(Contribution("head_name", "exact", _name_weight(ha, freq, w)))
        elif _same_person_name(ha, hb, freq):
            weight = _name_weight(ha, freq, w) * w.name_fuzzy_factor - w.name_fuzzy_penalty
            out.append(Contribution("head_name", "fuzzy", weight))
        else:
            out.append(Contribution("head_name", "same_id", w.name_same_id))
        _compare_middle(ha, hb, w, out)
        return False
    changed = any((x is ha) != (y is hb) for x, y, _ in pairs)
    if changed and len(pairs) == 1:
        # Only the new head links the two: a lone survivor and a son who split off look the same.
        out.append(Contribution("head_name", "head_changed_alone", w.name_head_changed_alone))
    elif changed:
        out.append(Contribution("head_name", "head_changed", w.name_head_changed))
    elif ha.given == hb.given:
        out.append(Contribution("head_name", "given_only", w.name_given_only))
    else:
        out.append(Contribution("head_name", "different", w.name_different))
    return changed


def _compare_middle(a: PersonName, b: PersonName, w: Weights, out: list[Contribution]) -> None:
    if not a.middle or not b.middle:
        return
    if a.middle == b.middle:
        weak = a.middle in WEAK_MIDDLE_NAMES
        out.append(Contribution("middle_name", "agree_weak" if weak else "agree",
                                w.middle_agree_weak if weak else w.middle_agree))
    elif not _middles_compatible(a, b):
        out.append(Contribution("middle_name", "disagree", w.middle_disagree))


def _compare_person_facts(a: HouseholdRecord, b: HouseholdRecord, w: Weights, out: list[Contribution]) -> None:
    if a.birth_year is not None and b.birth_year is not None:
        gap = abs(a.birth_year - b.birth_year)
        if gap == 0:
            out.append(Contribution("birth_year", "exact", w.year_exact))
        elif gap == 1:
            out.append(Contribution("birth_year", "near", w.year_near))
        elif gap <= 3:
            out.append(Contribution("birth_year", "off", w.year_off))
        else:
            out.append(Contribution("birth_year", "far", w.year_far))
    if a.gender and b.gender:
        if a.gender == b.gender:
            out.append(Contribution("gender", "agree", w.gender_agree))
        else:
            out.append(Contribution("gender", "disagree", w.gender_disagree))


def _compare_ids(
    a: Prepared, b: Prepared, same_head: bool, head_changed: bool, w: Weights, out: list[Contribution]
) -> None:
    ia, ib = a.national_id, b.national_id
    # A CMND and a CCCD of one person share no digits: there is nothing to compare.
    if ia is None or ib is None or ia.kind is not ib.kind:
        return
    fits = a.id_fits_head is not False and b.id_fits_head is not False
    if ia.digits == ib.digits:
        if fits:
            out.append(Contribution("national_id", "exact", w.id_exact))
        else:
            out.append(Contribution("national_id", "exact_unfit", w.id_exact_unfit))
    elif within_one_edit(ia.digits, ib.digits):
        # A slip in the sex/year digits makes the ID contradict its head: that explains the
        # difference rather than making the pair less likely.
        out.append(Contribution("national_id", "typo", w.id_typo))
    elif sum(x != y for x, y in zip(ia.digits, ib.digits, strict=True)) == 2:
        out.append(Contribution("national_id", "two_slips", w.id_two_slips))
    elif same_head and fits:
        out.append(Contribution("national_id", "different_same_head", w.id_different_same_head))
    elif not head_changed:  # a new head has an ID of their own
        out.append(Contribution("national_id", "different", w.id_different))


def _middles_compatible(a: PersonName, b: PersonName) -> bool:
    """A middle name may be left out, or one of two dropped, but two different ones mean two people."""
    return not a.middle or not b.middle or a.middle == b.middle or bool(set(a.middle.split()) & set(b.middle.split()))


def _pair_persons(a: Prepared, b: Prepared, same_head: bool, freq: NameFrequencies) -> list[PersonPair]:
    """Persons of ``a`` and ``b`` taken to be the same people: the heads when they are one person,
    then the same name as it sounds (or one typing slip apart) with middle names that do not
    conflict; each person used once. Heads of different sex are never paired with each other."""
    pairs: list[PersonPair] = []
    free = list(b.persons)
    unpaired = list(a.persons)
    if same_head and a.head is not None and b.head is not None:
        pairs.append(PersonPair(a.head, b.head, exact=a.head.key == b.head.key))
        free.remove(b.head)
        unpaired.remove(a.head)
    apart = (a.head, b.head) if _sexes_conflict(a, b) else None
    still_unpaired = [p for p in unpaired if not _pair_first(p, free, apart, None, pairs)]
    for person in still_unpaired:
        _pair_first(person, free, apart, freq, pairs)
    return pairs


def _pair_first(
    person: PersonName, free: list[PersonName], apart: tuple[PersonName | None, PersonName | None] | None,
    freq: NameFrequencies | None, pairs: list[PersonPair],
) -> bool:
    """Pairs ``person`` with the first of ``free`` that has the same name as it sounds (``freq`` None)
    or, given the name frequencies, one typing slip apart; False when none has."""
    for other in free:
        same = person.key == other.key if freq is None else _same_person_name(person, other, freq)
        if same and (person, other) != apart and _middles_compatible(person, other):
            free.remove(other)
            pairs.append(PersonPair(person, other, freq is None))
            return True
    return False


def _compare_rosters(
    a: Prepared, b: Prepared, pairs: list[PersonPair], same_head: bool, freq: NameFrequencies, w: Weights,
    out: list[Contribution],
) -> None:
    head = a.head
    weight = 0.0
    for person, other, exact in pairs:
        if same_head and (person is head or other is b.head):
            continue  # already counted by the head's name
        # Children carry the head's surname, so only a spouse's or in-law's surname adds evidence.
        bits = math.log2(w.given_m / freq.given_share(person.given))
        if person.surname and (head is None or person.surname != head.surname):
            bits += math.log2(w.surname_m / freq.surname_share(person.surname))
        weight += min(bits, w.member_cap) * (1.0 if exact else w.member_slip_factor)
    if weight > 0:
        out.append(Contribution("members", "shared", min(weight, w.members_cap)))
    gained = len(a.persons) - len(pairs)
    lost = len(b.persons) - len(pairs)
    # One birth, death, departure or head change in a year is ordinary household life.
    if gained + lost <= 1 or (gained == 0 and lost <= 1) or (lost == 0 and gained <= 1):
        return
    overlap = len(pairs) / (len(pairs) + gained + lost)
    if overlap < 0.34:
        out.append(Contribution("roster", "few", w.roster_few))
    elif overlap < 0.6:
        out.append(Contribution("roster", "some", w.roster_some))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Metres between two nearby points (equirectangular; exact enough below a few km)."""
    dy = (lat2 - lat1) * 110_574.0
    dx = (lon2 - lon1) * 111_320.0 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


@lru_cache(maxsize=65536)
def _address_key(address: str | None) -> str:
    return fold(address or "")


def _compare_places(a: Prepared, b: Prepared, w: Weights, out: list[Contribution]) -> None:
    ra, rb = a.record, b.record
    if ra.lat is not None and ra.lon is not None and rb.lat is not None and rb.lon is not None:
        metres = distance_m(ra.lat, ra.lon, rb.lat, rb.lon)
        if metres <= 25:
            out.append(Contribution("distance", "25m", w.geo_25m))
        elif metres <= 75:
            out.append(Contribution("distance", "75m", w.geo_75m))
        elif 250 < metres <= 1000:
            out.append(Contribution("distance", "1km", w.geo_1km))
        elif metres > 1000:
            out.append(Contribution("distance", "far", w.geo_far))
    address = _address_key(a.record.address)
    if address and address == _address_key(b.record.address):
        numbered = any(ch.isdigit() for ch in address)
        out.append(Contribution("address", "numbered" if numbered else "plain",
                                w.address_numbered if numbered else w.address_plain))
    if a.village and b.village and a.village != b.village:
        out.append(Contribution("village", "different", w.village_different))


def score_pair(
    incoming: Prepared, candidate: Prepared, freq: NameFrequencies, weights: Weights = DEFAULT_WEIGHTS
) -> Score:
    """The evidence that ``incoming`` and ``candidate`` are one household, comparison by comparison."""
    out: list[Contribution] = []
    same_head = _heads_are_one_person(incoming, candidate, freq)
    pairs = _pair_persons(incoming, candidate, same_head, freq)
    head_changed = _compare_heads(incoming, candidate, same_head, pairs, freq, weights, out)
    if same_head:
        _compare_person_facts(incoming.record, candidate.record, weights, out)
    _compare_ids(incoming, candidate, same_head, head_changed, weights, out)
    if incoming.phone is not None and candidate.phone is not None:
        if incoming.phone == candidate.phone:
            out.append(Contribution("phone", "exact", weights.phone_exact))
        else:
            out.append(Contribution("phone", "different", weights.phone_different))
    _compare_rosters(incoming, candidate, pairs, same_head, freq, weights, out)
    _compare_places(incoming, candidate, weights, out)
    return Score(total=sum(c.weight for c in out), contributions=tuple(out))


# --- Decisions -----------------------------------------------------------------------------------

@dataclass(slots=True)
class Link:
    incoming_id: str
    other_id: str  # a registry household, or an earlier record of the same batch
    score: Score
    decision: Decision


def decide(
    incoming_id: str, scored: Iterable[tuple[str, Score]], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Link]:
    """The candidates worth showing for one record, best first: at most one ``match`` (the best, when
    it clears the threshold and the runner-up by the margin), the rest above the review threshold as
    ``review``. An empty list means the record is ``new``."""
    ranked = sorted((s for s in scored if s[1].total >= thresholds.review), key=lambda s: (-s[1].total, s[0]))
    links = []
    for rank, (other_id, score) in enumerate(ranked):
        decision = Decision.REVIEW
        if rank == 0 and score.total >= thresholds.match:
            runner_up = ranked[1][1].total if len(ranked) > 1 else -math.inf
            if score.total - runner_up >= thresholds.margin:
                decision = Decision.MATCH
        links.append(Link(incoming_id, other_id, score, decision))
    return links


def best_decision(links: list[Link]) -> Decision:
    return links[0].decision if links else Decision.NEW


# --- In-memory index -----------------------------------------------------------------------------

def key_strength(key: str) -> int:
    """A shared citizen ID or phone makes a candidate on its own; a name or place key needs another."""
    return 2 if key[0] in "it" else 1


# Records become candidates when the keys they share add up to this (see ``key_strength``). One
# shared name alone brings every namesake of the village and almost never a match worth linking.
CANDIDATE_STRENGTH = 2


class KeyIndex:
    """Blocking key → positions of the records that carry it."""

    def __init__(self) -> None:
        self._positions: dict[str, list[int]] = {}
        # The same keys as a set as well: a set probe touches half the memory of a dict probe, and
        # a registry scan probes millions of keys that are mostly not there.
        self._keys: set[str] = set()

    def add(self, position: int, keys: Iterable[str]) -> None:
        for key in keys:
            positions = self._positions.get(key)
            if positions is None:
                self._positions[key] = [position]
                self._keys.add(key)
            else:
                positions.append(position)

    def lookup(self, keys: Set[str]) -> list[int]:
        """Positions of the records whose shared keys make them candidates, in index order."""
        shared = self._keys.intersection(keys)
        if not shared:
            return []
        if len(shared) == 1:  # the commonest case with a shared key: settle it without counting
            (key,) = shared
            return sorted(self._positions[key]) if key_strength(key) >= CANDIDATE_STRENGTH else []
        strength: dict[int, int] = {}
        for key in shared:
            weight = key_strength(key)
            for position in self._positions[key]:
                strength[position] = strength.get(position, 0) + weight
        return sorted(position for position, total in strength.items() if total >= CANDIDATE_STRENGTH)


@dataclass
class BatchLinks:
    registry: dict[str, list[Link]]  # incoming id → registry candidates (empty: new)
    within_batch: list[Link]  # later record → earlier record of the same batch


class Linker:
    """A registry held in memory, indexed by blocking keys, that links submissions against it.

    Name frequencies are learned from the registry as it is loaded.
    """

    def __init__(self, weights: Weights = DEFAULT_WEIGHTS, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.weights = weights
        self.thresholds = thresholds
        self.frequencies = NameFrequencies()
        self._records: list[Prepared] = []
        self._index = KeyIndex()

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: HouseholdRecord | Prepared) -> None:
        p = _as_prepared(record)
        self._index.add(len(self._records), blocking_keys(p))
        self._records.append(p)
        self.frequencies.add(p)

    def add_all(self, records: Iterable[HouseholdRecord | Prepared]) -> None:
        for record in records:
            self.add(record)

    def candidates(self, record: HouseholdRecord | Prepared) -> list[Prepared]:
        p = _as_prepared(record)
        return [self._records[i] for i in self._index.lookup(probe_keys(p))]

    def match(self, record: HouseholdRecord | Prepared) -> list[Link]:
        """Registry candidates for one submission, decided; empty when the household is new."""
        p = _as_prepared(record)
        scored = [
            (c.record.record_id, score_pair(p, c, self.frequencies, self.weights)) for c in self.candidates(p)
        ]
        return decide(p.record.record_id, scored, self.thresholds)

    def link_batch(self, records: Iterable[HouseholdRecord | Prepared]) -> BatchLinks:
        """Links each record against the registry and against the batch's earlier records, so two
        enumerators' submissions of one household are found even when it is not in the registry."""
        batch = [_as_prepared(r) for r in records]
        registry = {p.record.record_id: self.match(p) for p in batch}
        return BatchLinks(registry=registry, within_batch=list(find_batch_duplicates(batch, self.frequencies,
                                                                                     self.weights, self.thresholds)))


def find_batch_duplicates(
    batch: list[Prepared],
    frequencies: NameFrequencies,
    weights: Weights = DEFAULT_WEIGHTS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    probes: KeyIndex | None = None,
) -> Iterator[Link]:
    """Pairs of one batch that look like the same household (later record → earlier record).

    ``probes`` holds the batch's ``probe_keys`` by position, when the caller has indexed them already.
    A record's blocking keys looked up among the others' probe keys find the same candidates as its
    probe keys among their blocking keys: the name, ID and phone keys are the same either way, and
    a cell is among the neighbours of another exactly when that one is among its own.
    """
    if probes is None:
        probes = KeyIndex()
        for position, p in enumerate(batch):
            probes.add(position, probe_keys(p))
    for position, p in enumerate(batch):
        earlier = [i for i in probes.lookup(blocking_keys(p)) if i < position]
        scored = [(batch[i].record.record_id, score_pair(p, batch[i], frequencies, weights)) for i in earlier]
        yield from decide(p.record.record_id, scored, thresholds)
