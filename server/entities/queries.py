"""Entity, dataset, assignment and entity-list look-ups. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from server.accounts.models import Actor
from server.collect.models import Submission, SubmissionDef
from server.entities.models import Assignment, Dataset, Entity, EntityListCache, EntityVersion
from server.extensions import db
from server.households.models import Household, HouseholdYear
from server.review.models import Review, ReviewEvent
from server.units.models import Unit


@dataclass(frozen=True)
class ListScope:
    """What one list shows: entities of these villages plus these households (None = everything)."""

    villages: frozenset[str] | None
    household_ids: frozenset[int] = frozenset()

    def key(self) -> str:
        if self.villages is None:
            return "*"
        return ",".join(sorted(self.villages)) + "|" + ",".join(str(i) for i in sorted(self.household_ids))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _binary(column: Any) -> Any:
    """Order by code points (EN003): PostgreSQL's "C" collation; SQLite compares bytes already."""
    return column.collate("C") if _dialect() == "postgresql" else column


# --- datasets -----------------------------------------------------------------------------------------------

def dataset(project_id: int, name: str) -> Dataset | None:
    return db.session.scalar(select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name))


def datasets(project_id: int) -> list[Dataset]:
    return list(db.session.scalars(select(Dataset).where(Dataset.project_id == project_id).order_by(Dataset.name)))


def entity_counts(dataset_ids: list[int]) -> dict[int, tuple[int, datetime | None]]:
    if not dataset_ids:
        return {}
    rows = db.session.execute(select(Entity.dataset_id, func.count(), func.max(Entity.updated_at))
                              .where(Entity.dataset_id.in_(dataset_ids), Entity.deleted_at.is_(None))
                              .group_by(Entity.dataset_id))
    return {dataset_id: (count, last) for dataset_id, count, last in rows}


# --- entities -----------------------------------------------------------------------------------------------

def entity(dataset_id: int, uuid: str, *, lock: bool = False) -> Entity | None:
    query = select(Entity).where(Entity.dataset_id == dataset_id, Entity.uuid == uuid)
    if lock and _dialect() == "postgresql":
        query = query.with_for_update()
    return db.session.scalar(query)


def entity_of_household(dataset_id: int, household_id: int) -> Entity | None:
    return db.session.scalar(select(Entity).where(Entity.dataset_id == dataset_id,
                                                  Entity.household_id == household_id))


def versions(entity_id: int) -> list[EntityVersion]:
    return list(db.session.scalars(select(EntityVersion).where(EntityVersion.entity_id == entity_id)
                                   .order_by(EntityVersion.version)))


def version_from_source(entity_id: int, source: str) -> EntityVersion | None:
    return db.session.scalar(select(EntityVersion).where(EntityVersion.entity_id == entity_id,
                                                         EntityVersion.source == source))


def latest_version_of_submission(entity_id: int, submission_id: int) -> EntityVersion | None:
    return db.session.scalar(select(EntityVersion).where(EntityVersion.entity_id == entity_id,
                                                         EntityVersion.submission_id == submission_id)
                             .order_by(EntityVersion.version.desc()).limit(1))


def visible(scope: tuple[frozenset[str], frozenset[str]] | None) -> ColumnElement[bool]:
    """Entities a caller may read: of their villages; entities with no village only province-wide."""
    if scope is None:
        return Entity.id.is_not(None)
    villages, _ = scope
    return Entity.village_code.in_(villages) if villages else false()


def entities(dataset_id: int, scope: tuple[frozenset[str], frozenset[str]] | None, *,
             conflict_only: bool = False, include_deleted: bool = False) -> list[Entity]:
    query = select(Entity).where(Entity.dataset_id == dataset_id, visible(scope))
    if not include_deleted:
        query = query.where(Entity.deleted_at.is_(None))
    if conflict_only:
        query = query.where(Entity.conflict.is_not(None))
    return list(db.session.scalars(query.order_by(_binary(Entity.uuid))))


def entities_by_uuid(dataset_id: int, uuids: Iterable[str]) -> list[Entity]:
    uuids = list(uuids)
    if not uuids:
        return []
    return list(db.session.scalars(select(Entity).where(Entity.dataset_id == dataset_id, Entity.uuid.in_(uuids))))


