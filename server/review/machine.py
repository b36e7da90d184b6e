"""The review of one household in one campaign, as a state machine (pure: no Flask, no database).

The procedure (Decision 24/2021/QĐ-TTg; see domain.md) becomes states, actions and one transition
table. The service layer stores the state, persists each ``Transition.record`` with the actor and the
time (who, when), and mirrors ``Transition.review_state`` into the ODK Central-compatible reviewState.

Rules (the tests cite them):
RM001 Only the (state, action) pairs in ``TRANSITIONS`` are legal; any other raises ``IllegalTransition``.
RM002 Each action names the roles that may do it (``ACTIONS[action].roles``); anyone else gets
      ``NotAllowed``. The enumerator may do nothing: their phone's new versions arrive as the ``system``
      action ``resubmitted``, so an enumerator can never approve, confirm or decide anything.
RM003 Each action names the inputs it requires; a missing or blank one raises ``MissingInput`` (naming
      the field), an unusable one ``InvalidInput`` (with every reason).
RM004 ``expected_state`` is the state the actor saw. If it differs from the current state someone else
      acted first: ``StaleState`` with the conflict message, checked before anything else. The service
      must also write the new state with a compare-and-set (``UPDATE … WHERE state = :from``) and treat
      zero rows as ``StaleState``, so two concurrent decisions never both apply.
RM005 ``check`` runs the automatic checks (``automatic_checks``): passed → ``checked``, otherwise
      ``check_failed`` with the reasons. ``check_failed`` is not in the procedure's text; it is where a
      submission waits while the server cannot send it on (not yet classified, an open duplicate, a
      blocking GPS flag), without going back to the phone for problems the office resolves.
RM006 ``resubmitted`` (a phone edit, meta/deprecatedID) carries the automatic-check inputs of the new
      version. Once the village has seen the household, an edit that passes re-enters at
      ``village_review`` (where the diff is shown); before that it goes to ``checked``. An edit that fails
      the checks stops at ``check_failed``, so returning a household to the phone never bypasses them.
      A decided or exported household takes no edit: the commune must re-open it first (RM010).
RM007 ``record_meeting_vote`` needs the meeting record and the votes in favour: ≥ 50 % of the
      attendees → ``village_agreed``, otherwise automatically ``resurvey`` (meeting.py, MT001).
RM008 ``close_posting`` and ``recheck_done`` both lead to ``awaiting_decision`` (not named in the
      procedure's text): a decision may be recorded only after the posting period, or after the
      re-check of a complaint, so that no complaint can arrive after the decision.
RM009 ``decide`` needs a decision number and a decision date not in the future.
RM010 ``decided`` is left only by ``export`` or by ``reopen``, which only the commune (or admin) may do
      and only with a reason; the household then goes back to village review.
RM011 reviewState mirror: returned, re-survey (asked for or after a failed vote) and re-opened →
      ``hasIssues``; a phone edit → ``edited``; the commune sending a village result back →
      ``rejected``; decided → ``approved``; anything else leaves it unchanged (``None``).
RM012 Bulk: an action may be applied to many households at once only if ``ACTIONS[action].bulk``;
      ``apply_bulk`` applies all or none (any refusal raises ``BulkRefused`` with every failure).
      Actions that need a reason of their own per household are never bulk.
RM013 Scope: a verifier acts only on households of their own villages; other roles on households of
      the villages in their scope, or of their communes when the household has no village
      (``ensure_in_scope``; scope ``None`` = province-wide).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from server.review.meeting import InvalidMeeting, MeetingRecord, is_agreed, read_meeting, vote_outcome, vote_problems
from server.standards.text import Reason, Text, reason
from server.timeutil import LOCAL_ZONE


class State(StrEnum):
    SUBMITTED = "submitted"
    CHECK_FAILED = "check_failed"
    CHECKED = "checked"
    VILLAGE_REVIEW = "village_review"
    RETURNED = "returned"
    RESURVEY = "resurvey"
    VILLAGE_AGREED = "village_agreed"
    COMMUNE_CONFIRMED = "commune_confirmed"
    POSTED = "posted"
    COMPLAINT = "complaint"
    AWAITING_DECISION = "awaiting_decision"
    DECIDED = "decided"
    EXPORTED = "exported"

    @property
    def label(self) -> Text:
        return STATE_LABELS[self]


STATE_LABELS: Mapping[State, Text] = MappingProxyType({
    State.SUBMITTED: Text("Đã nhận phiếu", "Submitted"),
    State.CHECK_FAILED: Text("Chưa qua kiểm tra tự động", "Stopped by the automatic checks"),
    State.CHECKED: Text("Đã qua kiểm tra tự động", "Passed the automatic checks"),
    State.VILLAGE_REVIEW: Text("Chờ thôn rà soát", "In village review"),
    State.RETURNED: Text("Đã trả lại rà soát viên", "Returned to the enumerator"),
    State.RESURVEY: Text("Cần rà soát lại", "To be re-surveyed"),
    State.VILLAGE_AGREED: Text("Họp dân đã thống nhất", "Agreed at the village meeting"),
    State.COMMUNE_CONFIRMED: Text("Xã đã xác nhận", "Confirmed by the commune"),
    State.POSTED: Text("Đang niêm yết công khai", "Publicly posted"),
    State.COMPLAINT: Text("Có khiếu nại, đang phúc tra", "Complaint, being re-checked"),
    State.AWAITING_DECISION: Text("Chờ xã ra quyết định", "Awaiting the commune decision"),
    State.DECIDED: Text("Đã có quyết định công nhận", "Decided by the commune"),
    State.EXPORTED: Text("Đã xuất lên tỉnh", "Exported to the province"),
})


class Action(StrEnum):
    CHECK = "check"
    RESUBMITTED = "resubmitted"
    SEND_TO_VILLAGE = "send_to_village"
    RETURN_TO_ENUMERATOR = "return_to_enumerator"
    REQUEST_RESURVEY = "request_resurvey"
    RECORD_MEETING_VOTE = "record_meeting_vote"
    COMMUNE_CONFIRM = "commune_confirm"
    COMMUNE_RETURN = "commune_return"
    OPEN_POSTING = "open_posting"
    CLOSE_POSTING = "close_posting"
    REGISTER_COMPLAINT = "register_complaint"
    RECHECK_DONE = "recheck_done"
    DECIDE = "decide"
    EXPORT = "export"
    REOPEN = "reopen"

    @property
    def label(self) -> Text:
        return ACTIONS[self].label


class Role(StrEnum):
    ADMIN = "admin"
    PROVINCE = "province"
    SUPERVISOR = "supervisor"
    COMMUNE = "commune"
    VERIFIER = "verifier"
    ENUMERATOR = "enumerator"
    SYSTEM = "system"


class ReviewState(StrEnum):
    """ODK Central's reviewState values that the machine sets (it never sets null, "received")."""

    HAS_ISSUES = "hasIssues"
    EDITED = "edited"
    APPROVED = "approved"
    REJECTED = "rejected"


