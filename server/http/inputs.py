"""Reading the small inputs every JSON endpoint shares: a JSON object body, a boolean query flag."""

from __future__ import annotations

from flask import request

from server.errors import Problem


def json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem("invalid_input", detail="cần JSON / expected a JSON object")
    return body


def query_flag(name: str) -> bool:
    """Query booleans in any case: pyodk sends Python's `True`."""
    return request.args.get(name, "").strip().lower() in ("true", "1", "yes")
