"""Valid inputs for every review action, and a helper that applies one step."""

from __future__ import annotations

from datetime import date
from typing import Any

from server.review.machine import ACTIONS, Action, Role, State, Transition, apply

TODAY = date(2025, 11, 20)
MEETING = {"held_on": "2025-11-15", "chair": "Nguyễn Văn Hùng", "attendees": 10,
           "minutes_ref": "bien-ban-hop-thon-dong-1.jpg"}
CLEAN = {"classified": True, "open_duplicates": 0, "gps_flags": []}

VALID_PAYLOAD: dict[Action, dict[str, Any]] = {
    Action.CHECK: CLEAN,
    Action.RESUBMITTED: CLEAN,
    Action.SEND_TO_VILLAGE: {},
    Action.RETURN_TO_ENUMERATOR: {"reason": "Thiếu ảnh nhà, diện tích nhà ghi sai."},
    Action.REQUEST_RESURVEY: {"reason": "Thu nhập khai thấp hơn thực tế."},
    Action.RECORD_MEETING_VOTE: {"meeting": MEETING, "votes_in_favour": 7},
    Action.COMMUNE_CONFIRM: {},
    Action.COMMUNE_RETURN: {"reason": "Biên bản họp thiếu chữ ký."},
    Action.OPEN_POSTING: {},
    Action.CLOSE_POSTING: {},
    Action.REGISTER_COMPLAINT: {"reason": "Hàng xóm cho rằng hộ có ô tô."},
    Action.RECHECK_DONE: {"reason": "Phúc tra: ô tô của người con đã tách hộ."},
    Action.DECIDE: {"decision_number": "125/QĐ-UBND", "decision_date": "2025-11-18"},
    Action.EXPORT: {},
    Action.REOPEN: {"reason": "Sai sót trong danh sách kèm quyết định."},
}

# The first role, in this order, that may do an action: humans before the system, admin last.
_PREFERENCE = (Role.VERIFIER, Role.COMMUNE, Role.PROVINCE, Role.SUPERVISOR, Role.SYSTEM, Role.ADMIN)


def role_for(action: Action) -> Role:
    return next(role for role in _PREFERENCE if role in ACTIONS[action].roles)


def step(state: State, action: Action, role: str | None = None, **overrides: Any) -> Transition:
    """Apply ``action`` with a valid payload (fields overridden by keyword) as someone allowed to."""
    payload = {**VALID_PAYLOAD[action], **overrides}
    return apply(state, action, role or role_for(action), payload, expected_state=state, today=TODAY)