class Target(NamedTuple):
    """Where an action leads; ``if_failed`` for actions whose outcome is decided by facts (checks, votes)."""

    to: State
    if_failed: State | None = None


@dataclass(frozen=True)
class ActionSpec:
    label: Text
    roles: frozenset[Role]
    requires: tuple[str, ...]
    bulk: bool
    review_state: ReviewState | None
    review_state_if_failed: ReviewState | None = None


_R = Role
_OFFICE = frozenset({_R.COMMUNE, _R.ADMIN})
_CHECK_INPUTS = ("classified", "open_duplicates", "gps_flags")

ACTIONS: Mapping[Action, ActionSpec] = MappingProxyType({
    Action.CHECK: ActionSpec(Text("Kiểm tra tự động", "Run the automatic checks"),
                             frozenset({_R.SYSTEM, _R.ADMIN}), _CHECK_INPUTS, True, None),
    Action.RESUBMITTED: ActionSpec(Text("Nhận bản sửa từ điện thoại", "New version from the phone"),
                                   frozenset({_R.SYSTEM}), _CHECK_INPUTS, False,
                                   ReviewState.EDITED, ReviewState.EDITED),
    Action.SEND_TO_VILLAGE: ActionSpec(Text("Chuyển thôn rà soát", "Send to village review"),
                                       frozenset({_R.SYSTEM}) | _OFFICE, (), True, None),
    Action.RETURN_TO_ENUMERATOR: ActionSpec(Text("Trả lại rà soát viên", "Return to the enumerator"),
                                            frozenset({_R.VERIFIER, _R.SUPERVISOR}) | _OFFICE, ("reason",),
                                            False, ReviewState.HAS_ISSUES),
    Action.REQUEST_RESURVEY: ActionSpec(Text("Yêu cầu rà soát lại", "Request a re-survey"),
                                        frozenset({_R.VERIFIER}) | _OFFICE, ("reason",), False,
                                        ReviewState.HAS_ISSUES),
    # Bulk: one meeting decides many households; the votes come per household.
    Action.RECORD_MEETING_VOTE: ActionSpec(Text("Ghi kết quả họp dân", "Record the village meeting vote"),
                                           frozenset({_R.VERIFIER}) | _OFFICE, ("meeting", "votes_in_favour"),
                                           True, None, ReviewState.HAS_ISSUES),
    Action.COMMUNE_CONFIRM: ActionSpec(Text("Xã xác nhận", "Commune confirms"), _OFFICE, (), True, None),
    Action.COMMUNE_RETURN: ActionSpec(Text("Xã trả lại thôn", "Commune returns to the village"), _OFFICE,
                                      ("reason",), False, ReviewState.REJECTED),
    Action.OPEN_POSTING: ActionSpec(Text("Niêm yết công khai", "Open the public posting"), _OFFICE, (), True,
                                    None),
    # The system closes postings when the posting period set by the commune ends.
    Action.CLOSE_POSTING: ActionSpec(Text("Kết thúc niêm yết", "Close the public posting"),
                                     frozenset({_R.SYSTEM}) | _OFFICE, (), True, None),
    Action.REGISTER_COMPLAINT: ActionSpec(Text("Ghi nhận khiếu nại", "Register a complaint"), _OFFICE,
                                          ("reason",), False, None),
    Action.RECHECK_DONE: ActionSpec(Text("Hoàn thành phúc tra", "Re-check done"), _OFFICE, ("reason",), False,
                                    None),
    # Bulk: one decision of the commune chairman lists many households.
    Action.DECIDE: ActionSpec(Text("Ra quyết định công nhận", "Record the commune decision"), _OFFICE,
                              ("decision_number", "decision_date"), True, ReviewState.APPROVED),
    Action.EXPORT: ActionSpec(Text("Xuất lên tỉnh", "Export to the province"),
                              frozenset({_R.SYSTEM, _R.PROVINCE, _R.ADMIN}), (), True, None),
    Action.REOPEN: ActionSpec(Text("Mở lại hồ sơ", "Re-open"), _OFFICE, ("reason",), False,
                              ReviewState.HAS_ISSUES),
})

