"""Properties of the review machine under random sequences of actions, roles and inputs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.review.machine import (
    GPS_FLAG_POLICY,
    TRANSITIONS,
    Action,
    ReviewError,
    Role,
    State,
    allowed_actions,
    apply,
)
from tests.unit.review.builders import MEETING, TODAY, VALID_PAYLOAD

pytestmark = pytest.mark.slow  # a few seconds each on a loaded 2-core machine

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None)
TABLE_STATES = {state for state, _ in TRANSITIONS} | {s for target in TRANSITIONS.values() for s in target if s}


@st.composite
def payloads(draw: st.DrawFn, action: Action) -> dict[str, Any]:
    """Mostly a valid payload that lets the review go on; sometimes random facts, or nothing at all."""
    payload = dict(VALID_PAYLOAD[action])
    kind = draw(st.sampled_from(["valid", "valid", "valid", "random", "empty"]))
    if kind == "empty":
        return {}
    if kind == "random" and action in (Action.CHECK, Action.RESUBMITTED):
        payload = {"classified": draw(st.booleans()), "open_duplicates": draw(st.integers(0, 2)),
                   "gps_flags": draw(st.lists(st.sampled_from(sorted(GPS_FLAG_POLICY)), max_size=3))}
    if kind == "random" and action is Action.RECORD_MEETING_VOTE:
        attendees = draw(st.integers(1, 60))
        payload = {"meeting": {**MEETING, "attendees": attendees},
                   "votes_in_favour": draw(st.integers(0, attendees + 1))}
    return payload


def _forward(state: State, action: Action) -> int:
    """How far along the procedure an action leads (declaration order of the states)."""
    return list(State).index(TRANSITIONS[(state, action)].to)


@st.composite
def walks(draw: st.DrawFn) -> list[tuple[State, Action, str, dict[str, Any], Any]]:
    """Up to 40 steps from any state; each step's outcome is a Transition or the ReviewError raised."""
    state, steps = draw(st.sampled_from(list(State))), []
    anything = [(a, r) for a in Action for r in [*Role, "field_key"]]
    for _ in range(draw(st.integers(1, 40))):
        legal = [(a, r) for r in Role for a in allowed_actions(state, r)]
        # Mostly the step furthest along the procedure, so that walks reach decisions and exports; at
        # times the step furthest back (returns, re-opening), any step someone may take now, or anything.
        how = draw(st.sampled_from(["legal", "forward", "forward", "forward", "back", "anything"])
                   if legal else st.just("anything"))
        if how in ("forward", "back"):
            pick = max if how == "forward" else min
            chosen = pick(_forward(state, a) for a, _ in legal)
            legal = [(a, r) for a, r in legal if _forward(state, a) == chosen]
        action, role = draw(st.sampled_from(anything if how == "anything" else legal))
        payload = draw(payloads(action))
        try:
            outcome: Any = apply(state, action, role, payload, expected_state=state, today=TODAY)
        except ReviewError as error:
            outcome = error
        steps.append((state, action, role, payload, outcome))
        if not isinstance(outcome, ReviewError):
            state = outcome.state
    return steps


@PROPERTY_SETTINGS
@given(walks())
def test_property__random_walk__only_reaches_states_of_the_table(steps):
    for _, _, _, _, outcome in steps:
        if not isinstance(outcome, ReviewError):
            assert outcome.state in TABLE_STATES
            assert outcome.record.to_state is outcome.state


@PROPERTY_SETTINGS
@given(walks())
def test_property__random_walk__decided_left_only_by_reopen_or_export(steps):
    for state, action, role, _, outcome in steps:
        if state is State.EXPORTED:
            assert isinstance(outcome, ReviewError)
        if state is State.DECIDED and not isinstance(outcome, ReviewError) and outcome.state is not State.DECIDED:
            assert action in (Action.REOPEN, Action.EXPORT)
            if action is Action.REOPEN:
                assert role in ("commune", "admin") and outcome.record.reason


@PROPERTY_SETTINGS
@given(walks())
def test_property__random_walk__refusals_agree_with_allowed_actions(steps):
    """An action the UI offers is never refused for its role or state; one it hides always is."""
    for state, action, role, _, outcome in steps:
        offered = action in allowed_actions(state, role)
        if offered:
            assert not isinstance(outcome, ReviewError) or outcome.code in (
                "review.missing_input", "review.invalid_input"), outcome
        else:
            assert isinstance(outcome, ReviewError) and outcome.code in (
                "review.not_allowed", "review.illegal_transition")
