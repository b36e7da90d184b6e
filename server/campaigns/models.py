from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.timeutil import utcnow


class Campaign(db.Model):
    """A year's review: its window, the communes it covers and the rules it classifies by.

    The national rule set is chosen by ``year``; a local rule set and the B1 score table, when the
    province loads them, are kept here as data so every app server classifies alike.
    """

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("project_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    year: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column()
    ends_on: Mapped[date] = mapped_column()
    local_ruleset: Mapped[dict | None] = mapped_column(db.JSON)
    score_table: Mapped[dict | None] = mapped_column(db.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))

    communes: Mapped[list[CampaignCommune]] = relationship(cascade="all, delete-orphan")


class CampaignCommune(db.Model):
    __tablename__ = "campaign_communes"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True)


class Classification(db.Model):
    """The engine's verdict on one version of a household review, with the rules it used."""

    __tablename__ = "classifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"), unique=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))          # classified | unclassifiable
    household_class: Mapped[str | None] = mapped_column(String(32))  # national: poor | near_poor | …
    local_class: Mapped[str | None] = mapped_column(String(32))
    ruleset: Mapped[str] = mapped_column(String(100))        # id@version of the national rule set
    score_table: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[dict] = mapped_column(db.JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
