"""JSON bodies of /v1/reviews, read with marshmallow (and described from the same classes in /v1/openapi.json).

Types are checked here; what the procedure requires of each action (which inputs, dates not in the
future, votes not above the attendees…) is judged by the review machine, so its bilingual reasons reach
the caller unchanged.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from server.collect.schemas import Text
from server.review import machine


class _In(Schema):
    class Meta:
        unknown = EXCLUDE  # as the Central-compatible API: unknown keys are ignored


class MeetingIn(_In):
    """The village meeting record (meeting.py, MT002): the minutes by uploaded file id, by reference, or both."""

    held_on = fields.Date(required=True, metadata={"description": "YYYY-MM-DD, not in the future"})
    chair = Text(required=True, validate=validate.Length(min=1, max=200))
    attendees = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    minutes_ref = Text(load_default="", validate=validate.Length(max=200),
                       metadata={"description": "the minutes' number; needed when no minutes_id is given"})
    minutes_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1),
                                metadata={"description": "id returned by POST /v1/reviews/minutes"})


def _requirements() -> list[dict[str, Any]]:
    """What each action needs, from the machine's own table (RM003), as JSON Schema conditions."""
    return [{"if": {"properties": {"action": {"const": str(action)}}, "required": ["action"]},
             "then": {"required": list(spec.requires)}}
            for action, spec in machine.ACTIONS.items() if spec.requires]


class ActionIn(_In):
    """One action on one household's review (server/review/machine.py)."""

    action = fields.String(required=True, validate=validate.OneOf([str(a) for a in machine.Action]))
    expectedState = fields.String(load_default=None, allow_none=True,
                                  validate=validate.OneOf([str(s) for s in machine.State]),
                                  metadata={"description": "the state the caller saw; a different one is a 409"})
    reason = Text(load_default=None, validate=validate.Length(max=2000))
    decision_number = Text(load_default=None, validate=validate.Length(max=100))
    decision_date = fields.Date(load_default=None)
    meeting = fields.Nested(MeetingIn, load_default=None)
    votes_in_favour = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0))
    # The automatic check's inputs, for an administrator re-running it by hand.
    classified = fields.Boolean(load_default=None)
    open_duplicates = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0))
    gps_flags = fields.List(fields.String(validate=validate.OneOf(list(machine.GPS_FLAG_POLICY))), load_default=None)

    json_schema_extra = {"allOf": _requirements()}

    @staticmethod
    def payload(loaded: dict[str, Any]) -> dict[str, Any]:
        """The action's inputs: every given field but the envelope (absent ones are left out)."""
        return {k: v for k, v in loaded.items() if k not in ("action", "expectedState") and v is not None}
