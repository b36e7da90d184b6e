"""The dashboard's use-cases: one scope's numbers, the facts kept for it, the plan's targets. Never commits.

Scope: a node (province, area, commune, village) is shown only when it lies in the caller's units; its
numbers are computed with a ``Where`` cut to those units, so nothing outside the caller's area is ever
counted or named (design.md: personal data only within the caller's scope).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text

from server.accounts.models import Actor
from server.accounts.services import audit
from server.campaigns.models import Classification
from server.collect.models import Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.monitoring import aggregate, facts, queries
from server.monitoring.aggregate import StateTime, Tally, TargetRow
from server.monitoring.models import Fact, Target, Transition
from server.monitoring.queries import UNKNOWN_VILLAGE, EnumeratorRow, Where, village_key
from server.review.models import Review
from server.timeutil import local, utcnow

LEVELS = ("province", "area", "commune", "village")
CHILD_LEVEL = {"province": "area", "area": "commune", "commune": "village", "village": "enumerator"}
Scope = tuple[frozenset[str], frozenset[str]] | None
POOR_NEAR = ("poor", "near_poor")


# ---- facts -----------------------------------------------------------------------------------------------

def record_facts(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The ingest stage ``monitoring``: keep the dashboard's facts of a reviewed household survey."""
    db.session.flush()
    if db.session.scalar(select(Review.id).where(Review.submission_id == submission.id)) is None:
        return
    classification = db.session.scalar(select(Classification)
                                       .where(Classification.submission_def_id == submission_def.id))
    _store(submission, answers, classification)


def _store(submission: Submission, answers: dict[str, Any] | None, classification: Classification | None) -> None:
    values = facts.read_facts(answers, submission.geo, classification.result if classification else None,
                              classification.household_class if classification else None)
    row = queries.fact(submission.id) or Fact(submission_id=submission.id)
    row.campaign_id, row.village_code, row.commune_code = (submission.campaign_id, submission.village_code,
                                                           submission.commune_code)
    row.submitter_id = submission.submitter_id
    row.household_class, row.deprived, row.deprivation_count = (values.household_class, values.deprived,
                                                                values.deprivation_count)
    row.gps_flags, row.lat, row.lon = values.gps_flags, values.lat, values.lon
    row.income, row.duration_s = values.income, values.duration_s
    row.submitted_on = local(submission.created_at or utcnow()).date()
    row.stamp = utcnow()
    db.session.add(row)


def refresh_facts(batch: int = 500) -> Iterator[int]:
    """Re-read the facts of every reviewed survey whose facts are missing or stale (after `standards
    recompute`, a worker outage, a restore); yields the count done after each batch (the caller commits)."""
    after, done = 0, 0
    while True:
        ids = queries.stale_submissions(after, batch)
        if not ids:
            return
        rows = db.session.execute(
            select(Submission, SubmissionDef.answers, Classification)
            .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current)
            .outerjoin(Classification, Classification.submission_def_id == SubmissionDef.id)
            .where(Submission.id.in_(ids)))
        for submission, answers, classification in rows:
            _store(submission, answers, classification)
        db.session.flush()
        done += len(ids)
        after = ids[-1]
        yield done


# ---- review transitions (time in each state) ------------------------------------------------------------

def _epoch_s(at: datetime) -> float:
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def _transition_row(where: tuple[int | None, str | None, str | None], from_state: str, to_state: str, events: int,
                    at_sum: float) -> Transition:
    campaign_id, commune_code, village_code = where
    return Transition(campaign_id=campaign_id, commune_code=commune_code, village_code=village_code,
                      from_state=from_state, to_state=to_state, events=events, at_sum=at_sum)


def record_transition(review: Review, from_state: str, to_state: str, at: datetime) -> None:
    """Called by the review service with each event it records: adds it to the summed transitions of the
    review's village (events that stay in the same state are not entries, MA003: left out)."""
    if from_state == to_state:
        return
    db.session.add(_transition_row((review.campaign_id, review.commune_code, review.village_code),
                                   from_state, to_state, 1, _epoch_s(at)))


