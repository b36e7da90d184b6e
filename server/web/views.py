"""The web interface of the review procedure: server-rendered pages, Vietnamese first, English on request.

Every page reads through ``server.review.queries`` (scoped to the caller's units) and every change goes
through ``server.review.services.act`` inside one transaction, so the pages obey exactly the rules the
JSON API obeys: the state machine, the scope, the compare-and-set against concurrent decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from server.accounts import queries as account_queries
from server.accounts import services as accounts
from server.accounts import tokens
from server.accounts.services import Caller, visible_units
from server.collect import forms_service
from server.collect.models import Form, Submission, SubmissionDef
from server.entities import services as entity_services
from server.errors import Problem
from server.extensions import db
from server.households import queries as household_queries
from server.households import services as household_services
from server.http import transaction
from server.http.auth import password_login
from server.review import machine, minutes, queries, services
from server.review.diff import diff_answers
from server.review.models import Review
from server.standards.classify import CLASSES
from server.standards.text import Text, format_number
from server.timeutil import local, utcnow
from server.web import forms, present, svgmap
from server.web.texts import LANGUAGES, text

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

SESSION_COOKIE = "session_token"
LOGIN_CSRF_COOKIE = "login_csrf"
LANG_COOKIE = "lang"
QUEUE_LIMIT = 1000
PUBLIC_ENDPOINTS = frozenset({"web.login", "web.login_submit", "web.static"})
COMMUNE_STATES = (machine.State.VILLAGE_AGREED, machine.State.COMMUNE_CONFIRMED, machine.State.POSTED,
                  machine.State.COMPLAINT, machine.State.AWAITING_DECISION)
# Inputs a person types on the pages; everything else an action needs comes from the server.
TYPED_INPUTS = ("reason", "decision_number", "decision_date")
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class PageError(Exception):
    """A refusal shown as a page (never as JSON) with its HTTP status."""

    def __init__(self, status: int, message: Text) -> None:
        super().__init__(message.en)
        self.status, self.message = status, message


# ---- request plumbing ----------------------------------------------------------------------------

def page_language() -> str:
    """The page language: the user's explicit choice (link or cookie), else the configured default.

    The browser's Accept-Language is deliberately not consulted: officials often run English phone
    software, and the procedure's documents are Vietnamese.
    """
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else current_app.config.get("DEFAULT_LANGUAGE", "vi")


def _caller() -> Caller:
    return g.caller


@bp.before_request
def _authenticate() -> Response | None:
    """Pages need a live session; every POST must carry that session's CSRF token."""
    g.protocol = "html"
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = request.cookies.get(SESSION_COOKIE)
    caller = accounts.session_caller(token) if token else None
    if caller is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("web.login", next=target))
    g.caller = caller
    g.csrf_token = account_queries.session_by_token_hash(tokens.sha256_hex(token)).csrf
    if request.method == "POST" and not forms.csrf_matches(g.csrf_token, request.form.get("csrf_token")):
        raise PageError(403, _text("error.csrf"))
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", secure=request.is_secure,
                            httponly=True)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "web.static":
        # Pages carry personal data: never kept by shared phones' or proxies' caches.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    lang = page_language()
    caller = g.get("caller")
    return {"lang": lang, "t": lambda key, **values: text(key, lang, **values), "tr": lambda value: _in(value, lang),
            "caller": caller, "csrf_token": g.get("csrf_token", ""), "nav": _nav(caller) if caller else [],
            "lang_url": _lang_url, "state_label": lambda s: machine.State(s).label.get(lang),
            "action_label": lambda a: machine.Action(a).label.get(lang),
            "class_label": lambda c: text(f"class.{c}", lang) if c else text("class.none", lang),
            "when": lambda value: _when(value, lang),
            "number": lambda value: format_number(Decimal(str(value)), lang, 1)}


