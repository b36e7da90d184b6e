"""Household reviews through the procedure: open at ingest, act with a compare-and-set. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from server.accounts.models import Actor
from server.accounts.services import Caller, audit, visible_units
from server.campaigns.models import Campaign, Classification
from server.campaigns.services import REVIEW_FORM
from server.collect import forms_service
from server.collect.models import Blob, Form, Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.households.models import DuplicatePair, HouseholdYear
from server.monitoring import services as monitoring
from server.review import machine, minutes, queries
from server.review.models import MeetingMinutes, Review, ReviewEvent
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
        before = (review.campaign_id, review.commune_code, review.village_code)
        review.village_code, review.commune_code = submission.village_code, submission.commune_code
        monitoring.move_transitions(review, before)
        action = machine.Action.RESUBMITTED
    transition = _apply(review, action, SYSTEM, check_inputs(submission, submission_def), None)
    _store(review, transition, None, submission)
    if review.state == machine.State.CHECKED:  # nothing for the office to fix: on to the village
        _store(review, _apply(review, machine.Action.SEND_TO_VILLAGE, SYSTEM, {}, None), None, submission)


def recheck_after_duplicates(submission_id: int) -> Review | None:
    """A household stopped by the automatic checks is checked again once a duplicate of it is decided,
    so that resolving the last open duplicate sends it on to the village without anyone else acting."""
    review = db.session.scalar(select(Review).where(Review.submission_id == submission_id))
    if review is None or review.state != machine.State.CHECK_FAILED:
        return review
    submission = db.session.get(Submission, submission_id)
    current = db.session.scalar(select(SubmissionDef).where(SubmissionDef.submission_id == submission_id,
                                                            SubmissionDef.current.is_(True)))
    inputs = check_inputs(submission, current)
    if inputs["open_duplicates"]:
        return review  # still held back by another duplicate; checked again when that one is decided
    _store(review, _apply(review, machine.Action.CHECK, SYSTEM, inputs, None), None, submission)
    if review.state == machine.State.CHECKED:
        _store(review, _apply(review, machine.Action.SEND_TO_VILLAGE, SYSTEM, {}, None), None, submission)
    return review


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
    if action == machine.Action.RECORD_MEETING_VOTE:
        _check_minutes_of(review, payload.get("meeting"))
    transition = _apply(review, action, caller.role, payload, expected_state)
    _store(review, transition, caller.actor, db.session.get(Submission, review.submission_id))
    return review


def store_minutes(data: bytes, file_name: str | None, village_code: str, caller: Caller) -> MeetingMinutes:
    """A village meeting's minutes file into the blob store and the database (MM001–MM004).

    Only someone who may record the village's meeting may upload its minutes; the village must be theirs.
    """
    if caller.role not in machine.ACTIONS[machine.Action.RECORD_MEETING_VOTE].roles:
        raise Problem("forbidden")
    scope = visible_units(caller)
    if (scope is not None and village_code not in scope[0]) or not queries.is_village(village_code):
        raise Problem("not_found", what=f"village {village_code}")
    checked = minutes.check_minutes(data)
    if not checked.ok:
        first = checked.problems[0]
        key = "minutes_too_large" if first.code == "minutes.too_large" else "minutes_refused"
        raise Problem(key, vi=" ".join(r.text.vi for r in checked.problems),
                      en=" ".join(r.text.en for r in checked.problems))
    content_type = checked.content_type
    row = MeetingMinutes(village_code=village_code, blob_id=forms_service.store_blob(data, content_type),
                         content_type=content_type, file_name=minutes.stored_name(file_name, content_type),
                         size=len(data), uploaded_by=caller.actor.id)
    db.session.add(row)
    db.session.flush()
    audit("meeting.minutes.upload", caller.actor, "meeting_minutes", row.id,
          {"village": village_code, "type": content_type, "size": len(data)})
    return row


# Who may open a meeting's minutes (within their area): not enumerators, not devices.
MINUTES_READERS = frozenset({machine.Role.VERIFIER, machine.Role.COMMUNE, machine.Role.SUPERVISOR,
                             machine.Role.PROVINCE, machine.Role.ADMIN})


def minutes_for(caller: Caller, minutes_id: int) -> MeetingMinutes:
    """The minutes file if the caller may see it; outside their villages it does not exist for them."""
    row = queries.minutes_in_scope(minutes_id, visible_units(caller))
    if row is None:
        raise Problem("not_found", what=f"minutes {minutes_id}")
    if caller.role not in MINUTES_READERS:
        raise Problem("forbidden")
    return row


def minutes_of_events(events: list[ReviewEvent]) -> dict[int, MeetingMinutes]:
    """The minutes files the review's meeting records name, by id."""
    ids = [e.record.get("payload", {}).get("meeting", {}).get("minutes_id") for e in events
           if e.action == machine.Action.RECORD_MEETING_VOTE]
    return queries.minutes_by_id([i for i in ids if isinstance(i, int)])


def read_minutes(row: MeetingMinutes) -> bytes:
    return forms_service.read_blob(db.session.get(Blob, row.blob_id))


def _check_minutes_of(review: Review, meeting: Any) -> None:
    """A meeting record may only name minutes uploaded for the household's own village."""
    minutes_id = meeting.get("minutes_id") if isinstance(meeting, dict) else None
    if not isinstance(minutes_id, int) or isinstance(minutes_id, bool):
        return  # absent or malformed: the machine reports it (MT002)
    row = db.session.get(MeetingMinutes, minutes_id)
    if row is None or row.village_code != review.village_code:
        raise Problem("review_input", vi=f"Không tìm thấy tệp biên bản số {minutes_id} của thôn này.",
                      en=f"No minutes file {minutes_id} for this village.")


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
    at = utcnow()
    db.session.add(ReviewEvent(review_id=review.id, action=str(record.action), from_state=str(record.from_state),
                               to_state=str(transition.state), actor_id=actor.id if actor else None,
                               record=record.to_dict(), at=at))
    monitoring.record_transition(review, str(record.from_state), str(transition.state), at)
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