_S = State
# States in which the village has already seen the household (RM006).
_SEEN_BY_VILLAGE = (_S.VILLAGE_REVIEW, _S.RETURNED, _S.RESURVEY, _S.VILLAGE_AGREED, _S.COMMUNE_CONFIRMED,
                    _S.POSTED, _S.COMPLAINT, _S.AWAITING_DECISION)

TRANSITIONS: Mapping[tuple[State, Action], Target] = MappingProxyType({
    (_S.SUBMITTED, Action.CHECK): Target(_S.CHECKED, _S.CHECK_FAILED),
    (_S.CHECK_FAILED, Action.CHECK): Target(_S.CHECKED, _S.CHECK_FAILED),
    (_S.CHECK_FAILED, Action.RETURN_TO_ENUMERATOR): Target(_S.RETURNED),
    (_S.CHECKED, Action.SEND_TO_VILLAGE): Target(_S.VILLAGE_REVIEW),
    (_S.VILLAGE_REVIEW, Action.RETURN_TO_ENUMERATOR): Target(_S.RETURNED),
    (_S.VILLAGE_REVIEW, Action.REQUEST_RESURVEY): Target(_S.RESURVEY),
    (_S.VILLAGE_REVIEW, Action.RECORD_MEETING_VOTE): Target(_S.VILLAGE_AGREED, _S.RESURVEY),
    (_S.VILLAGE_AGREED, Action.COMMUNE_CONFIRM): Target(_S.COMMUNE_CONFIRMED),
    (_S.VILLAGE_AGREED, Action.COMMUNE_RETURN): Target(_S.VILLAGE_REVIEW),
    (_S.COMMUNE_CONFIRMED, Action.COMMUNE_RETURN): Target(_S.VILLAGE_REVIEW),
    (_S.COMMUNE_CONFIRMED, Action.OPEN_POSTING): Target(_S.POSTED),
    (_S.POSTED, Action.CLOSE_POSTING): Target(_S.AWAITING_DECISION),
    (_S.POSTED, Action.REGISTER_COMPLAINT): Target(_S.COMPLAINT),
    (_S.COMPLAINT, Action.RECHECK_DONE): Target(_S.AWAITING_DECISION),
    (_S.COMPLAINT, Action.REQUEST_RESURVEY): Target(_S.RESURVEY),
    (_S.AWAITING_DECISION, Action.DECIDE): Target(_S.DECIDED),
    (_S.DECIDED, Action.EXPORT): Target(_S.EXPORTED),
    (_S.DECIDED, Action.REOPEN): Target(_S.VILLAGE_REVIEW),
    **{(state, Action.RESUBMITTED): Target(_S.CHECKED, _S.CHECK_FAILED)
       for state in (_S.SUBMITTED, _S.CHECK_FAILED, _S.CHECKED)},
    **{(state, Action.RESUBMITTED): Target(_S.VILLAGE_REVIEW, _S.CHECK_FAILED) for state in _SEEN_BY_VILLAGE},
})


