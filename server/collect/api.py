"""The ODK Central REST subset that pyodk uses, at Central's paths and with its JSON shapes.

Every view: parse → look up → 404 → authorise → call a service → dump. Household data (submissions,
their files, comments, history, OData, CSV) is filtered by the caller's units: a submission outside them
is a 404, and absent from lists. `GET …/forms/{id}.xml` is served by the OpenRosa blueprint.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from sqlalchemy import Select

from server.accounts import queries as account_queries
from server.accounts import reads
from server.accounts import services as accounts
from server.accounts.models import FieldKey
from server.accounts.services import Caller
from server.collect import forms_service, odata, presenters, projects_service, queries, review_service, schemas
from server.collect.models import Form, FormDef, Project, Submission
from server.errors import Problem
from server.http import transaction
from server.http.auth import current_caller, password_login
from server.http.inputs import json_object, query_flag
from server.units.services import choice_lists

bp = Blueprint("central", __name__, url_prefix="/v1")
FORM = "/projects/<int:project_id>/forms/<xml_form_id>"
SUBMISSION = FORM + "/submissions/<instance_id>"
XML_TYPES = ("application/xml", "text/xml")


@bp.before_request
def _protocol() -> None:
    g.protocol = "json"


def _success() -> Response:
    return jsonify({"success": True})


# --- look-ups (404s) -----------------------------------------------------------------------------------------

def _project(project_id: int) -> Project:
    project = queries.project(project_id)
    if project is None:
        raise Problem("not_found", what=f"project {project_id}")
    return project


def _form(project_id: int, xml_form_id: str) -> Form:
    form = queries.form(_project(project_id).id, xml_form_id)
    if form is None:
        raise Problem("form_not_found", form_id=xml_form_id)
    return form


def _published(form: Form) -> Form:
    if form.current_def is None:
        raise Problem("form_not_found", form_id=form.xml_form_id)
    return form


def _submission(form: Form, instance_id: str, caller: Caller) -> Submission:
    """Out of the caller's units looks exactly like not there."""
    found = queries.visible_submission(form.id, instance_id, accounts.visible_units(caller))
    if found is None:
        raise Problem("not_found", what=f"submission {instance_id}")
    return found


def _visible(project_id: int, xml_form_id: str, instance_id: str, verb: str) -> tuple[Caller, Submission]:
    """The head of every single-submission view: who asks, the form (404), the verb (403), the submission
    within the caller's units (404)."""
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require(verb)
    return caller, _submission(form, instance_id, caller)


def _app_user(project_id: int, actor_id: int, caller: Caller) -> FieldKey:
    key = account_queries.field_key(actor_id)
    if key is None or key.project_id != project_id or not accounts.manages(caller, key):
        raise Problem("not_found", what=f"app user {actor_id}")
    return key


def _download(name: str) -> dict[str, str]:
    """File names may be Vietnamese: an ASCII fallback plus the RFC 5987 form."""
    return {"Content-Disposition": f"attachment; filename=\"{quote(name)}\"; filename*=UTF-8''{quote(name)}"}


# --- sessions, users, projects ------------------------------------------------------------------------------

@bp.post("/sessions")
def create_session() -> Response:
    body = json_object()
    session, token = password_login(str(body.get("email", "")), str(body.get("password", "")), accounts.open_session)
    return jsonify(presenters.session(session, token))


@bp.get("/users/current")
def current_user() -> Response:
    caller = current_caller()
    if caller.actor.user is None:
        raise Problem("forbidden")
    return jsonify(presenters.user(caller.actor.user))


@bp.get("/projects")
def list_projects() -> Response:
    current_caller().require("project.read")
    return jsonify([presenters.project(p) for p in queries.projects()])


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int) -> Response:
    caller = current_caller()
    project = _project(project_id)
    caller.require("project.read")
    return jsonify(presenters.project(project))


