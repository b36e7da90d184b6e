from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased, defer, joinedload

from server.accounts.models import Actor, Audit
from server.collect.models import (
    Blob,
    Comment,
    Form,
    FormAssignment,
    FormAttachment,
    FormDef,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)
from server.collect.storage import StoredBlob
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


def _visible_form_query(assigned: bool) -> Select:
    # The version's XForm bytes (tens of kilobytes) are not needed to take a submission in.
    query = (select(Form).options(joinedload(Form.current_def).defer(FormDef.xml))
             .where(Form.project_id == bindparam("project_id"), Form.xml_form_id == bindparam("xml_form_id"),
                    Form.deleted_at.is_(None), Form.current_def_id.is_not(None)))
    if assigned:
        query = query.join(FormAssignment, (FormAssignment.form_id == Form.id)
                           & (FormAssignment.actor_id == bindparam("actor_id")))
    return query


# Built once: the ingest path runs them on every submission.
_VISIBLE_FORM = _visible_form_query(assigned=False)
_VISIBLE_ASSIGNED_FORM = _visible_form_query(assigned=True)
_SUBMISSION_DEFS = SubmissionDef.__table__.c
_KNOWN_INSTANCE = (select(_SUBMISSION_DEFS.id).where(_SUBMISSION_DEFS.form_id == bindparam("form_id"),
                                                     _SUBMISSION_DEFS.instance_id.in_(bindparam("ids", expanding=True)))
                   .limit(1))


def visible_form(project_id: int, xml_form_id: str, assigned_to: int | None) -> Form | None:
    """A published form of the project, with its current version loaded; for an app user
    (``assigned_to``) only if the form is assigned to them. One round trip on the ingest path."""
    if assigned_to is None:
        return db.session.scalar(_VISIBLE_FORM, {"project_id": project_id, "xml_form_id": xml_form_id})
    return db.session.scalar(_VISIBLE_ASSIGNED_FORM,
                             {"project_id": project_id, "xml_form_id": xml_form_id, "actor_id": assigned_to})


def defs_by_instances(form_id: int, instance_ids: list[str]) -> dict[str, SubmissionDef]:
    # Nearly every submission is new: a plain existence check first keeps that case to one light query.
    if db.session.execute(_KNOWN_INSTANCE, {"form_id": form_id, "ids": instance_ids}).first() is None:
        return {}
    rows = db.session.scalars(select(SubmissionDef).options(joinedload(SubmissionDef.submission))
                              .where(SubmissionDef.form_id == form_id, SubmissionDef.instance_id.in_(instance_ids)))
    return {row.instance_id: row for row in rows}


def _insert_blob_statement(insert_for) -> Insert:  # type: ignore[no-untyped-def]
    # On the table, not the mapped class: a plain statement skips the ORM's bulk-insert machinery.
    table = Blob.__table__
    return insert_for(table).on_conflict_do_nothing(index_elements=["sha256"]).returning(table.c.id)


_INSERT_BLOB = {"postgresql": _insert_blob_statement(postgresql_insert),
                "sqlite": _insert_blob_statement(sqlite_insert)}


def upsert_blob(sha256: str, md5: str, size: int, content_type: str | None) -> int:
    """The blob's id, inserting it unless the same content is already known (safe under races)."""
    values = {"sha256": sha256, "md5": md5, "size": size, "content_type": content_type, "created_at": utcnow()}
    blob_id = db.session.execute(_INSERT_BLOB[db.session.get_bind().dialect.name], values).scalar()
    if blob_id is None:
        blob_id = db.session.scalar(select(Blob.id).where(Blob.sha256 == sha256))
    return blob_id


# Plain inserts on the tables for the ingest path: one statement per row, no unit of work.

_INSERT_SUBMISSION = insert(Submission.__table__).returning(Submission.__table__.c.id)
_INSERT_SUBMISSION_DEF = insert(SubmissionDef.__table__).returning(SubmissionDef.__table__.c.id)
_INSERT_ATTACHMENT = insert(SubmissionAttachment.__table__)


def insert_submission(values: dict[str, object]) -> int:
    return db.session.execute(_INSERT_SUBMISSION, values).scalar_one()


def insert_submission_def(values: dict[str, object]) -> int:
    return db.session.execute(_INSERT_SUBMISSION_DEF, values).scalar_one()


def insert_submission_attachments(submission_def_id: int, blob_ids: dict[str, int | None]) -> None:
    if blob_ids:
        db.session.execute(_INSERT_ATTACHMENT,
                           [{"submission_def_id": submission_def_id, "name": name, "blob_id": blob_id}
                            for name, blob_id in sorted(blob_ids.items())])


_RETIRE_VERSION = (update(SubmissionDef.__table__)
                   .where(_SUBMISSION_DEFS.id == bindparam("def_id"), _SUBMISSION_DEFS.current.is_(True))
                   .values(current=False))


