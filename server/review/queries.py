"""Review look-ups shared by the JSON API and the web pages. Never commits.

Every list is scoped with ``scoped`` so that personal data never leaves the caller's villages (RM013);
the queue is one query of plain columns, because a village's queue (hundreds of households) is the
page verifiers open most and must stay fast on a phone connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import aliased

from server.accounts.models import Actor
from server.campaigns.models import Campaign, Classification
from server.collect.models import Form, Submission, SubmissionDef
from server.extensions import db
from server.households.models import Boundary, DuplicatePair, Household, HouseholdYear
from server.review.models import MeetingMinutes, Review, ReviewEvent
from server.units.models import Unit

Scope = tuple[frozenset[str], frozenset[str]] | None

SORTS = ("id", "age", "class", "name")
FLAGS = ("gps", "duplicate", "edited")
# Poorest first, as the classification engine orders its classes.
_CLASS_ORDER = {"poor": 0, "near_poor": 1, "average_living": 2, "not_classified": 3}


def scoped(query: Select, scope: Scope) -> Select:
    """Only reviews of the scope's villages, or of its communes when the household has no village."""
    if scope is None:
        return query
    villages, communes = scope
    return query.where(Review.village_code.in_(villages)
                       | (Review.village_code.is_(None) & Review.commune_code.in_(communes)))


def review_in_scope(review_id: int, scope: Scope) -> Review | None:
    return db.session.scalar(scoped(select(Review).where(Review.id == review_id), scope))


def reviews_in_scope(review_ids: list[int], scope: Scope) -> dict[int, Review]:
    if not review_ids:
        return {}
    query = scoped(select(Review).where(Review.id.in_(review_ids)), scope)
    return {review.id: review for review in db.session.scalars(query)}


@dataclass(frozen=True)
class QueueFilters:
    states: tuple[str, ...] = ()
    village: str | None = None
    commune: str | None = None
    household_class: str | None = None
    flag: str | None = None          # one of FLAGS
    enumerator: int | None = None    # the submitting actor (an app user or a person)
    min_age_days: int | None = None  # waiting in its state for at least this many days
    sort: str = "id"                 # one of SORTS


@dataclass(frozen=True)
class QueueRow:
    id: int
    state: str
    state_since: datetime
    village_code: str | None
    village_name: str | None
    commune_code: str | None
    instance_id: str
    review_state: str | None
    gps_flags: tuple[str, ...]
    household_code: str | None
    head_name: str | None
    household_class: str | None
    classification_status: str | None
    enumerator_id: int | None
    enumerator_name: str | None
    open_duplicates: int


def queue_rows(scope: Scope, filters: QueueFilters, *, now: datetime, limit: int) -> list[QueueRow]:
    """The queue in one query; the GPS-flag filter runs on the fetched rows (flags are JSON)."""
    enumerator = aliased(Actor)
    village = aliased(Unit)
    open_duplicates = (select(func.count()).select_from(DuplicatePair)
                       .where(DuplicatePair.submission_id == Submission.id, DuplicatePair.status == "open")
                       .correlate(Submission).scalar_subquery())
    query = scoped(
        select(Review.id, Review.state, Review.state_since, Review.village_code, village.name, Review.commune_code,
               Submission.instance_id, Submission.review_state, Submission.geo, Household.code, Household.head_name,
               Classification.household_class, Classification.status, Submission.submitter_id,
               enumerator.display_name, open_duplicates)
        .join(Submission, Submission.id == Review.submission_id)
        .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current)
        .outerjoin(Classification, Classification.submission_def_id == SubmissionDef.id)
        .outerjoin(Household, Household.id == Submission.household_id)
        .outerjoin(enumerator, enumerator.id == Submission.submitter_id)
        .outerjoin(village, village.code == Review.village_code)
        .where(Submission.deleted_at.is_(None)), scope)
    if filters.states:
        query = query.where(Review.state.in_(filters.states))
    if filters.village:
        query = query.where(Review.village_code == filters.village)
    if filters.commune:
        query = query.where(Review.commune_code == filters.commune)
    if filters.household_class:
        query = query.where(Classification.household_class == filters.household_class)
    if filters.enumerator is not None:
        query = query.where(Submission.submitter_id == filters.enumerator)
    if filters.min_age_days is not None:
        query = query.where(Review.state_since <= now - timedelta(days=filters.min_age_days))
    if filters.flag == "duplicate":
        query = query.where(open_duplicates > 0)
    elif filters.flag == "edited":
        query = query.where(Submission.review_state == "edited")
    query = query.order_by(*_order(filters.sort), Review.id)
    if filters.flag != "gps":
        query = query.limit(limit)
    rows = [_queue_row(values) for values in db.session.execute(query)]
    if filters.flag == "gps":
        rows = [row for row in rows if row.gps_flags][:limit]
    return rows


