from __future__ import annotations

from sqlalchemy import select

from server.extensions import db
from server.units.models import AreaMember, Unit


def unit(code: str) -> Unit | None:
    return db.session.get(Unit, code)


def units_at(level: str, parent_code: str | None = None) -> list[Unit]:
    query = select(Unit).where(Unit.level == level)
    if parent_code is not None:
        query = query.where(Unit.parent_code == parent_code)
    return list(db.session.scalars(query.order_by(Unit.code)))


def communes_of_areas(area_codes: list[str]) -> list[str]:
    if not area_codes:
        return []
    return list(db.session.scalars(select(AreaMember.commune_code).where(AreaMember.area_code.in_(area_codes))))


def villages_of_communes(commune_codes: list[str]) -> list[str]:
    if not commune_codes:
        return []
    return list(db.session.scalars(
        select(Unit.code).where(Unit.level == "village", Unit.parent_code.in_(commune_codes))))


def expand_scope(grant_codes: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Grants (areas, communes, villages) → (village codes, commune codes) they cover."""
    if not grant_codes:
        return frozenset(), frozenset()
    levels = dict(db.session.execute(select(Unit.code, Unit.level).where(Unit.code.in_(grant_codes))).all())
    areas = [c for c, lv in levels.items() if lv == "area"]
    communes = [c for c, lv in levels.items() if lv == "commune"] + communes_of_areas(areas)
    villages = [c for c, lv in levels.items() if lv == "village"] + villages_of_communes(communes)
    return frozenset(villages), frozenset(communes)
