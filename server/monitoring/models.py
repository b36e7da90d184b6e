from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.timeutil import utcnow


class Target(db.Model):
    """One of the plan's tracked indicators for one year (set with `flask monitoring set-target`)."""

    __tablename__ = "monitoring_targets"
    __table_args__ = (UniqueConstraint("year", "indicator", name="uq_monitoring_targets_year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    indicator: Mapped[str] = mapped_column(String(32))
    target: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fact(db.Model):
    """What the dashboard counts about one household survey, read once out of its JSON columns.

    Derived data: rewritten by the ingest stage ``monitoring`` and by `flask monitoring refresh`.
    ``deprived`` and ``gps_flags`` are bit sets (server/monitoring/facts.py names the bits).
    """

    __tablename__ = "monitoring_facts"
    __table_args__ = (Index("ix_monitoring_facts_campaign_village", "campaign_id", "village_code"),
                      Index("ix_monitoring_facts_campaign_commune", "campaign_id", "commune_code"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column()
    village_code: Mapped[str | None] = mapped_column(String(32))
    commune_code: Mapped[str | None] = mapped_column(String(32))
    submitter_id: Mapped[int | None] = mapped_column()
    household_class: Mapped[str | None] = mapped_column(String(32))
    deprived: Mapped[int] = mapped_column(default=0)
    deprivation_count: Mapped[int | None] = mapped_column()
    gps_flags: Mapped[int] = mapped_column(default=0)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    income: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[int | None] = mapped_column()
    submitted_on: Mapped[date] = mapped_column()
    stamp: Mapped[datetime] = mapped_column(default=utcnow)


class Transition(db.Model):
    """The review transitions of a village's surveys, summed: how many events went from one state to another and
    the sum of their times (epoch seconds), for the time in each state (MA003) without reading every event.

    Derived data, append-only: the review service adds one row per state-changing event (``record_transition``)
    and a correcting pair when a review moves to another village (``move_transitions``); rows with the same key
    are summed when read, and `flask monitoring refresh` rebuilds the table from the events in one row per key.
    """

    __tablename__ = "monitoring_transitions"
    __table_args__ = (Index("ix_monitoring_transitions_campaign_commune", "campaign_id", "commune_code",
                            "village_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column()
    commune_code: Mapped[str | None] = mapped_column(String(32))
    village_code: Mapped[str | None] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    events: Mapped[int] = mapped_column()
    at_sum: Mapped[float] = mapped_column(Float)
