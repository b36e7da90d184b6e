"""JSON bodies of the ODK Central REST API, read with marshmallow. Unknown keys are ignored, as Central does."""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from server.errors import Problem


class Text(fields.String):
    """A trimmed, NFC-normalised string: every stored string is NFC (design.md)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs).strip())


class _In(Schema):
    class Meta:
        unknown = EXCLUDE


class ProjectIn(_In):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default=None, allow_none=True)


class AppUserIn(_In):
    displayName = Text(required=True, validate=validate.Length(min=1, max=200))
    # Not in Central: the units whose households this device collects (village or commune codes).
    units = fields.List(Text(), load_default=list)


class ReviewIn(_In):
    # Any string: the service refuses unknown states with the catalogue's bad_review_state.
    reviewState = fields.String(required=True, allow_none=True)


class CommentIn(_In):
    body = Text(required=True, validate=validate.Length(min=1, max=10_000))


def load(schema: Schema, body: Any) -> dict[str, Any]:
    """The validated body, or 400 naming the fields at fault."""
    if not isinstance(body, dict):
        raise Problem("invalid_input", detail="cần JSON / expected a JSON object")
    try:
        return schema.load(body)
    except ValidationError as error:
        detail = "; ".join(f"{name}: {messages}" for name, messages in sorted(error.normalized_messages().items()))
        raise Problem("invalid_input", detail=detail) from error
