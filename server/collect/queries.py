from __future__ import annotations

import zlib

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from server.collect.models import (
    Blob,
    Form,
    FormAssignment,
    FormAttachment,
    FormDef,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)
from server.extensions import db
from server.timeutil import utcnow


def project(project_id: int) -> Project | None:
    return db.session.get(Project, project_id)


def projects() -> list[Project]:
    return list(db.session.scalars(select(Project).order_by(Project.id)))


def form(project_id: int, xml_form_id: str) -> Form | None:
    return db.session.scalar(select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id,
                                                Form.deleted_at.is_(None)))


def forms(project_id: int) -> list[Form]:
    return list(db.session.scalars(select(Form).where(Form.project_id == project_id, Form.deleted_at.is_(None))
                                   .order_by(Form.xml_form_id)))


def published_def(form_id: int, version: str) -> FormDef | None:
    return db.session.scalar(select(FormDef).where(FormDef.form_id == form_id, FormDef.version == version,
                                                   FormDef.published_at.is_not(None)))


def assigned_form_ids(actor_id: int) -> set[int]:
    return set(db.session.scalars(select(FormAssignment.form_id).where(FormAssignment.actor_id == actor_id)))


def assignment(actor_id: int, form_id: int) -> FormAssignment | None:
    return db.session.get(FormAssignment, (actor_id, form_id))


def blob_by_sha(sha256: str) -> Blob | None:
    return db.session.scalar(select(Blob).where(Blob.sha256 == sha256))


def form_attachment(form_def_id: int, name: str) -> FormAttachment | None:
    return db.session.scalar(select(FormAttachment).where(FormAttachment.form_def_id == form_def_id,
                                                          FormAttachment.name == name))


def def_by_instance(form_id: int, instance_id: str) -> SubmissionDef | None:
    return db.session.scalar(select(SubmissionDef).where(SubmissionDef.form_id == form_id,
                                                         SubmissionDef.instance_id == instance_id))


def submission(form_id: int, instance_id: str) -> Submission | None:
    return db.session.scalar(select(Submission).where(Submission.form_id == form_id,
                                                      Submission.instance_id == instance_id))


def current_def(submission_id: int) -> SubmissionDef | None:
    return db.session.scalar(select(SubmissionDef).where(SubmissionDef.submission_id == submission_id,
                                                         SubmissionDef.current.is_(True)))


def submission_attachment(def_id: int, name: str) -> SubmissionAttachment | None:
    return db.session.scalar(select(SubmissionAttachment).where(SubmissionAttachment.submission_def_id == def_id,
                                                                SubmissionAttachment.name == name))


def scoped(query: Select, scope: tuple[frozenset[str], frozenset[str]] | None) -> Select:
    """Restrict a submissions query to the caller's villages/communes (None = province-wide)."""
    if scope is None:
        return query
    villages, communes = scope
    return query.where(or_(Submission.village_code.in_(villages),
                           Submission.village_code.is_(None) & Submission.commune_code.in_(communes)))


def submissions_query(form_id: int, scope: tuple[frozenset[str], frozenset[str]] | None,
                      include_deleted: bool = False) -> Select:
    query = select(Submission).where(Submission.form_id == form_id)
    if not include_deleted:
        query = query.where(Submission.deleted_at.is_(None))
    return scoped(query, scope)


def count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def lock_instance(form_id: int, instance_id: str) -> None:
    """Serialise work on one instanceID across app servers (PostgreSQL); SQLite serialises writes."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    key = zlib.crc32(f"{form_id}:{instance_id}".encode())
    db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def visible_form(project_id: int, xml_form_id: str, assigned_to: int | None) -> Form | None:
    """A published form of the project, with its current version loaded; for an app user
    (``assigned_to``) only if the form is assigned to them. One round trip on the ingest path."""
    query = (select(Form).options(joinedload(Form.current_def))
             .where(Form.project_id == project_id, Form.xml_form_id == xml_form_id,
                    Form.deleted_at.is_(None), Form.current_def_id.is_not(None)))
    if assigned_to is not None:
        query = query.join(FormAssignment, (FormAssignment.form_id == Form.id)
                           & (FormAssignment.actor_id == assigned_to))
    return db.session.scalar(query)


def defs_by_instances(form_id: int, instance_ids: list[str]) -> dict[str, SubmissionDef]:
    rows = db.session.scalars(select(SubmissionDef).options(joinedload(SubmissionDef.submission))
                              .where(SubmissionDef.form_id == form_id, SubmissionDef.instance_id.in_(instance_ids)))
    return {row.instance_id: row for row in rows}


def upsert_blob(sha256: str, md5: str, size: int, content_type: str | None) -> int:
    """The blob's id, inserting it unless the same content is already known (safe under races)."""
    values = {"sha256": sha256, "md5": md5, "size": size, "content_type": content_type, "created_at": utcnow()}
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]).returning(Blob.id)
    blob_id = db.session.scalar(statement)
    if blob_id is None:
        blob_id = db.session.scalar(select(Blob.id).where(Blob.sha256 == sha256))
    return blob_id
