"""Loading administrative units into the database. Never commits."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from server.extensions import db
from server.units import queries
from server.units.models import AreaMember, Unit


@dataclass(frozen=True)
class UnitRecord:
    code: str
    level: str
    name: str
    parent_code: str | None = None
    kind: str | None = None
    urban: bool | None = None
    lat: float | None = None
    lon: float | None = None
    area_km2: float | None = None
    legacy_code: str | None = None
    legacy_scheme: str | None = None


def upsert_units(records: Iterable[UnitRecord]) -> int:
    """Insert or update units by code; parents must come before children. Returns the count."""
    count = 0
    for record in records:
        unit = db.session.get(Unit, record.code) or Unit(code=record.code)
        for name, value in record.__dict__.items():
            setattr(unit, name, value)
        db.session.add(unit)
        count += 1
    db.session.flush()
    return count


def set_area_members(area_code: str, commune_codes: Iterable[str]) -> None:
    db.session.query(AreaMember).filter(AreaMember.area_code == area_code).delete()
    for code in dict.fromkeys(commune_codes):
        db.session.add(AreaMember(area_code=area_code, commune_code=code))
    db.session.flush()


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def choice_lists() -> dict[str, bytes]:
    """The CSV lists the survey forms' cascading selects read (see forms/FIELDS.md)."""
    provinces = queries.units_at("province")
    communes = queries.units_at("commune")
    villages = queries.units_at("village")
    return {
        "provinces.csv": _csv([["name", "label"]] + [[u.code, u.name] for u in provinces]),
        "communes.csv": _csv([["name", "label", "province"]]
                             + [[u.code, u.name, u.parent_code or ""] for u in communes]),
        "villages.csv": _csv([["name", "label", "commune"]]
                             + [[u.code, u.name, u.parent_code or ""] for u in villages]),
    }


def first_village() -> str | None:
    villages = queries.units_at("village")
    return villages[0].code if villages else None


def load_demo_province(province_code: str, villages_per_commune: int) -> int:
    """Real province and communes from the package, supervision areas, synthetic villages."""
    from server.units import sources

    province = sources.load_province(province_code)
    records = [UnitRecord(code=province.code, level="province", name=province.name)]
    records += [UnitRecord(code=c.code, level="commune", name=c.name, parent_code=province.code, kind=c.kind,
                           urban=c.urban, lat=c.lat, lon=c.lon, area_km2=c.area_km2,
                           legacy_code=" ".join(c.legacy_codes) or None, legacy_scheme=province.legacy_scheme)
                for c in province.communes]
    records += [UnitRecord(code=a.code, level="area", name=a.name, parent_code=province.code)
                for a in province.areas]
    records += [UnitRecord(code=v.code, level="village", name=v.name, parent_code=v.commune_code, kind=v.kind,
                           urban=None)
                for v in sources.demo_villages(province, per_commune=villages_per_commune, seed=24)]
    count = upsert_units(records)
    for area in province.areas:
        set_area_members(area.code, area.commune_codes)
    return count
