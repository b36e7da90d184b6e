from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db

LEVELS = ("province", "area", "commune", "village")


class Unit(db.Model):
    """Province, commune (xã / phường), village (thôn, tổ dân phố…) or supervision area.

    Supervision areas are not part of the administrative tree: communes belong to one through
    ``AreaMember``. Pre-2025 codes are kept beside the current one, never in its place.
    """

    __tablename__ = "units"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    urban: Mapped[bool | None] = mapped_column(default=None)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    area_km2: Mapped[float | None] = mapped_column(Float)
    legacy_code: Mapped[str | None] = mapped_column(String(32))
    legacy_scheme: Mapped[str | None] = mapped_column(String(32))


class AreaMember(db.Model):
    __tablename__ = "area_members"
    area_code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True)