@bp.post("/projects")
@transaction.write
def create_project() -> Response:
    body = schemas.load(schemas.ProjectIn(), request.get_json(silent=True))
    caller = current_caller()
    caller.require("project.create")
    project = projects_service.create_project(body["name"], body["description"], caller.actor)
    return jsonify(presenters.project(project))


# --- app users and form assignments ------------------------------------------------------------------------

@bp.get("/projects/<int:project_id>/app-users")
def list_app_users(project_id: int) -> Response:
    caller = current_caller()
    _project(project_id)
    caller.require("app_user.manage")
    keys = [k for k in account_queries.field_keys_of_project(project_id) if accounts.manages(caller, k)]
    return jsonify([presenters.app_user(k, accounts.app_user_token(k)) for k in keys])


@bp.post("/projects/<int:project_id>/app-users")
@transaction.write
def create_app_user(project_id: int) -> Response:
    body = schemas.load(schemas.AppUserIn(), request.get_json(silent=True))
    caller = current_caller()
    _project(project_id)
    caller.require("app_user.manage")
    if not accounts.units_within(body["units"], accounts.visible_units(caller)):
        raise Problem("forbidden")
    key = accounts.create_app_user(project_id, body["displayName"], body["units"], caller.actor)
    return jsonify(presenters.app_user(key, accounts.app_user_token(key)))


@bp.delete("/projects/<int:project_id>/app-users/<int:actor_id>")
@transaction.write
def revoke_app_user(project_id: int, actor_id: int) -> Response:
    caller = current_caller()
    _project(project_id)
    caller.require("app_user.manage")
    accounts.revoke_app_user(_app_user(project_id, actor_id, caller), caller.actor)
    return _success()


