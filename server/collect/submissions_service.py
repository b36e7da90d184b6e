"""Taking submissions in: raw first, then reading, never losing. Never commits.

The ingest path is the busiest in the product (tens of thousands of phones in a review window), so it
keeps its database round trips few: on PostgreSQL a new instance's rows (blobs, submission, version,
attachments, audit) are one statement that holds back if the instanceID is known; otherwise, and on
SQLite, one look-up of the instances concerned, then one insert per table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from server.accounts.services import Caller, audit, audit_row
from server.collect import queries
from server.collect.forms_service import store_blob, store_bytes, xform_info
from server.collect.models import Form, FormDef, Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.timeutil import utcnow
from sync.submission import (
    Existing,
    Outcome,
    ParsedSubmission,
    SubmissionError,
    check_attachment_name,
    decide,
    parse_submission,
    read_answers,
    referenced_files,
)

log = logging.getLogger(__name__)

# Later stages (classification, matching, geolocation) register here; each gets the stored submission,
# its new def and the answers. A failing stage marks the def for attention and never loses it.
Stage = Callable[[Submission, SubmissionDef, dict], None]
STAGES: list[tuple[str, Stage]] = []
DEVICE_ID_MAX = 200  # submissions.device_id


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class IngestResult:
    """What a submission became; the rows themselves are loaded only by the callers that show them."""

    submission_id: int
    submission_def_id: int
    outcome: Outcome

    @property
    def submission(self) -> Submission:
        return db.session.get_one(Submission, self.submission_id)

    @property
    def submission_def(self) -> SubmissionDef:
        return db.session.get_one(SubmissionDef, self.submission_def_id)


def parse(xml: bytes) -> ParsedSubmission:
    try:
        return parse_submission(xml)
    except SubmissionError as error:
        raise Problem(error.key, **error.details) from error


def check_uploads(uploads: list[Upload]) -> None:
    for upload in uploads:
        try:
            check_attachment_name(upload.name)
        except SubmissionError as error:
            raise Problem(error.key, **error.details) from error


def form_def_for(form: Form, version: str) -> FormDef:
    if form.current_def is not None and form.current_def.version == version:
        return form.current_def
    form_def = queries.published_def(form.id, version)
    if form_def is None:
        raise Problem("form_version_not_found", form_id=form.xml_form_id, version=version or "(trống / empty)")
    return form_def


def ingest(form: Form, xml: bytes, uploads: list[Upload], caller: Caller, device_id: str | None = None,
           parsed: ParsedSubmission | None = None) -> IngestResult:
    parsed = parsed or parse(xml)
    if device_id is not None and len(device_id) > DEVICE_ID_MAX:
        raise Problem("invalid_input", detail=f"deviceID dài quá {DEVICE_ID_MAX} ký tự / longer than {DEVICE_ID_MAX}")
    if parsed.form_id != form.xml_form_id:
        raise Problem("form_not_found", form_id=parsed.form_id)
    check_uploads(uploads)
    form_def = form_def_for(form, parsed.version)
    if form.state == "closed":
        raise Problem("form_closed", form_id=form.xml_form_id)
    if parsed.deprecated_id is None and queries.inserts_in_one_statement():
        # Nearly every submission is a new instance: its rows go in at once, guarded against a known
        # instanceID; only when that guard holds them back are the rules below needed.
        stored = _store_new(form, form_def, xml, parsed, uploads, caller, device_id)
        if stored is not None:
            return _stored(stored)
    # Two copies of one new instance at once: the later insert hits the unique constraint and
    # transaction.run runs the request again, when it finds the first copy and answers as for a repeat.
    known = queries.defs_by_instances(form.id, [i for i in (parsed.instance_id, parsed.deprecated_id) if i])
    same, deprecated = known.get(parsed.instance_id), known.get(parsed.deprecated_id or "")
    existing = Existing(
        same_instance_xml=same.xml if same is not None else None,
        same_instance_deleted=same is not None and same.submission.deleted_at is not None,
        deprecated_exists=deprecated is not None,
        deprecated_is_current=deprecated is not None and deprecated.current,
        deprecated_deleted=deprecated is not None and deprecated.submission.deleted_at is not None,
    )
    try:
        outcome = decide(xml, parsed, existing)
    except SubmissionError as error:
        raise Problem(error.key, **error.details) from error
    if outcome is Outcome.SAME:
        added = _attach_later(same, uploads)
        if added:
            audit("submission.attachment.update", caller.actor, "submission", same.submission_id,
                  {"instanceId": same.instance_id, "names": added})
        return IngestResult(same.submission_id, same.id, outcome)
    return _store_version(form, form_def, xml, parsed, uploads, caller, device_id, deprecated, outcome)


@dataclass(frozen=True)
class _Version:
    """What every new version of a submission is made of, whichever way its rows are written."""

    answers: dict[str, Any] | None
    row: dict[str, Any]
    expected: frozenset[str]
    uploaded: dict[str, Upload]
    details: dict[str, Any]

    @property
    def fields(self) -> dict[str, Any]:
        return self.answers["fields"] if self.answers is not None else {}


def _version(form: Form, form_def: FormDef, xml: bytes, parsed: ParsedSubmission, uploads: list[Upload],
             caller: Caller) -> _Version:
    info = xform_info(form_def)
    answers, attention = _read(parsed, info.repeat_paths)
    expected = frozenset(referenced_files(parsed.root, info.binary_paths))
    uploaded = {u.name: u for u in uploads if u.name in expected}
    row = {"form_id": form.id, "form_def_id": form_def.id, "instance_id": parsed.instance_id,
           "deprecated_id": parsed.deprecated_id, "instance_name": parsed.instance_name, "xml": xml,
           "current": True, "submitter_id": caller.actor.id, "attention": attention}
    if answers is not None:
        row["answers"] = answers
    details = {"instanceId": parsed.instance_id, "form": form.xml_form_id, "deprecatedId": parsed.deprecated_id,
               "attachments": sorted(uploaded)}
    return _Version(answers, row, expected, uploaded, details)


def _submission_row(form: Form, parsed: ParsedSubmission, caller: Caller, device_id: str | None,
                    fields: dict[str, Any]) -> dict[str, Any]:
    return {"form_id": form.id, "instance_id": parsed.instance_id, "submitter_id": caller.actor.id,
            "device_id": device_id, "village_code": fields.get("village"), "commune_code": fields.get("commune")}


def _store_new(form: Form, form_def: FormDef, xml: bytes, parsed: ParsedSubmission, uploads: list[Upload],
               caller: Caller, device_id: str | None) -> IngestResult | None:
    """A new instance's rows in one statement (PostgreSQL); None if its instanceID turned out to be known."""
    outcome = decide(xml, parsed, Existing())
    version = _version(form, form_def, xml, parsed, uploads, caller)
    # Bytes first: no row may name a file before the file is stored.
    stored = {name: (store_bytes(u.data), u.content_type) for name, u in version.uploaded.items()}
    ids = queries.insert_new_submission(
        _submission_row(form, parsed, caller, device_id, version.fields), version.row,
        {name: stored.get(name) for name in version.expected},
        audit_row("submission.create", caller.actor, "submission", None, version.details))
    return None if ids is None else IngestResult(ids[0], ids[1], outcome)