def _in(value: Any, lang: str) -> str:
    """A bilingual value (Text, or a stored {"vi", "en"} mapping) in ``lang``."""
    if isinstance(value, Text):
        return value.get(lang)
    if isinstance(value, Mapping):
        return str(value.get(lang) or value.get("vi") or "")
    return "" if value is None else str(value)


def _text(key: str, **values: Any) -> Text:
    return Text(text(key, "vi", **values), text(key, "en", **values))


def _when(value: datetime | None, lang: str) -> str:
    moment = local(value)
    if moment is None:
        return ""
    return moment.strftime("%d/%m/%Y %H:%M" if lang == "vi" else "%Y-%m-%d %H:%M")


def _lang_url(lang: str) -> str:
    args = {key: value for key, value in request.args.items(multi=True) if key != "lang"}
    return f"{request.path}?{urlencode({**args, 'lang': lang})}"


def _nav(caller: Caller) -> list[tuple[str, str]]:
    role = caller.role
    items = []
    if role != machine.Role.ENUMERATOR:
        items.append(("web.queue", "nav.queue"))
    if role in machine.ACTIONS[machine.Action.RECORD_MEETING_VOTE].roles:
        items.append(("web.meeting_form", "nav.meeting"))
    if role in (machine.Role.COMMUNE, machine.Role.ADMIN, machine.Role.PROVINCE, machine.Role.SUPERVISOR):
        items.append(("web.commune", "nav.commune"))
        items.append(("web.dashboard", "nav.dashboard"))
    items.append(("web.returned", "nav.returned"))
    if caller.can("app_user.manage"):
        items.append(("web.devices", "nav.devices"))
    return items


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return make_response(render_template(f"web/{template}", **context), status)


@bp.errorhandler(PageError)
def _page_error(error: PageError) -> Response:
    return _page("error.html", error.status, message=error.message)


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    return _page("error.html", problem.status, message=Text(problem.message("vi"), problem.message("en")))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return _page("error.html", error.code or 500, message=Text(f"Lỗi {error.code}", error.name))


def _not_found() -> PageError:
    return PageError(404, _text("error.not_found"))


def _review_or_404(review_id: int) -> Review:
    review = queries.review_in_scope(review_id, visible_units(_caller()))
    if review is None:
        raise _not_found()
    return review


def _household_label(head_name: str | None, instance_id: str, review_id: int) -> str:
    return head_name or f"#{review_id} ({instance_id})"


class QueueItem(NamedTuple):
    """One queue row with every shown string ready, so a 500-row page renders without per-cell calls."""

    id: int
    href: str
    label: str
    household_code: str | None
    village: str
    state: str
    state_label: str
    household_class: str
    class_label: str
    gps_flags: str
    open_duplicates: int
    edited: bool
    enumerator: str
    waiting: str


def _queue_items(rows: list[queries.QueueRow]) -> list[QueueItem]:
    lang = page_language()
    # One url_for for the whole list: building 500 URLs through the router costs more than the page.
    prefix = url_for("web.review_detail", review_id=0).removesuffix("0")
    states = {state.value: state.label.get(lang) for state in machine.State}
    classes = {name: text(f"class.{name}", lang) for name in CLASSES}
    unclassified = text("class.none", lang)
    now = utcnow()
    return [QueueItem(row.id, f"{prefix}{row.id}", _household_label(row.head_name, row.instance_id, row.id),
                      row.household_code, row.village_name or row.village_code or "—", row.state, states[row.state],
                      row.household_class or "none", classes.get(row.household_class, unclassified),
                      ", ".join(row.gps_flags), row.open_duplicates, row.review_state == "edited",
                      row.enumerator_name or "—",
                      text("days", lang, count=max(0, (now - local(row.state_since)).days)))
            for row in rows]


def _labels(review_ids: list[int], scope: queries.Scope) -> dict[int, str]:
    """How messages name each household: the head's name as stored, never what the form sent."""
    found = queries.review_labels(review_ids, scope)
    return {review_id: _household_label(*found[review_id], review_id) if review_id in found else f"#{review_id}"
            for review_id in review_ids}