@bp.get(FORM + "/assignments")
def list_assignments(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require("app_user.manage")
    managed = {k.actor_id for k in account_queries.field_keys_of_project(project_id) if accounts.manages(caller, k)}
    return jsonify([presenters.assignment(a) for a in queries.assignments(form.id) if a.actor_id in managed])


@bp.post(FORM + "/assignments/<int:role_id>/<int:actor_id>")
@transaction.write
def assign_form(project_id: int, xml_form_id: str, role_id: int, actor_id: int) -> Response:
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require("app_user.manage")
    if role_id != projects_service.APP_USER_ROLE:
        raise Problem("invalid_input", detail=f"chỉ hỗ trợ vai trò / only role {projects_service.APP_USER_ROLE}")
    key = _app_user(project_id, actor_id, caller)
    projects_service.assign_form(form, key.actor_id, caller.actor)
    return _success()


# --- forms, drafts, publishing -----------------------------------------------------------------------------

@bp.get("/projects/<int:project_id>/forms")
def list_forms(project_id: int) -> Response:
    caller = current_caller()
    _project(project_id)
    caller.require("form.read")
    return jsonify([presenters.form(f) for f in queries.forms(project_id)])


@bp.get(FORM)
def get_form(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require("form.read")
    return jsonify(presenters.form(form))


@bp.post("/projects/<int:project_id>/forms")
@transaction.write
def create_form(project_id: int) -> Response:
    """XLSForm or XForm in; a draft, published with `?publish=true` (as in Central). An existing form is a 409."""
    caller = current_caller()
    project = _project(project_id)
    caller.require("form.create")
    form = forms_service.create_draft(project, request.get_data(), request.content_type or "", caller.actor)
    if form.current_def is not None:
        raise Problem("already_exists", what=f"form {form.xml_form_id}")
    if query_flag("publish"):
        forms_service.fill_generated_attachments(form, choice_lists)
        forms_service.publish_draft(form, caller.actor)
    return jsonify(presenters.form(form))


@bp.post(FORM + "/draft")
@transaction.write
def create_draft(project_id: int, xml_form_id: str) -> Response:
    """A new definition, or without a body a copy of the published one (to change attachments)."""
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require("form.update")
    body, content_type = request.get_data(), request.content_type or ""
    if not body:
        body, content_type = _published(form).current_def.xml, "application/xml"
    forms_service.create_draft(form.project, body, content_type, caller.actor, expected_form_id=xml_form_id)
    return _success()


@bp.get(FORM + "/draft/attachments")
def list_draft_attachments(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    draft = _draft(_form(project_id, xml_form_id))
    caller.require("form.update")
    return jsonify([presenters.form_attachment(a) for a in draft.attachments])


@bp.post(FORM + "/draft/attachments/<name>")
@transaction.write
def upload_draft_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require("form.update")
    attachment = forms_service.set_draft_attachment(form, name, request.get_data(), request.mimetype or None,
                                                    caller.actor)
    return jsonify(presenters.form_attachment(attachment))


@bp.post(FORM + "/draft/publish")
@transaction.write
def publish_draft(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    _draft(form)
    caller.require("form.update")
    forms_service.fill_generated_attachments(form, choice_lists)
    forms_service.publish_draft(form, caller.actor, request.args.get("version") or None)
    return _success()


def _draft(form: Form) -> FormDef:
    if form.draft_def is None:
        raise Problem("not_found", what=f"draft of {form.xml_form_id}")
    return form.draft_def


# --- submissions ---------------------------------------------------------------------------------------------

@bp.get(FORM + "/submissions")
def list_submissions(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    form = _form(project_id, xml_form_id)
    caller.require("submission.read")
    rows = queries.submission_rows(queries.submissions_query(form.id, accounts.visible_units(caller)))
    return jsonify([presenters.submission(r.submission, r.current) for r in rows])


@bp.post(FORM + "/submissions")
@transaction.write
def create_submission(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    form = _published(_form(project_id, xml_form_id))
    caller.require("submission.create")
    _require_xml()
    result = review_service.create(form, request.get_data(), caller, accounts.visible_units(caller),
                                   device_id=request.args.get("deviceID") or None)
    return jsonify(presenters.submission(result.submission, result.submission_def))


def _require_xml() -> None:
    if request.mimetype not in XML_TYPES:
        raise Problem("unsupported_type", detail=request.mimetype or "(none)")


@bp.get(SUBMISSION)
def get_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _, submission = _visible(project_id, xml_form_id, instance_id, "submission.read")
    return jsonify(presenters.submission(submission, queries.current_def(submission.id)))


@bp.get(SUBMISSION + ".xml")
def get_submission_xml(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    caller, submission = _visible(project_id, xml_form_id, instance_id, "submission.read")
    _audit_read(caller, "submission.read", xml_form_id, submission, {"format": "xml"})
    return Response(queries.current_def(submission.id).xml, content_type="application/xml; charset=utf-8")


@bp.put(SUBMISSION)
@transaction.write
def edit_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    caller = current_caller()
    form = _published(_form(project_id, xml_form_id))
    caller.require("submission.update")
    submission = _submission(form, instance_id, caller)
    _require_xml()
    result = review_service.edit(form, submission, request.get_data(), caller, accounts.visible_units(caller))
    return jsonify(presenters.submission(result.submission, result.submission_def))


@bp.patch(SUBMISSION)
@transaction.write
def review_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    body = schemas.load(schemas.ReviewIn(), request.get_json(silent=True))
    caller, submission = _visible(project_id, xml_form_id, instance_id, "submission.review")
    review_service.set_review_state(submission, body["reviewState"], caller)
    return jsonify(presenters.submission(submission, queries.current_def(submission.id)))


@bp.get(SUBMISSION + "/comments")
def list_comments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _, submission = _visible(project_id, xml_form_id, instance_id, "submission.read")
    return jsonify([presenters.comment(c) for c in queries.comments(submission.id)])


@bp.post(SUBMISSION + "/comments")
@transaction.write
def create_comment(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    body = schemas.load(schemas.CommentIn(), request.get_json(silent=True))
    caller, submission = _visible(project_id, xml_form_id, instance_id, "comment.create")
    comment = review_service.add_comment(submission, body["body"], caller)
    return jsonify(presenters.comment(comment))


@bp.get(SUBMISSION + "/attachments")
def list_submission_attachments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _, submission = _visible(project_id, xml_form_id, instance_id, "submission.read")
    return jsonify([presenters.submission_attachment(a) for a in queries.current_def(submission.id).attachments])


@bp.get(SUBMISSION + "/attachments/<name>")
def get_submission_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    caller, submission = _visible(project_id, xml_form_id, instance_id, "submission.read")
    attachment = queries.submission_attachment(queries.current_def(submission.id).id, name)
    if attachment is None or attachment.blob is None:
        raise Problem("not_found", what=name)
    _audit_read(caller, "submission.attachment.read", xml_form_id, submission, {"name": name})
    return Response(forms_service.read_blob(attachment.blob),
                    content_type=attachment.blob.content_type or "application/octet-stream",
                    headers=_download(name))


@bp.post(SUBMISSION + "/attachments/<name>")
@transaction.write
def upload_submission_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    caller, submission = _visible(project_id, xml_form_id, instance_id, "submission.update")
    review_service.attach(submission, name, request.get_data(), request.mimetype or None, caller)
    return _success()


@bp.get(SUBMISSION + "/audits")
def list_submission_audits(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _, submission = _visible(project_id, xml_form_id, instance_id, "submission.read")
    return jsonify([presenters.audit(a) for a in queries.submission_audits(submission.id)])


@bp.get(FORM + "/submissions.csv")
def export_csv(project_id: int, xml_form_id: str) -> Response:
    """Streamed, so that a whole province's form never sits in memory; the export itself is audited."""
    caller = current_caller()
    form = _published(_form(project_id, xml_form_id))
    caller.require("submission.export")
    form_id, tree = form.id, _tree(form.current_def)
    scope = accounts.visible_units(caller)
    transaction.run(lambda: reads.personal_data_read(caller, "submission.export", form_id, xml_form_id,
                                                     request.args.to_dict(), format="csv"))
    rows = queries.iter_submission_rows(queries.submissions_query(form_id, scope))
    return Response(stream_with_context(presenters.csv_lines(tree, rows)), content_type="text/csv; charset=utf-8",
                    headers=_download(f"{xml_form_id}.csv"))


def _audit_read(caller: Caller, action: str, xml_form_id: str, submission: Submission, what: dict) -> None:
    """A full read of one household's submission (XML, a file): audited before it is served."""
    form_id, instance_id, unit = submission.form_id, submission.instance_id, submission.village_code
    transaction.run(lambda: reads.personal_data_read(caller, action, form_id, xml_form_id, None,
                                                     instanceId=instance_id, village=unit, **what))


# --- OData -------------------------------------------------------------------------------------------------

_TREES: dict[str, odata.FieldTree] = {}


def _tree(form_def: FormDef) -> odata.FieldTree:
    """Read once per XForm content (keyed by its hash, so never stale)."""
    tree = _TREES.get(form_def.sha256)
    if tree is None:
        if len(_TREES) > 256:
            _TREES.clear()
        tree = _TREES[form_def.sha256] = odata.field_tree(form_def.xml)
    return tree


def _service_url(project_id: int, xml_form_id: str) -> str:
    return f"{request.host_url.rstrip('/')}/v1/projects/{project_id}/forms/{quote(xml_form_id)}.svc"


@bp.get(FORM + ".svc")
def odata_service(project_id: int, xml_form_id: str) -> Response:
    caller = current_caller()
    form = _published(_form(project_id, xml_form_id))
    caller.require("submission.read")
    return jsonify(odata.service_document(_tree(form.current_def),
                                          _service_url(project_id, xml_form_id) + "/$metadata"))


@bp.get(FORM + ".svc/<path:resource>")
def odata_resource(project_id: int, xml_form_id: str, resource: str) -> Response:
    caller = current_caller()
    form = _published(_form(project_id, xml_form_id))
    caller.require("submission.read")
    tree = _tree(form.current_def)
    if resource == "$metadata":
        return Response(odata.metadata_document(xml_form_id, tree), content_type="application/xml; charset=utf-8")
    try:
        target = odata.parse_target(resource, tree)
        options = odata.parse_query(request.args, tree)
    except odata.ODataError as error:
        raise Problem("odata_query", detail=str(error)) from error
    scope = accounts.visible_units(caller)
    submissions = queries.submissions_query(form.id, scope)
    if target.instance_id is not None:
        if queries.visible_submission(form.id, target.instance_id, scope) is None:
            raise Problem("not_found", what=f"submission {target.instance_id}")
        submissions = queries.only_instance(submissions, target.instance_id)
    form_id = form.id
    transaction.run(lambda: reads.personal_data_read(caller, "submission.export", form_id, xml_form_id,
                                                     request.args.to_dict(), format="odata", resource=resource))
    if target.repeat_path is None:
        total, values = _submission_records(submissions, options, tree)
        table = odata.ROOT_TABLE
    else:
        total, values = _repeat_records(submissions, options, tree, target)
        table = odata.table_name(target.repeat_path)
    body: dict = {"@odata.context": f"{_service_url(project_id, xml_form_id)}/$metadata#{table}"}
    if options.has_more(total):
        following = {**request.args.to_dict(), "$skip": str(options.skip + (options.top or 0))}
        body["@odata.nextLink"] = f"{request.base_url}?{urlencode(following)}"
    if options.count:
        body["@odata.count"] = total
    body["value"] = values
    return jsonify(body)


def _matching_rows(submissions: Select, options: odata.Query, tree: odata.FieldTree) -> list[queries.SubmissionRow]:
    """Rows passing `$filter`, evaluated here on metadata and, only when the filter reads them, answers."""
    reads_answers = any(not path.startswith("__") for path in odata.filter_paths(options.filter))
    rows = queries.submission_rows(submissions, answers=reads_answers)
    return [r for r in rows if odata.matches(options.filter, odata.resolver(
        r.submission.instance_id, presenters.filter_system(r),
        (r.current.answers or {}).get("fields") if reads_answers else None, tree))]


def _submission_records(submissions: Select, options: odata.Query, tree: odata.FieldTree) -> tuple[int, list[dict]]:
    if options.filter is None:
        # Without a filter the database pages and counts.
        total = queries.count(submissions) if options.count or options.top is not None else 0
        page = queries.submission_rows(submissions, limit=options.top, offset=options.skip)
    else:
        rows = _matching_rows(submissions, options, tree)
        total = len(rows)
        page = rows[options.skip:None if options.top is None else options.skip + options.top]
    xml = queries.def_xml([r.current.id for r in page])
    return total, [odata.select(odata.read_submission(tree, xml[r.current.id], r.submission.instance_id,
                                                      presenters.odata_system(r), expand=options.expand,
                                                      wkt=options.wkt).record, options.select) for r in page]


def _repeat_records(submissions: Select, options: odata.Query, tree: odata.FieldTree,
                    target: odata.Target) -> tuple[int, list[dict]]:
    """A repeat's rows across the submissions that pass `$filter` (Central filters repeat tables by their
    submission), or under one parent when navigated to."""
    rows = _matching_rows(submissions, options, tree)
    xml = queries.def_xml([r.current.id for r in rows])
    found = []
    for row in rows:
        reading = odata.read_submission(tree, xml[row.current.id], row.submission.instance_id,
                                        expand=options.expand, wkt=options.wkt)
        found += [record for parent, record in reading.tables.get(target.repeat_path, [])
                  if target.parent_id is None or parent == target.parent_id]
    page = found[options.skip:None if options.top is None else options.skip + options.top]
    return len(found), [odata.select(record, options.select) for record in page]
