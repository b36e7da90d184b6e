"""The OpenAPI document the server serves at /v1/openapi.json, built from its own routes.

Every JSON and OpenRosa route is listed with its methods, path parameters and the one problem shape;
the first line of each view's docstring is its summary. Nothing is listed by hand, so the document
cannot fall behind the routes.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

_PARAM = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")
_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}
PROBLEM = {"type": "object", "required": ["message", "code"],
           "properties": {"message": {"type": "string", "description": "Vietnamese unless English was asked for"},
                          "messageEn": {"type": "string"}, "code": {"type": "number", "example": 409.1},
                          "details": {"type": ["object", "null"]}}}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [{"name": m.group("name"), "in": "path", "required": True,
                   "schema": _TYPES.get(m.group("converter") or "", {"type": "string"})}
                  for m in _PARAM.finditer(rule)]
    return _PARAM.sub(lambda m: "{" + m.group("name") + "}", rule), parameters


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
                "responses": {"default": {"description": "problem", "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Problem"}}}},
                              "2XX": {"description": "success"}}}
    return {"openapi": "3.1.0",
            "info": {"title": "Rà soát hộ nghèo — field-survey server", "version": "1",
                     "description": "ODK Central-compatible device and REST surface plus the poverty-review "
                                    "procedure. Errors use one problem shape with Central's decimal codes."},
            "components": {"schemas": {"Problem": PROBLEM},
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                               "basic": {"type": "http", "scheme": "basic"}}},
            "security": [{"bearer": []}, {"basic": []}],
            "paths": paths}
