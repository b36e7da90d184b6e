"""The household-review state machine: paths, refusals, roles, concurrency, bulk, the reviewState mirror."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from server.review.machine import (
    ACTIONS,
    GPS_FLAG_POLICY,
    STATE_LABELS,
    TRANSITIONS,
    Action,
    BulkItem,
    BulkRefused,
    IllegalTransition,
    InvalidInput,
    MissingInput,
    NotAllowed,
    NotBulk,
    OutOfScope,
    ReviewState,
    Role,
    StaleState,
    State,
    allowed_actions,
    apply,
    apply_bulk,
    automatic_checks,
    ensure_in_scope,
)
from tests.unit.review.builders import CLEAN, MEETING, TODAY, VALID_PAYLOAD, role_for, step

A, S = Action, State


def run(state: State, *actions: Action) -> State:
    for action in actions:
        state = step(state, action).state
    return state


# ---- names and labels ---------------------------------------------------------------------------

def test_names__machine_names__are_stable():
    assert [s.value for s in State] == [
        "submitted", "check_failed", "checked", "village_review", "returned", "resurvey", "village_agreed",
        "commune_confirmed", "posted", "complaint", "awaiting_decision", "decided", "exported"]
    assert [a.value for a in Action] == [
        "check", "resubmitted", "send_to_village", "return_to_enumerator", "request_resurvey",
        "record_meeting_vote", "commune_confirm", "commune_return", "open_posting", "close_posting",
        "register_complaint", "recheck_done", "decide", "export", "reopen"]
    assert [r.value for r in ReviewState] == ["hasIssues", "edited", "approved", "rejected"]


def test_labels__every_state_and_action__has_distinct_vietnamese_and_english_labels():
    for item in [*State, *Action]:
        assert item.label.vi and item.label.en and item.label.vi != item.label.en
    assert len({s.label.vi for s in State}) == len(State) == len(STATE_LABELS)
    assert len({a.label.vi for a in Action}) == len(Action) == len(ACTIONS)


def test_table__actions_decided_by_facts__have_a_failure_target_and_others_do_not():
    decided_by_facts = {A.CHECK, A.RESUBMITTED, A.RECORD_MEETING_VOTE}
    for (_, action), target in TRANSITIONS.items():
        assert (target.if_failed is not None) == (action in decided_by_facts)


def test_table__every_state__is_reachable_from_submitted():
    reached, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            for to in filter(None, target):
                if source is state and to not in reached:
                    reached.add(to)
                    frontier.append(to)
    assert reached == set(State)


# ---- paths (RM001, RM005–RM010) -----------------------------------------------------------------

def test_path__happy__reaches_exported_with_approved_mirror():
    seen = []
    state = S.SUBMITTED
    for action in (A.CHECK, A.SEND_TO_VILLAGE, A.RECORD_MEETING_VOTE, A.COMMUNE_CONFIRM, A.OPEN_POSTING,
                   A.CLOSE_POSTING, A.DECIDE, A.EXPORT):
        transition = step(state, action)
        assert transition.record.from_state is state and transition.record.to_state is transition.state
        seen.append((transition.state, transition.review_state))
        state = transition.state
    assert seen == [(S.CHECKED, None), (S.VILLAGE_REVIEW, None), (S.VILLAGE_AGREED, None),
                    (S.COMMUNE_CONFIRMED, None), (S.POSTED, None), (S.AWAITING_DECISION, None),
                    (S.DECIDED, ReviewState.APPROVED), (S.EXPORTED, None)]


def test_path__return_to_enumerator_then_edit__re_enters_village_review_as_edited():
    returned = step(S.VILLAGE_REVIEW, A.RETURN_TO_ENUMERATOR, "verifier")
    assert (returned.state, returned.review_state) == (S.RETURNED, ReviewState.HAS_ISSUES)
    assert returned.record.reason == "Thiếu ảnh nhà, diện tích nhà ghi sai."
    edited = step(S.RETURNED, A.RESUBMITTED)
    assert (edited.state, edited.review_state) == (S.VILLAGE_REVIEW, ReviewState.EDITED)


@pytest.mark.parametrize("state", [S.VILLAGE_REVIEW, S.RETURNED, S.RESURVEY, S.VILLAGE_AGREED,
                                   S.COMMUNE_CONFIRMED, S.POSTED, S.COMPLAINT, S.AWAITING_DECISION])
def test_path__edit_after_village_has_seen_it__goes_back_to_village_review(state):
    assert step(state, A.RESUBMITTED).state is S.VILLAGE_REVIEW


@pytest.mark.parametrize("state", [S.SUBMITTED, S.CHECKED, S.CHECK_FAILED])
def test_path__edit_before_village_review__passes_checks_to_checked(state):
    assert step(state, A.RESUBMITTED).state is S.CHECKED


@pytest.mark.parametrize("state", [S.RETURNED, S.VILLAGE_REVIEW, S.SUBMITTED])
def test_path__edit_failing_the_checks__stops_at_check_failed(state):
    transition = step(state, A.RESUBMITTED, gps_flags=["no_gps"])
    assert (transition.state, transition.review_state) == (S.CHECK_FAILED, ReviewState.EDITED)
    assert [f.code for f in transition.record.findings] == ["gps.no_gps"]


@pytest.mark.parametrize("state", [S.DECIDED, S.EXPORTED])
def test_path__edit_of_a_decided_household__is_refused(state):
    with pytest.raises(IllegalTransition):
        step(state, A.RESUBMITTED)


def test_path__check_fails_then_duplicates_resolved__passes_on_recheck():
    failed = step(S.SUBMITTED, A.CHECK, open_duplicates=2)
    assert failed.state is S.CHECK_FAILED and failed.review_state is None
    assert [f.code for f in failed.record.findings] == ["check.open_duplicates"]
    assert step(S.CHECK_FAILED, A.CHECK).state is S.CHECKED


def test_path__check_failed_returned_to_phone__edit_without_gps_is_stopped_again():
    state = run(S.CHECK_FAILED, A.RETURN_TO_ENUMERATOR)
    assert state is S.RETURNED
    assert step(state, A.RESUBMITTED, gps_flags=["outside_province"]).state is S.CHECK_FAILED


@pytest.mark.parametrize(("votes", "attendees", "expected"), [
    (4, 10, S.RESURVEY), (5, 10, S.VILLAGE_AGREED), (6, 10, S.VILLAGE_AGREED), (0, 10, S.RESURVEY),
    (10, 10, S.VILLAGE_AGREED), (4, 9, S.RESURVEY), (5, 9, S.VILLAGE_AGREED), (0, 1, S.RESURVEY),
    (1, 1, S.VILLAGE_AGREED), (1, 2, S.VILLAGE_AGREED),
])
def test_meeting_vote__share_of_attendees__agrees_at_half_or_more_else_resurvey(votes, attendees, expected):
    transition = step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, meeting={**MEETING, "attendees": attendees},
                      votes_in_favour=votes)
    assert transition.state is expected
    agreed = expected is S.VILLAGE_AGREED
    assert transition.review_state is (None if agreed else ReviewState.HAS_ISSUES)
    assert [f.code for f in transition.record.findings] == ["meeting.agreed" if agreed else "meeting.not_agreed"]


def test_meeting_vote__failed_then_resurveyed__meeting_is_repeated_and_agrees():
    state = step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, votes_in_favour=3).state
    assert state is S.RESURVEY
    state = run(state, A.RESUBMITTED)
    assert state is S.VILLAGE_REVIEW
    assert step(state, A.RECORD_MEETING_VOTE, votes_in_favour=8).state is S.VILLAGE_AGREED


def test_meeting_vote__votes_above_attendees__is_invalid():
    with pytest.raises(InvalidInput) as caught:
        step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, votes_in_favour=11)
    assert caught.value.field == "votes_in_favour"
    assert [r.code for r in caught.value.reasons] == ["meeting.votes_exceed_attendees"]


def test_meeting_vote__invalid_meeting_record__reports_every_problem():
    with pytest.raises(InvalidInput) as caught:
        step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE,
             meeting={"held_on": "2025-12-01", "chair": " ", "attendees": 0, "minutes_ref": ""})
    assert caught.value.field == "meeting"
    assert {r.code for r in caught.value.reasons} == {
        "meeting.date_in_future", "meeting.no_chair", "meeting.no_attendees", "meeting.no_minutes"}


def test_meeting_vote__record__keeps_the_meeting_and_votes():
    record = step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE).record
    assert record.payload["meeting"].held_on == date(2025, 11, 15)
    assert record.to_dict()["payload"] == {"meeting": MEETING, "votes_in_favour": 7}


def test_path__complaint_and_recheck__leads_to_decision():
    state = run(S.POSTED, A.REGISTER_COMPLAINT)
    assert state is S.COMPLAINT
    state = run(state, A.RECHECK_DONE)
    assert state is S.AWAITING_DECISION
    assert run(state, A.DECIDE) is S.DECIDED


def test_path__complaint_recheck_finds_survey_wrong__sends_to_resurvey():
    transition = step(S.COMPLAINT, A.REQUEST_RESURVEY, "commune")
    assert (transition.state, transition.review_state) == (S.RESURVEY, ReviewState.HAS_ISSUES)


def test_path__posting_still_open__cannot_be_decided():
    with pytest.raises(IllegalTransition):
        step(S.POSTED, A.DECIDE)


def test_path__commune_returns_village_result__back_to_village_review_as_rejected():
    for state in (S.VILLAGE_AGREED, S.COMMUNE_CONFIRMED):
        transition = step(state, A.COMMUNE_RETURN)
        assert (transition.state, transition.review_state) == (S.VILLAGE_REVIEW, ReviewState.REJECTED)


@pytest.mark.parametrize("role", ["commune", "admin"])
def test_reopen__by_commune_or_admin_with_reason__goes_back_to_village_review(role):
    transition = step(S.DECIDED, A.REOPEN, role)
    assert (transition.state, transition.review_state) == (S.VILLAGE_REVIEW, ReviewState.HAS_ISSUES)
    assert transition.record.reason == "Sai sót trong danh sách kèm quyết định."


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reopen__without_reason__is_refused_naming_the_field(reason):
    with pytest.raises(MissingInput) as caught:
        step(S.DECIDED, A.REOPEN, "commune", reason=reason)
    assert caught.value.field == "reason" and caught.value.code == "review.missing_input"
    assert "lý do" in caught.value.message.vi and "a reason" in caught.value.message.en


@pytest.mark.parametrize("role", ["verifier", "province", "supervisor", "enumerator", "system"])
def test_reopen__by_another_role__is_not_allowed(role):
    with pytest.raises(NotAllowed):
        step(S.DECIDED, A.REOPEN, role)


@pytest.mark.parametrize("state", [s for s in State if s is not S.DECIDED])
def test_reopen__from_any_state_but_decided__is_illegal(state):
    with pytest.raises(IllegalTransition):
        step(state, A.REOPEN, "commune")


# ---- inputs (RM003, RM009) ----------------------------------------------------------------------

@pytest.mark.parametrize("action", [a for a in Action if ACTIONS[a].requires])
def test_inputs__each_required_field_missing__raises_missing_input(action):
    state = next(source for source, act in TRANSITIONS if act is action)
    for name in ACTIONS[action].requires:
        payload = {k: v for k, v in VALID_PAYLOAD[action].items() if k != name}
        with pytest.raises(MissingInput) as caught:
            apply(state, action, role_for(action), payload, expected_state=None, today=TODAY)
        assert caught.value.field == name


@pytest.mark.parametrize(("field", "value"), [
    ("decision_date", "2025-11-21"), ("decision_date", "18/11/2025"), ("decision_date", datetime(2025, 11, 18)),
    ("decision_date", 20251118), ("decision_number", 125),
])
def test_decide__bad_decision_input__is_invalid(field, value):
    with pytest.raises(InvalidInput) as caught:
        step(S.AWAITING_DECISION, A.DECIDE, **{field: value})
    assert caught.value.field == field


def test_decide__decision_dated_today__is_recorded_as_a_date():
    transition = step(S.AWAITING_DECISION, A.DECIDE, decision_date=TODAY, decision_number=" 125/QĐ-UBND ")
    assert transition.record.payload["decision_date"] == TODAY
    assert transition.record.payload["decision_number"] == "125/QĐ-UBND"
    assert transition.record.to_dict()["payload"]["decision_date"] == "2025-11-20"


@pytest.mark.parametrize(("field", "value"), [
    ("classified", "yes"), ("open_duplicates", -1), ("open_duplicates", True), ("open_duplicates", "0"),
    ("gps_flags", "no_gps"), ("gps_flags", ["teleported"]), ("gps_flags", 3),
])
def test_check__bad_check_input__is_invalid(field, value):
    with pytest.raises(InvalidInput) as caught:
        step(S.SUBMITTED, A.CHECK, **{field: value})
    assert caught.value.field == field


@pytest.mark.parametrize("votes", ["7", 7.0, True, -1])
def test_meeting_vote__votes_not_a_whole_number__is_invalid(votes):
    with pytest.raises(InvalidInput):
        step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, votes_in_favour=votes)


def test_inputs__optional_note__is_recorded_on_any_action():
    assert step(S.VILLAGE_AGREED, A.COMMUNE_CONFIRM, reason="Đã đối chiếu biên bản").record.reason \
        == "Đã đối chiếu biên bản"
    assert step(S.VILLAGE_AGREED, A.COMMUNE_CONFIRM).record.reason is None


def test_inputs__reason__is_stored_nfc_and_trimmed():
    decomposed = "  Thie\u0302\u0301u a\u0309nh  "
    assert step(S.VILLAGE_REVIEW, A.RETURN_TO_ENUMERATOR, reason=decomposed).record.reason == "Thiếu ảnh"


def test_inputs__unknown_payload_keys__are_not_recorded():
    assert dict(step(S.CHECKED, A.SEND_TO_VILLAGE, injected="x").record.payload) == {}


def test_record__to_dict__is_json_ready():
    record = step(S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, votes_in_favour=2).record.to_dict()
    assert json.loads(json.dumps(record))["findings"][0]["code"] == "meeting.not_agreed"
    assert (record["action"], record["from"], record["to"], record["role"]) == (
        "record_meeting_vote", "village_review", "resurvey", "verifier")


def test_apply__plain_strings__are_accepted_for_state_and_action():
    transition = apply("checked", "send_to_village", "system", {}, expected_state="checked", today=TODAY)
    assert transition.state is S.VILLAGE_REVIEW


# ---- illegal pairs (RM001) ----------------------------------------------------------------------

ILLEGAL = [(state, action) for state in State for action in Action if (state, action) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_illegal__pair_not_in_table__raises_illegal_transition(state, action):
    with pytest.raises(IllegalTransition) as caught:
        step(state, action)
    error = caught.value
    assert error.code == "review.illegal_transition" and (error.state, error.action) == (state, action)
    assert state.label.vi in error.message.vi and action.label.vi in error.message.vi
    assert state.label.en in error.message.en and action.label.en in error.message.en


@pytest.mark.parametrize(("state", "action"), list(TRANSITIONS))
def test_legal__pair_in_table__applies_with_valid_input(state, action):
    target = TRANSITIONS[(state, action)]
    assert step(state, action).state in {target.to, target.if_failed}


# ---- roles (RM002) ------------------------------------------------------------------------------

ROLE_REFUSALS = [(action, role) for action in Action for role in Role if role not in ACTIONS[action].roles]


@pytest.mark.parametrize(("action", "role"), ROLE_REFUSALS)
def test_roles__role_not_listed_for_action__raises_not_allowed(action, role):
    state = next(source for source, act in TRANSITIONS if act is action)
    with pytest.raises(NotAllowed) as caught:
        step(state, action, role)
    assert caught.value.code == "review.not_allowed"
    assert role in caught.value.message.vi and action.label.en in caught.value.message.en


def test_roles__enumerator__can_do_nothing_in_any_state():
    assert all(Role.ENUMERATOR not in spec.roles for spec in ACTIONS.values())
    assert all(allowed_actions(state, "enumerator") == [] for state in State)


@pytest.mark.parametrize("action", [A.RECORD_MEETING_VOTE, A.COMMUNE_CONFIRM, A.DECIDE, A.OPEN_POSTING,
                                    A.CLOSE_POSTING, A.RECHECK_DONE, A.EXPORT])
def test_roles__approving_actions__exclude_enumerator_and_supervisor(action):
    assert not {Role.ENUMERATOR, Role.SUPERVISOR} & ACTIONS[action].roles


def test_roles__only_the_system__reports_a_phone_edit():
    assert ACTIONS[A.RESUBMITTED].roles == {Role.SYSTEM}


def test_roles__unknown_role__is_not_allowed():
    with pytest.raises(NotAllowed):
        step(S.AWAITING_DECISION, A.DECIDE, "field_key")


def test_roles__role_checked_before_state__enumerator_gets_not_allowed_anywhere():
    with pytest.raises(NotAllowed):
        step(S.SUBMITTED, A.DECIDE, "enumerator")


@pytest.mark.parametrize(("state", "role"), [(s, r) for s in State for r in Role])
def test_allowed_actions__state_and_role__match_the_table(state, role):
    expected = [a for a in Action if (state, a) in TRANSITIONS and role in ACTIONS[a].roles]
    assert allowed_actions(state, role) == expected
    for action in expected:
        step(state, action, role)


def test_allowed_actions__village_review_for_verifier__lists_the_village_actions():
    assert allowed_actions(S.VILLAGE_REVIEW, "verifier") == [
        A.RETURN_TO_ENUMERATOR, A.REQUEST_RESURVEY, A.RECORD_MEETING_VOTE]
    assert allowed_actions(S.AWAITING_DECISION, "commune") == [A.DECIDE]
    assert allowed_actions(S.DECIDED, "province") == [A.EXPORT]


# ---- concurrency (RM004) ------------------------------------------------------------------------

def test_stale__two_tabs_on_one_household__second_gets_conflict_message():
    seen = S.VILLAGE_AGREED
    first = apply(seen, A.COMMUNE_CONFIRM, "commune", {}, expected_state=seen, today=TODAY)
    with pytest.raises(StaleState) as caught:
        apply(first.state, A.COMMUNE_RETURN, "commune", {"reason": "x"}, expected_state=seen, today=TODAY)
    error = caught.value
    assert error.code == "review.stale_state" and (error.expected, error.current) == (seen, S.COMMUNE_CONFIRMED)
    assert error.message.vi == ("Hộ này vừa được người khác xử lý (trạng thái hiện tại: Xã đã xác nhận). "
                                "Hãy tải lại.")
    assert "Confirmed by the commune" in error.message.en and "reload" in error.message.en


def test_stale__checked_before_role_and_state():
    with pytest.raises(StaleState):
        apply(S.DECIDED, A.CHECK, "enumerator", {}, expected_state=S.SUBMITTED, today=TODAY)


def test_stale__no_expected_state__acts_on_current():
    transition = apply(S.POSTED, A.CLOSE_POSTING, "system", {}, expected_state=None, today=TODAY)
    assert transition.state is S.AWAITING_DECISION


# ---- bulk (RM012) -------------------------------------------------------------------------------

def test_bulk__flags__allow_exactly_the_actions_done_for_many_households_at_once():
    bulk = {action for action, spec in ACTIONS.items() if spec.bulk}
    assert bulk == {A.CHECK, A.SEND_TO_VILLAGE, A.RECORD_MEETING_VOTE, A.COMMUNE_CONFIRM, A.OPEN_POSTING,
                    A.CLOSE_POSTING, A.DECIDE, A.EXPORT}


def test_bulk__actions_needing_a_reason__are_never_bulk():
    assert all(not spec.bulk for spec in ACTIONS.values() if "reason" in spec.requires)


@pytest.mark.parametrize("action", [a for a in Action if not ACTIONS[a].bulk])
def test_bulk__non_bulk_action__is_refused(action):
    with pytest.raises(NotBulk):
        apply_bulk(action, role_for(action), [], VALID_PAYLOAD[action], today=TODAY)


def test_bulk__one_decision_for_many_households__applies_to_all():
    items = [BulkItem(str(n), S.AWAITING_DECISION, S.AWAITING_DECISION) for n in range(3)]
    transitions = apply_bulk(A.DECIDE, "commune", items, VALID_PAYLOAD[A.DECIDE], today=TODAY)
    assert [t.state for t in transitions] == [S.DECIDED] * 3
    assert all(t.record.payload["decision_number"] == "125/QĐ-UBND" for t in transitions)


def test_bulk__one_meeting_with_votes_per_household__each_gets_its_own_outcome():
    items = [BulkItem("a", S.VILLAGE_REVIEW, S.VILLAGE_REVIEW, {"votes_in_favour": 9}),
             BulkItem("b", S.VILLAGE_REVIEW, S.VILLAGE_REVIEW, {"votes_in_favour": 4})]
    transitions = apply_bulk(A.RECORD_MEETING_VOTE, "verifier", items, {"meeting": MEETING}, today=TODAY)
    assert [t.state for t in transitions] == [S.VILLAGE_AGREED, S.RESURVEY]


def test_bulk__one_household_refused__nothing_is_returned_and_every_failure_is_named():
    items = [BulkItem("ok", S.AWAITING_DECISION, S.AWAITING_DECISION),
             BulkItem("stale", S.DECIDED, S.AWAITING_DECISION),
             BulkItem("posted", S.POSTED, S.POSTED)]
    with pytest.raises(BulkRefused) as caught:
        apply_bulk(A.DECIDE, "commune", items, VALID_PAYLOAD[A.DECIDE], today=TODAY)
    failures = caught.value.failures
    assert set(failures) == {"stale", "posted"}
    assert isinstance(failures["stale"], StaleState) and isinstance(failures["posted"], IllegalTransition)
    assert "2" in caught.value.message.vi


def test_bulk__duplicate_keys__are_a_programming_error():
    items = [BulkItem("x", S.CHECKED, S.CHECKED), BulkItem("x", S.CHECKED, S.CHECKED)]
    with pytest.raises(ValueError):
        apply_bulk(A.SEND_TO_VILLAGE, "system", items, {}, today=TODAY)


# ---- reviewState mirror (RM011) -----------------------------------------------------------------

@pytest.mark.parametrize(("state", "action", "overrides", "mirrored"), [
    (S.SUBMITTED, A.CHECK, {}, None),
    (S.SUBMITTED, A.CHECK, {"classified": False}, None),
    (S.CHECKED, A.SEND_TO_VILLAGE, {}, None),
    (S.VILLAGE_REVIEW, A.RETURN_TO_ENUMERATOR, {}, ReviewState.HAS_ISSUES),
    (S.VILLAGE_REVIEW, A.REQUEST_RESURVEY, {}, ReviewState.HAS_ISSUES),
    (S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, {"votes_in_favour": 5}, None),
    (S.VILLAGE_REVIEW, A.RECORD_MEETING_VOTE, {"votes_in_favour": 4}, ReviewState.HAS_ISSUES),
    (S.RETURNED, A.RESUBMITTED, {}, ReviewState.EDITED),
    (S.VILLAGE_AGREED, A.COMMUNE_CONFIRM, {}, None),
    (S.VILLAGE_AGREED, A.COMMUNE_RETURN, {}, ReviewState.REJECTED),
    (S.COMMUNE_CONFIRMED, A.OPEN_POSTING, {}, None),
    (S.POSTED, A.REGISTER_COMPLAINT, {}, None),
    (S.COMPLAINT, A.RECHECK_DONE, {}, None),
    (S.AWAITING_DECISION, A.DECIDE, {}, ReviewState.APPROVED),
    (S.DECIDED, A.EXPORT, {}, None),
    (S.DECIDED, A.REOPEN, {}, ReviewState.HAS_ISSUES),
])
def test_mirror__action_outcome__sets_odk_review_state(state, action, overrides, mirrored):
    assert step(state, action, **overrides).review_state is mirrored


def test_mirror__values__are_odk_central_review_states():
    from server.collect.models import REVIEW_STATES

    assert {str(r) for r in ReviewState} == set(REVIEW_STATES)


# ---- automatic checks (RM005) -------------------------------------------------------------------

def test_checks__clean_submission__passes_without_reasons():
    result = automatic_checks(True, 0, [])
    assert result.passed and result.blocking == () and result.warnings == ()


def test_checks__not_classified_and_duplicates__both_block():
    result = automatic_checks(False, 3, [])
    assert not result.passed
    assert [r.code for r in result.blocking] == ["check.not_classified", "check.open_duplicates"]
    assert "3" in result.blocking[1].text.vi


@pytest.mark.parametrize("flag", sorted(GPS_FLAG_POLICY))
def test_checks__each_gps_flag__blocks_or_warns_as_documented(flag):
    result = automatic_checks(True, 0, [flag])
    blocks = flag in {"no_gps", "outside_province"}
    assert result.passed is not blocks
    assert [r.code for r in (result.blocking if blocks else result.warnings)] == [f"gps.{flag}"]


def test_checks__repeated_flag__is_reported_once():
    assert len(automatic_checks(True, 0, ["poor_accuracy", "poor_accuracy"]).warnings) == 1


def test_checks__unknown_flag_or_negative_duplicates__are_programming_errors():
    with pytest.raises(ValueError):
        automatic_checks(True, 0, ["teleported"])
    with pytest.raises(ValueError):
        automatic_checks(True, -1, [])


def test_checks__policy__covers_every_flag_the_geo_module_raises():
    from server.geo.locate import FLAGS

    assert set(GPS_FLAG_POLICY) == set(FLAGS)


def test_checks__warnings_only__pass_and_are_kept_as_findings():
    transition = step(S.SUBMITTED, A.CHECK, gps_flags=["outside_declared_village", "on_boundary"])
    assert transition.state is S.CHECKED
    assert [f.code for f in transition.record.findings] == ["gps.outside_declared_village", "gps.on_boundary"]


def test_checks__payload__same_for_check_and_edit():
    assert ACTIONS[A.CHECK].requires == ACTIONS[A.RESUBMITTED].requires == tuple(CLEAN)


# ---- scope (RM013) ------------------------------------------------------------------------------

SCOPE = (frozenset({"07210-01", "07210-02"}), frozenset({"07210"}))


@pytest.mark.parametrize(("role", "village", "commune", "allowed"), [
    ("verifier", "07210-01", "07210", True),
    ("verifier", "07213-01", "07213", False),
    ("verifier", None, "07210", False),
    ("commune", "07210-02", "07210", True),
    ("commune", None, "07210", True),
    ("commune", None, "07213", False),
    ("commune", "07213-01", "07210", False),
])
def test_scope__household_village_and_commune__decide_who_may_act(role, village, commune, allowed):
    if allowed:
        ensure_in_scope(role, A.RECORD_MEETING_VOTE, SCOPE, village, commune)
    else:
        with pytest.raises(OutOfScope) as caught:
            ensure_in_scope(role, A.RECORD_MEETING_VOTE, SCOPE, village, commune)
        assert isinstance(caught.value, NotAllowed) and caught.value.code == "review.out_of_scope"


def test_scope__province_wide__acts_anywhere():
    ensure_in_scope("province", A.EXPORT, None, "99999-01", "99999")
