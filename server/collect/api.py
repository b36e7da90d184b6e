"""The ODK Central REST subset that pyodk uses, at Central's paths and with its JSON shapes."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from server.accounts import services as accounts
from server.collect import presenters, queries
from server.errors import Problem
from server.http import transaction
from server.http.auth import current_caller

bp = Blueprint("central", __name__, url_prefix="/v1")


@bp.before_request
def _protocol() -> None:
    g.protocol = "json"


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem("invalid_input", detail="cần JSON / expected a JSON object")
    return body


@bp.post("/sessions")
@transaction.write
def create_session() -> Response:
    body = _json_body()
    user = accounts.authenticate(str(body.get("email", "")), str(body.get("password", "")))
    session, token = accounts.open_session(user)
    return jsonify(presenters.session(session, token))


@bp.get("/users/current")
def current_user() -> Response:
    caller = current_caller()
    if caller.actor.user is None:
        raise Problem("forbidden")
    return jsonify(presenters.user(caller.actor.user))


@bp.get("/projects")
def list_projects() -> Response:
    current_caller().require("project.read")
    return jsonify([presenters.project(p) for p in queries.projects()])


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int) -> Response:
    current_caller().require("project.read")
    project = queries.project(project_id)
    if project is None:
        raise Problem("not_found", what=f"project {project_id}")
    return jsonify(presenters.project(project))
