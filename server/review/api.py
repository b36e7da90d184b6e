"""Review queues and actions (JSON). The web pages call the same services.

The village meeting's minutes file is uploaded on its own, before the vote: ``POST /v1/reviews/minutes``
(multipart ``file`` + ``village``; JPEG, PNG or PDF recognised by content, see minutes.py) answers 201 with
its ``id``, which the ``record_meeting_vote`` action names as ``meeting.minutes_id``. ``GET
/v1/reviews/minutes/<id>`` returns the file to the village's verifier, its commune, the area supervisor,
the province and administrators.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, g, jsonify, request, url_for
from sqlalchemy import select

from server.accounts.services import visible_units
from server.campaigns.models import Classification
from server.collect.models import Submission, SubmissionDef
from server.collect.schemas import load
from server.errors import Problem
from server.extensions import db
from server.http import transaction
from server.http.auth import current_caller
from server.i18n import request_language
from server.review import machine, minutes, queries, schemas, services
from server.review.diff import diff_answers
from server.review.models import MeetingMinutes, Review, ReviewEvent
from server.timeutil import iso

bp = Blueprint("reviews", __name__, url_prefix="/v1/reviews")


@bp.before_request
def _protocol() -> None:
    g.protocol = "json"


def _scoped(query):  # type: ignore[no-untyped-def]
    return queries.scoped(query, visible_units(current_caller()))


def _review(review_id: int) -> Review:
    review = queries.review_in_scope(review_id, visible_units(current_caller()))
    if review is None:
        raise Problem("not_found", what=f"review {review_id}")
    return review


def _summary(review: Review, submission: Submission, classification: Classification | None) -> dict:
    lang = request_language()
    state = machine.State(review.state)
    role = current_caller().role
    return {"id": review.id, "state": review.state, "stateLabel": getattr(state.label, lang),
            "stateSince": iso(review.state_since), "villageCode": review.village_code,
            "communeCode": review.commune_code, "instanceId": submission.instance_id,
            "householdId": submission.household_id, "reviewState": submission.review_state,
            "class": classification.household_class if classification else None,
            "classificationStatus": classification.status if classification else None,
            "gpsFlags": (submission.geo or {}).get("flags", []),
            "allowedActions": [str(a) for a in machine.allowed_actions(state, role)]}


@bp.get("")
def queue() -> Response:
    """The caller's queue: `?state=village_review&class=poor&village=…&sort=age`."""
    current_caller().require("submission.read")
    query = _scoped(select(Review, Submission, Classification)
                    .join(Submission, Submission.id == Review.submission_id)
                    .join(SubmissionDef, (SubmissionDef.submission_id == Submission.id) & SubmissionDef.current)
                    .outerjoin(Classification, Classification.submission_def_id == SubmissionDef.id))
    if request.args.get("state"):
        query = query.where(Review.state == request.args["state"])
    if request.args.get("village"):
        query = query.where(Review.village_code == request.args["village"])
    if request.args.get("class"):
        query = query.where(Classification.household_class == request.args["class"])
    query = query.order_by(Review.state_since if request.args.get("sort") == "age" else Review.id)
    return jsonify([_summary(r, s, c) for r, s, c in db.session.execute(query.limit(1000))])


@bp.get("/<int:review_id>")
def detail(review_id: int) -> Response:
    current_caller().require("submission.read")
    review = _review(review_id)
    submission = db.session.get(Submission, review.submission_id)
    defs = sorted(submission.defs, key=lambda d: d.id)
    current = defs[-1]
    classification = db.session.scalar(select(Classification).where(Classification.submission_def_id == current.id))
    body = _summary(review, submission, classification)
    body["answers"] = current.answers
    body["classification"] = classification.result if classification else None
    body["geo"] = submission.geo
    body["match"] = submission.match
    body["changes"] = diff_answers(defs[-2].answers, current.answers).to_dict() \
        if len(defs) > 1 and defs[-2].answers and current.answers else None
    events = list(db.session.scalars(select(ReviewEvent).where(ReviewEvent.review_id == review.id)
                                     .order_by(ReviewEvent.id)))
    body["events"] = [{"action": e.action, "from": e.from_state, "to": e.to_state, "actorId": e.actor_id,
                       "at": iso(e.at), "record": e.record} for e in events]
    body["minutes"] = [_minutes(m) for m in services.minutes_of_events(events).values()]
    return jsonify(body)


@bp.post("/<int:review_id>/actions")
def act(review_id: int) -> Response:
    """One action on one household; a meeting record names its minutes by `minutes_id` (POST /v1/reviews/minutes)."""
    caller = current_caller()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("action"):
        raise Problem("missing_parameter", field="action")
    loaded = load(schemas.ActionIn(), body)
    payload = schemas.ActionIn.payload(loaded)

    def work() -> Response:
        review = _review(review_id)
        services.act(review, loaded["action"], caller, payload, loaded["expectedState"])
        return jsonify({"id": review.id, "state": review.state})

    return transaction.run(work)


# ---- the meeting minutes ----------------------------------------------------------------------------

def _minutes(row: MeetingMinutes) -> dict:
    return {"id": row.id, "villageCode": row.village_code, "contentType": row.content_type,
            "fileName": row.file_name, "size": row.size, "uploadedBy": row.uploaded_by,
            "uploadedAt": iso(row.uploaded_at), "url": url_for("reviews.get_minutes", minutes_id=row.id)}


@bp.post("/minutes")
def upload_minutes() -> Response:
    """Upload the photo or scan of a village meeting's minutes (multipart: `file`, `village`); 201 with its id."""
    caller = current_caller()
    village = (request.form.get("village") or "").strip()
    upload = request.files.get("file")
    if not village:
        raise Problem("missing_parameter", field="village")
    if upload is None:
        raise Problem("missing_parameter", field="file")
    # One byte past the limit is enough to refuse it (MM002) without reading a huge upload.
    data = upload.stream.read(minutes.MAX_MINUTES_BYTES + 1)

    def work() -> Response:
        row = services.store_minutes(data, upload.filename, village, caller)
        response = jsonify(_minutes(row))
        response.status_code = 201
        return response

    return transaction.run(work)


@bp.get("/minutes/<int:minutes_id>")
def get_minutes(minutes_id: int) -> Response:
    """The minutes file itself, for callers whose area includes its village."""
    row = services.minutes_for(current_caller(), minutes_id)
    name = quote(row.file_name)
    return Response(services.read_minutes(row), content_type=row.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
