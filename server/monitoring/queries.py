"""The dashboard's reads: a handful of GROUP BY aggregates over indexed columns. Never commits.

Every function takes a ``Where`` (campaigns, and the communes / villages the page covers, already cut
to the caller's scope by the service) and returns plain tuples; no row is turned into a Python object
one by one, so a province of a million households costs the same number of queries as a village.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Float, and_, case, cast, column, distinct, func, inspect, null, select, table
from sqlalchemy.sql.elements import ColumnElement

from server.accounts.models import Actor
from server.campaigns.models import Campaign
from server.collect.models import Submission
from server.extensions import db
from server.households.models import Boundary, DuplicatePair, Household
from server.monitoring import facts
from server.monitoring.models import Fact, Target, Transition
from server.review.models import Review, ReviewEvent
from server.units.models import AreaMember, Unit

UNKNOWN_VILLAGE = "~"  # key prefix of surveys without a village: "~<commune code>"
MAP_POINTS = 3000


@dataclass(frozen=True)
class Where:
    campaign_ids: tuple[int, ...]
    communes: frozenset[str] | None = None   # None: every commune
    villages: frozenset[str] | None = None   # None: every village of those communes
    submitter: int | None = None
    by_commune: bool = False                 # group per commune only (province and area pages)


def village_key(village_code: str | None, commune_code: str | None) -> str:
    return village_code or f"{UNKNOWN_VILLAGE}{commune_code or ''}"


def _within(query: Any, where: Where, village: Any, commune: Any | None, campaign: Any | None = None) -> Any:
    if campaign is not None:
        query = query.where(campaign.in_(where.campaign_ids))
    if where.communes is not None and commune is not None:
        query = query.where(commune.in_(where.communes))
    if where.villages is not None:
        query = query.where(village.in_(where.villages))
    return query


def _grouping(where: Where, village: Any, commune: Any) -> tuple[list[Any], list[Any]]:
    """The (village, commune) columns to select and to group by: per village, or per commune only."""
    if where.by_commune:
        return [null().label("village_code"), commune], [commune]
    return [village, commune], [village, commune]


def _epoch(column: Any) -> ColumnElement:
    """Seconds since 1970 of a naive UTC timestamp column, in either database."""
    if db.session.get_bind().dialect.name == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.date_part("epoch", column, type_=Float)  # double precision (EXTRACT gives a slower numeric)


# ---- units ---------------------------------------------------------------------------------------------

def campaign_years() -> list[int]:
    return list(db.session.scalars(select(Campaign.year).distinct().order_by(Campaign.year.desc())))


def campaign_ids(year: int) -> tuple[int, ...]:
    return tuple(db.session.scalars(select(Campaign.id).where(Campaign.year == year)))


def project_ids(campaign_ids: Iterable[int]) -> list[int]:
    campaign_ids = list(campaign_ids)
    if not campaign_ids:
        return []
    return list(db.session.scalars(select(Campaign.project_id).distinct().where(Campaign.id.in_(campaign_ids))))


def units(codes: Iterable[str] | None = None, *, level: str | None = None,
          parents: Iterable[str] | None = None) -> list[tuple[str, str, str, str | None]]:
    """(code, name, level, parent code) of units, by code, level or parent."""
    query = select(Unit.code, Unit.name, Unit.level, Unit.parent_code)
    if codes is not None:
        query = query.where(Unit.code.in_(list(codes)))
    if level is not None:
        query = query.where(Unit.level == level)
    if parents is not None:
        query = query.where(Unit.parent_code.in_(list(parents)))
    return [tuple(row) for row in db.session.execute(query.order_by(Unit.name, Unit.code))]


def area_members() -> list[tuple[str, str]]:
    """(area code, commune code) of every supervision area."""
    return [tuple(row) for row in db.session.execute(select(AreaMember.area_code, AreaMember.commune_code))]


def villages_of(communes: Iterable[str] | None) -> dict[str, str]:
    """village code → commune code (every village when ``communes`` is None)."""
    query = select(Unit.code, Unit.parent_code).where(Unit.level == "village")
    if communes is not None:
        query = query.where(Unit.parent_code.in_(list(communes)))
    return dict(db.session.execute(query).all())


# ---- the per-village aggregates ------------------------------------------------------------------------

def expected(villages: Iterable[str] | None, project_ids: Iterable[int] = ()) -> list[tuple[str, int]]:
    """Households expected per village: the registry's households (merged ones and those first found in a
    submission left out) — unless the village has assignments (b1a0c0010003) for the year's projects: then
    the sum of the village assignments' expected counts plus the households assigned one by one. A village
    assignment without a count means "the whole registry village"."""
    query = select(Household.village_code, func.count()).where(
        Household.merged_into_id.is_(None), Household.source == "registry", Household.village_code.is_not(None))
    if villages is not None:
        villages = list(villages)
        query = query.where(Household.village_code.in_(villages))
    counts = {code: int(n) for code, n in db.session.execute(query.group_by(Household.village_code))}
    project_ids = list(project_ids)
    if project_ids and _has_assignments():
        for code, planned in _assigned(villages, project_ids).items():
            if planned is not None:
                counts[code] = planned
    return list(counts.items())


_ASSIGNMENTS: dict[str, bool] = {}
_assignments = table("assignments", column("project_id"), column("village_code"), column("household_id"),
                     column("expected_count"))


def _has_assignments() -> bool:
    """Whether the assignments table exists (looked up once per database)."""
    engine = db.session.get_bind()
    key = str(engine.url)
    if key not in _ASSIGNMENTS:
        _ASSIGNMENTS[key] = inspect(engine).has_table("assignments")
    return _ASSIGNMENTS[key]


def _assigned(villages: list[str] | None, project_ids: list[int]) -> dict[str, int | None]:
    """village → planned households from assignments; None when a village assignment has no count."""
    a = _assignments
    by_village = select(a.c.village_code, func.count(), func.count(a.c.expected_count),
                        func.coalesce(func.sum(a.c.expected_count), 0)) \
        .where(a.c.village_code.is_not(None), a.c.project_id.in_(project_ids))
    one_by_one = select(Household.village_code, func.count(distinct(a.c.household_id))) \
        .join(Household, Household.id == a.c.household_id).where(a.c.project_id.in_(project_ids))
    if villages is not None:
        by_village = by_village.where(a.c.village_code.in_(villages))
        one_by_one = one_by_one.where(Household.village_code.in_(villages))
    planned: dict[str, int | None] = {}
    for code, rows, counted, total in db.session.execute(by_village.group_by(a.c.village_code)):
        planned[code] = int(total) if rows == counted else None
    for code, count in db.session.execute(one_by_one.group_by(Household.village_code)):
        if code is not None and code not in planned:
            planned[code] = int(count)
        elif code is not None and planned[code] is not None:
            planned[code] = planned[code] + int(count)
    return planned


def review_states(where: Where) -> list[tuple[str | None, str | None, str, int, float]]:
    """(village, commune, state, reviews, Σ their creation times in epoch seconds)."""
    keys, groups = _grouping(where, Review.village_code, Review.commune_code)
    query = _within(select(*keys, Review.state, func.count(), func.sum(_epoch(Review.created_at))), where,
                    Review.village_code, Review.commune_code, Review.campaign_id)
    if where.submitter is not None:
        query = query.join(Submission, Submission.id == Review.submission_id) \
            .where(Submission.submitter_id == where.submitter)
    return [(village, commune, state, int(count), float(created or 0)) for village, commune, state, count, created
            in db.session.execute(query.group_by(*groups, Review.state))]


def fact_sums(where: Where) -> list[tuple[Any, ...]]:
    """(village, commune, class, surveys, GPS exceptions, informed, deprived in each of facts.INDICATORS…) per
    class. Bit arithmetic rather than a CASE per indicator: one pass of integer operations per survey."""
    keys, groups = _grouping(where, Fact.village_code, Fact.commune_code)
    informed = facts.bit("6.1") | facts.bit("6.2")
    columns = [*keys, Fact.household_class, func.count(), func.sum(case((Fact.gps_flags != 0, 1), else_=0)),
               func.sum(case((Fact.deprived.op("&")(informed) == 0, 1), else_=0))]
    columns += [func.sum(Fact.deprived.op(">>")(index).op("&")(1)) for index in range(len(facts.INDICATORS))]
    query = _within(select(*columns), where, Fact.village_code, Fact.commune_code, Fact.campaign_id)
    if where.submitter is not None:
        query = query.where(Fact.submitter_id == where.submitter)
    return [tuple(int(v or 0) if i >= 3 else v for i, v in enumerate(row))
            for row in db.session.execute(query.group_by(*groups, Fact.household_class))]


def returns(where: Where) -> list[tuple[str | None, str | None, str, int]]:
    """(village, commune, returned | resurvey, reviews that were ever sent there)."""
    keys, groups = _grouping(where, Review.village_code, Review.commune_code)
    query = _within(select(*keys, ReviewEvent.to_state,
                           func.count(distinct(ReviewEvent.review_id)))
                    .join(Review, Review.id == ReviewEvent.review_id)
                    .where(ReviewEvent.to_state.in_(("returned", "resurvey"))),
                    where, Review.village_code, Review.commune_code, Review.campaign_id)
    if where.submitter is not None:
        query = query.join(Submission, Submission.id == Review.submission_id) \
            .where(Submission.submitter_id == where.submitter)
    return [tuple(row) for row in
            db.session.execute(query.group_by(*groups, ReviewEvent.to_state))]


def open_duplicates(villages: Iterable[str] | None) -> list[tuple[str, int]]:
    """(village, submissions with an open potential duplicate): the duplicate queue's size."""
    query = select(DuplicatePair.village_code, func.count(distinct(DuplicatePair.submission_id))) \
        .where(DuplicatePair.status == "open", DuplicatePair.village_code.is_not(None))
    if villages is not None:
        query = query.where(DuplicatePair.village_code.in_(list(villages)))
    return [tuple(row) for row in db.session.execute(query.group_by(DuplicatePair.village_code))]


