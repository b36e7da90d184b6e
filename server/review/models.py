from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.timeutil import utcnow


class Review(db.Model):
    """The review of one household survey through the village → commune procedure.

    ``state`` is written only with a compare-and-set on its previous value, so two people acting on
    the same household at once cannot both succeed (server/review/machine.py, RM004).
    """

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(String(32), index=True)
    commune_code: Mapped[str | None] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingMinutes(db.Model):
    """The photo or scan of one village meeting's signed minutes (server/review/minutes.py).

    The bytes live in the blob store; ``content_type`` is the type read from the bytes themselves (MM001),
    never what the uploader declared. A meeting record names it by ``minutes_id``.
    """

    __tablename__ = "meeting_minutes"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_code: Mapped[str] = mapped_column(String(32), index=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"))
    content_type: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column()
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewEvent(db.Model):
    """One transition: who, when, from, to, why (the machine's record)."""

    __tablename__ = "review_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    record: Mapped[dict] = mapped_column(db.JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