def _order(sort: str) -> tuple[Any, ...]:
    if sort == "age":
        return (Review.state_since,)
    if sort == "class":
        return (case(_CLASS_ORDER, value=Classification.household_class, else_=len(_CLASS_ORDER)),)
    if sort == "name":
        return (Household.head_name,)
    return ()


def _queue_row(values: Any) -> QueueRow:
    (review_id, state, state_since, village_code, village_name, commune_code, instance_id, review_state, geo,
     household_code, head_name, household_class, status, submitter_id, submitter_name, duplicates) = values
    return QueueRow(review_id, state, state_since, village_code, village_name, commune_code, instance_id,
                    review_state, tuple((geo or {}).get("flags", [])), household_code, head_name, household_class,
                    status, submitter_id, submitter_name, duplicates or 0)


def submitters(scope: Scope) -> list[tuple[int, str]]:
    """Who sent the reviews the caller can see (for the enumerator filter)."""
    query = scoped(select(Actor.id, Actor.display_name).distinct()
                   .join(Submission, Submission.submitter_id == Actor.id)
                   .join(Review, Review.submission_id == Submission.id), scope)
    return [(actor_id, name) for actor_id, name in db.session.execute(query.order_by(Actor.display_name))]


@dataclass(frozen=True)
class ReturnedRow:
    id: int
    village_code: str | None
    village_name: str | None
    instance_id: str
    head_name: str | None
    returned_at: datetime
    reason: str | None
    returned_by: str | None


def returned_rows(scope: Scope, *, limit: int) -> list[ReturnedRow]:
    """Reviews waiting for the enumerator, each with the reason of its latest return."""
    latest = (select(ReviewEvent.review_id, func.max(ReviewEvent.id).label("event_id"))
              .where(ReviewEvent.to_state == "returned").group_by(ReviewEvent.review_id).subquery())
    village = aliased(Unit)
    query = scoped(
        select(Review.id, Review.village_code, village.name, Submission.instance_id, Household.head_name,
               ReviewEvent.at, ReviewEvent.record, Actor.display_name)
        .join(Submission, Submission.id == Review.submission_id)
        .join(latest, latest.c.review_id == Review.id)
        .join(ReviewEvent, ReviewEvent.id == latest.c.event_id)
        .outerjoin(Actor, Actor.id == ReviewEvent.actor_id)
        .outerjoin(Household, Household.id == Submission.household_id)
        .outerjoin(village, village.code == Review.village_code)
        .where(Review.state == "returned", Submission.deleted_at.is_(None)), scope)
    return [ReturnedRow(review_id, village_code, village_name, instance_id, head_name, at,
                        (record or {}).get("reason"), actor_name)
            for review_id, village_code, village_name, instance_id, head_name, at, record, actor_name
            in db.session.execute(query.order_by(ReviewEvent.at, Review.id).limit(limit))]


def classification(submission_def_id: int) -> Classification | None:
    return db.session.scalar(select(Classification).where(Classification.submission_def_id == submission_def_id))


def events(review_id: int) -> list[tuple[ReviewEvent, str | None]]:
    """The review's history, oldest first, with the name of whoever acted (None: the system)."""
    query = (select(ReviewEvent, Actor.display_name).outerjoin(Actor, Actor.id == ReviewEvent.actor_id)
             .where(ReviewEvent.review_id == review_id).order_by(ReviewEvent.id))
    return [(event, name) for event, name in db.session.execute(query)]