# ---- time, days, enumerators, map ---------------------------------------------------------------------

def transitions(where: Where) -> list[tuple[str, str, int, float]]:
    """(from, to, events, Σ event time in epoch seconds) of the reviews in ``where``, read from the summed
    transitions (``monitoring_transitions``: a few rows per village) rather than from every review event."""
    query = _within(select(Transition.from_state, Transition.to_state, func.sum(Transition.events),
                           func.sum(Transition.at_sum)),
                    where, Transition.village_code, Transition.commune_code, Transition.campaign_id)
    return [(a, b, int(n), float(s or 0)) for a, b, n, s in
            db.session.execute(query.group_by(Transition.from_state, Transition.to_state)) if n]


def event_transitions(review_id: int) -> list[tuple[str, str, int, float]]:
    """(from, to, events, Σ event time) of one review's state-changing events."""
    query = select(ReviewEvent.from_state, ReviewEvent.to_state, func.count(), func.sum(_epoch(ReviewEvent.at))) \
        .where(ReviewEvent.review_id == review_id, ReviewEvent.from_state != ReviewEvent.to_state)
    return [(a, b, int(n), float(s or 0)) for a, b, n, s in
            db.session.execute(query.group_by(ReviewEvent.from_state, ReviewEvent.to_state))]


def summed_transitions() -> Any:
    """Every review's state-changing events summed per campaign, commune, village and transition (a SELECT
    whose columns are those of ``monitoring_transitions`` but ``id``), to rebuild that table."""
    return (select(Review.campaign_id, Review.commune_code, Review.village_code, ReviewEvent.from_state,
                   ReviewEvent.to_state, func.count(), func.sum(_epoch(ReviewEvent.at)))
            .join(Review, Review.id == ReviewEvent.review_id)
            .where(ReviewEvent.from_state != ReviewEvent.to_state)
            .group_by(Review.campaign_id, Review.commune_code, Review.village_code, ReviewEvent.from_state,
                      ReviewEvent.to_state))


