"""JSON bodies of /v1/duplicates, read with marshmallow (and described from the same classes in /v1/openapi.json)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

DECISIONS = ("same", "not_same")


class DecisionIn(Schema):
    """A person's decision on a possible duplicate: the same household, or different households."""

    class Meta:
        unknown = EXCLUDE

    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
