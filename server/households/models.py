from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.timeutil import utcnow

CHANGE_TYPES = ("new", "escaped", "fell_back", "moved", "dissolved", "merged", "unchanged")


class Household(db.Model):
    """A household of the provincial registry (hộ gia đình), as last known.

    ``code`` is the registry's own id (the CSV's ``record_id``); households first seen in a submission get
    one from the server. ``extra`` keeps the province's own columns untouched.
    """

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    village_code: Mapped[str | None] = mapped_column(String(32), index=True)
    head_name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int | None] = mapped_column()
    gender: Mapped[str | None] = mapped_column(String(1))
    national_id: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    member_names: Mapped[list | None] = mapped_column(db.JSON)
    extra: Mapped[dict | None] = mapped_column(db.JSON)
    source: Mapped[str] = mapped_column(String(16), default="registry")  # registry | submission
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class HouseholdKey(db.Model):
    """Blocking keys (server/households/matching.py): candidates are one indexed look-up away."""

    __tablename__ = "household_keys"
    __table_args__ = (Index("ix_household_keys_key", "key"),)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(160), primary_key=True)


class HouseholdYear(db.Model):
    """A household's history in one campaign year."""

    __tablename__ = "household_years"
    __table_args__ = (UniqueConstraint("household_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    year: Mapped[int] = mapped_column()
    start_class: Mapped[str | None] = mapped_column(String(32))
    end_class: Mapped[str | None] = mapped_column(String(32))
    change_type: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DuplicatePair(db.Model):
    """A potential duplicate for a person to decide: a submission and a registry household."""

    __tablename__ = "duplicate_pairs"
    __table_args__ = (UniqueConstraint("submission_id", "household_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(String(32), index=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list] = mapped_column(db.JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | same | not_same
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Boundary(db.Model):
    """A commune or village polygon (GeoJSON geometry), loaded with `flask geo load`."""

    __tablename__ = "boundaries"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    geometry: Mapped[dict] = mapped_column(db.JSON)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
