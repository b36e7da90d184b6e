"""Models → ODK Central's JSON shapes (every nullable key present, as pyodk requires)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from server.accounts.models import Audit, FieldKey, Session, User
from server.collect.models import (
    Comment,
    Form,
    FormAssignment,
    FormAttachment,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)
from server.collect.odata import REPEAT, STRUCTURE, Field, FieldTree, flat_texts
from server.collect.projects_service import APP_USER_ROLE
from server.collect.queries import SubmissionRow
from server.exports.writers import neutralise_text
from server.timeutil import as_utc, iso


def session(session: Session, token: str) -> dict[str, Any]:
    return {"token": token, "csrf": session.csrf, "createdAt": iso(session.created_at),
            "expiresAt": iso(session.expires_at)}


def user(user: User) -> dict[str, Any]:
    actor = user.actor
    return {"id": actor.id, "type": "user", "displayName": actor.display_name, "email": user.email,
            "role": user.role, "createdAt": iso(actor.created_at), "updatedAt": iso(actor.updated_at),
            "deletedAt": iso(actor.deleted_at)}


def project(project: Project) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "description": project.description,
            "archived": project.archived, "keyId": None, "createdAt": iso(project.created_at),
            "updatedAt": iso(project.updated_at), "deletedAt": None}


def form(form: Form) -> dict[str, Any]:
    """A form as its published version shows it, or its draft when it was never published."""
    definition = form.current_def or form.draft_def
    return {"projectId": form.project_id, "xmlFormId": form.xml_form_id, "name": definition.name,
            "version": definition.version, "enketoId": None, "enketoOnceId": None, "hash": definition.md5,
            "sha256": definition.sha256, "state": form.state, "keyId": None, "createdAt": iso(form.created_at),
            "updatedAt": iso(form.updated_at),
            "publishedAt": iso(form.current_def.published_at) if form.current_def else None}


def form_attachment(attachment: FormAttachment) -> dict[str, Any]:
    exists = attachment.blob_id is not None
    return {"name": attachment.name, "type": attachment.kind,
            "hash": attachment.blob.md5 if attachment.blob is not None else None, "exists": exists,
            "blobExists": exists, "datasetExists": False, "updatedAt": iso(attachment.updated_at)}


def app_user(key: FieldKey, token: str | None) -> dict[str, Any]:
    actor = key.actor
    return {"projectId": key.project_id, "id": actor.id, "type": "field_key", "displayName": actor.display_name,
            "token": token, "createdAt": iso(actor.created_at), "updatedAt": iso(actor.updated_at),
            "deletedAt": iso(actor.deleted_at)}


def assignment(assignment: FormAssignment) -> dict[str, Any]:
    return {"actorId": assignment.actor_id, "roleId": APP_USER_ROLE}


def submission(submission: Submission, current: SubmissionDef) -> dict[str, Any]:
    return {"instanceId": submission.instance_id, "submitterId": submission.submitter_id,
            "deviceId": submission.device_id, "userAgent": None, "reviewState": submission.review_state,
            "instanceName": current.instance_name, "createdAt": iso(submission.created_at),
            "updatedAt": iso(submission.updated_at), "deletedAt": iso(submission.deleted_at),
            "currentVersion": {"instanceId": current.instance_id, "instanceName": current.instance_name,
                               "submitterId": current.submitter_id, "deviceId": submission.device_id,
                               "userAgent": None, "createdAt": iso(current.created_at), "current": True}}


def submission_attachment(attachment: SubmissionAttachment) -> dict[str, Any]:
    return {"name": attachment.name, "exists": attachment.blob_id is not None}


def comment(comment: Comment) -> dict[str, Any]:
    return {"body": comment.body, "actorId": comment.actor_id, "createdAt": iso(comment.created_at)}


def audit(entry: Audit) -> dict[str, Any]:
    return {"actorId": entry.actor_id, "action": entry.action, "acteeId": entry.actee_id,
            "details": entry.details, "loggedAt": iso(entry.logged_at)}


def odata_system(row: SubmissionRow) -> dict[str, Any]:
    """The `__system` block of an OData record (submitterId is a string there, as in Central)."""
    sub = row.submission
    return {"submissionDate": iso(sub.created_at), "updatedAt": iso(sub.updated_at),
            "submitterId": None if sub.submitter_id is None else str(sub.submitter_id),
            "submitterName": row.submitter_name, "attachmentsPresent": row.attachments_present,
            "attachmentsExpected": row.attachments_expected, "status": None, "reviewState": sub.review_state,
            "deviceId": sub.device_id, "edits": row.edits, "formVersion": row.form_version,
            "deletedAt": iso(sub.deleted_at)}


def filter_system(row: SubmissionRow) -> dict[str, Any]:
    """The `__system` values that `$filter` compares, as Python values (times as aware datetimes)."""
    sub = row.submission
    return {"submissionDate": as_utc(sub.created_at), "updatedAt": as_utc(sub.updated_at),
            "submitterId": sub.submitter_id, "reviewState": sub.review_state, "deviceId": sub.device_id}


# --- CSV export: one row per submission, Excel-friendly ----------------------------------------------------

CSV_TRAILER = ("KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "ReviewState",
               "DeviceID", "Edits", "FormVersion")
GEOPOINT_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")


def safe_cell(value: str) -> str:
    """Spreadsheets run a cell starting with = + - @ (or a tab/CR) as a formula; quoted, numbers aside
    (the one rule for every CSV the server writes: server/exports/writers.py)."""
    return neutralise_text(value)


def _csv_fields(tree: FieldTree) -> list[Field]:
    return [f for f in tree.fields if f.kind != STRUCTURE and not tree.in_repeat(f.path)]


def csv_header(tree: FieldTree) -> list[str]:
    columns = ["SubmissionDate"]
    for item in _csv_fields(tree):
        name = item.path.replace("/", "-")
        if item.kind == "geopoint":
            columns += [f"{name}-{part}" for part in GEOPOINT_PARTS]
        else:
            columns.append(f"{name}-count" if item.kind == REPEAT else name)
    return columns + list(CSV_TRAILER)


def csv_row(tree: FieldTree, row: SubmissionRow) -> list[str]:
    texts = flat_texts(tree, row.current.xml)
    sub = row.submission
    cells = [iso(sub.created_at) or ""]
    for item in _csv_fields(tree):
        value = texts.get(item.path, 0 if item.kind == REPEAT else "")
        if item.kind == "geopoint":
            parts = str(value).split()
            cells += [parts[i] if i < len(parts) else "" for i in range(len(GEOPOINT_PARTS))]
        else:
            cells.append(str(value))
    cells += [sub.instance_id, "" if sub.submitter_id is None else str(sub.submitter_id), row.submitter_name or "",
              str(row.attachments_present), str(row.attachments_expected), sub.review_state or "",
              sub.device_id or "", str(row.edits), row.form_version]
    return [safe_cell(cell) for cell in cells]


def csv_lines(tree: FieldTree, rows: Iterable[SubmissionRow]) -> Iterator[str]:
    """The export as text chunks: a UTF-8 BOM (so Excel reads Vietnamese), the header, one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in csv_header(tree)])
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(tree, row))
        yield buffer.getvalue()