# ---- automatic checks (RM005) -------------------------------------------------------------------

# Blocking: the location cannot stand as evidence of a visit in this province; only a new GPS reading
# from the phone fixes it. Warning: the household is placed, or the village (who know where everyone
# lives) can judge; boundaries supplied by the province are approximate, so a point just outside the
# declared village, on a boundary or placed only by a commune centroid must not stop the review.
GPS_FLAG_POLICY: Mapping[str, bool] = MappingProxyType({
    "no_gps": True,
    "outside_province": True,
    "poor_accuracy": False,
    "outside_declared_village": False,
    "on_boundary": False,
    "commune_from_centroid": False,
    "unknown_declared_village": False,
})

_GPS_TEXTS: Mapping[str, Text] = MappingProxyType({
    "no_gps": Text("Không có toạ độ GPS.", "No GPS location."),
    "outside_province": Text("Toạ độ GPS nằm ngoài tỉnh.", "The GPS location is outside the province."),
    "poor_accuracy": Text("Toạ độ GPS có độ chính xác thấp.", "The GPS location is imprecise."),
    "outside_declared_village": Text("Toạ độ GPS không nằm trong thôn đã khai.",
                                     "The GPS location is not in the declared village."),
    "on_boundary": Text("Toạ độ GPS nằm sát ranh giới thôn.", "The GPS location is on a village boundary."),
    "commune_from_centroid": Text("Xã chỉ được xác định gần đúng theo tâm xã.",
                                  "The commune was only estimated from commune centres."),
    "unknown_declared_village": Text("Thôn đã khai chưa có ranh giới trong hệ thống.",
                                     "The declared village has no boundary in the system."),
})


@dataclass(frozen=True)
class CheckResult:
    blocking: tuple[Reason, ...]
    warnings: tuple[Reason, ...]

    @property
    def passed(self) -> bool:
        return not self.blocking