# ---- login -----------------------------------------------------------------------------------------

@bp.get("/login")
def login() -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and accounts.session_caller(token) is not None:
        return redirect(url_for("web.home"))
    return _login_page(200, None)


def _login_page(status: int, error: Text | None) -> Response:
    # Double-submit token: before login there is no session to keep a CSRF token in.
    csrf = tokens.new_nonce()
    response = _page("login.html", status, login_csrf=csrf, error=error, next=request.values.get("next", ""),
                     email=request.form.get("email", ""))
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure,
                        path=url_for("web.login"))
    return response


@bp.post("/login")
def login_submit() -> Response:
    if not forms.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), request.form.get("csrf_token")):
        return _login_page(403, _text("error.csrf"))
    email, password = request.form.get("email", ""), request.form.get("password", "")

    try:
        # Throttled across app servers; when locked: 429 + Retry-After, the page says for how long.
        token = password_login(email, password, lambda user: accounts.open_session(user)[1])
    except Problem as problem:
        return _login_page(problem.status, Text(problem.message("vi"), problem.message("en")))
    response = redirect(forms.safe_next(request.form.get("next")) or url_for("web.home"))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=request.is_secure,
                        max_age=current_app.config["SESSION_HOURS"] * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=url_for("web.login"))
    return response


@bp.post("/logout")
def logout() -> Response:
    token = request.cookies[SESSION_COOKIE]
    transaction.run(lambda: accounts.close_session(token))
    response = redirect(url_for("web.login"))
    response.delete_cookie(SESSION_COOKIE)
    return response


@bp.get("/")
def home() -> Response:
    role = _caller().role
    if role == machine.Role.ENUMERATOR:
        return redirect(url_for("web.returned"))
    if role == machine.Role.COMMUNE:
        return redirect(url_for("web.commune"))
    return redirect(url_for("web.queue"))


# ---- the village queue and one household ---------------------------------------------------------

@bp.get("/queue")
def queue() -> Response:
    _caller().require("submission.read")
    scope = visible_units(_caller())
    filters = forms.read_queue_filters(request.args)
    rows = queries.queue_rows(scope, filters, now=utcnow(), limit=QUEUE_LIMIT)
    # The enumerator choices come from the rows shown, saving a query on the busiest page.
    enumerators = dict.fromkeys((r.enumerator_id, r.enumerator_name) for r in rows if r.enumerator_id is not None)
    return _page("queue.html", rows=_queue_items(rows), filters=filters, villages=queries.villages_in_scope(scope),
                 enumerators=list(enumerators), states=list(machine.State), flags=queries.FLAGS,
                 sorts=queries.SORTS, classes=CLASSES, truncated=len(rows) >= QUEUE_LIMIT)


@bp.get("/reviews/<int:review_id>")
def review_detail(review_id: int) -> Response:
    _caller().require("submission.read")
    return _detail_page(_review_or_404(review_id))


