"""Every select of the exports: the registry rows of a campaign year and the rows of its summary report.

One base select (:func:`registry_select`) gives one row per household with flat, typed columns; the
Python path streams it (``yield_per``: a server-side cursor on PostgreSQL, ``fetchmany`` on SQLite) and
the PostgreSQL CSV path wraps it in ``COPY (SELECT …) TO STDOUT`` (server/exports/services.py). Never
commits.

Which review counts for a household: the household's latest review (by ``state_since``, then id) of a
campaign of the year, among the states asked for. A household with no such review is exported only
when every state is asked for (``states=None``), with its identity and no class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, insert, literal, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased

from server.accounts.models import Actor, User
from server.campaigns.models import Campaign, Classification
from server.collect.models import Submission, SubmissionDef
from server.exports.models import ClassificationFacts
from server.exports.registry import Cursor, encode_indicators
from server.extensions import db
from server.households.models import Household, HouseholdYear
from server.review.models import Review, ReviewEvent
from server.units.models import AreaMember, Unit

DECIDE_ACTION = "decide"
BATCH = 2000


@dataclass(frozen=True)
class UnitScope:
    """The units an export or a report covers: ``None`` sets = the whole province."""

    code: str | None
    level: str | None
    name: str | None
    communes: frozenset[str] | None = None
    villages: frozenset[str] | None = None


def unit_scope(code: str | None) -> UnitScope | None:
    """The communes / villages under ``code`` (province, area, commune or village); None: no such unit."""
    if not code:
        return UnitScope(None, None, None)
    unit = db.session.get(Unit, code)
    if unit is None:
        return None
    if unit.level == "province":
        return UnitScope(unit.code, unit.level, unit.name)
    if unit.level == "area":
        communes = frozenset(db.session.scalars(select(AreaMember.commune_code)
                                                .where(AreaMember.area_code == unit.code)))
        return UnitScope(unit.code, unit.level, unit.name, communes=communes)
    if unit.level == "commune":
        return UnitScope(unit.code, unit.level, unit.name, communes=frozenset({unit.code}))
    return UnitScope(unit.code, unit.level, unit.name, villages=frozenset({unit.code}))


def units_for_report(scope: UnitScope) -> tuple[str, list[tuple[str, str]]]:
    """The report's unit level and its rows (code, name) in order: villages of a commune, else communes."""
    if scope.level in ("commune", "village"):
        parent = scope.code if scope.level == "commune" else db.session.scalar(
            select(Unit.parent_code).where(Unit.code == scope.code))
        query = select(Unit.code, Unit.name).where(Unit.level == "village", Unit.parent_code == parent)
        if scope.level == "village":
            query = query.where(Unit.code == scope.code)
        return "village", [(c, n) for c, n in db.session.execute(query.order_by(Unit.code))]
    query = select(Unit.code, Unit.name).where(Unit.level == "commune")
    if scope.communes is not None:
        query = query.where(Unit.code.in_(scope.communes))
    return "commune", [(c, n) for c, n in db.session.execute(query.order_by(Unit.code))]


def actor_by_email(email: str) -> Actor | None:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    return user.actor if user is not None else None


def extra_columns() -> list[str]:
    """The province's own columns: every key of every household's ``extra``, sorted."""
    if db.engine.dialect.name == "postgresql":
        sql = ("SELECT DISTINCT k FROM households, json_object_keys(CASE WHEN json_typeof(extra) = 'object' "
               "THEN extra ELSE '{}'::json END) AS k WHERE extra IS NOT NULL ORDER BY k")
    else:
        sql = ("SELECT DISTINCT j.key FROM households, json_each(households.extra) AS j "
               "WHERE households.extra IS NOT NULL AND json_type(households.extra) = 'object' ORDER BY j.key")
    return list(db.session.scalars(text(sql)))


def _greatest(*values: ColumnElement) -> ColumnElement:
    # PostgreSQL's GREATEST skips NULLs; SQLite's scalar max() returns NULL if any is NULL, so every
    # argument falls back to the household's creation time (never NULL).
    fallback = Household.created_at
    if db.engine.dialect.name == "postgresql":
        return func.greatest(fallback, *values, type_=Household.created_at.type)
    return func.max(fallback, *(func.coalesce(v, fallback) for v in values), type_=Household.created_at.type)


