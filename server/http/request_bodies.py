"""The request bodies of the write endpoints, for /v1/openapi.json, described from the marshmallow schemas the
views load them with (so a field is declared once: in the schema).

A view declares its body with ``@request_body(SchemaClass)`` (or a ready JSON Schema for the few bodies read
without marshmallow); views that cannot carry the decorator are listed in ``BODIES`` by endpoint. A schema
class may add JSON Schema keywords the fields cannot express (conditions between fields) in a class
attribute ``json_schema_extra``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from marshmallow import Schema, fields, validate

from server.collect import schemas as central
from server.households.schemas import DecisionIn
from server.review.minutes import MAX_MINUTES_BYTES, MINUTES_TYPES
from server.review.schemas import ActionIn

JSON = "application/json"
MULTIPART = "multipart/form-data"
Body = type[Schema] | Mapping[str, Any]  # a schema class (JSON body) or {media type: JSON Schema}
F = TypeVar("F", bound=Callable[..., Any])

# Read without marshmallow: POST /v1/sessions takes Central's login body as is.
SESSION = {"type": "object", "required": ["email", "password"],
           "properties": {"email": {"type": "string", "format": "email"}, "password": {"type": "string"}}}
MINUTES_UPLOAD = {MULTIPART: {"schema": {
    "type": "object", "required": ["file", "village"],
    "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                            "description": f"{', '.join(MINUTES_TYPES)} (recognised by content, not by name); "
                                           f"at most {MAX_MINUTES_BYTES} bytes"},
                   "village": {"type": "string", "description": "the village code of the meeting"}}}}}

BODIES: Mapping[str, Body] = MappingProxyType({
    "central.create_session": {JSON: {"schema": SESSION}},
    "central.create_project": central.ProjectIn,
    "central.create_app_user": central.AppUserIn,
    "central.review_submission": central.ReviewIn,
    "central.create_comment": central.CommentIn,
    "reviews.act": ActionIn,
    "reviews.upload_minutes": MINUTES_UPLOAD,
    "households.decide": DecisionIn,
})


def request_body(body: Body) -> Callable[[F], F]:
    """Declare a view's request body (a marshmallow schema class, or {media type: {"schema": …}})."""

    def mark(view: F) -> F:
        view.request_body = body  # type: ignore[attr-defined]
        return view

    return mark


def for_view(endpoint: str, view: Callable[..., Any]) -> dict[str, Any] | None:
    """The OpenAPI requestBody object of a view, or None when it declares none."""
    body = getattr(view, "request_body", None) or BODIES.get(endpoint)
    if body is None:
        return None
    if isinstance(body, type) and issubclass(body, Schema):
        body = {JSON: {"schema": json_schema(body())}}
    return {"required": True, "content": dict(body)}


def json_schema(schema: Schema) -> dict[str, Any]:
    """A marshmallow schema (its load side) as a JSON Schema (2020-12, what OpenAPI 3.1 uses)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        properties[key] = _field(field)
        if field.required:
            required.append(key)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    if type(schema).__doc__:
        result["description"] = " ".join(type(schema).__doc__.split())
    result.update(getattr(schema, "json_schema_extra", None) or {})
    return result


def _field(field: fields.Field) -> dict[str, Any]:
    if isinstance(field, fields.Nested):
        nested = field.schema
        result = json_schema(nested)
    elif isinstance(field, fields.List):
        result = {"type": "array", "items": _field(field.inner)}
    else:
        result = dict(_scalar(field))
    for validator in field.validators:
        result.update(_constraint(validator, result.get("type")))
    if field.allow_none:
        result = {"anyOf": [result, {"type": "null"}]}
    description = field.metadata.get("description")
    if description:
        result["description"] = description
    return result


def _scalar(field: fields.Field) -> Mapping[str, Any]:
    # Most specific first: Date is a kind of DateTime, Integer a kind of Number, Text a kind of String.
    for kind, schema in ((fields.Boolean, {"type": "boolean"}), (fields.Integer, {"type": "integer"}),
                         (fields.Number, {"type": "number"}), (fields.Date, {"type": "string", "format": "date"}),
                         (fields.DateTime, {"type": "string", "format": "date-time"}),
                         (fields.Email, {"type": "string", "format": "email"}), (fields.String, {"type": "string"}),
                         (fields.Dict, {"type": "object"})):
        if isinstance(field, kind):
            return schema
    return {}  # fields.Raw: any JSON value


def _constraint(validator: Any, kind: str | None) -> dict[str, Any]:
    if isinstance(validator, validate.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if kind == "array" else ("minLength", "maxLength")
        return {key: value for key, value in ((low, validator.min), (high, validator.max)) if value is not None}
    if isinstance(validator, validate.Range):
        bounds = {}
        if validator.min is not None:
            bounds["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            bounds["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
        return bounds
    return {}