def submissions_by_id(ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """id → (instanceID, submitter's name)."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    query = (select(Submission.id, Submission.instance_id, Actor.display_name)
             .outerjoin(Actor, Actor.id == Submission.submitter_id).where(Submission.id.in_(ids)))
    return {sid: (instance, name) for sid, instance, name in db.session.execute(query)}


def actor_names(ids: Iterable[int | None]) -> dict[int, str]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return dict(db.session.execute(select(Actor.id, Actor.display_name).where(Actor.id.in_(ids))).all())


# --- the list served to phones --------------------------------------------------------------------------------

def _in_list(dataset_id: int, scope: ListScope) -> list[ColumnElement[bool]]:
    where = [Entity.dataset_id == dataset_id, Entity.deleted_at.is_(None)]
    if scope.villages is not None:
        parts = []
        if scope.villages:
            parts.append(Entity.village_code.in_(scope.villages))
        if scope.household_ids:
            parts.append(Entity.household_id.in_(scope.household_ids))
        where.append(or_(*parts) if parts else false())
    return where


def list_content(dataset_id: int, scope: ListScope) -> tuple[int, int, int]:
    """(count, sum of versions, sum of ids): changes whenever a row of the list is added, removed or versioned."""
    row = db.session.execute(select(func.count(), func.coalesce(func.sum(Entity.version), 0),
                                    func.coalesce(func.sum(Entity.id), 0))
                             .where(*_in_list(dataset_id, scope))).one()
    return int(row[0]), int(row[1]), int(row[2])


def list_rows(dataset_id: int, scope: ListScope) -> Iterator[tuple[str, str, int, dict]]:
    query = (select(Entity.uuid, Entity.label, Entity.version, Entity.data).where(*_in_list(dataset_id, scope))
             .order_by(_binary(Entity.uuid)))
    # Core, not ORM, execution: the rows are plain tuples, and the ORM's per-row processing was a third
    # of the time to re-render a 5,000-household list.
    yield from db.session.connection().execute(query.execution_options(yield_per=2000))


def cached_list(scope_key: str) -> EntityListCache | None:
    return db.session.get(EntityListCache, scope_key)


def store_list(scope_key: str, content_key: str, registry_key: str | None, md5: str, body: bytes) -> None:
    """Upsert: two servers rendering the same list at once both succeed (same bytes)."""
    values = {"scope_key": scope_key, "content_key": content_key, "registry_key": registry_key, "md5": md5,
              "body": body, "created_at": datetime.now().astimezone()}
    insert = postgresql.insert if _dialect() == "postgresql" else sqlite.insert
    statement = insert(EntityListCache).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["scope_key"],
        set_={"content_key": statement.excluded.content_key, "registry_key": statement.excluded.registry_key,
              "md5": statement.excluded.md5,
              "body": statement.excluded.body, "created_at": statement.excluded.created_at})
    db.session.execute(statement)


# --- registry households → entities ------------------------------------------------------------------------------

def _households_in(scope: ListScope) -> list[ColumnElement[bool]]:
    where = [Household.merged_into_id.is_(None)]
    if scope.villages is not None:
        parts = []
        if scope.villages:
            parts.append(Household.village_code.in_(scope.villages))
        if scope.household_ids:
            parts.append(Household.id.in_(scope.household_ids))
        where.append(or_(*parts) if parts else false())
    return where


def registry_stamp(scope: ListScope) -> tuple[int, int, str]:
    """(count, sum of ids, latest change) of the scope's live households: one aggregate on the village index."""
    row = db.session.execute(select(func.count(), func.coalesce(func.sum(Household.id), 0),
                                    func.max(Household.updated_at)).where(*_households_in(scope))).one()
    return int(row[0]), int(row[1]), str(row[2])


def households_without_entity(dataset_id: int, scope: ListScope) -> list[Household]:
    linked = exists().where(Entity.dataset_id == dataset_id, Entity.household_id == Household.id)
    return list(db.session.scalars(select(Household).where(*_households_in(scope), ~linked)
                                   .order_by(Household.id)))


def households_changed_since_sync(dataset_id: int, scope: ListScope) -> list[tuple[Household, Entity]]:
    query = (select(Household, Entity).join(Entity, and_(Entity.dataset_id == dataset_id,
                                                         Entity.household_id == Household.id))
             .where(*_households_in(scope), Household.updated_at.is_not(None),
                    or_(Entity.registry_synced_at.is_(None), Household.updated_at > Entity.registry_synced_at)))
    return [(household, found) for household, found in db.session.execute(query)]


def merged_household_entities(dataset_id: int) -> list[Entity]:
    query = (select(Entity).join(Household, Household.id == Entity.household_id)
             .where(Entity.dataset_id == dataset_id, Entity.deleted_at.is_(None),
                    Household.merged_into_id.is_not(None)))
    return list(db.session.scalars(query))


def household_by_code(code: str) -> Household | None:
    return db.session.scalar(select(Household).where(Household.code == code))


def latest_years(household_ids: list[int]) -> dict[int, HouseholdYear]:
    if not household_ids:
        return {}
    found: dict[int, HouseholdYear] = {}
    for chunk in _chunks(household_ids):
        for year in db.session.scalars(select(HouseholdYear).where(HouseholdYear.household_id.in_(chunk))
                                       .order_by(HouseholdYear.year)):
            found[year.household_id] = year
    return found


def latest_answers(household_ids: list[int]) -> dict[int, dict]:
    """The answers of each household's most recent current survey."""
    found: dict[int, dict] = {}
    for chunk in _chunks(household_ids):
        query = (select(Submission.household_id, SubmissionDef.answers)
                 .join(SubmissionDef, and_(SubmissionDef.submission_id == Submission.id,
                                           SubmissionDef.current.is_(True)))
                 .where(Submission.household_id.in_(chunk), Submission.deleted_at.is_(None))
                 .order_by(Submission.created_at, Submission.id))
        for household_id, answers in db.session.execute(query):
            if answers:
                found[household_id] = answers
    return found


def communes_of(village_codes: Iterable[str]) -> dict[str, str | None]:
    codes = [c for c in set(village_codes) if c]
    if not codes:
        return {}
    return dict(db.session.execute(select(Unit.code, Unit.parent_code).where(Unit.code.in_(codes))).all())


def _chunks(ids: list[int], size: int = 900) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# --- assignments --------------------------------------------------------------------------------------------

def assignments(actor_id: int, project_id: int | None = None) -> list[Assignment]:
    query = select(Assignment).where(Assignment.actor_id == actor_id)
    if project_id is not None:
        query = query.where(Assignment.project_id == project_id)
    return list(db.session.scalars(query.order_by(Assignment.village_code, Assignment.household_id)))


def project_assignments(project_id: int) -> list[Assignment]:
    return list(db.session.scalars(select(Assignment).where(Assignment.project_id == project_id)
                                   .order_by(Assignment.actor_id, Assignment.village_code, Assignment.household_id)))


def clear_assignments(actor_id: int, project_id: int) -> None:
    db.session.execute(delete(Assignment).where(Assignment.actor_id == actor_id,
                                                Assignment.project_id == project_id))


def villages_of_households(household_ids: Iterable[int]) -> dict[int, str | None]:
    ids = list(household_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Household.id, Household.village_code).where(Household.id.in_(ids))).all())