def _detail_page(review: Review, status: int = 200, error: Text | None = None,
                 values: Mapping[str, str] | None = None, duplicate_error: Text | None = None,
                 conflict_error: Text | None = None) -> Response:
    lang = page_language()
    submission = db.session.get(Submission, review.submission_id)
    defs = list(submission.defs)
    current = defs[-1]
    answers = current.answers or {}
    classification = queries.classification(current.id)
    changes = diff_answers(defs[-2].answers or {}, answers) if len(defs) > 1 and defs[-2].answers else None
    previous = queries.previous_year(submission)
    last_year = previous.submission_def.answers if previous and previous.submission_def else None
    boundary = queries.boundary(review.village_code)
    flags = [f for f in (submission.geo or {}).get("flags", []) if f in machine.GPS_FLAG_POLICY]
    gps = machine.automatic_checks(True, 0, flags)
    state = machine.State(review.state)
    actions = [a for a in machine.allowed_actions(state, _caller().role) if a is not machine.Action.RECORD_MEETING_VOTE]
    events = queries.events(review.id)
    duplicates = queries.duplicate_candidates(submission.id)
    conflict = entity_services.household_conflict(db.session.get(Form, submission.form_id).project_id,
                                                  submission.household_id)
    return _page(
        "review.html", status, review=review, submission=submission, current=current, error=error,
        values=values or {}, answers=present.answer_rows(answers, lang), members=present.member_table(answers, lang),
        classification=classification, result=classification.result if classification else None,
        changes=changes, previous=previous,
        side_by_side=present.side_by_side(last_year, answers, lang) if last_year is not None else None,
        map=svgmap.draw_map(boundary.geometry if boundary else None, present.gps_point(answers)),
        boundary=boundary, village_name=queries.unit_name(review.village_code),
        gps_findings=[*gps.blocking, *gps.warnings], geo=submission.geo or {},
        photo=_photo_name(current), duplicates=duplicates, duplicate_error=duplicate_error,
        decidable={pair.id for pair, _ in duplicates if _may_decide(pair)},
        conflict=conflict, conflict_error=conflict_error,
        may_resolve=conflict is not None and _caller().can("submission.review"),
        events=events, minutes=services.minutes_of_events([event for event, _ in events]),
        actions=actions, requires={a: machine.ACTIONS[a].requires for a in actions},
        can_meet=machine.Action.RECORD_MEETING_VOTE in machine.allowed_actions(state, _caller().role),
        head_name=(answers.get("fields") or {}).get("head_name"))


def _photo_name(submission_def: SubmissionDef) -> str | None:
    """The house photo the answers name, if its file has arrived (Collect may send files later)."""
    wanted = ((submission_def.answers or {}).get("fields") or {}).get("house_photo")
    names = {a.name for a in submission_def.attachments if a.blob_id is not None}
    return wanted if wanted in names else None


@bp.get("/reviews/<int:review_id>/photo")
def review_photo(review_id: int) -> Response:
    _caller().require("submission.read")
    review = _review_or_404(review_id)
    current = db.session.get(Submission, review.submission_id).defs[-1]
    name = _photo_name(current)
    attachment = next((a for a in current.attachments if a.name == name), None)
    if attachment is None:
        raise _not_found()
    return Response(forms_service.read_blob(attachment.blob),
                    content_type=attachment.blob.content_type or "application/octet-stream")


def _may_decide(pair: Any) -> bool:
    """An open pair of the caller's villages, for a caller who may review (as POST /v1/duplicates/<id>)."""
    scope = visible_units(_caller())
    return pair.status == "open" and _caller().can("submission.review") and (
        scope is None or pair.village_code in scope[0])


@bp.post("/reviews/<int:review_id>/duplicates/<int:pair_id>")
def review_duplicate_decide(review_id: int, pair_id: int) -> Response:
    """Same household / different households, decided from the household's page in one transaction."""
    caller = _caller()
    decision = request.form.get("decision", "")

    def work() -> str:
        review = _review_or_404(review_id)
        pair = household_queries.pair(pair_id)
        scope = visible_units(caller)
        if pair is None or pair.submission_id != review.submission_id or (
                scope is not None and pair.village_code not in scope[0]):
            raise _not_found()
        caller.require("submission.review")
        household_services.decide_pair(pair, decision, caller.actor)
        services.recheck_after_duplicates(pair.submission_id)
        return review.state

    try:
        new_state = transaction.run(work)
    except Problem as problem:
        if problem.status in (403, 404):
            raise
        return _detail_page(_review_or_404(review_id), problem.status,
                            duplicate_error=Text(problem.message("vi"), problem.message("en")))
    lang = page_language()
    flash(text("done.duplicate", lang, decision=text(f"duplicate.{decision}", lang),
               state=machine.State(new_state).label.get(lang)))
    return redirect(url_for("web.review_detail", review_id=review_id) + "#duplicates")


