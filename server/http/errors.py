"""The two error writers: JSON (ODK Central's shape) and OpenRosa XML. Chosen per request."""

from __future__ import annotations

import logging

import psycopg
from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.errors import Problem
from server.i18n import request_language
from sync import responses

log = logging.getLogger(__name__)
OPENROSA_HEADERS = {"X-OpenRosa-Version": "1.0"}


def problem_response(problem: Problem) -> Response:
    lang = request_language()
    if g.get("protocol") == "openrosa":
        response = Response(responses.error(problem.message(lang)), status=problem.status,
                            content_type="text/xml; charset=utf-8", headers=OPENROSA_HEADERS)
        return response
    body = {"message": problem.message(lang), "code": problem.code, "details": problem.details or None}
    if lang == "vi":
        body["messageEn"] = problem.message("en")
    response = jsonify(body)
    response.status_code = problem.status
    return response


def register(app: Flask) -> None:
    app.register_error_handler(Problem, problem_response)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_: RequestEntityTooLarge) -> Response:
        return problem_response(Problem("too_large", limit=app.config["MAX_CONTENT_LENGTH"]))

    @app.errorhandler(DBAPIError)
    def database_unreachable(error: DBAPIError) -> Response | DBAPIError:
        """A lost database connection (a restart, a failover) is a 503 the device retries, in its protocol;
        any other database error stays a 500 with its trace in the log."""
        if not _unreachable(error):
            raise error
        log.warning("database unreachable: %s", error.orig)
        response = problem_response(Problem("unavailable"))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 404:
            return problem_response(Problem("not_found", what=request.path))
        if error.code == 405:
            return problem_response(Problem("invalid_input", detail=f"phương thức / method {request.method}"))
        if error.code and error.code < 500:
            return problem_response(Problem("invalid_input", detail=error.description or str(error.code)))
        return error



def _unreachable(error: DBAPIError) -> bool:
    # psycopg reports a server that went away (or never answered) as OperationalError without a SQLSTATE.
    return error.connection_invalidated or (isinstance(error.orig, psycopg.OperationalError)
                                            and error.orig.sqlstate is None)
