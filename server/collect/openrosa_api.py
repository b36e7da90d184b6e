"""The OpenRosa device surface, at ODK Central's paths.

Devices use app-user tokens in the URL (`/v1/key/{token}/projects/{pid}/…`); web users may use the
same paths without the key part, authenticated by header.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request, url_for

from forms.openrosa import FormListEntry, ManifestFile, form_list_xml, manifest_xml
from server.accounts.services import Caller, visible_units
from server.collect import queries
from server.collect.forms_service import read_blob
from server.collect.models import Form
from server.collect.submissions_service import Upload, check_uploads, ingest, parse
from server.entities import services as entity_lists
from server.errors import Problem
from server.http import transaction
from server.http.auth import current_caller, device_caller
from server.http.errors import OPENROSA_HEADERS
from sync import responses

bp = Blueprint("openrosa", __name__)
PREFIXES = ("/v1/key/<token>/projects/<int:project_id>", "/v1/projects/<int:project_id>")


def route(rule: str, **options):  # type: ignore[no-untyped-def]
    def register(view):  # type: ignore[no-untyped-def]
        for prefix in PREFIXES:
            bp.add_url_rule(prefix + rule, view_func=view, **options)
        return view

    return register


@bp.url_value_preprocessor
def _protocol(endpoint: str | None, values: dict | None) -> None:
    g.protocol = "openrosa"
    g.token = (values or {}).pop("token", None)


def _caller() -> Caller:
    return device_caller(g.token) if g.token is not None else current_caller()


def _project(project_id: int, caller: Caller) -> int:
    """The project id once the caller may use it (an app user's key names its project)."""
    caller.require("form.read")
    key = g.get("field_key")
    if key is not None:
        if key.project_id != project_id:
            raise Problem("forbidden")
        return project_id
    if queries.project(project_id) is None:
        raise Problem("not_found", what=f"project {project_id}")
    return project_id


def _require_openrosa_version() -> None:
    if request.headers.get("X-OpenRosa-Version", "").strip() != "1.0":
        raise Problem("openrosa_version")


def _visible_forms(project_id: int, caller: Caller) -> list[Form]:
    forms = [f for f in queries.forms(project_id) if f.current_def is not None]
    if caller.role == "field_key":
        assigned = queries.assigned_form_ids(caller.actor.id)
        forms = [f for f in forms if f.id in assigned]
    return forms


def _form(project_id: int, caller: Caller, xml_form_id: str) -> Form:
    form = queries.visible_form(project_id, xml_form_id,
                                caller.actor.id if caller.role == "field_key" else None)
    if form is None:
        raise Problem("form_not_found", form_id=xml_form_id)
    return form


def _url(endpoint: str, **values: object) -> str:
    if g.token is not None:
        values["token"] = g.token
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(f"openrosa.{endpoint}", **values)


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/xml; charset=utf-8", headers=OPENROSA_HEADERS)


@route("/formList", methods=["GET"], endpoint="form_list")
def form_list(project_id: int) -> Response:
    _require_openrosa_version()
    caller = _caller()
    _project(project_id, caller)
    wanted = request.args.get("formID")
    entries = []
    for form in _visible_forms(project_id, caller):
        if form.state != "open" or (wanted and form.xml_form_id != wanted):
            continue
        current = form.current_def
        entries.append(FormListEntry(
            form_id=form.xml_form_id, name=current.name, version=current.version, hash="md5:" + current.md5,
            download_url=_url("form_xml", project_id=project_id, xml_form_id=form.xml_form_id),
            manifest_url=_url("manifest", project_id=project_id, xml_form_id=form.xml_form_id)
            if current.attachments else None))
    return _xml(form_list_xml(entries))


@route("/forms/<xml_form_id>.xml", methods=["GET"], endpoint="form_xml")
def form_xml(project_id: int, xml_form_id: str) -> Response:
    caller = _caller()
    form = _form(_project(project_id, caller), caller, xml_form_id)
    return _xml(form.current_def.xml)


@route("/forms/<xml_form_id>/manifest", methods=["GET"], endpoint="manifest")
def manifest(project_id: int, xml_form_id: str) -> Response:
    _require_openrosa_version()
    caller = _caller()
    form = _form(_project(project_id, caller), caller, xml_form_id)

    def listed() -> list[ManifestFile]:
        files = []
        names = entity_lists.list_names(project_id)
        for a in form.current_def.attachments:
            download_url = _url("form_attachment", project_id=project_id, xml_form_id=xml_form_id, name=a.name)
            dataset = entity_lists.entity_list_name(a.name, names)
            if dataset is not None:  # an entity list: built for this caller, with the ODK integrity check
                rendered = entity_lists.render_list(project_id, dataset, caller)
                files.append(ManifestFile(filename=a.name, hash="md5:" + rendered.md5, download_url=download_url,
                                          entity_list=True, integrity_url=_integrity_url(project_id, dataset)))
            elif a.blob is not None:
                files.append(ManifestFile(filename=a.name, hash="md5:" + a.blob.md5, download_url=download_url))
        return files

    return _xml(manifest_xml(transaction.run(listed)))


def _integrity_url(project_id: int, dataset: str) -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    if g.token is not None:
        return base + url_for("entities.device_integrity", token=g.token, project_id=project_id, name=dataset)
    return base + url_for("entities.user_integrity", project_id=project_id, name=dataset)


@route("/forms/<xml_form_id>/attachments/<name>", methods=["GET"], endpoint="form_attachment")
def form_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    caller = _caller()
    form = _form(_project(project_id, caller), caller, xml_form_id)
    attachment = queries.form_attachment(form.current_def.id, name)
    names = entity_lists.list_names(project_id) if attachment is not None else frozenset()
    dataset = entity_lists.entity_list_name(name, names)
    if dataset is not None:
        rendered = transaction.run(lambda: entity_lists.render_list(project_id, dataset, caller))
        return Response(rendered.body, content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "ETag": f'"{rendered.md5}"'})
    if attachment is None or attachment.blob is None:
        raise Problem("not_found", what=name)
    return Response(read_blob(attachment.blob), content_type=attachment.blob.content_type or "application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@route("/submission", methods=["HEAD"], endpoint="submission_head")
def submission_head(project_id: int) -> Response:
    """Collect's preflight: only 204 counts as an OpenRosa endpoint."""
    _require_openrosa_version()
    caller = _caller()
    _project(project_id, caller)
    caller.require("submission.create")
    headers = dict(OPENROSA_HEADERS)
    headers["X-OpenRosa-Accept-Content-Length"] = str(current_app.config["MAX_CONTENT_LENGTH"])
    return Response(status=204, headers=headers)


@route("/submission", methods=["POST"], endpoint="submission")
def submission(project_id: int) -> Response:
    _require_openrosa_version()
    caller = _caller()
    _project(project_id, caller)
    caller.require("submission.create")
    if not request.mimetype.startswith("multipart/"):
        raise Problem("not_multipart")
    xml_part = request.files.get("xml_submission_file")
    if xml_part is None:
        raise Problem("not_multipart")
    if len(request.files.getlist("xml_submission_file")) > 1:  # which one would be the submission?
        raise Problem("invalid_input", detail="nhiều phần xml_submission_file / more than one xml_submission_file")
    xml = xml_part.read()
    uploads = [Upload(name=storage.filename or field, data=storage.read(), content_type=storage.mimetype)
               for field, storage in request.files.items(multi=True) if field != "xml_submission_file"]
    parsed = parse(xml)
    check_uploads(uploads)
    device_id = request.args.get("deviceID")

    def work() -> Response:
        form = _form(project_id, caller, parsed.form_id)
        result = ingest(form, xml, uploads, caller, device_id=device_id, parsed=parsed)
        # RV003 on this path too: a person (not a device: its households are kept wherever they lie and
        # reviewed there) cannot send a submission into units outside their scope.
        scope = visible_units(caller) if caller.role != "field_key" else None
        if scope is not None and not queries.submission_in_scope(result.submission_id, scope):
            raise Problem("forbidden")
        headers = dict(OPENROSA_HEADERS)
        headers["X-OpenRosa-Accept-Content-Length"] = str(current_app.config["MAX_CONTENT_LENGTH"])
        return Response(responses.success(), status=201, content_type="text/xml; charset=utf-8", headers=headers)

    return transaction.run(work)