def _latest_reviews(columns: Sequence[ColumnElement], year: int, states: Sequence[str] | None,
                    join: Callable[[Select], Select] | None = None) -> Select:
    """Each household's latest review (by ``state_since``, then id) of a campaign of ``year`` among
    ``states`` (None: any), as ``columns`` (the first labelled ``household_id``).

    PostgreSQL: ``DISTINCT ON`` — one sort of the narrow rows, and estimated as one row per household
    (a ``row_number() … = 1`` filter is estimated at 0.5 % of them, which made the planner choose a
    million nested-loop lookups). SQLite has no ``DISTINCT ON``: the window function there."""
    order = (Review.state_since.desc(), Review.id.desc())
    postgres = db.engine.dialect.name == "postgresql"
    if not postgres:
        columns = (*columns, func.row_number().over(partition_by=Submission.household_id, order_by=order)
                   .label("rank"))
    query = (select(*columns).select_from(Submission)
             .join(Review, Review.submission_id == Submission.id)
             .join(Campaign, Campaign.id == Review.campaign_id)
             .where(Campaign.year == year, Submission.household_id.is_not(None), Submission.deleted_at.is_(None)))
    if states is not None:
        query = query.where(Review.state.in_(list(states)))
    if join is not None:
        query = join(query)
    if postgres:
        return query.ext(distinct_on(Submission.household_id)).order_by(Submission.household_id, *order)
    ranked = query.subquery("ranked")
    return select(*(ranked.c[c.key] for c in columns if c.key != "rank")).where(ranked.c.rank == 1)


def registry_select(year: int, states: Sequence[str] | None, scope: UnitScope, *,
                    after: Cursor | None = None) -> Select:
    """One row per household of the export (columns named as ``HouseholdData`` keys where they match;
    ``indicators`` as the letters of ``registry.encode_indicators``). Ordered by household id. Call
    :func:`refresh_facts` first."""
    # The decision (the review's latest "decide" event) is joined on the narrow review rows, before a
    # household's latest review is picked, and only its two fields ride along: joining the events on the
    # wide rows made PostgreSQL sort or hash-spill all of them (hundreds of MB on disk at a million).
    latest = (select(ReviewEvent.review_id.label("review_id"), func.max(ReviewEvent.id).label("event_id"))
              .where(ReviewEvent.action == DECIDE_ACTION).group_by(ReviewEvent.review_id).subquery("latest_decision"))
    payload = ReviewEvent.record["payload"]
    decisions = (select(latest.c.review_id, payload["decision_number"].as_string().label("decision_number"),
                        payload["decision_date"].as_string().label("decision_date"))
                 .join(ReviewEvent, ReviewEvent.id == latest.c.event_id).subquery("decisions"))
    columns = (Submission.household_id.label("household_id"), Submission.id.label("submission_id"),
               Review.id.label("review_id"), Review.state.label("state"), Review.state_since.label("state_since"),
               Review.commune_code.label("commune_code"), decisions.c.decision_number, decisions.c.decision_date)
    review = _latest_reviews(columns, year, states,
                             lambda q: q.outerjoin(decisions, decisions.c.review_id == Review.id)).subquery("review")
    village = aliased(Unit, name="village_unit")
    commune = aliased(Unit, name="commune_unit")
    current = aliased(SubmissionDef, name="current_def")
    decided = review.c.state.in_(("decided", "exported"))
    changed_at = _greatest(Household.updated_at, review.c.state_since, HouseholdYear.updated_at,
                           Classification.computed_at)
    commune_code = func.coalesce(village.parent_code, review.c.commune_code)
    classification_columns = [ClassificationFacts.indicators.label("indicators"),
                              ClassificationFacts.income_vnd.label("income"),
                              ClassificationFacts.b1_total.label("b1_score")]
    query = (
        select(Household.id.label("id"), Household.code.label("record_id"), Household.head_name,
               Household.birth_year, Household.gender, Household.national_id, Household.phone,
               Household.village_code, Household.address, Household.lat, Household.lon,
               Household.member_names, Household.extra, village.name.label("village_name"),
               commune_code.label("commune_code"), commune.name.label("commune_name"), commune.urban.label("urban"),
               literal(year).label("campaign_year"), review.c.state.label("review_state"),
               case((decided, HouseholdYear.end_class), else_=None).label("household_class"),
               Classification.household_class.label("national_class"), Classification.local_class,
               *classification_columns,
               review.c.decision_number, review.c.decision_date,
               HouseholdYear.start_class, HouseholdYear.end_class, HouseholdYear.change_type,
               changed_at.label("changed_at"))
        .select_from(Household)
        .join(review, review.c.household_id == Household.id, isouter=states is None)
        .outerjoin(village, village.code == Household.village_code)
        .outerjoin(commune, commune.code == commune_code)
        .outerjoin(HouseholdYear, and_(HouseholdYear.household_id == Household.id, HouseholdYear.year == year))
        .outerjoin(current, and_(current.submission_id == review.c.submission_id, current.current.is_(True)))
        .outerjoin(Classification, Classification.submission_def_id == current.id)
        .outerjoin(ClassificationFacts, ClassificationFacts.classification_id == Classification.id)
        .where(Household.merged_into_id.is_(None))
    )
    if scope.communes is not None or scope.villages is not None:
        query = query.where(or_(commune_code.in_(sorted(scope.communes or ())),
                                Household.village_code.in_(sorted(scope.villages or ()))))
    if after is not None:
        moment = after.changed_at
        query = query.where(or_(changed_at > moment, and_(changed_at == moment, Household.id > after.id)))
    return query.order_by(Household.id)