def automatic_checks(classified: bool, open_duplicates: int, gps_flags: Sequence[str]) -> CheckResult:
    """Whether a submission may go on to village review (RM005); unknown GPS flags raise ValueError."""
    if open_duplicates < 0:
        raise ValueError(f"open_duplicates must be ≥ 0, got {open_duplicates}")
    unknown = sorted(set(gps_flags) - GPS_FLAG_POLICY.keys())
    if unknown:
        raise ValueError(f"unknown GPS flags {unknown}; known: {sorted(GPS_FLAG_POLICY)}")
    blocking: list[Reason] = []
    if not classified:
        blocking.append(reason("check.not_classified", "Hộ chưa được phân loại theo chuẩn nghèo.",
                               "The household has not been classified against the poverty standard."))
    if open_duplicates:
        blocking.append(reason("check.open_duplicates",
                               f"Còn {open_duplicates} hồ sơ nghi trùng chưa xử lý.",
                               f"{open_duplicates} suspected duplicate(s) not resolved yet."))
    warnings: list[Reason] = []
    for flag in dict.fromkeys(gps_flags):
        found = Reason(f"gps.{flag}", _GPS_TEXTS[flag])
        (blocking if GPS_FLAG_POLICY[flag] else warnings).append(found)
    return CheckResult(tuple(blocking), tuple(warnings))


# ---- errors -------------------------------------------------------------------------------------

class ReviewError(Exception):
    """A refused action: a stable ``code`` for programs and a bilingual ``message`` for people."""

    code = "review.error"

    def __init__(self, message: Text) -> None:
        super().__init__(f"{message.vi} / {message.en}")
        self.message = message


class IllegalTransition(ReviewError):
    code = "review.illegal_transition"

    def __init__(self, state: State, action: Action) -> None:
        super().__init__(Text(
            f"Không thể «{action.label.vi}» khi hồ sơ đang ở trạng thái «{state.label.vi}».",
            f"'{action.label.en}' is not allowed while the review is '{state.label.en}'."))
        self.state, self.action = state, action


class NotAllowed(ReviewError):
    code = "review.not_allowed"

    def __init__(self, role: str, action: Action, message: Text | None = None) -> None:
        super().__init__(message or Text(f"Vai trò «{role}» không được phép «{action.label.vi}».",
                                         f"The role '{role}' may not '{action.label.en}'."))
        self.role, self.action = role, action


class OutOfScope(NotAllowed):
    code = "review.out_of_scope"

    def __init__(self, role: str, action: Action) -> None:
        super().__init__(role, action, Text(
            f"Hộ này không thuộc địa bàn bạn phụ trách; không thể «{action.label.vi}».",
            f"This household is outside your area; you cannot '{action.label.en}'."))


class MissingInput(ReviewError):
    code = "review.missing_input"

    def __init__(self, action: Action, field_name: str) -> None:
        wording = _FIELD_TEXTS[field_name]
        super().__init__(Text(f"«{action.label.vi}» cần {wording.vi}.",
                              f"'{action.label.en}' needs {wording.en}."))
        self.action, self.field = action, field_name


class InvalidInput(ReviewError):
    code = "review.invalid_input"

    def __init__(self, field_name: str, reasons: Sequence[Reason]) -> None:
        super().__init__(Text(" ".join(r.text.vi for r in reasons), " ".join(r.text.en for r in reasons)))
        self.field, self.reasons = field_name, tuple(reasons)


class StaleState(ReviewError):
    code = "review.stale_state"

    def __init__(self, expected: State, current: State) -> None:
        super().__init__(Text(
            f"Hộ này vừa được người khác xử lý (trạng thái hiện tại: {current.label.vi}). Hãy tải lại.",
            f"Someone else has just acted on this household (current state: {current.label.en}). "
            "Please reload."))
        self.expected, self.current = expected, current


class NotBulk(ReviewError):
    code = "review.not_bulk"

    def __init__(self, action: Action) -> None:
        super().__init__(Text(f"«{action.label.vi}» phải làm riêng cho từng hộ.",
                              f"'{action.label.en}' must be done one household at a time."))
        self.action = action


class BulkRefused(ReviewError):
    code = "review.bulk_refused"

    def __init__(self, failures: Mapping[str, ReviewError]) -> None:
        count = len(failures)
        super().__init__(Text(f"{count} hộ không thực hiện được; chưa áp dụng cho hộ nào.",
                              f"{count} household(s) refused; nothing was applied."))
        self.failures = dict(failures)


# ---- inputs (RM003) ------------------------------------------------------------------------------

