"""Household reviews through the procedure: open at ingest, act with a compare-and-set. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from server.accounts.models import Actor
from server.accounts.services import Caller, audit, visible_units
from server.campaigns.models import Campaign, Classification
from server.campaigns.services import REVIEW_FORM
from server.collect.models import Form, Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.households.models import DuplicatePair, HouseholdYear
from server.review import machine
from server.review.models import Review, ReviewEvent
from server.timeutil import utcnow

SYSTEM = "system"


def check_inputs(submission: Submission, submission_def: SubmissionDef) -> dict[str, Any]:
    """The facts the automatic check judges (machine.automatic_checks)."""
    classification = db.session.scalar(select(Classification.status)
                                       .where(Classification.submission_def_id == submission_def.id))
    open_duplicates = db.session.scalar(select(func.count()).select_from(DuplicatePair).where(
        DuplicatePair.submission_id == submission.id, DuplicatePair.status == "open")) or 0
    flags = [f for f in (submission.geo or {}).get("flags", []) if f in machine.GPS_FLAG_POLICY]
    return {"classified": classification == "classified", "open_duplicates": open_duplicates, "gps_flags": flags}


def open_review(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The ingest stage: a new Phiếu B starts its review and is checked; a phone edit re-enters it."""
    form = db.session.get(Form, submission.form_id)
    if form.xml_form_id != REVIEW_FORM or submission.campaign_id is None:
        return
    db.session.flush()
    review = db.session.scalar(select(Review).where(Review.submission_id == submission.id))
    if review is None:
        review = Review(submission_id=submission.id, campaign_id=submission.campaign_id,
                        village_code=submission.village_code, commune_code=submission.commune_code,
                        state=machine.State.SUBMITTED)
        db.session.add(review)
        db.session.flush()
        action = machine.Action.CHECK
    else:
        review.village_code, review.commune_code = submission.village_code, submission.commune_code
        action = machine.Action.RESUBMITTED
    transition = _apply(review, action, SYSTEM, check_inputs(submission, submission_def), None)
    _store(review, transition, None, submission)
    if review.state == machine.State.CHECKED:  # nothing for the office to fix: on to the village
        _store(review, _apply(review, machine.Action.SEND_TO_VILLAGE, SYSTEM, {}, None), None, submission)


def act(review: Review, action: str, caller: Caller, payload: dict[str, Any], expected_state: str | None) -> Review:
    """A person's action on a review; refusals become Problems with the machine's own message."""
    try:
        machine.ensure_in_scope(caller.role, machine.Action(action), visible_units(caller),
                                review.village_code, review.commune_code)
    except ValueError as error:
        raise Problem("review_input", vi=f"Thao tác không hợp lệ: {action}", en=f"Unknown action: {action}") \
            from error
    except machine.ReviewError as error:
        raise _problem(error) from error
    transition = _apply(review, action, caller.role, payload, expected_state)
    _store(review, transition, caller.actor, db.session.get(Submission, review.submission_id))
    return review


def _apply(review: Review, action: str, role: str, payload: dict[str, Any],
           expected_state: str | None) -> machine.Transition:
    try:
        return machine.apply(machine.State(review.state), machine.Action(action), role, payload,
                             expected_state=machine.State(expected_state) if expected_state else None)
    except machine.ReviewError as error:
        raise _problem(error) from error
    except ValueError as error:
        raise Problem("review_input", vi=f"Giá trị không hợp lệ: {error}", en=f"Invalid value: {error}") from error


def _store(review: Review, transition: machine.Transition, actor: Actor | None, submission: Submission) -> None:
    """Compare-and-set: the state moves only if nobody moved it since it was read (RM004)."""
    record = transition.record
    moved = db.session.execute(update(Review).where(Review.id == review.id, Review.state == str(record.from_state))
                               .values(state=str(transition.state), state_since=utcnow()))
    if moved.rowcount != 1:
        current = db.session.scalar(select(Review.state).where(Review.id == review.id))
        raise _problem(machine.StaleState(record.from_state, machine.State(current)))
    db.session.add(ReviewEvent(review_id=review.id, action=str(record.action), from_state=str(record.from_state),
                               to_state=str(transition.state), actor_id=actor.id if actor else None,
                               record=record.to_dict()))
    if transition.review_state is not None:
        submission.review_state = str(transition.review_state)
        submission.updated_at = utcnow()
    if transition.state is machine.State.DECIDED:
        _record_year(review, submission)
    db.session.flush()
    db.session.refresh(review)
    audit(f"review.{record.action}", actor, "review", review.id,
          {"from": str(record.from_state), "to": str(transition.state), "reason": record.reason})


def _record_year(review: Review, submission: Submission) -> None:
    """The household's history for the campaign year: its class at the start (last year's end) and at
    the end (this decision), and what kind of change that is."""
    if submission.household_id is None or review.campaign_id is None:
        return
    year = db.session.get(Campaign, review.campaign_id).year
    current = db.session.scalar(select(SubmissionDef).where(SubmissionDef.submission_id == submission.id,
                                                            SubmissionDef.current.is_(True)))
    end_class = db.session.scalar(select(Classification.household_class)
                                  .where(Classification.submission_def_id == current.id))
    previous = db.session.scalar(select(HouseholdYear.end_class).where(
        HouseholdYear.household_id == submission.household_id, HouseholdYear.year == year - 1))
    row = db.session.scalar(select(HouseholdYear).where(HouseholdYear.household_id == submission.household_id,
                                                        HouseholdYear.year == year)) \
        or HouseholdYear(household_id=submission.household_id, year=year)
    row.start_class, row.end_class = previous, end_class
    row.change_type = change_type(previous, end_class)
    row.updated_at = utcnow()
    db.session.add(row)


POOR_CLASSES = ("poor", "near_poor")


def change_type(start: str | None, end: str | None) -> str:
    """new (enters the lists), escaped (leaves them), fell_back (near-poor → poor), unchanged."""
    was, now = start in POOR_CLASSES, end in POOR_CLASSES
    if now and not was:
        return "new"
    if was and not now:
        return "escaped"
    if start == "near_poor" and end == "poor":
        return "fell_back"
    return "unchanged"


def _problem(error: machine.ReviewError) -> Problem:
    key = "review_conflict" if isinstance(error, (machine.StaleState, machine.IllegalTransition)) else \
        "review_forbidden" if isinstance(error, machine.NotAllowed) else "review_input"
    message = error.message
    return Problem(key, vi=message.vi, en=message.en, reviewCode=error.code)
