from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.timeutil import utcnow

REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")


class Project(db.Model):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    archived: Mapped[bool] = mapped_column(default=False)


class Blob(db.Model):
    """Content-addressed file metadata; the bytes live in the blob store."""

    __tablename__ = "blobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column()
    content_type: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Form(db.Model):
    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("project_id", "xml_form_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    xml_form_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closing | closed
    current_def_id: Mapped[int | None] = mapped_column(ForeignKey("form_defs.id", use_alter=True))
    draft_def_id: Mapped[int | None] = mapped_column(ForeignKey("form_defs.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    project: Mapped[Project] = relationship()
    current_def: Mapped[FormDef | None] = relationship(foreign_keys=[current_def_id], post_update=True)
    draft_def: Mapped[FormDef | None] = relationship(foreign_keys=[draft_def_id], post_update=True)


class FormDef(db.Model):
    """One version of a form: the exact XForm bytes served to devices."""

    __tablename__ = "form_defs"
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(400))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    xlsx_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    attachments: Mapped[list[FormAttachment]] = relationship(
        back_populates="form_def", order_by="FormAttachment.name", cascade="all, delete-orphan")


class FormAttachment(db.Model):
    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_def_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="file")
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    form_def: Mapped[FormDef] = relationship(back_populates="attachments")
    blob: Mapped[Blob | None] = relationship()


class FormAssignment(db.Model):
    """An app user may fetch and fill this form (ODK Central's role 2, "app-user")."""

    __tablename__ = "form_assignments"
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), primary_key=True)


class Submission(db.Model):
    """One logical submission (its first instanceID), with the current version among its defs."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(200))
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    device_id: Mapped[str | None] = mapped_column(String(200))
    review_state: Mapped[str | None] = mapped_column(String(16))
    village_code: Mapped[str | None] = mapped_column(String(32), index=True)
    commune_code: Mapped[str | None] = mapped_column(String(32), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    match: Mapped[dict | None] = mapped_column(db.JSON)   # decision, score and reasons of the matcher
    geo: Mapped[dict | None] = mapped_column(db.JSON)     # GPS village/commune, flags, distance
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    defs: Mapped[list[SubmissionDef]] = relationship(
        back_populates="submission", order_by="SubmissionDef.id")


class SubmissionDef(db.Model):
    """One version of a submission: raw XML exactly as received, plus what was read from it."""

    __tablename__ = "submission_defs"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),
                      Index("ix_submission_defs_current", "submission_id", "current"),
                      # One current version per submission, whatever races the code loses.
                      Index("ux_submission_defs_one_current", "submission_id", unique=True,
                            postgresql_where=text("current"), sqlite_where=text("current")))
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id"))
    instance_id: Mapped[str] = mapped_column(String(200))
    deprecated_id: Mapped[str | None] = mapped_column(String(200))
    instance_name: Mapped[str | None] = mapped_column(String(400))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    current: Mapped[bool] = mapped_column(default=True)
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answers: Mapped[dict | None] = mapped_column(db.JSON)
    attention: Mapped[str | None] = mapped_column(Text)
    # When the later stages (classification, matching, GPS) ran; empty while a worker still has to.
    processed_at: Mapped[datetime | None] = mapped_column(default=None, index=True)

    submission: Mapped[Submission] = relationship(back_populates="defs")
    form_def: Mapped[FormDef] = relationship()
    attachments: Mapped[list[SubmissionAttachment]] = relationship(
        back_populates="submission_def", order_by="SubmissionAttachment.name")


class SubmissionAttachment(db.Model):
    """A file the submission's XML references; ``blob_id`` is empty until the file arrives."""

    __tablename__ = "submission_attachments"
    __table_args__ = (UniqueConstraint("submission_def_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"))
    name: Mapped[str] = mapped_column(String(255))
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))

    submission_def: Mapped[SubmissionDef] = relationship(back_populates="attachments")
    blob: Mapped[Blob | None] = relationship()


class Comment(db.Model):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