@bp.post("/reviews/<int:review_id>/entity-conflict")
def review_entity_conflict(review_id: int) -> Response:
    """EN010 from the household's page: the reviewer names the value of every clashing field."""
    caller = _caller()
    choice = {key[len("field-"):]: value for key, value in request.form.items() if key.startswith("field-")}

    def work() -> None:
        review = _review_or_404(review_id)
        caller.require("submission.review")
        submission = db.session.get(Submission, review.submission_id)
        conflict = entity_services.household_conflict(db.session.get(Form, submission.form_id).project_id,
                                                      submission.household_id)
        if conflict is None:
            raise _not_found()
        entity_services.resolve_conflict(conflict.dataset, conflict.entity, choice, caller,
                                         request.form.get("version", type=int))

    try:
        transaction.run(work)
    except Problem as problem:
        if problem.status in (403, 404):
            raise
        return _detail_page(_review_or_404(review_id), problem.status,
                            conflict_error=Text(problem.message("vi"), problem.message("en")))
    flash(text("done.conflict", page_language()))
    return redirect(url_for("web.review_detail", review_id=review_id) + "#entity-conflict")


@bp.post("/reviews/<int:review_id>/actions")
def review_act(review_id: int) -> Response:
    caller = _caller()
    action = request.form.get("action", "")
    expected = request.form.get("expected_state") or None
    payload = {name: request.form[name] for name in TYPED_INPUTS if request.form.get(name, "").strip()}

    def work() -> str:
        review = _review_or_404(review_id)
        services.act(review, action, caller, payload, expected)
        return review.state

    try:
        new_state = transaction.run(work)
    except Problem as problem:
        if problem.status == 404:
            raise
        return _detail_page(_review_or_404(review_id), problem.status,
                            Text(problem.message("vi"), problem.message("en")), request.form)
    flash(text("done.action", page_language(), action=machine.Action(action).label.get(page_language()),
               state=machine.State(new_state).label.get(page_language())))
    return redirect(url_for("web.review_detail", review_id=review_id))


# ---- the village meeting ---------------------------------------------------------------------------

@bp.get("/meetings/new")
def meeting_form() -> Response:
    caller = _caller()
    _require_role(machine.Action.RECORD_MEETING_VOTE)
    scope = visible_units(caller)
    villages = queries.villages_in_scope(scope)
    code = request.args.get("village")
    if not code:
        if len(villages) == 1:
            return redirect(url_for("web.meeting_form", village=villages[0][0]))
        return _page("meeting_villages.html", villages=villages)
    return _meeting_page(code, villages)


def _meeting_page(code: str, villages: list[tuple[str, str]], status: int = 200,
                  problems: tuple[Text, ...] = (), values: Mapping[str, str] | None = None,
                  file_lost: bool = False) -> Response:
    names = dict(villages)
    if code not in names:
        raise _not_found()
    rows = queries.queue_rows(visible_units(_caller()), queries.QueueFilters(
        states=(machine.State.VILLAGE_REVIEW,), village=code), now=utcnow(), limit=QUEUE_LIMIT)
    return _page("meeting.html", status, village_code=code, village_name=names[code], rows=_queue_items(rows),
                 problems=problems, values=values or {}, today=machine.vietnam_today().isoformat(),
                 file_lost=file_lost, minutes_mb=minutes.MAX_MINUTES_BYTES // (1024 * 1024),
                 minutes_types=",".join(minutes.MINUTES_TYPES))


@bp.get("/meetings/minutes/<int:minutes_id>")
def meeting_minutes(minutes_id: int) -> Response:
    """The minutes file, shown in the browser, for the village's verifier, commune, area supervisor, province."""
    row = services.minutes_for(_caller(), minutes_id)
    name = quote(row.file_name)
    return Response(services.read_minutes(row), content_type=row.content_type, headers={
        "Content-Disposition": f"inline; filename=\"{name}\"; filename*=UTF-8''{name}"})


