"""Taking submissions in: raw first, then reading, never losing. Never commits.

The ingest path is the busiest in the product (tens of thousands of phones in a review window), so it
keeps its database round trips few: one look-up of the instance, one insert per row, one audit row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from server.accounts.services import Caller, audit
from server.collect import queries
from server.collect.forms_service import store_blob, xform_info
from server.collect.models import Form, FormDef, Submission, SubmissionAttachment, SubmissionDef
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
    submission: Submission
    submission_def: SubmissionDef
    outcome: Outcome


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
    queries.lock_instance(form.id, parsed.instance_id)
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
        return IngestResult(same.submission, same, outcome)
    return _store_version(form, form_def, xml, parsed, uploads, caller, device_id, deprecated, outcome)


def _store_version(form: Form, form_def: FormDef, xml: bytes, parsed: ParsedSubmission, uploads: list[Upload],
                   caller: Caller, device_id: str | None, deprecated: SubmissionDef | None,
                   outcome: Outcome) -> IngestResult:
    info = xform_info(form_def)
    answers, attention = _read(parsed, info.repeat_paths)
    expected = referenced_files(parsed.root, info.binary_paths)
    uploaded = {u.name: u for u in uploads if u.name in expected}
    # Blobs first: every query below this line would otherwise flush half-built rows.
    blob_ids = {name: store_blob(u.data, u.content_type) for name, u in uploaded.items()}
    if deprecated is not None:
        for attachment in deprecated.attachments:
            blob_ids.setdefault(attachment.name, attachment.blob_id)
    if outcome is Outcome.NEW:
        submission = Submission(form_id=form.id, instance_id=parsed.instance_id, submitter_id=caller.actor.id,
                                device_id=device_id)
        action = "submission.create"
    else:
        submission = deprecated.submission
        deprecated.current = False
        submission.review_state = "edited"
        submission.updated_at = utcnow()
        action = "submission.update.version"
    if answers is not None:
        fields = answers["fields"]
        submission.village_code = fields.get("village") or submission.village_code
        submission.commune_code = fields.get("commune") or submission.commune_code
    new_def = SubmissionDef(submission=submission, form_id=form.id, form_def_id=form_def.id,
                            instance_id=parsed.instance_id, deprecated_id=parsed.deprecated_id,
                            instance_name=parsed.instance_name, xml=xml, current=True,
                            submitter_id=caller.actor.id, answers=answers, attention=attention,
                            attachments=[SubmissionAttachment(name=name, blob_id=blob_ids.get(name))
                                         for name in sorted(expected)])
    db.session.add(new_def)
    db.session.flush()
    audit(action, caller.actor, "submission", submission.id,
          {"instanceId": parsed.instance_id, "form": form.xml_form_id, "deprecatedId": parsed.deprecated_id,
           "attachments": sorted(uploaded)})
    if current_app.config["PROCESS_INLINE"]:
        process(submission, new_def)
    return IngestResult(submission, new_def, outcome)


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