def stream(query: Select) -> Iterator:
    """The rows of ``query`` in constant memory (server-side cursor on PostgreSQL)."""
    if db.engine.dialect.name == "postgresql":
        # A cursor is planned for its first 10 % by default (fast-start nested loops, minutes here);
        # the export reads every row.
        db.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    yield from db.session.execute(query.execution_options(yield_per=BATCH, stream_results=True))


def count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def rough_count(year: int, states: Sequence[str] | None) -> int:
    """An upper bound of an export's rows for a progress bar, from one index-friendly count (no unit or
    cursor filter): the year's reviews in ``states``, or every live household. Counting the export's own
    query exactly would run it twice."""
    if states is None:
        return db.session.scalar(select(func.count()).select_from(Household)
                                 .where(Household.merged_into_id.is_(None))) or 0
    return db.session.scalar(select(func.count()).select_from(Review).join(Campaign, Campaign.id == Review.campaign_id)
                             .where(Campaign.year == year, Review.state.in_(list(states)))) or 0


def report_select(year: int, scope: UnitScope, unit_level: str) -> Select:
    """One row per household of the scope for the summary report: its unit, urban flag, classes at the
    start and end of the year, change type and, for decided reviews, the classification's indicators.

    Start: the year's history (start class), else last year's end class, else ``not_classified``. End:
    the year's recognised class; nothing when the household moved away, dissolved or merged; else
    (not reviewed this year) the class it started with.
    """
    previous = aliased(HouseholdYear, name="previous_year")
    village = aliased(Unit, name="village_unit")
    commune = aliased(Unit, name="commune_unit")
    review = _latest_reviews((Submission.household_id.label("household_id"), Submission.id.label("submission_id")),
                             year, ("decided", "exported")).subquery("review")
    current = aliased(SubmissionDef, name="current_def")
    unit = village if unit_level == "village" else commune
    query = (
        select(unit.code.label("unit_code"), unit.name.label("unit_name"), commune.urban.label("urban"),
               HouseholdYear.start_class, HouseholdYear.end_class, HouseholdYear.change_type,
               previous.end_class.label("previous_class"),
               ClassificationFacts.indicators.label("indicators"))
        .select_from(Household)
        .join(village, village.code == Household.village_code)
        .join(commune, commune.code == village.parent_code)
        .outerjoin(HouseholdYear, and_(HouseholdYear.household_id == Household.id, HouseholdYear.year == year))
        .outerjoin(previous, and_(previous.household_id == Household.id, previous.year == year - 1))
        .outerjoin(review, review.c.household_id == Household.id)
        .outerjoin(current, and_(current.submission_id == review.c.submission_id, current.current.is_(True)))
        .outerjoin(Classification, Classification.submission_def_id == current.id)
        .outerjoin(ClassificationFacts, ClassificationFacts.classification_id == Classification.id)
        .where(Household.merged_into_id.is_(None))
    )
    if scope.communes is not None:
        query = query.where(commune.code.in_(sorted(scope.communes)))
    if scope.villages is not None:
        query = query.where(village.code.in_(sorted(scope.villages)))
    if scope.level == "commune":
        query = query.where(commune.code == scope.code)
    return query


def households_outside_units() -> int:
    """Households a report cannot place: no village, or a village the units table does not know."""
    return db.session.scalar(
        select(func.count()).select_from(Household).outerjoin(Unit, Unit.code == Household.village_code)
        .where(Household.merged_into_id.is_(None), Unit.code.is_(None))) or 0


def refresh_facts(batch: int = BATCH) -> int:
    """Read the result JSON of every classification computed since its facts were (or never) read;
    return how many. In id order, a batch at a time: constant memory, no cursor left open."""
    facts = ClassificationFacts
    result = Classification.result
    done, last = 0, 0
    while True:
        rows = db.session.execute(
            select(Classification.id, Classification.computed_at, result["national"]["indicators"],
                   result[("national", "income", "value_vnd")].as_integer(), result[("b1", "total")].as_integer())
            .outerjoin(facts, facts.classification_id == Classification.id)
            .where(Classification.id > last,
                   or_(facts.classification_id.is_(None), facts.computed_at != Classification.computed_at))
            .order_by(Classification.id).limit(batch)).all()
        if not rows:
            return done
        ids = [row[0] for row in rows]
        db.session.execute(delete(facts).where(facts.classification_id.in_(ids)))
        db.session.execute(insert(facts), [
            {"classification_id": cid, "computed_at": computed, "b1_total": b1, "income_vnd": income,
             "indicators": encode_indicators(indicators if isinstance(indicators, list) else None)}
            for cid, computed, indicators, income, b1 in rows])
        done += len(rows)
        last = ids[-1]
