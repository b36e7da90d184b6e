"""The OpenAPI document the server serves at /v1/openapi.json, built from its own routes.

Every JSON and OpenRosa route is listed with its methods, path parameters and the one problem shape;
the first line of each view's docstring is its summary. Nothing is listed by hand, so the document
cannot fall behind the routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

from server.http import request_bodies
from server.http.converters import ID_MAX

F = TypeVar("F", bound=Callable[..., Any])
_PARAM = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")
# ids are 32-bit columns; a larger number is routed nowhere (404), see server/http/converters.py
_TYPES = {"int": {"type": "integer", "minimum": 0, "maximum": ID_MAX}, "float": {"type": "number"}}
PROBLEM = {"type": "object", "required": ["message", "code"],
           "properties": {"message": {"type": "string", "description": "Vietnamese unless English was asked for"},
                          "messageEn": {"type": "string"}, "code": {"type": "number", "example": 409.1},
                          "details": {"type": ["object", "null"]}}}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [{"name": m.group("name"), "in": "path", "required": True,
                   "schema": _TYPES.get(m.group("converter") or "", {"type": "string"})}
                  for m in _PARAM.finditer(rule)]
    return _PARAM.sub(lambda m: "{" + m.group("name") + "}", rule), parameters


def openrosa_problems(view: F) -> F:
    """Mark a view outside the OpenRosa blueprint that answers its problems as OpenRosa XML (it sets
    ``g.protocol = "openrosa"``), so that the document says so."""
    view.openrosa_problems = True  # type: ignore[attr-defined]
    return view


def _problem_content(endpoint: str, view: Any) -> dict[str, Any]:
    """Device routes answer problems as an OpenRosaResponse (what Collect shows), the others as JSON."""
    if endpoint.startswith("openrosa.") or getattr(view, "openrosa_problems", False):
        return {"text/xml": {"schema": {"type": "string", "description": "OpenRosaResponse with the message"}}}
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def build(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/v1/") or rule.endpoint == "static":
            continue
        path, parameters = _path(rule.rule)
        view = app.view_functions[rule.endpoint]
        summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            if method == "HEAD" and "GET" in (rule.methods or set()):
                continue  # Flask adds HEAD to every GET; only the submission preflight is a HEAD of its own
            paths.setdefault(path, {})[method.lower()] = {
                # device routes exist twice: with the app-user key in the path and without
                "operationId": f"{rule.endpoint}.{method.lower()}" + (".key" if "{token}" in path else ""),
                "summary": summary,
                "tags": [rule.endpoint.split(".")[0]], "parameters": parameters,
                "responses": {"default": {"description": "problem", "content": _problem_content(rule.endpoint, view)},
                              "2XX": {"description": "success"}}}
            body = request_bodies.for_view(rule.endpoint, view) if method in ("POST", "PUT", "PATCH") else None
            if body is not None:  # declared from the view's marshmallow schema (server/http/request_bodies.py)
                paths[path][method.lower()]["requestBody"] = body
    return {"openapi": "3.1.0",
            "info": {"title": "Rà soát hộ nghèo — field-survey server", "version": "1",
                     "description": "ODK Central-compatible device and REST surface plus the poverty-review "
                                    "procedure. Errors use one problem shape with Central's decimal codes."},
            "components": {"schemas": {"Problem": PROBLEM},
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                               "basic": {"type": "http", "scheme": "basic"}}},
            "security": [{"bearer": []}, {"basic": []}],
            "paths": paths}
