"""Taking submissions in: raw first, then reading, never losing. Never commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from server.accounts.services import Caller, audit
from server.collect import queries
from server.collect.forms_service import store_blob, xform_info
from server.collect.models import Form, FormDef, Submission, SubmissionAttachment, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.timeutil import utcnow
from sync.submission import (Existing, Outcome, ParsedSubmission, SubmissionError, check_attachment_name,
                             decide, parse_submission, read_answers, referenced_files)

log = logging.getLogger(__name__)

# Later stages (classification, matching, geolocation) register here; each gets the stored submission,
# its new def and the answers, and returns nothing. A failing stage marks the def for attention.
Stage = Callable[[Submission, SubmissionDef, dict], None]
STAGES: list[tuple[str, Stage]] = []


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


def form_def_for(form: Form, version: str) -> FormDef:
    form_def = queries.published_def(form.id, version)
    if form_def is None:
        raise Problem("form_version_not_found", form_id=form.xml_form_id, version=version or "(trống / empty)")
    return form_def


def ingest(form: Form, xml: bytes, uploads: list[Upload], caller: Caller, device_id: str | None = None,
           parsed: ParsedSubmission | None = None) -> IngestResult:
    parsed = parsed or parse(xml)
    if parsed.form_id != form.xml_form_id:
        raise Problem("form_not_found", form_id=parsed.form_id)
    for upload in uploads:
        try:
            check_attachment_name(upload.name)
        except SubmissionError as error:
            raise Problem(error.key, **error.details) from error
    form_def = form_def_for(form, parsed.version)
    if form.state == "closed":
        raise Problem("form_closed", form_id=form.xml_form_id)
    queries.lock_instance(form.id, parsed.instance_id)
    same = queries.def_by_instance(form.id, parsed.instance_id)
    deprecated = queries.def_by_instance(form.id, parsed.deprecated_id) if parsed.deprecated_id else None
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
        _attach(same, uploads, caller)
        return IngestResult(same.submission, same, outcome)

    if outcome is Outcome.NEW:
        submission = Submission(form_id=form.id, instance_id=parsed.instance_id, submitter_id=caller.actor.id,
                                device_id=device_id)
        db.session.add(submission)
        db.session.flush()
        action = "submission.create"
    else:
        submission = deprecated.submission
        deprecated.current = False
        submission.review_state = "edited"
        submission.updated_at = utcnow()
        action = "submission.update.version"

    new_def = SubmissionDef(submission_id=submission.id, form_id=form.id, form_def_id=form_def.id,
                            instance_id=parsed.instance_id, deprecated_id=parsed.deprecated_id,
                            instance_name=parsed.instance_name, xml=xml, current=True,
                            submitter_id=caller.actor.id)
    db.session.add(new_def)
    db.session.flush()
    info = xform_info(form_def)
    expected = referenced_files(parsed.root, info.binary_paths)
    carried = {a.name: a.blob_id for a in deprecated.attachments} if deprecated is not None else {}
    for name in sorted(expected):
        db.session.add(SubmissionAttachment(submission_def_id=new_def.id, name=name, blob_id=carried.get(name)))
    db.session.flush()
    audit(action, caller.actor, "submission", submission.id,
          {"instanceId": parsed.instance_id, "form": form.xml_form_id, "deprecatedId": parsed.deprecated_id})
    _attach(new_def, uploads, caller)
    _process(submission, new_def, parsed, info.repeat_paths)
    return IngestResult(submission, new_def, outcome)


def _attach(submission_def: SubmissionDef, uploads: list[Upload], caller: Caller) -> None:
    """Store uploaded files that the XML references; others are ignored (OR009)."""
    for upload in uploads:
        attachment = queries.submission_attachment(submission_def.id, upload.name)
        if attachment is None or attachment.blob_id is not None:
            continue
        attachment.blob_id = store_blob(upload.data, upload.content_type).id
        audit("submission.attachment.update", caller.actor, "submission", submission_def.submission_id,
              {"name": upload.name, "instanceId": submission_def.instance_id})
    db.session.flush()


def _process(submission: Submission, submission_def: SubmissionDef, parsed: ParsedSubmission,
             repeat_paths: frozenset[str]) -> None:
    """Read the answers and run the later stages; a failure is recorded, never raised."""
    stage_name = "read"
    try:
        with db.session.begin_nested():
            answers = read_answers(parsed.root, repeat_paths)
            submission_def.answers = answers
            fields = answers["fields"]
            submission.village_code = fields.get("village") or submission.village_code
            submission.commune_code = fields.get("commune") or submission.commune_code
            for stage_name, stage in STAGES:
                stage(submission, submission_def, answers)
    except Exception as error:  # noqa: BLE001 - the submission is kept whatever a stage does
        log.exception("processing submission %s failed at %s", submission.instance_id, stage_name)
        submission_def.attention = f"{stage_name}: {type(error).__name__}: {error}"[:2000]
        db.session.add(submission_def)