_FIELD_TEXTS: Mapping[str, Text] = MappingProxyType({
    "reason": Text("lý do", "a reason"),
    "decision_number": Text("số quyết định", "the decision number"),
    "decision_date": Text("ngày quyết định", "the decision date"),
    "meeting": Text("biên bản họp dân", "the village meeting record"),
    "votes_in_favour": Text("số người đồng ý", "the votes in favour"),
    "classified": Text("kết quả phân loại", "the classification status"),
    "open_duplicates": Text("số hồ sơ nghi trùng chưa xử lý", "the number of open duplicates"),
    "gps_flags": Text("các cảnh báo GPS", "the GPS flags"),
})


def _invalid(field_name: str, code: str, vi: str, en: str) -> InvalidInput:
    return InvalidInput(field_name, [reason(code, vi, en)])


def _read_text(name: str, value: Any, today: date) -> str:
    if not isinstance(value, str):
        raise _invalid(name, "input.not_text", f"«{name}» phải là văn bản.", f"'{name}' must be text.")
    return unicodedata.normalize("NFC", value.strip())


def _read_decision_date(name: str, value: Any, today: date) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _invalid(name, "input.bad_date", "Ngày quyết định không hợp lệ (cần dạng YYYY-MM-DD).",
                       "The decision date is invalid (expected YYYY-MM-DD).")
    if value > today:
        raise _invalid(name, "input.date_in_future", f"Ngày quyết định {value:%d/%m/%Y} ở tương lai.",
                       f"The decision date {value.isoformat()} is in the future.")
    return value


def _read_meeting(name: str, value: Any, today: date) -> MeetingRecord:
    if not isinstance(value, Mapping | MeetingRecord):
        raise _invalid(name, "input.bad_meeting", "Biên bản họp dân không hợp lệ.", "The meeting record is invalid.")
    try:
        return read_meeting(value, today)
    except InvalidMeeting as error:
        raise InvalidInput(name, error.reasons) from error


def _read_count(name: str, value: Any, today: date) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(name, "input.bad_count", f"«{name}» phải là số nguyên không âm.",
                       f"'{name}' must be a whole number ≥ 0.")
    return value


def _read_flag(name: str, value: Any, today: date) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, "input.not_boolean", f"«{name}» phải là đúng/sai.", f"'{name}' must be true or false.")
    return value


def _read_gps_flags(name: str, value: Any, today: date) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence | frozenset | set) \
            or not set(value) <= GPS_FLAG_POLICY.keys():
        raise _invalid(name, "input.bad_gps_flags", "Danh sách cảnh báo GPS không hợp lệ.",
                       f"Invalid GPS flags; known: {', '.join(GPS_FLAG_POLICY)}.")
    return tuple(value)


def _is_blank(value: Any) -> bool:
    # An empty list is a real answer (no GPS flags); only None and blank text count as missing.
    return value is None or (isinstance(value, str) and not value.strip())


_READERS: Mapping[str, Callable[[str, Any, date], Any]] = MappingProxyType({
    "reason": _read_text,
    "decision_number": _read_text,
    "decision_date": _read_decision_date,
    "meeting": _read_meeting,
    "votes_in_favour": _read_count,
    "classified": _read_flag,
    "open_duplicates": _read_count,
    "gps_flags": _read_gps_flags,
})


def _read_inputs(action: Action, payload: Mapping[str, Any], today: date) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for name in ACTIONS[action].requires:
        if _is_blank(payload.get(name)):
            raise MissingInput(action, name)
        inputs[name] = _READERS[name](name, payload[name], today)
    # A note is welcome on any action even where it is not required.
    if "reason" not in inputs and not _is_blank(payload.get("reason")):
        inputs["reason"] = _read_text("reason", payload["reason"], today)
    return inputs


# ---- applying an action --------------------------------------------------------------------------

@dataclass(frozen=True)
class TransitionRecord:
    """The history entry of one transition; the service adds who (actor id) and when (UTC time)."""

    action: Action
    from_state: State
    to_state: State
    role: str
    reason: str | None
    payload: Mapping[str, Any]
    findings: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"action": str(self.action), "from": str(self.from_state), "to": str(self.to_state),
                "role": self.role, "reason": self.reason,
                "payload": {key: _jsonable(value) for key, value in self.payload.items()},
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class Transition:
    state: State
    review_state: ReviewState | None  # None: leave the mirrored reviewState as it is (RM011)
    record: TransitionRecord


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, MeetingRecord):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    return value