def per_day(where: Where) -> list[tuple[date, int]]:
    query = _within(select(Fact.submitted_on, func.count()), where, Fact.village_code, Fact.commune_code,
                    Fact.campaign_id)
    if where.submitter is not None:
        query = query.where(Fact.submitter_id == where.submitter)
    return [tuple(row) for row in db.session.execute(query.group_by(Fact.submitted_on).order_by(Fact.submitted_on))]


@dataclass(frozen=True)
class EnumeratorRow:
    actor_id: int | None
    name: str | None
    surveys: int
    timed: int
    mean_duration_s: float | None
    gps: int
    returned: int
    outliers: int


def enumerators(where: Where, min_village_surveys: int = 5) -> list[EnumeratorRow]:
    """Quality signals per enumerator (the submitting actor): surveys, mean interview time, GPS exceptions,
    surveys ever returned, and answers far from their village's average (more than 2 standard deviations
    in income per person or in the number of deprivations, among villages with ``min_village_surveys``)."""
    base = _within(select(Fact.submitter_id, func.count(), func.count(Fact.duration_s), func.avg(Fact.duration_s),
                          func.sum(case((Fact.gps_flags != 0, 1), else_=0))),
                   where, Fact.village_code, Fact.commune_code, Fact.campaign_id)
    rows = {actor: [int(n), int(timed), float(mean) if mean is not None else None, int(gps or 0), 0, 0]
            for actor, n, timed, mean, gps in db.session.execute(base.group_by(Fact.submitter_id))}
    returned = _within(select(Fact.submitter_id, func.count(distinct(ReviewEvent.review_id)))
                       .join(Review, Review.id == ReviewEvent.review_id)
                       .join(Fact, Fact.submission_id == Review.submission_id)
                       .where(ReviewEvent.to_state == "returned"),
                       where, Fact.village_code, Fact.commune_code, Fact.campaign_id)
    for actor, count in db.session.execute(returned.group_by(Fact.submitter_id)):
        if actor in rows:
            rows[actor][4] = int(count)
    for actor, count in _outliers(where, min_village_surveys):
        if actor in rows:
            rows[actor][5] = int(count)
    names = dict(db.session.execute(select(Actor.id, Actor.display_name)
                                    .where(Actor.id.in_([a for a in rows if a is not None]))).all())
    return sorted((EnumeratorRow(actor, names.get(actor), n, timed, mean, gps, ret, out)
                   for actor, (n, timed, mean, gps, ret, out) in rows.items()),
                  key=lambda row: (row.name or "", row.actor_id or 0))