def _store_version(form: Form, form_def: FormDef, xml: bytes, parsed: ParsedSubmission, uploads: list[Upload],
                   caller: Caller, device_id: str | None, deprecated: SubmissionDef | None,
                   outcome: Outcome) -> IngestResult:
    version = _version(form, form_def, xml, parsed, uploads, caller)
    # Bytes first: no row may name a file before the file is stored.
    blob_ids = {name: store_blob(u.data, u.content_type) for name, u in version.uploaded.items()}
    if deprecated is not None:
        for attachment in deprecated.attachments:
            blob_ids.setdefault(attachment.name, attachment.blob_id)
    if outcome is Outcome.NEW:
        action = "submission.create"
        submission_id = queries.insert_submission(_submission_row(form, parsed, caller, device_id, version.fields))
    else:
        action = "submission.update.version"
        submission_id = _deprecate(deprecated, version.fields)
    def_id = queries.insert_submission_def({**version.row, "submission_id": submission_id})
    queries.insert_submission_attachments(def_id, {name: blob_ids.get(name) for name in version.expected})
    audit(action, caller.actor, "submission", submission_id, version.details)
    return _stored(IngestResult(submission_id, def_id, outcome))


def _deprecate(deprecated: SubmissionDef, fields: dict[str, Any]) -> int:
    """The edited submission's id, once its old version has stopped being current."""
    if not queries.retire_version(deprecated.id):
        # Another edit of the same version was taken in while this one was read: this one is stale.
        raise Problem("stale_edit", deprecated_id=deprecated.instance_id)
    db.session.expire(deprecated, ["current"])
    submission = deprecated.submission
    submission.review_state = "edited"
    submission.updated_at = utcnow()
    submission.village_code = fields.get("village") or submission.village_code
    submission.commune_code = fields.get("commune") or submission.commune_code
    db.session.flush()  # the submission's new state goes in before its new version
    db.session.expire(submission, ["defs"])
    return submission.id


def _stored(result: IngestResult) -> IngestResult:
    if current_app.config["PROCESS_INLINE"]:
        process(result.submission, result.submission_def)
    return result


def _read(parsed: ParsedSubmission, repeat_paths: frozenset[str]) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return read_answers(parsed.root, repeat_paths), None
    except Exception as error:  # noqa: BLE001 - the raw XML is kept whatever the reader makes of it
        log.exception("reading submission %s failed", parsed.instance_id)
        return None, f"read: {type(error).__name__}: {error}"[:2000]


def _attach_later(submission_def: SubmissionDef, uploads: list[Upload]) -> list[str]:
    """OR004: files of a split upload (or a retry) that the stored version still misses."""
    added = []
    for attachment in submission_def.attachments:
        upload = next((u for u in uploads if u.name == attachment.name), None)
        if upload is not None and attachment.blob_id is None:
            attachment.blob_id = store_blob(upload.data, upload.content_type)
            added.append(attachment.name)
    return added


def process(submission: Submission, submission_def: SubmissionDef) -> None:
    """Run the later stages on a stored version (in the request, or later in a worker)."""
    if STAGES and submission_def.answers is not None:
        _run_stages(submission, submission_def, submission_def.answers)
    submission_def.processed_at = utcnow()


def process_pending(limit: int) -> int:
    """Process up to ``limit`` stored versions that no stage has seen yet; returns how many."""
    done = 0
    for submission_def in queries.pending_defs(limit):
        process(submission_def.submission, submission_def)
        done += 1
    return done


def _run_stages(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    current = ""
    try:
        with db.session.begin_nested():
            for name, stage in STAGES:
                current = name
                stage(submission, submission_def, answers)
    except Exception as error:  # noqa: BLE001 - the submission is kept whatever a stage does
        log.exception("processing submission %s failed at %s", submission.instance_id, current)
        submission_def.attention = f"{current}: {type(error).__name__}: {error}"[:2000]