# --- returned surveys ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnedSurvey:
    review_id: int
    household_code: str | None
    head_name: str | None
    address: str | None
    reason: str | None


def returned_surveys(actor_id: int, villages: frozenset[str] | None) -> list[ReturnedSurvey]:
    """Reviews returned to the enumerator: ones this actor submitted, or of the villages on their list."""
    latest = (select(ReviewEvent.review_id, func.max(ReviewEvent.id).label("event_id"))
              .where(ReviewEvent.to_state == "returned").group_by(ReviewEvent.review_id).subquery())
    mine = Submission.submitter_id == actor_id
    where = mine if villages is None or not villages else or_(mine, Review.village_code.in_(villages))
    query = (select(Review.id, Household.code, Household.head_name, Household.address, ReviewEvent.record)
             .join(Submission, Submission.id == Review.submission_id)
             .join(latest, latest.c.review_id == Review.id)
             .join(ReviewEvent, ReviewEvent.id == latest.c.event_id)
             .outerjoin(Household, Household.id == Submission.household_id)
             .where(Review.state == "returned", Submission.deleted_at.is_(None), where)
             .order_by(Review.id))
    return [ReturnedSurvey(review_id, code, head, address, (record or {}).get("reason"))
            for review_id, code, head, address, record in db.session.execute(query)]


def returned_review_of_household(household_id: int, exclude_submission_id: int) -> Review | None:
    query = (select(Review).join(Submission, Submission.id == Review.submission_id)
             .where(Review.state == "returned", Submission.household_id == household_id,
                    Submission.id != exclude_submission_id, Submission.deleted_at.is_(None))
             .order_by(Review.id.desc()).limit(1))
    return db.session.scalar(query)


def review_of_submission(submission_id: int) -> Review | None:
    return db.session.scalar(select(Review).where(Review.submission_id == submission_id))