def _outliers(where: Where, min_village_surveys: int) -> list[tuple[int | None, int]]:
    def stats(value: Any, label: str) -> Any:
        query = _within(select(Fact.village_code, func.avg(cast(value, Float)).label("mean"),
                               func.avg(cast(value, Float) * cast(value, Float)).label("square"))
                        .where(value.is_not(None)),
                        where, Fact.village_code, Fact.commune_code, Fact.campaign_id)
        return query.group_by(Fact.village_code).having(func.count(value) >= min_village_surveys).subquery(label)

    income, deprivations = stats(Fact.income, "income_stats"), stats(Fact.deprivation_count, "deprivation_stats")

    def far(value: Any, table: Any) -> Any:
        variance = table.c.square - table.c.mean * table.c.mean
        deviation = cast(value, Float) - table.c.mean
        return and_(value.is_not(None), table.c.mean.is_not(None), variance > 1e-9,
                    deviation * deviation > 4 * variance)

    query = _within(select(Fact.submitter_id, func.count())
                    .outerjoin(income, income.c.village_code == Fact.village_code)
                    .outerjoin(deprivations, deprivations.c.village_code == Fact.village_code)
                    .where(far(Fact.income, income) | far(Fact.deprivation_count, deprivations)),
                    where, Fact.village_code, Fact.commune_code, Fact.campaign_id)
    return [tuple(row) for row in db.session.execute(query.group_by(Fact.submitter_id))]


def boundaries(codes: Iterable[str]) -> list[tuple[str, dict]]:
    codes = list(codes)
    if not codes:
        return []
    return [tuple(row) for row in db.session.execute(select(Boundary.code, Boundary.geometry)
                                                     .where(Boundary.code.in_(codes)))]


def points(where: Where, limit: int = MAP_POINTS) -> list[tuple[float, float, str]]:
    """(lat, lon, review state) of surveyed households with a GPS position (personal data: in scope only)."""
    query = _within(select(Fact.lat, Fact.lon, Review.state)
                    .join(Review, Review.submission_id == Fact.submission_id)
                    .where(Fact.lat.is_not(None), Fact.lon.is_not(None)),
                    where, Fact.village_code, Fact.commune_code, Fact.campaign_id)
    if where.submitter is not None:
        query = query.where(Fact.submitter_id == where.submitter)
    return [tuple(row) for row in db.session.execute(query.order_by(Fact.submission_id).limit(limit))]


# ---- targets -------------------------------------------------------------------------------------------

def targets(year: int) -> dict[str, Target]:
    return {t.indicator: t for t in db.session.scalars(select(Target).where(Target.year == year))}


def target(year: int, indicator: str) -> Target | None:
    return db.session.scalar(select(Target).where(Target.year == year, Target.indicator == indicator))


def fact(submission_id: int) -> Fact | None:
    return db.session.get(Fact, submission_id)


def stale_submissions(after_id: int, limit: int) -> list[int]:
    """Ids of reviewed submissions (from ``after_id`` on) whose facts are missing or older than the
    submission's last change or its classification."""
    from server.campaigns.models import Classification
    from server.collect.models import SubmissionDef

    changed = func.coalesce(Submission.updated_at, Submission.created_at)
    query = (select(Submission.id)
             .join(Review, Review.submission_id == Submission.id)
             .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current)
             .outerjoin(Classification, Classification.submission_def_id == SubmissionDef.id)
             .outerjoin(Fact, Fact.submission_id == Submission.id)
             .where(Submission.id > after_id,
                    Fact.submission_id.is_(None) | (Fact.stamp < changed)
                    | (Classification.computed_at.is_not(None) & (Fact.stamp < Classification.computed_at)))
             .order_by(Submission.id).limit(limit))
    return list(db.session.scalars(query))
