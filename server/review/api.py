"""Review queues and actions (JSON). The web pages call the same services."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from server.accounts.services import visible_units
from server.campaigns.models import Classification
from server.collect.models import Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.http import transaction
from server.http.auth import current_caller
from server.i18n import request_language
from server.review import machine, queries, services
from server.review.diff import diff_answers
from server.review.models import Review, ReviewEvent
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
    body["events"] = [{"action": e.action, "from": e.from_state, "to": e.to_state, "actorId": e.actor_id,
                       "at": iso(e.at), "record": e.record}
                      for e in db.session.scalars(select(ReviewEvent).where(ReviewEvent.review_id == review.id)
                                                  .order_by(ReviewEvent.id))]
    return jsonify(body)


@bp.post("/<int:review_id>/actions")
def act(review_id: int) -> Response:
    caller = current_caller()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("action"):
        raise Problem("missing_parameter", field="action")
    payload = {k: v for k, v in body.items() if k not in ("action", "expectedState")}

    def work() -> Response:
        review = _review(review_id)
        services.act(review, str(body["action"]), caller, payload, body.get("expectedState"))
        return jsonify({"id": review.id, "state": review.state})

    return transaction.run(work)