def retire_version(def_id: int) -> bool:
    """Marks a current version as no longer current; False if it already was not. The condition is
    checked against the row as it is once any other writer of it has committed: of two edits of one
    version sent at once, exactly one gets True."""
    return db.session.execute(_RETIRE_VERSION, {"def_id": def_id}).rowcount == 1


# A new submission's rows as one statement on PostgreSQL: one round trip and one execution instead of
# six, on the request that every phone makes most. ``fresh`` holds one row only while the instanceID is
# unknown (as any version of a submission of the form): otherwise nothing is written, not even a blob
# row, and the caller applies the full rules. Blobs are upserted with DO UPDATE so that RETURNING names
# the row whether it is new or was already there.
_INSERT_NEW_SUBMISSION_POSTGRESQL = text("""
WITH fresh AS (
    SELECT WHERE NOT EXISTS (SELECT 1 FROM submission_defs
                             WHERE form_id = CAST(:form_id AS integer) AND instance_id = CAST(:instance_id AS varchar))
), new_blobs AS (
    INSERT INTO blobs (sha256, md5, size, content_type, created_at)
    SELECT blob.sha256, blob.md5, blob.size, blob.content_type, CAST(:created_at AS timestamptz)
    FROM fresh, unnest(CAST(:blob_sha256 AS varchar[]), CAST(:blob_md5 AS varchar[]), CAST(:blob_size AS integer[]),
                       CAST(:blob_content_type AS varchar[])) AS blob(sha256, md5, size, content_type)
    ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
    RETURNING id, sha256
), new_submission AS (
    INSERT INTO submissions (form_id, instance_id, submitter_id, device_id, village_code, commune_code, created_at)
    SELECT CAST(:form_id AS integer), CAST(:instance_id AS varchar), :submitter_id, CAST(:device_id AS varchar),
           CAST(:village_code AS varchar), CAST(:commune_code AS varchar), CAST(:created_at AS timestamptz)
    FROM fresh
    RETURNING id
), new_version AS (
    INSERT INTO submission_defs (submission_id, form_id, form_def_id, instance_id, deprecated_id, instance_name,
                                 xml, current, submitter_id, created_at, answers, attention)
    SELECT id, CAST(:form_id AS integer), :form_def_id, CAST(:instance_id AS varchar), :deprecated_id, :instance_name,
           :xml, true, :submitter_id, CAST(:created_at AS timestamptz), CAST(:answers AS json), :attention
    FROM new_submission
    RETURNING id, submission_id
), new_attachments AS (
    INSERT INTO submission_attachments (submission_def_id, name, blob_id)
    SELECT new_version.id, file.name, new_blobs.id
    FROM new_version
    CROSS JOIN unnest(CAST(:names AS varchar[]), CAST(:name_sha256 AS varchar[])) AS file(name, sha256)
    LEFT JOIN new_blobs ON new_blobs.sha256 = file.sha256
), logged AS (
    INSERT INTO audits (actor_id, action, actee_type, actee_id, details, logged_at)
    SELECT :audit_actor_id, :audit_action, :audit_actee_type, CAST(id AS varchar), CAST(:audit_details AS json),
           :audit_logged_at
    FROM new_submission
)
SELECT submission_id, id FROM new_version
""")


def inserts_in_one_statement() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def insert_new_submission(submission: dict[str, Any], version: dict[str, Any],
                          files: dict[str, tuple[StoredBlob, str | None] | None],
                          audit: dict[str, Any]) -> tuple[int, int] | None:
    """PostgreSQL only (see ``inserts_in_one_statement``): a new submission, its first version, the
    version's attachments (``files``: each expected name with its stored bytes and content type, or None
    while not uploaded) with their blob rows, and the audit row, whose ``actee_id`` becomes the new
    submission's id. Returns (submission id, version id), or None if the instanceID is already known."""
    names = sorted(files)
    uploaded = {name: pair for name, pair in files.items() if pair is not None}
    # One row per content, in one order for every request: two submissions sharing photos lock their
    # blob rows in the same order and cannot deadlock.
    blobs = dict(sorted(((stored.sha256, (stored, content_type)) for stored, content_type in uploaded.values()),
                        key=lambda item: item[0]))
    row = db.session.execute(_INSERT_NEW_SUBMISSION_POSTGRESQL, {
        **submission, **version, "created_at": utcnow(), "answers": _json(version.get("answers")),
        "blob_sha256": list(blobs), "blob_md5": [stored.md5 for stored, _ in blobs.values()],
        "blob_size": [stored.size for stored, _ in blobs.values()],
        "blob_content_type": [content_type for _, content_type in blobs.values()],
        "names": names, "name_sha256": [uploaded[name][0].sha256 if name in uploaded else None for name in names],
        "audit_actor_id": audit["actor_id"], "audit_action": audit["action"], "audit_actee_type": audit["actee_type"],
        "audit_details": _json(audit["details"]), "audit_logged_at": audit["logged_at"],
    }).first()
    return None if row is None else (row[0], row[1])


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)

