"""The duplicate queue (JSON): potential duplicates within the caller's villages, and decisions."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from server.accounts.services import visible_units
from server.collect.schemas import load
from server.errors import Problem
from server.extensions import db
from server.households import queries, services
from server.households.schemas import DecisionIn
from server.http import transaction
from server.http.auth import current_caller
from server.review import services as review_services
from server.timeutil import iso

bp = Blueprint("households", __name__, url_prefix="/v1/duplicates")


@bp.before_request
def _protocol() -> None:
    g.protocol = "json"


def _present(pair) -> dict:  # type: ignore[no-untyped-def]
    household = queries.household(pair.household_id)
    return {"id": pair.id, "submissionId": pair.submission_id, "householdId": pair.household_id,
            "householdCode": household.code if household else None,
            "headName": household.head_name if household else None, "villageCode": pair.village_code,
            "score": pair.score, "reasons": pair.reasons, "status": pair.status,
            "decidedAt": iso(pair.decided_at), "createdAt": iso(pair.created_at)}


@bp.get("")
def list_pairs() -> Response:
    caller = current_caller()
    caller.require("submission.read")
    query = queries.pairs_query(request.args.get("status", "open"), visible_units(caller))
    return jsonify([_present(p) for p in db.session.scalars(query.limit(500))])


@bp.post("/<int:pair_id>")
@transaction.write
def decide(pair_id: int) -> Response:
    """Decide a possible duplicate: `same` household or `not_same`; a household it held back is checked again."""
    caller = current_caller()
    pair = queries.pair(pair_id)
    scope = visible_units(caller)
    if pair is None or (scope is not None and pair.village_code not in scope[0]):
        raise Problem("not_found", what=f"duplicate {pair_id}")
    caller.require("submission.review")
    body = load(DecisionIn(), request.get_json(silent=True))
    services.decide_pair(pair, body["decision"], caller.actor)
    review_services.recheck_after_duplicates(pair.submission_id)
    return jsonify(_present(pair))