def _verdict(action: Action, inputs: Mapping[str, Any]) -> tuple[bool, tuple[Reason, ...]]:
    """Whether a fact-decided action passed, with its findings; other actions always pass."""
    if action in (Action.CHECK, Action.RESUBMITTED):
        result = automatic_checks(inputs["classified"], inputs["open_duplicates"], inputs["gps_flags"])
        return result.passed, result.blocking + result.warnings
    if action is Action.RECORD_MEETING_VOTE:
        votes, attendees = inputs["votes_in_favour"], inputs["meeting"].attendees
        problems = vote_problems(votes, attendees)
        if problems:
            raise InvalidInput("votes_in_favour", problems)
        return is_agreed(votes, attendees), (vote_outcome(votes, attendees),)
    return True, ()


def vietnam_today() -> date:
    """Today's date in Vietnam, the date that 'not in the future' is judged by."""
    return datetime.now(LOCAL_ZONE).date()


def apply(current: State, action: Action, actor_role: str, payload: Mapping[str, Any], *,
          expected_state: State | None, today: date | None = None) -> Transition:
    """Apply ``action`` to a review in state ``current``, or raise a ``ReviewError`` (RM001–RM011).

    ``expected_state``: the state the actor saw (None for system actions that act on the current state
    under the service's lock). ``today``: Vietnam's date, for dates that may not be in the future.
    """
    current, action = State(current), Action(action)
    if expected_state is not None and State(expected_state) is not current:
        raise StaleState(State(expected_state), current)
    spec = ACTIONS[action]
    if actor_role not in spec.roles:
        raise NotAllowed(actor_role, action)
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise IllegalTransition(current, action)
    inputs = _read_inputs(action, payload, today or vietnam_today())
    passed, findings = _verdict(action, inputs)
    to_state = target.to if passed else target.if_failed
    review_state = spec.review_state if passed else spec.review_state_if_failed
    record = TransitionRecord(action=action, from_state=current, to_state=to_state, role=actor_role,
                              reason=inputs.get("reason"), payload=MappingProxyType(inputs), findings=findings)
    return Transition(state=to_state, review_state=review_state, record=record)


def allowed_actions(state: State, role: str) -> list[Action]:
    """The actions ``role`` may take on a review in ``state``, in the table's order (for the UI)."""
    return [action for action in Action
            if (state, action) in TRANSITIONS and role in ACTIONS[action].roles]


@dataclass(frozen=True)
class BulkItem:
    key: str  # the caller's id for this household's review, used to report failures
    current: State
    expected_state: State | None
    payload: Mapping[str, Any] = field(default_factory=dict)


def apply_bulk(action: Action, actor_role: str, items: Sequence[BulkItem], shared: Mapping[str, Any], *,
               today: date | None = None) -> list[Transition]:
    """Apply one action to many reviews, all or none (RM012). Item payloads override ``shared``."""
    action = Action(action)
    if not ACTIONS[action].bulk:
        raise NotBulk(action)
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("bulk item keys must be unique")
    today = today or vietnam_today()
    transitions: list[Transition] = []
    failures: dict[str, ReviewError] = {}
    for item in items:
        try:
            transitions.append(apply(item.current, action, actor_role, {**shared, **item.payload},
                                     expected_state=item.expected_state, today=today))
        except ReviewError as error:
            failures[item.key] = error
    if failures:
        raise BulkRefused(failures)
    return transitions


Scope = tuple[frozenset[str], frozenset[str]] | None


def ensure_in_scope(role: str, action: Action, scope: Scope, village_code: str | None,
                    commune_code: str | None) -> None:
    """RM013: raise ``OutOfScope`` unless the household lies in the actor's (villages, communes) scope."""
    if scope is None:
        return
    villages, communes = scope
    if village_code is not None and village_code in villages:
        return
    if role != Role.VERIFIER and village_code is None and commune_code in communes:
        return
    raise OutOfScope(role, Action(action))