def move_transitions(review: Review, before: tuple[int | None, str | None, str | None]) -> None:
    """Called by the review service when a review's campaign, commune or village changed from ``before``
    (campaign, commune, village): its events are taken off the old place's sums and added to the new one's."""
    after = (review.campaign_id, review.commune_code, review.village_code)
    if after == tuple(before):
        return
    for from_state, to_state, events, at_sum in queries.event_transitions(review.id):
        db.session.add(_transition_row(before, from_state, to_state, -events, -at_sum))
        db.session.add(_transition_row(after, from_state, to_state, events, at_sum))


def rebuild_transitions() -> int:
    """Rebuild the summed transitions from the review events, one row per key (`flask monitoring refresh`;
    the caller commits). On PostgreSQL the table is locked first, so that a transition recorded meanwhile
    waits for the rebuild instead of being counted twice or lost. Returns the rows written."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"LOCK TABLE {Transition.__tablename__} IN EXCLUSIVE MODE"))
    db.session.execute(delete(Transition))
    columns = ("campaign_id", "commune_code", "village_code", "from_state", "to_state", "events", "at_sum")
    db.session.execute(insert(Transition).from_select(columns, queries.summed_transitions()))
    return int(db.session.scalar(select(func.count()).select_from(Transition)) or 0)


# ---- targets -----------------------------------------------------------------------------------------------

def set_target(year: int, indicator: str, target: float, baseline: float | None, by: Actor | None,
               note: str | None = None) -> Target:
    if indicator not in aggregate.PLAN_INDICATORS:
        raise Problem("invalid_input", detail=f"chỉ tiêu không hợp lệ / unknown indicator '{indicator}' "
                                              f"({', '.join(aggregate.PLAN_INDICATORS)})")
    if not 2000 <= year <= 2100:
        raise Problem("invalid_input", detail=f"năm không hợp lệ / invalid year {year}")
    if indicator == "poverty_rate_reduction" and baseline is None:
        existing = queries.target(year, indicator)
        baseline = existing.baseline if existing else None
        if baseline is None:
            raise Problem("invalid_input", detail="cần tỷ lệ nghèo năm 2022 (%) / the 2022 poverty rate (%) is needed")
    row = queries.target(year, indicator) or Target(year=year, indicator=indicator)
    row.target, row.baseline, row.note = float(target), baseline, note
    row.set_by, row.set_at = (by.id if by else None), utcnow()
    db.session.add(row)
    db.session.flush()
    audit("monitoring.target.set", by, "monitoring_target", row.id,
          {"year": year, "indicator": indicator, "target": target, "baseline": baseline})
    return row


# ---- the dashboard -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    level: str
    code: str
    name: str


@dataclass
class ChildRow:
    level: str              # area | commune | village | unknown_village
    code: str
    name: str
    tally: Tally


@dataclass
class Dashboard:
    year: int | None
    years: list[int]
    node: Node
    trail: list[Node]
    where: Where
    total: Tally
    children: list[ChildRow]
    enumerators: list[EnumeratorRow]
    days: list[tuple[date, int]]
    state_times: list[StateTime]
    targets: list[TargetRow]
    shapes: list[tuple[str, dict, str]] = field(default_factory=list)   # (code, geometry, status)
    points: list[tuple[float, float, str]] = field(default_factory=list)


def _area_scope(scope: Scope, area: str, members: list[tuple[str, str]]) -> frozenset[str]:
    communes = frozenset(c for a, c in members if a == area)
    return communes if scope is None else communes & scope[1]


def resolve(scope: Scope, level: str, code: str | None) -> tuple[Node, list[Node], Where, dict[str, str]]:
    """The node, its trail from the top, the communes/villages it covers (cut to the scope) and
    village → commune for its villages. Raises not_found for a node outside the scope."""
    missing = Problem("not_found", what=f"{level} {code}")
    province = next(iter(queries.units(level="province")), None)
    top = Node("province", province[0] if province else "-", province[1] if province else "")
    if level == "province":
        communes = None if scope is None else scope[1]
        return top, [top], Where((), communes), queries.villages_of(communes)
    found = queries.units([code or ""])
    if not found or found[0][2] != level:
        raise missing
    unit_code, name, _, parent = found[0]
    node = Node(level, unit_code, name)
    members = queries.area_members()
    if level == "area":
        communes = _area_scope(scope, unit_code, members)
        if not communes and scope is not None:
            raise missing
        return node, [top, node], Where((), communes), queries.villages_of(communes)
    commune_code = unit_code if level == "commune" else parent
    if scope is not None and commune_code not in scope[1]:
        raise missing
    if level == "village" and scope is not None and unit_code not in scope[0]:
        raise missing
    area = next((a for a, c in members if c == commune_code), None)
    trail = [top]
    if area is not None and (scope is None or _area_scope(scope, area, members)):
        area_unit = queries.units([area])
        trail.append(Node("area", area, area_unit[0][1] if area_unit else area))
    if level == "commune":
        return node, [*trail, node], Where((), frozenset({unit_code})), queries.villages_of([unit_code])
    commune_unit = queries.units([commune_code or ""])
    trail.append(Node("commune", commune_code or "", commune_unit[0][1] if commune_unit else ""))
    return node, [*trail, node], Where((), frozenset({commune_code or ""}), frozenset({unit_code})), \
        {unit_code: commune_code or ""}


def village_tallies(where: Where, villages: dict[str, str]) -> tuple[dict[str, Tally], dict[str, str]]:
    """Tallies per village key and village key → commune, from five aggregate queries."""
    tallies: dict[str, Tally] = {}
    commune_of: dict[str, str] = {}

    def at(village: str | None, commune: str | None) -> Tally:
        if where.by_commune:  # the key is the commune (the village's, when only the village is known)
            commune = villages.get(village or "", commune or "")
            commune_of.setdefault(commune, commune)
            return tallies.setdefault(commune, Tally())
        key = village_key(village, commune)
        if key not in commune_of:
            commune_of[key] = villages.get(village or "", commune or "")
        return tallies.setdefault(key, Tally())

    village_filter = None if where.communes is None and where.villages is None else \
        (where.villages if where.villages is not None else frozenset(villages))
    for village, count in queries.expected(village_filter, queries.project_ids(where.campaign_ids)):
        at(village, villages.get(village)).expected += int(count)
    for village, commune, state, count, created in queries.review_states(where):
        tally = at(village, commune)
        tally.states[state] += count
        tally.submitted += count
        tally.created_s += created
    for village, commune, household_class, count, gps, informed, *deprived in queries.fact_sums(where):
        tally = at(village, commune)
        tally.gps += gps
        if household_class is not None:
            tally.classes[household_class] += count
        if household_class in POOR_NEAR:
            by_indicator = dict(zip(facts.INDICATORS, deprived, strict=True))
            tally.poor_near += count
            tally.insured += count - by_indicator["2.2"]
            tally.water += count - by_indicator["5.1"]
            tally.latrine += count - by_indicator["5.2"]
            tally.informed += informed
            tally.deprived.update(by_indicator)
    for village, commune, state, count in queries.returns(where):
        tally = at(village, commune)
        if state == "returned":
            tally.returned += int(count)
        else:
            tally.resurveyed += int(count)
    for village, count in queries.open_duplicates(village_filter):
        at(village, villages.get(village)).duplicates += int(count)
    return tallies, commune_of


def dashboard(scope: Scope, level: str, code: str | None, year: int | None, *, with_map: bool = True,
              table: str | None = None) -> Dashboard:
    """The page of one unit. ``table``: only that table is wanted (a CSV download); the others' queries are
    skipped and their lists left empty (the units' tallies and the targets are always computed)."""
    if level not in LEVELS:
        raise Problem("not_found", what=level)
    years = queries.campaign_years()
    year = year if year in years else (years[0] if years else None)
    node, trail, where, villages = resolve(scope, level, code)
    by_commune = node.level in ("province", "area")
    where = Where(queries.campaign_ids(year) if year is not None else (), where.communes, where.villages,
                  by_commune=by_commune)
    tallies, commune_of = village_tallies(where, villages)
    whole = aggregate.total(tallies.values())
    children = _children(node, scope, tallies, commune_of, villages)
    targets = {name: (t.target, t.baseline) for name, t in (queries.targets(year) if year else {}).items()}
    wanted = {table} if table is not None else {"enumerators", "days", "states"}
    times = aggregate.state_times(queries.transitions(where), (whole.submitted, whole.created_s),
                                  dict(whole.states), utcnow().timestamp()) if "states" in wanted else []
    # Enumerators are listed from the area down: a province has about a thousand.
    enumerators = queries.enumerators(where) if node.level != "province" and "enumerators" in wanted else []
    days = queries.per_day(where) if "days" in wanted else []
    result = Dashboard(year, years, node, trail, where, whole, children, enumerators, days, times,
                       aggregate.evaluate_targets(whole, targets))
    if with_map:
        drawn = [row for row in children if row.level in ("area", "commune", "village")]
        if node.level == "province":  # areas have no polygon of their own: draw their communes
            drawn = _communes_of(tallies, commune_of)
        if node.level == "village":
            drawn = [ChildRow("village", node.code, node.name, whole)]
        geometry = dict(queries.boundaries(row.code for row in drawn))
        result.shapes = [(row.code, geometry[row.code], row.tally.status) for row in drawn if row.code in geometry]
        if node.level in ("commune", "village"):
            result.points = queries.points(where)
    return result


def _communes_of(tallies: dict[str, Tally], commune_of: dict[str, str]) -> list[ChildRow]:
    communes = aggregate.roll_up(tallies, commune_of)
    return [ChildRow("commune", code, code, tally) for code, tally in communes.items() if code]


def _children(node: Node, scope: Scope, tallies: dict[str, Tally], commune_of: dict[str, str],
              villages: dict[str, str]) -> list[ChildRow]:
    if node.level == "village":
        return []
    if node.level == "commune":
        names = {code: name for code, name, _, _ in queries.units(villages)}
        keys = sorted(set(villages) | set(tallies), key=lambda k: (k.startswith(UNKNOWN_VILLAGE), names.get(k, k)))
        return [ChildRow("unknown_village" if key.startswith(UNKNOWN_VILLAGE) else "village", key,
                         names.get(key, key.removeprefix(UNKNOWN_VILLAGE)), tallies.get(key, Tally()))
                for key in keys]
    commune_codes = sorted(c for c in set(villages.values()) | set(commune_of.values()) if c)
    commune_tallies = aggregate.roll_up(tallies, commune_of)
    names = {code: name for code, name, _, _ in queries.units(commune_codes)}
    if scope is not None:
        commune_codes = [c for c in commune_codes if c in scope[1]]
    communes = [ChildRow("commune", c, names.get(c, c), commune_tallies.get(c, Tally())) for c in commune_codes]
    communes.sort(key=lambda row: row.name)
    if node.level == "area":
        return communes
    members = queries.area_members()
    area_of = {commune: area for area, commune in members}
    areas: dict[str, Tally] = {}
    for row in communes:
        if row.code in area_of:
            areas.setdefault(area_of[row.code], Tally()).add(row.tally)
    area_names = {code: name for code, name, _, _ in queries.units(areas)}
    rows = [ChildRow("area", code, area_names.get(code, code), tally) for code, tally in areas.items()]
    rows.sort(key=lambda row: row.name)
    return rows + [row for row in communes if row.code not in area_of]
