"""Refusals shared by every route, before any view runs.

NUL (U+0000) in a query parameter or anywhere in a JSON body is refused (400): PostgreSQL text and JSON
cannot hold it (it was a 500 wherever such a value reached a query), and no legitimate value has one.
Path segments never route with it (server/http/converters.py). The problem is written in the protocol
the route documents (OpenRosa XML for device routes), as the view itself would.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, request

from server.errors import Problem

NUL = "\x00"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def refuse_nul() -> None:
    in_query = any(NUL in key or NUL in value for key, value in request.args.items(multi=True))
    if not in_query and not (request.is_json and _holds_nul(request.get_json(silent=True))):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if (request.endpoint or "").startswith("openrosa.") or getattr(view, "openrosa_problems", False):
        g.protocol = "openrosa"
    raise Problem("invalid_input", detail="ký tự NUL (U+0000) không được chấp nhận / the NUL character is not accepted")


def register(app: Flask) -> None:
    app.before_request(refuse_nul)