@bp.post("/meetings/new")
def meeting_submit() -> Response:
    caller = _caller()
    _require_role(machine.Action.RECORD_MEETING_VOTE)
    scope = visible_units(caller)
    villages = queries.villages_in_scope(scope)
    code = request.args.get("village", "")
    if code not in dict(villages):
        raise _not_found()
    listed = forms.read_selection(request.form.getlist("review"), request.form)
    reviews = queries.reviews_in_scope(list(listed), scope)
    if set(reviews) != set(listed) or any(r.village_code != code for r in reviews.values()):
        raise _not_found()
    labels = _labels(list(listed), scope)
    upload = request.files.get("minutes_file")
    # The type is read from the bytes (MM001); one byte past the limit is enough to refuse it (MM002).
    data = upload.stream.read(minutes.MAX_MINUTES_BYTES + 1) if upload is not None and upload.filename else None
    file_problems = tuple(r.text for r in minutes.check_minutes(data).problems) if data is not None else ()
    meeting_form_data = forms.read_meeting_form(request.form, labels, machine.vietnam_today(),
                                                minutes_attached=data is not None)
    if meeting_form_data.problems or file_problems:
        return _meeting_page(code, villages, 400, meeting_form_data.problems + file_problems, request.form,
                             file_lost=data is not None)
    items = {review_id: {"votes_in_favour": votes} for review_id, votes in meeting_form_data.votes.items()}

    def with_minutes() -> dict[str, Any]:
        """Inside the meeting's transaction: the minutes stored, and named by the meeting record."""
        row = services.store_minutes(data, upload.filename, code, caller)
        return {"meeting": {**meeting_form_data.meeting, "minutes_id": row.id}}

    try:
        outcome = _act_on_many(machine.Action.RECORD_MEETING_VOTE, items, meeting_form_data.expected,
                               {"meeting": meeting_form_data.meeting}, labels,
                               prepare=with_minutes if data is not None else None)
    except _Refused as refused:
        return _meeting_page(code, villages, refused.status, refused.problems, request.form,
                             file_lost=data is not None)
    agreed = sum(1 for state in outcome.values() if state == machine.State.VILLAGE_AGREED)
    flash(text("done.meeting", page_language(), agreed=agreed, resurvey=len(outcome) - agreed))
    return redirect(url_for("web.queue", village=code))


def _require_role(action: machine.Action) -> None:
    if _caller().role not in machine.ACTIONS[action].roles:
        raise PageError(403, _text("error.forbidden"))


def _status_of(errors: list[machine.ReviewError]) -> int:
    """The HTTP status of refusals, as the JSON API gives them: a conflict wins over a prohibition."""
    if any(isinstance(e, machine.StaleState | machine.IllegalTransition) for e in errors):
        return 409
    if any(isinstance(e, machine.NotAllowed) for e in errors):
        return 403
    return 400


class _Refused(Exception):
    def __init__(self, status: int, problems: tuple[Text, ...]) -> None:
        super().__init__("; ".join(p.en for p in problems))
        self.status, self.problems = status, problems