def duplicate_candidates(submission_id: int) -> list[tuple[DuplicatePair, Household]]:
    query = (select(DuplicatePair, Household).join(Household, Household.id == DuplicatePair.household_id)
             .where(DuplicatePair.submission_id == submission_id)
             .order_by(DuplicatePair.score.desc(), DuplicatePair.id))
    return [(pair, household) for pair, household in db.session.execute(query)]


@dataclass(frozen=True)
class PreviousYear:
    year: int
    submission: Submission | None
    submission_def: SubmissionDef | None
    classification: Classification | None
    history: HouseholdYear | None


def previous_year(submission: Submission) -> PreviousYear | None:
    """The same household's review of the campaign year before, and its registry history for that year."""
    if submission.household_id is None or submission.campaign_id is None:
        return None
    year = db.session.scalar(select(Campaign.year).where(Campaign.id == submission.campaign_id)) - 1
    form_id = db.session.scalar(select(Form.xml_form_id).where(Form.id == submission.form_id))
    found = db.session.execute(
        select(Submission, SubmissionDef, Classification)
        .join(Campaign, Campaign.id == Submission.campaign_id)
        .join(Form, Form.id == Submission.form_id)
        .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current)
        .outerjoin(Classification, Classification.submission_def_id == SubmissionDef.id)
        .where(Submission.household_id == submission.household_id, Campaign.year == year,
               Form.xml_form_id == form_id, Submission.deleted_at.is_(None))
        .order_by(Submission.id.desc()).limit(1)).first()
    history = db.session.scalar(select(HouseholdYear).where(HouseholdYear.household_id == submission.household_id,
                                                            HouseholdYear.year == year))
    if found is None and history is None:
        return None
    old_submission, old_def, old_classification = found if found is not None else (None, None, None)
    return PreviousYear(year, old_submission, old_def, old_classification, history)


def boundary(code: str | None) -> Boundary | None:
    return db.session.get(Boundary, code) if code else None


def unit_name(code: str | None) -> str | None:
    return db.session.scalar(select(Unit.name).where(Unit.code == code)) if code else None


def review_labels(review_ids: list[int], scope: Scope) -> dict[int, tuple[str | None, str]]:
    """Review id → (head of household's name, instanceID), for messages about several households."""
    if not review_ids:
        return {}
    query = scoped(select(Review.id, Household.head_name, Submission.instance_id)
                   .join(Submission, Submission.id == Review.submission_id)
                   .outerjoin(Household, Household.id == Submission.household_id)
                   .where(Review.id.in_(review_ids)), scope)
    return {review_id: (head_name, instance_id) for review_id, head_name, instance_id in db.session.execute(query)}


def communes_in_scope(scope: Scope) -> list[tuple[str, str]]:
    """(code, name) of the communes whose households the caller may see."""
    query = select(Unit.code, Unit.name).where(Unit.level == "commune")
    if scope is not None:
        query = query.where(Unit.code.in_(scope[1]))
    return [(code, name) for code, name in db.session.execute(query.order_by(Unit.code))]


def villages_in_scope(scope: Scope) -> list[tuple[str, str]]:
    """(code, name) of the villages the caller may work on."""
    query = select(Unit.code, Unit.name).where(Unit.level == "village")
    if scope is not None:
        query = query.where(Unit.code.in_(scope[0]))
    return [(code, name) for code, name in db.session.execute(query.order_by(Unit.code))]


def is_village(code: str) -> bool:
    return db.session.scalar(select(Unit.code).where(Unit.code == code, Unit.level == "village")) is not None


def minutes_in_scope(minutes_id: int, scope: Scope) -> MeetingMinutes | None:
    """A minutes file, if it belongs to one of the scope's villages (minutes always name their village)."""
    query = select(MeetingMinutes).where(MeetingMinutes.id == minutes_id)
    if scope is not None:
        query = query.where(MeetingMinutes.village_code.in_(scope[0]))
    return db.session.scalar(query)


def minutes_by_id(minutes_ids: list[int]) -> dict[int, MeetingMinutes]:
    if not minutes_ids:
        return {}
    query = select(MeetingMinutes).where(MeetingMinutes.id.in_(minutes_ids))
    return {minutes.id: minutes for minutes in db.session.scalars(query)}
