from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Select, case, delete, func, select

from server.extensions import db
from server.households.models import Boundary, DuplicatePair, Household, HouseholdKey
from server.units.models import Unit


def household(household_id: int) -> Household | None:
    return db.session.get(Household, household_id)


def household_by_code(code: str) -> Household | None:
    return db.session.scalar(select(Household).where(Household.code == code))


def candidates(keys: Iterable[str], limit: int = 60) -> list[Household]:
    """Live households whose shared blocking keys are strong enough, strongest first, in one indexed query.

    A shared citizen ID or phone counts 2, a name, birth-year or place key 1; a candidate needs 2 (the
    matcher's own rule, server/households/matching.py). Common names in a big village share one key with
    hundreds of households: only those with more in common are scored.
    """
    keys = list(keys)
    if not keys:
        return []
    strength = func.sum(case((HouseholdKey.key.like("i|%") | HouseholdKey.key.like("t|%"), 2), else_=1))
    ranked = (select(HouseholdKey.household_id).where(HouseholdKey.key.in_(keys))
              .group_by(HouseholdKey.household_id).having(strength >= 2)
              .order_by(strength.desc(), HouseholdKey.household_id).limit(limit))
    return list(db.session.scalars(select(Household).where(Household.id.in_(ranked),
                                                           Household.merged_into_id.is_(None))))


def replace_keys(household_id: int, keys: Iterable[str]) -> None:
    db.session.execute(delete(HouseholdKey).where(HouseholdKey.household_id == household_id))
    db.session.add_all(HouseholdKey(household_id=household_id, key=k[:160]) for k in sorted(set(keys)))


def rejected_pairs(submission_id: int) -> set[int]:
    return set(db.session.scalars(select(DuplicatePair.household_id).where(
        DuplicatePair.submission_id == submission_id, DuplicatePair.status == "not_same")))


def pair(pair_id: int) -> DuplicatePair | None:
    return db.session.get(DuplicatePair, pair_id)


def pairs_query(status: str | None, scope: tuple[frozenset[str], frozenset[str]] | None) -> Select:
    query = select(DuplicatePair)
    if status:
        query = query.where(DuplicatePair.status == status)
    if scope is not None:
        villages, _ = scope
        query = query.where(DuplicatePair.village_code.in_(villages))
    return query.order_by(DuplicatePair.score.desc(), DuplicatePair.id)


def all_households(batch: int = 5000) -> Iterator[Household]:
    """Every live household in id order, fetched ``batch`` at a time (a server-side cursor on PostgreSQL)."""
    query = select(Household).where(Household.merged_into_id.is_(None)).order_by(Household.id)
    yield from db.session.execute(query.execution_options(yield_per=batch)).scalars()


def all_extras(batch: int = 5000) -> Iterator[dict | None]:
    query = select(Household.extra).where(Household.merged_into_id.is_(None))
    yield from db.session.execute(query.execution_options(yield_per=batch)).scalars()


def boundaries() -> list[Boundary]:
    return list(db.session.scalars(select(Boundary).order_by(Boundary.code)))


def geo_stamp() -> tuple[int, object, int]:
    """(boundaries, their latest load time, communes): what the GPS index is built from, in one query
    cheap enough to run on every submission."""
    communes = select(func.count()).select_from(Unit).where(Unit.level == "commune").scalar_subquery()
    return tuple(db.session.execute(select(func.count(Boundary.code), func.max(Boundary.loaded_at), communes)  # type: ignore[return-value]
                                    .select_from(Boundary)).one())