def _act_on_many(action: machine.Action, items: Mapping[int, Mapping[str, Any]], expected: Mapping[int, str | None],
                 shared: Mapping[str, Any], labels: Mapping[int, str],
                 prepare: Callable[[], Mapping[str, Any]] | None = None) -> dict[int, str]:
    """One action on many households, all or none, in one transaction (RM012).

    The pure machine first judges every household so that the person sees every refusal at once; the
    service then writes each one with its compare-and-set, and any late conflict undoes them all.
    """
    caller = _caller()
    scope = visible_units(caller)

    def judge(reviews: Mapping[int, Review], shared: Mapping[str, Any]) -> None:
        try:
            machine.apply_bulk(action, caller.role, [
                machine.BulkItem(str(review_id), machine.State(reviews[review_id].state),
                                 machine.State(expected[review_id]) if expected.get(review_id) else None,
                                 items[review_id]) for review_id in items], shared)
        except machine.BulkRefused as refused:
            problems = tuple(Text(f"{labels[int(key)]}: {error.message.vi}", f"{labels[int(key)]}: {error.message.en}")
                             for key, error in refused.failures.items())
            raise _Refused(_status_of(list(refused.failures.values())), problems) from refused
        except machine.ReviewError as error:
            raise _Refused(_status_of([error]), (error.message,)) from error

    def work() -> dict[int, str]:
        reviews = queries.reviews_in_scope(list(items), scope)
        if set(reviews) != set(items):
            raise _not_found()
        # ``prepare`` writes what the shared inputs refer to (a meeting's minutes file) in this same transaction.
        given = {**shared, **prepare()} if prepare is not None else shared
        judge(reviews, given)
        outcome = {}
        for review_id, payload in items.items():
            review = services.act(reviews[review_id], action, caller, {**given, **payload}, expected.get(review_id))
            outcome[review_id] = review.state
        return outcome

    try:
        return transaction.run(work)
    except Problem as problem:
        raise _Refused(problem.status, (Text(problem.message("vi"), problem.message("en")),)) from problem


# ---- the commune --------------------------------------------------------------------------------------

@bp.get("/commune")
def commune() -> Response:
    _caller().require("submission.read")
    return _commune_page()


def _commune_page(status: int = 200, problems: tuple[Text, ...] = (), values: MultiDict | None = None) -> Response:
    caller = _caller()
    scope = visible_units(caller)
    filters = forms.read_queue_filters(request.args)
    rows = queries.queue_rows(scope, queries.QueueFilters(states=COMMUNE_STATES, commune=filters.commune,
                                                          village=filters.village, sort="name"),
                              now=utcnow(), limit=QUEUE_LIMIT)
    items = _queue_items(rows)
    sections = []
    for state in COMMUNE_STATES:
        allowed = machine.allowed_actions(state, caller.role)
        sections.append({"state": state, "rows": [item for item in items if item.state == state],
                         "bulk": [a for a in allowed if machine.ACTIONS[a].bulk],
                         "single": [a for a in allowed if not machine.ACTIONS[a].bulk]})
    return _page("commune.html", status, sections=sections, problems=problems, values=values or {},
                 checked=set(values.getlist("review")) if values else set(),
                 communes=queries.communes_in_scope(scope), filters=filters,
                 today=machine.vietnam_today().isoformat(), truncated=len(rows) >= QUEUE_LIMIT)


@bp.post("/commune")
def commune_submit() -> Response:
    try:
        action = machine.Action(request.form.get("action", ""))
    except ValueError as error:
        raise PageError(400, _text("error.unknown_action")) from error
    if not machine.ACTIONS[action].bulk:
        raise PageError(400, machine.NotBulk(action).message)
    selected = forms.read_selection(request.form.getlist("review"), request.form)
    if not selected:
        return _commune_page(400, (_text("error.nothing_selected"),), request.form)
    shared = {name: request.form[name] for name in TYPED_INPUTS if request.form.get(name, "").strip()}
    labels = _labels(list(selected), visible_units(_caller()))
    try:
        outcome = _act_on_many(action, dict.fromkeys(selected, {}), selected, shared, labels)
    except _Refused as refused:
        return _commune_page(refused.status, refused.problems, request.form)
    flash(text("done.bulk", page_language(), action=action.label.get(page_language()), count=len(outcome)))
    return redirect(url_for("web.commune", **{k: v for k, v in request.args.items() if k in ("commune", "village")}))


# ---- the enumerator's returned list ------------------------------------------------------------------

@bp.get("/returned")
def returned() -> Response:
    _caller().require("submission.read")
    rows = queries.returned_rows(visible_units(_caller()), limit=QUEUE_LIMIT)
    return _page("returned.html", rows=rows, label=_household_label)

