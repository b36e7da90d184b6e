"""What every fuzz test checks after a hostile request: no 5xx, the documented error shape, nothing changed."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from lxml import etree
from sqlalchemy import text

from server.extensions import db

OPENROSA_RESPONSE = "{http://openrosa.org/http/response}OpenRosaResponse"
# Tables a refused request may legitimately write: failed password logins are counted to throttle them.
MAY_CHANGE_ON_REFUSAL = ("login",)


def row_counts(app: Flask) -> dict[str, int]:
    """Every table's row count, in one query (so that a fuzz example costs one round trip)."""
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables
                  if not any(word in t.name for word in MAY_CHANGE_ON_REFUSAL)]
        sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{name}") AS "{name}"' for name in tables)
        row = db.session.execute(text(sql)).mappings().one()
        db.session.remove()
        return dict(row)


def _type_ok(value: Any, kind: str | list[str]) -> bool:
    kinds = [kind] if isinstance(kind, str) else kind
    checks = {"object": lambda v: isinstance(v, dict), "string": lambda v: isinstance(v, str),
              "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "array": lambda v: isinstance(v, list), "null": lambda v: v is None,
              "boolean": lambda v: isinstance(v, bool)}
    return any(checks[k](value) for k in kinds)


def schema_errors(value: Any, schema: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """The JSON Schema subset the served document uses ($ref, type, required, properties)."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [f"{value!r} is not {schema['type']}"]
    errors = []
    if isinstance(value, dict):
        errors += [f"missing {name}" for name in schema.get("required", ()) if name not in value]
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                errors += [f"{name}: {e}" for e in schema_errors(value[name], sub, components)]
    return errors


def assert_problem(response: Any, content_type: str = "application/json",
                   schema: dict[str, Any] | None = None, components: dict[str, Any] | None = None) -> str:
    """A refusal in the protocol's shape with a message a person can read; returns the message."""
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:500])
    assert response.mimetype == content_type, (response.mimetype, response.data[:200])
    if content_type == "application/json":
        body = response.get_json()
        if schema is not None:
            assert not schema_errors(body, schema, components or {}), (schema_errors(body, schema, components or {}),
                                                                       body)
        assert int(body["code"]) == response.status_code, body
        message = body["message"]
    else:
        root = etree.fromstring(response.data)
        assert root.tag == OPENROSA_RESPONSE, response.data[:200]
        message = "".join(root.itertext())
    assert message.strip() and "Traceback" not in message, message
    return message


@contextmanager
def abandoned_uploads_expected() -> Iterator[None]:
    """Werkzeug (3.1) drops the spooled temporary file of a part when a multipart body breaks off mid-way
    (truncated, a file name that is not UTF-8); reference counting closes it at once, with a
    ResourceWarning (an error under this suite's filterwarnings). Expected there, and only that warning
    is let pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Unclosed file <tempfile\.SpooledTemporaryFile",
                                category=ResourceWarning)
        yield
