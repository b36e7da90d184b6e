"""Acting on submissions through the REST API: create, edit, review, comment, attach. Never commits.

RV001 A submission created through the API is raw XML; one carrying meta/deprecatedID is refused (400):
      edits go through PUT on the submission they replace.
RV002 An edit (PUT) must name in meta/deprecatedID a version of the very submission addressed (else 400);
      naming an older version is stale (409), as on the device surface. The edit becomes the current version
      and the review state becomes "edited".
RV003 A caller with a unit scope cannot create or edit a submission into units outside that scope (403).
RV004 Review states are null (received), hasIssues, edited, approved, rejected; "received" and anything
      else is refused (400). Every change is audited with the previous state.
RV005 Comments are non-empty text, audited on the submission.
RV006 An attachment can be uploaded only under a name the current version's XML references (else 404);
      uploading again replaces the file.
"""

from __future__ import annotations

from server.accounts.services import Caller, audit
from server.collect import queries
from server.collect.forms_service import store_blob
from server.collect.models import REVIEW_STATES, Comment, Form, Submission, SubmissionAttachment
from server.collect.submissions_service import IngestResult, Upload, check_uploads, ingest, parse
from server.errors import Problem
from server.extensions import db
from server.timeutil import utcnow

Scope = tuple[frozenset[str], frozenset[str]] | None


def create(form: Form, xml: bytes, caller: Caller, scope: Scope, device_id: str | None = None) -> IngestResult:
    """RV001, RV003."""
    parsed = parse(xml)
    if parsed.deprecated_id is not None:
        raise Problem("invalid_input", detail="bản sửa phải gửi bằng PUT / send edits with PUT")
    result = ingest(form, xml, [], caller, device_id=device_id, parsed=parsed)
    _keep_in_scope(result.submission, scope)
    return result


def edit(form: Form, submission: Submission, xml: bytes, caller: Caller, scope: Scope) -> IngestResult:
    """RV002, RV003."""
    parsed = parse(xml)
    replaced = queries.def_by_instance(form.id, parsed.deprecated_id) if parsed.deprecated_id else None
    if replaced is None or replaced.submission_id != submission.id:
        raise Problem("edit_mismatch", instance_id=submission.instance_id)
    result = ingest(form, xml, [], caller, parsed=parsed)
    _keep_in_scope(result.submission, scope)
    return result


def _keep_in_scope(submission: Submission, scope: Scope) -> None:
    if scope is not None and not queries.submission_in_scope(submission.id, scope):
        raise Problem("forbidden")


def set_review_state(submission: Submission, state: str | None, caller: Caller) -> Submission:
    """RV004."""
    if state is not None and state not in REVIEW_STATES:
        raise Problem("bad_review_state", value=state)
    previous = submission.review_state
    submission.review_state = state
    submission.updated_at = utcnow()
    audit("submission.update", caller.actor, "submission", submission.id,
          {"instanceId": submission.instance_id, "reviewState": state, "previous": previous})
    return submission


def add_comment(submission: Submission, body: str, caller: Caller) -> Comment:
    """RV005."""
    comment = Comment(submission_id=submission.id, actor_id=caller.actor.id, body=body)
    db.session.add(comment)
    db.session.flush()
    audit("comment.create", caller.actor, "submission", submission.id,
          {"instanceId": submission.instance_id, "commentId": comment.id})
    return comment


def attach(submission: Submission, name: str, data: bytes, content_type: str | None,
           caller: Caller) -> SubmissionAttachment:
    """RV006."""
    check_uploads([Upload(name, data, content_type)])
    current = queries.current_def(submission.id)
    attachment = queries.submission_attachment(current.id, name)
    if attachment is None:
        raise Problem("unexpected_attachment", name=name)
    attachment.blob_id = store_blob(data, content_type)
    audit("submission.attachment.update", caller.actor, "submission", submission.id,
          {"instanceId": current.instance_id, "names": [name]})
    return attachment