# --- The ODK Central REST API (projects, app users, submissions read side) -------------------------------

@dataclass(frozen=True)
class SubmissionRow:
    """A submission with its current version and what Central reports beside it (one round trip)."""

    submission: Submission
    current: SubmissionDef
    submitter_name: str | None
    form_version: str
    attachments_present: int
    attachments_expected: int
    edits: int


def visible_submission(form_id: int, instance_id: str,
                       scope: tuple[frozenset[str], frozenset[str]] | None) -> Submission | None:
    """The submission if it exists, is not deleted and lies in the caller's scope (else None → 404)."""
    return db.session.scalar(submissions_query(form_id, scope).where(Submission.instance_id == instance_id))


def submission_in_scope(submission_id: int, scope: tuple[frozenset[str], frozenset[str]] | None) -> bool:
    query = scoped(select(Submission.id).where(Submission.id == submission_id), scope)
    return db.session.scalar(query) is not None


def _rows_statement(query: Select, xml: bool, answers: bool) -> Select:
    present = (select(func.count()).select_from(SubmissionAttachment)
               .where(SubmissionAttachment.submission_def_id == SubmissionDef.id,
                      SubmissionAttachment.blob_id.is_not(None)).scalar_subquery())
    expected = (select(func.count()).select_from(SubmissionAttachment)
                .where(SubmissionAttachment.submission_def_id == SubmissionDef.id).scalar_subquery())
    versions = aliased(SubmissionDef)
    edits = (select(func.count()).select_from(versions)
             .where(versions.submission_id == Submission.id).scalar_subquery())
    deferred = [defer(column) for column, wanted in ((SubmissionDef.xml, xml), (SubmissionDef.answers, answers))
                if not wanted]
    return (query.add_columns(SubmissionDef, Actor.display_name, FormDef.version, present, expected, edits)
            .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current.is_(True))
            .join(FormDef, FormDef.id == SubmissionDef.form_def_id)
            .outerjoin(Actor, Actor.id == Submission.submitter_id)
            .options(*deferred)
            .order_by(Submission.created_at.desc(), Submission.id.desc()))


def _row(values: tuple) -> SubmissionRow:
    submission, current, name, version, present, expected, edits = values
    return SubmissionRow(submission, current, name, version, present or 0, expected or 0, max((edits or 1) - 1, 0))


def submission_rows(query: Select, *, xml: bool = False, answers: bool = False, limit: int | None = None,
                    offset: int = 0) -> list[SubmissionRow]:
    """Rows of a submissions query (see ``submissions_query``), newest first; the raw XML and the
    parsed answers only when asked for, since lists and filters rarely need them."""
    statement = _rows_statement(query, xml, answers).offset(offset or None).limit(limit)
    return [_row(tuple(values)) for values in db.session.execute(statement)]


def iter_submission_rows(query: Select, batch: int = 500) -> Iterator[SubmissionRow]:
    """Like ``submission_rows`` with the XML, streamed in batches (exports of a whole form)."""
    result = db.session.execute(_rows_statement(query, True, False).execution_options(yield_per=batch))
    for values in result:
        yield _row(tuple(values))


def def_xml(def_ids: list[int]) -> dict[int, bytes]:
    if not def_ids:
        return {}
    return dict(db.session.execute(select(SubmissionDef.id, SubmissionDef.xml).where(SubmissionDef.id.in_(def_ids)))
                .all())


def comments(submission_id: int) -> list[Comment]:
    return list(db.session.scalars(select(Comment).where(Comment.submission_id == submission_id)
                                   .order_by(Comment.created_at.desc(), Comment.id.desc())))


def submission_audits(submission_id: int) -> list[Audit]:
    return list(db.session.scalars(select(Audit).where(Audit.actee_type == "submission",
                                                       Audit.actee_id == str(submission_id))
                                   .order_by(Audit.logged_at.desc(), Audit.id.desc())))


def assignments(form_id: int) -> list[FormAssignment]:
    return list(db.session.scalars(select(FormAssignment).where(FormAssignment.form_id == form_id)
                                   .order_by(FormAssignment.actor_id)))


def only_instance(query: Select, instance_id: str) -> Select:
    return query.where(Submission.instance_id == instance_id)


def pending_defs(limit: int) -> list[SubmissionDef]:
    """Stored versions waiting for the later stages, oldest first; on PostgreSQL each worker takes
    rows no other worker holds (SKIP LOCKED), so several workers can run side by side."""
    query = (select(SubmissionDef).where(SubmissionDef.processed_at.is_(None)).order_by(SubmissionDef.id)
             .limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(db.session.scalars(query))
