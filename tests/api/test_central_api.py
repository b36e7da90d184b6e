"""The ODK Central REST subset (server/collect/api.py), OData (OD rules in server/collect/odata.py) and the
review use-cases (RV rules in server/collect/review_service.py).

Personas and units come from tests/factories.py: village 07210-01 (commune 07210, area A) holds one
household ("uuid:a1"), village 07228-01 (commune 07228, area B) another ("uuid:b1").
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, date, datetime

import pytest
from lxml import etree
from openpyxl import Workbook
from sqlalchemy import func, select

from server.accounts.models import Audit
from server.collect import odata
from server.collect.models import Comment, FormAssignment, Submission
from server.extensions import db
from tests.factories import DEMO_FORM, OPENROSA, build_world, device_post, submission_xml

FL = "{http://openrosa.org/xforms/xformsList}"
XML = {"Content-Type": "application/xml"}
FORM_KEYS = {"projectId", "xmlFormId", "version", "hash", "state", "createdAt", "name", "enketoId", "keyId",
             "updatedAt", "publishedAt"}
SUBMISSION_KEYS = {"instanceId", "submitterId", "deviceId", "reviewState", "createdAt", "updatedAt", "deletedAt",
                   "currentVersion"}
SYSTEM_KEYS = {"submissionDate", "updatedAt", "submitterId", "submitterName", "attachmentsPresent",
               "attachmentsExpected", "status", "reviewState", "deviceId", "edits", "formVersion", "deletedAt"}


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def seeded(client, world):
    """One household in each commune, sent by the devices of their villages."""
    assert device_post(client, world, submission_xml("uuid:a1", head="Nguyễn Văn An",
                                                     members=(("Nguyễn Văn An", 1970), ("Lê Thị Hoa", 1975))),
                       files={"house.jpg": b"jpeg-a"}).status_code == 201
    assert device_post(client, world, submission_xml("uuid:b1", head="Trần Thị Bình", village="07228-01",
                                                     commune="07228", photo="house-b.jpg"),
                       files={"house-b.jpg": b"jpeg-b"}, device="device_07228_01").status_code == 201
    return world


def _url(world, path: str) -> str:
    return f"/v1/projects/{world.project_id}{path}"


def _get(client, world, path: str, persona: str = "admin", **options):
    return client.get(_url(world, path), headers=world.basic(persona), **options)


def _post(client, world, path: str, persona: str = "admin", **options):
    return client.post(_url(world, path), headers={**world.basic(persona), **options.pop("headers", {})}, **options)


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Audit.action).order_by(Audit.id)))


def _xlsx(survey: list[list], settings: list[list], choices: list[list] | None = None) -> bytes:
    book = Workbook()
    book.active.title = "survey"
    for row in survey:
        book["survey"].append(row)
    for name, rows in (("settings", settings), ("choices", choices)):
        if rows:
            sheet = book.create_sheet(name)
            for row in rows:
                sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PLAIN_XLSX_SURVEY = [["type", "name", "label"], ["text", "name", "Tên"], ["integer", "age", "Tuổi"]]


def _plain_xform(form_id: str = "plain", version: str = "1", extra: str = "") -> bytes:
    return (f'<?xml version="1.0"?><h:html xmlns="http://www.w3.org/2002/xforms" '
            f'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">'
            f'<h:head><h:title>Plain</h:title><model><instance><data id="{form_id}" version="{version}">'
            f'<name/>{extra}<meta><instanceID/></meta></data></instance>'
            f'<bind nodeset="/data/name" type="string"/></model></h:head>'
            f'<h:body><input ref="/data/name"><label>Name</label></input></h:body></h:html>').encode()


# --- sessions and users ---------------------------------------------------------------------------------------

def test_sessions__valid_credentials__bearer_token_works(client, world):
    response = client.post("/v1/sessions", json={"email": world.users["admin"], "password": "correct horse battery"})
    assert response.status_code == 200
    assert {"token", "csrf", "createdAt", "expiresAt"} <= response.json.keys()
    me = client.get("/v1/users/current", headers={"Authorization": f"Bearer {response.json['token']}"})
    assert me.status_code == 200 and me.json["email"] == world.users["admin"]


def test_sessions__wrong_password__401(client, world):
    response = client.post("/v1/sessions", json={"email": world.users["admin"], "password": "not the password"})
    assert response.status_code == 401 and response.json["code"] == 401.2


def test_users_current__bad_bearer__401(client, world):
    assert client.get("/v1/users/current", headers={"Authorization": "Bearer nonsense"}).status_code == 401


# --- projects -------------------------------------------------------------------------------------------------

def test_projects_list__reader__central_shape_with_nullable_keys(client, world):
    response = client.get("/v1/projects", headers=world.basic("verifier_07210_01"))
    assert response.status_code == 200
    (project,) = response.json
    assert project["id"] == world.project_id and project["name"] == "Rà soát 2026"
    assert {"description", "archived", "keyId", "createdAt", "updatedAt", "deletedAt"} <= project.keys()


def test_projects_list__anonymous__403(client, world):
    assert client.get("/v1/projects").status_code == 403


def test_project_get__unknown__404(client, world):
    assert client.get("/v1/projects/999", headers=world.basic("admin")).status_code == 404


def test_project_create__admin__created_and_audited(app, client, world):
    response = client.post("/v1/projects", json={"name": "  Rà soát giữa kỳ  "}, headers=world.basic("admin"))
    assert response.status_code == 200
    assert response.json["name"] == "Rà soát giữa kỳ" and response.json["description"] is None
    assert client.get(f"/v1/projects/{response.json['id']}", headers=world.basic("admin")).status_code == 200
    assert "project.create" in _actions(app)


def test_project_create__missing_name__400(client, world):
    response = client.post("/v1/projects", json={"description": "x"}, headers=world.basic("admin"))
    assert response.status_code == 400 and "name" in response.json["message"]


def test_project_create__not_admin__403(client, world):
    assert client.post("/v1/projects", json={"name": "X"}, headers=world.basic("province")).status_code == 403


# --- app users and assignments --------------------------------------------------------------------------------

def test_app_users_create__admin__token_opens_device_surface(client, world):
    response = _post(client, world, "/app-users", json={"displayName": "Máy 3", "units": ["07210-02"]})
    assert response.status_code == 200
    body = response.json
    assert body["type"] == "field_key" and body["displayName"] == "Máy 3" and body["projectId"] == world.project_id
    assert {"id", "createdAt", "updatedAt", "deletedAt"} <= body.keys() and len(body["token"]) == 64
    listing = client.get(f"/v1/key/{body['token']}/projects/{world.project_id}/formList", headers=OPENROSA)
    assert listing.status_code == 200


def test_app_users_create__missing_display_name__400(client, world):
    assert _post(client, world, "/app-users", json={}).status_code == 400


def test_app_users_list__token_recomputed__same_as_at_creation(client, world):
    created = _post(client, world, "/app-users", json={"displayName": "Máy 3"}).json
    listed = {u["id"]: u for u in _get(client, world, "/app-users").json}
    assert listed[created["id"]]["token"] == created["token"]
    assert len(listed) == 3


def test_app_users_revoke__listed_with_null_token_and_device_refused(client, world):
    created = _post(client, world, "/app-users", json={"displayName": "Máy 3"}).json
    response = client.delete(_url(world, f"/app-users/{created['id']}"), headers=world.basic("admin"))
    assert response.status_code == 200 and response.json == {"success": True}
    listed = {u["id"]: u for u in _get(client, world, "/app-users").json}
    assert listed[created["id"]]["token"] is None
    refused = client.get(f"/v1/key/{created['token']}/projects/{world.project_id}/formList", headers=OPENROSA)
    assert refused.status_code == 403


def test_app_users_revoke__unknown__404(client, world):
    assert client.delete(_url(world, "/app-users/9999"), headers=world.basic("admin")).status_code == 404


def test_app_users__supervisor__only_devices_of_own_area(client, world):
    names = {u["displayName"] for u in _get(client, world, "/app-users", "supervisor_a").json}
    assert names == {"device_07210_01"}


def test_app_users_revoke__supervisor_other_area__404(client, world):
    other = next(u for u in _get(client, world, "/app-users").json if u["displayName"] == "device_07228_01")
    response = client.delete(_url(world, f"/app-users/{other['id']}"), headers=world.basic("supervisor_a"))
    assert response.status_code == 404


def test_app_users_create__supervisor_unit_outside_area__403(client, world):
    outside = _post(client, world, "/app-users", "supervisor_a", json={"displayName": "X", "units": ["07228-01"]})
    assert outside.status_code == 403
    unscoped = _post(client, world, "/app-users", "supervisor_a", json={"displayName": "X"})
    assert unscoped.status_code == 403
    inside = _post(client, world, "/app-users", "supervisor_a", json={"displayName": "X", "units": ["07210-02"]})
    assert inside.status_code == 200


def test_app_users__verifier__403(client, world):
    assert _get(client, world, "/app-users", "verifier_07210_01").status_code == 403


def test_assignments_create__role_2__device_sees_form_once(app, client, world):
    created = _post(client, world, "/app-users", json={"displayName": "Máy 3"}).json
    device_list = f"/v1/key/{created['token']}/projects/{world.project_id}/formList"
    before = etree.fromstring(client.get(device_list, headers=OPENROSA).data)
    assert before.findall(f"{FL}xform") == []
    for _ in range(2):
        response = _post(client, world, f"/forms/demo/assignments/2/{created['id']}")
        assert response.status_code == 200 and response.json == {"success": True}
    after = etree.fromstring(client.get(device_list, headers=OPENROSA).data)
    assert [x.text for x in after.iter(f"{FL}formID")] == ["demo"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FormAssignment)
                                 .where(FormAssignment.actor_id == created["id"])) == 1
    assert _actions(app).count("assignment.create") == 1


def test_assignments_create__other_role__400(client, world):
    created = _post(client, world, "/app-users", json={"displayName": "Máy 3"}).json
    assert _post(client, world, f"/forms/demo/assignments/1/{created['id']}").status_code == 400


def test_assignments_create__not_an_app_user__404(client, world):
    assert _post(client, world, "/forms/demo/assignments/2/9999").status_code == 404


def test_assignments_list__assigned_devices__listed_with_role(client, world):
    listed = _get(client, world, "/forms/demo/assignments").json
    assert len(listed) == 2 and {a["roleId"] for a in listed} == {2}
    devices = {u["displayName"]: u["id"] for u in _get(client, world, "/app-users").json}
    in_area = _get(client, world, "/forms/demo/assignments", "supervisor_a").json
    assert in_area == [{"actorId": devices["device_07210_01"], "roleId": 2}]


# --- forms ----------------------------------------------------------------------------------------------------

def test_forms_list__published__central_shape(client, world):
    (form,) = _get(client, world, "/forms", "verifier_07210_01").json
    assert FORM_KEYS <= form.keys()
    assert form["xmlFormId"] == "demo" and form["version"] == "1" and form["state"] == "open"
    assert form["publishedAt"] is not None and form["enketoId"] is None and form["keyId"] is None
    xml = _get(client, world, "/forms/demo.xml").data
    assert form["hash"] == hashlib.md5(xml).hexdigest()


def test_form_get__unknown__404(client, world):
    assert _get(client, world, "/forms/nothing").status_code == 404


def test_form_get__known__same_as_listed(client, world):
    assert _get(client, world, "/forms/demo").json == _get(client, world, "/forms").json[0]


def test_forms_create__xlsx_publish_true__published(client, world):
    body = _xlsx(PLAIN_XLSX_SURVEY, [["form_id", "version", "form_title"], ["ho_gia_dinh", "3", "Hộ gia đình"]])
    response = _post(client, world, "/forms?ignoreWarnings=True&publish=True", data=body, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "X-XlsForm-FormId-Fallback": "ho_gia_dinh"})
    assert response.status_code == 200, response.json
    assert response.json["xmlFormId"] == "ho_gia_dinh" and response.json["name"] == "Hộ gia đình"
    assert response.json["version"] == "3" and response.json["publishedAt"] is not None
    assert b'id="ho_gia_dinh"' in _get(client, world, "/forms/ho_gia_dinh.xml").data


def test_forms_create__xml_publish_false__draft_until_published(client, world):
    response = _post(client, world, "/forms?publish=false", data=_plain_xform(), headers=XML)
    assert response.status_code == 200
    assert response.json["publishedAt"] is None and response.json["version"] == "1"
    assert _get(client, world, "/forms/plain.svc").status_code == 404
    published = _post(client, world, "/forms/plain/draft/publish?version=2026.1")
    assert published.status_code == 200 and published.json == {"success": True}
    form = _get(client, world, "/forms/plain").json
    assert form["version"] == "2026.1" and form["publishedAt"] is not None


def test_forms_create__existing_form__409_nothing_changed(client, world):
    before = _get(client, world, "/forms/demo").json
    response = _post(client, world, "/forms?publish=true", data=_plain_xform("demo", "9"), headers=XML)
    assert response.status_code == 409
    assert _get(client, world, "/forms/demo").json == before


def test_forms_create__invalid_xlsform__400_form_invalid(client, world):
    body = _xlsx([["type", "name", "label"], ["nonsense_type", "a", "A"]], [["form_id"], ["broken"]])
    response = _post(client, world, "/forms?publish=true", data=body, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert response.status_code == 400 and response.json["code"] == 400.9


def test_forms_create__verifier__403(client, world):
    assert _post(client, world, "/forms", "verifier_07210_01", data=_plain_xform(), headers=XML).status_code == 403


def test_draft_attachments__upload__listed_existing_and_served_after_publish(client, world):
    xform = _plain_xform("media", "1").replace(b"<h:body>", b'<h:body><input ref="/data/name"><label>'
                                               b'<output value="jr://images/logo.png"/></label></input>')
    _post(client, world, "/forms?publish=false", data=xform, headers=XML)
    listed = _get(client, world, "/forms/media/draft/attachments").json
    assert [(a["name"], a["exists"]) for a in listed] == [("logo.png", False)]
    uploaded = _post(client, world, "/forms/media/draft/attachments/logo.png", data=b"PNG", headers={
        "Content-Type": "image/png"})
    assert uploaded.status_code == 200
    assert uploaded.json["exists"] is True and uploaded.json["hash"] == hashlib.md5(b"PNG").hexdigest()
    assert uploaded.json["type"] == "image" and uploaded.json["updatedAt"] is not None
    _post(client, world, "/forms/media/draft/publish")
    assert _get(client, world, "/forms/media/attachments/logo.png").data == b"PNG"


def test_draft_attachments__unknown_name__404(client, world):
    _post(client, world, "/forms?publish=false", data=_plain_xform(), headers=XML)
    assert _post(client, world, "/forms/plain/draft/attachments/x.csv", data=b"a").status_code == 404


def test_draft_create__without_body__copy_of_published_with_attachments(client, world):
    assert _post(client, world, "/forms/demo/draft").json == {"success": True}
    draft = {a["name"]: a["exists"] for a in _get(client, world, "/forms/demo/draft/attachments").json}
    assert draft == {"communes.csv": True, "villages.csv": True}
    _post(client, world, "/forms/demo/draft/attachments/villages.csv", data=b"name,label,commune\nx,X,07210\n",
          headers={"Content-Type": "text/csv"})
    assert _post(client, world, "/forms/demo/draft/publish?version=2").status_code == 200
    assert _get(client, world, "/forms/demo").json["version"] == "2"
    assert _get(client, world, "/forms/demo/attachments/villages.csv").data == b"name,label,commune\nx,X,07210\n"


def test_draft_create__other_form_id_in_body__400(client, world):
    response = _post(client, world, "/forms/demo/draft", data=_plain_xform("plain"), headers=XML)
    assert response.status_code == 400


def test_draft_publish__no_draft__404(client, world):
    assert _post(client, world, "/forms/demo/draft/publish").status_code == 404


# --- RV001/RV003 submissions: create, read --------------------------------------------------------------------

def test_submissions_create__raw_xml__central_shape_and_attachments_expected(app, client, world):
    response = _post(client, world, "/forms/demo/submissions?deviceID=pyodk-1", data=submission_xml("uuid:r1"),
                     headers=XML)
    assert response.status_code == 200
    body = response.json
    assert SUBMISSION_KEYS <= body.keys() and "attachments" not in body
    assert body["instanceId"] == "uuid:r1" and isinstance(body["submitterId"], int)
    assert body["deviceId"] == "pyodk-1" and body["reviewState"] is None
    attachments = _get(client, world, "/forms/demo/submissions/uuid:r1/attachments").json
    assert attachments == [{"name": "house.jpg", "exists": False}]
    assert "submission.create" in _actions(app)


def test_submissions_create__identical_retry__one_submission(app, client, world):
    for _ in range(2):
        assert _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1"),
                     headers=XML).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 1


def test_submissions_create__same_id_other_xml__409(client, world):
    _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1"), headers=XML)
    response = _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1", head="Khác"),
                     headers=XML)
    assert response.status_code == 409 and response.json["code"] == 409.1


def test_submissions_create__with_deprecated_id__400(client, seeded):
    response = _post(client, seeded, "/forms/demo/submissions",
                     data=submission_xml("uuid:a2", deprecated_id="uuid:a1"), headers=XML)
    assert response.status_code == 400


def test_submissions_create__not_xml__415(client, world):
    response = _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1"),
                     headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_submissions_create__enumerator_other_village__403_nothing_stored(app, client, world):
    xml = submission_xml("uuid:r1", village="07228-01", commune="07228")
    response = _post(client, world, "/forms/demo/submissions", "enumerator_07210_01", data=xml, headers=XML)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    own = _post(client, world, "/forms/demo/submissions", "enumerator_07210_01", data=submission_xml("uuid:r2"),
                headers=XML)
    assert own.status_code == 200


def test_submissions_create__verifier__403(client, world):
    response = _post(client, world, "/forms/demo/submissions", "verifier_07210_01", data=submission_xml("uuid:r1"),
                     headers=XML)
    assert response.status_code == 403


def test_submissions_list__admin__all_newest_first(client, seeded):
    listed = _get(client, seeded, "/forms/demo/submissions").json
    assert [s["instanceId"] for s in listed] == ["uuid:b1", "uuid:a1"]
    assert all(SUBMISSION_KEYS <= s.keys() for s in listed)


def test_submissions_list__scoped_caller__only_own_units(client, seeded):
    for persona, visible in (("verifier_07210_01", ["uuid:a1"]), ("verifier_07228_01", ["uuid:b1"]),
                             ("commune_07210", ["uuid:a1"]), ("supervisor_a", ["uuid:a1"]),
                             ("province", ["uuid:b1", "uuid:a1"])):
        listed = [s["instanceId"] for s in _get(client, seeded, "/forms/demo/submissions", persona).json]
        assert listed == visible, persona


def test_submission_reads__out_of_scope__404(client, seeded):
    for path in ("", ".xml", "/comments", "/attachments", "/attachments/house-b.jpg", "/audits"):
        url = f"/forms/demo/submissions/uuid:b1{path}"
        assert _get(client, seeded, url, "verifier_07210_01").status_code == 404, path
        assert _get(client, seeded, url, "verifier_07228_01").status_code == 200, path


def test_submission_get__unknown__404(client, seeded):
    assert _get(client, seeded, "/forms/demo/submissions/uuid:nothing").status_code == 404


def test_submission_get__in_scope__current_version(client, seeded):
    body = _get(client, seeded, "/forms/demo/submissions/uuid:a1", "verifier_07210_01").json
    assert body["instanceId"] == "uuid:a1" and body["currentVersion"]["instanceId"] == "uuid:a1"


def test_submission_xml__in_scope__raw_bytes(client, seeded):
    response = _get(client, seeded, "/forms/demo/submissions/uuid:a1.xml", "verifier_07210_01")
    assert response.status_code == 200 and b"<instanceID>uuid:a1</instanceID>" in response.data


def test_submission_reads__anonymous__403(client, seeded):
    assert client.get(_url(seeded, "/forms/demo/submissions/uuid:a1")).status_code == 403


# --- RV002/RV003 edits ----------------------------------------------------------------------------------------

def test_submission_edit__deprecated_is_current__new_version_edited_files_kept(app, client, seeded):
    xml = submission_xml("uuid:a2", deprecated_id="uuid:a1", head="Nguyễn Văn Anh")
    response = client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"), data=xml,
                          headers={**seeded.basic("enumerator_07210_01"), **XML})
    assert response.status_code == 200
    assert response.json["instanceId"] == "uuid:a1" and response.json["reviewState"] == "edited"
    assert response.json["currentVersion"]["instanceId"] == "uuid:a2"
    assert "Nguyễn Văn Anh".encode() in _get(client, seeded, "/forms/demo/submissions/uuid:a1.xml").data
    files = _get(client, seeded, "/forms/demo/submissions/uuid:a1/attachments").json
    assert files == [{"name": "house.jpg", "exists": True}]
    assert "submission.update.version" in _actions(app)


def test_submission_edit__deprecated_of_another_submission__400(client, seeded):
    xml = submission_xml("uuid:b2", deprecated_id="uuid:b1", village="07210-01")
    response = client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"), data=xml,
                          headers={**seeded.basic("admin"), **XML})
    assert response.status_code == 400 and response.json["code"] == 400.12


def test_submission_edit__without_deprecated_id__400(client, seeded):
    response = client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"), data=submission_xml("uuid:a2"),
                          headers={**seeded.basic("admin"), **XML})
    assert response.status_code == 400 and response.json["code"] == 400.12


def test_submission_edit__older_version__409(client, seeded):
    headers = {**seeded.basic("admin"), **XML}
    client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"),
               data=submission_xml("uuid:a2", deprecated_id="uuid:a1"), headers=headers)
    stale = client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"),
                       data=submission_xml("uuid:a3", deprecated_id="uuid:a1"), headers=headers)
    assert stale.status_code == 409 and stale.json["code"] == 409.4


def test_submission_edit__out_of_scope__404(client, seeded):
    response = client.put(_url(seeded, "/forms/demo/submissions/uuid:b1"),
                          data=submission_xml("uuid:b2", deprecated_id="uuid:b1", village="07228-01",
                                              commune="07228"),
                          headers={**seeded.basic("enumerator_07210_01"), **XML})
    assert response.status_code == 404


def test_submission_edit__moved_outside_scope__403_unchanged(client, seeded):
    response = client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"),
                          data=submission_xml("uuid:a2", deprecated_id="uuid:a1", village="07228-01",
                                              commune="07228"),
                          headers={**seeded.basic("enumerator_07210_01"), **XML})
    assert response.status_code == 403
    assert _get(client, seeded, "/forms/demo/submissions/uuid:a1").json["currentVersion"]["instanceId"] == "uuid:a1"


def test_submission_edit__verifier__403(client, seeded):
    response = client.put(_url(seeded, "/forms/demo/submissions/uuid:a1"),
                          data=submission_xml("uuid:a2", deprecated_id="uuid:a1"),
                          headers={**seeded.basic("verifier_07210_01"), **XML})
    assert response.status_code == 403


# --- RV004 review ---------------------------------------------------------------------------------------------

def test_review__each_state__set_and_audited_with_previous(app, client, seeded):
    url, headers = _url(seeded, "/forms/demo/submissions/uuid:a1"), seeded.basic("verifier_07210_01")
    for state in ("edited", "approved", "rejected", None, "hasIssues"):
        response = client.patch(url, json={"reviewState": state}, headers=headers)
        assert response.status_code == 200
        assert response.json["reviewState"] == state and response.json["updatedAt"] is not None
    with app.app_context():
        changes = db.session.scalars(select(Audit.details).where(Audit.action == "submission.update")
                                     .order_by(Audit.id)).all()
    assert [(c["previous"], c["reviewState"]) for c in changes] == [
        (None, "edited"), ("edited", "approved"), ("approved", "rejected"), ("rejected", None), (None, "hasIssues")]


def test_review__received_or_unknown__400_unchanged(client, seeded):
    for state, code in (("received", 400.10), ("done", 400.10), (3, 400.1)):
        response = client.patch(_url(seeded, "/forms/demo/submissions/uuid:a1"), json={"reviewState": state},
                                headers=seeded.basic("admin"))
        assert response.status_code == 400 and response.json["code"] == code, state
    assert _get(client, seeded, "/forms/demo/submissions/uuid:a1").json["reviewState"] is None


def test_review__missing_key__400(client, seeded):
    response = client.patch(_url(seeded, "/forms/demo/submissions/uuid:a1"), json={},
                            headers=seeded.basic("admin"))
    assert response.status_code == 400


def test_review__out_of_scope__404(client, seeded):
    response = client.patch(_url(seeded, "/forms/demo/submissions/uuid:b1"), json={"reviewState": "approved"},
                            headers=seeded.basic("verifier_07210_01"))
    assert response.status_code == 404


def test_review__enumerator__403(client, seeded):
    response = client.patch(_url(seeded, "/forms/demo/submissions/uuid:a1"), json={"reviewState": "approved"},
                            headers=seeded.basic("enumerator_07210_01"))
    assert response.status_code == 403


# --- RV005 comments -------------------------------------------------------------------------------------------

def test_comments__post_then_list__newest_first_and_audited(app, client, seeded):
    for text in ("Thiếu ảnh", "Đã bổ sung"):
        response = _post(client, seeded, "/forms/demo/submissions/uuid:a1/comments", "verifier_07210_01",
                         json={"body": text})
        assert response.status_code == 200
        assert {"body", "actorId", "createdAt"} <= response.json.keys() and response.json["body"] == text
    listed = _get(client, seeded, "/forms/demo/submissions/uuid:a1/comments", "verifier_07210_01").json
    assert [c["body"] for c in listed] == ["Đã bổ sung", "Thiếu ảnh"]
    assert _actions(app).count("comment.create") == 2


def test_comments__blank_body__400(app, client, seeded):
    response = _post(client, seeded, "/forms/demo/submissions/uuid:a1/comments", json={"body": "   "})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 0


def test_comments_post__out_of_scope__404(client, seeded):
    response = _post(client, seeded, "/forms/demo/submissions/uuid:b1/comments", "verifier_07210_01",
                     json={"body": "x"})
    assert response.status_code == 404


# --- RV006 submission attachments -----------------------------------------------------------------------------

def test_submission_attachment__upload_expected__stored_and_downloadable(app, client, world):
    _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1"), headers=XML)
    response = _post(client, world, "/forms/demo/submissions/uuid:r1/attachments/house.jpg", data=b"JPEG",
                     headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200 and response.json == {"success": True}
    assert _get(client, world, "/forms/demo/submissions/uuid:r1/attachments").json == [
        {"name": "house.jpg", "exists": True}]
    download = _get(client, world, "/forms/demo/submissions/uuid:r1/attachments/house.jpg")
    assert download.data == b"JPEG" and download.content_type == "image/jpeg"
    assert "submission.attachment.update" in _actions(app)


def test_submission_attachment__unexpected_name__404(client, world):
    _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1"), headers=XML)
    response = _post(client, world, "/forms/demo/submissions/uuid:r1/attachments/other.jpg", data=b"JPEG")
    assert response.status_code == 404 and response.json["code"] == 404.5


def test_submission_attachment__missing_file__404(client, world):
    _post(client, world, "/forms/demo/submissions", data=submission_xml("uuid:r1"), headers=XML)
    assert _get(client, world, "/forms/demo/submissions/uuid:r1/attachments/house.jpg").status_code == 404


def test_submission_attachment__upload_out_of_scope__404(client, seeded):
    response = _post(client, seeded, "/forms/demo/submissions/uuid:b1/attachments/house-b.jpg",
                     "enumerator_07210_01", data=b"JPEG")
    assert response.status_code == 404


# --- audits ---------------------------------------------------------------------------------------------------

def test_submission_audits__history__newest_first(client, seeded):
    client.patch(_url(seeded, "/forms/demo/submissions/uuid:a1"), json={"reviewState": "approved"},
                 headers=seeded.basic("admin"))
    history = _get(client, seeded, "/forms/demo/submissions/uuid:a1/audits").json
    assert [a["action"] for a in history] == ["submission.update", "submission.create"]
    assert {"actorId", "action", "acteeId", "details", "loggedAt"} <= history[0].keys()


# --- OData (OD001–OD004, OD007) -------------------------------------------------------------------------------

def test_odata_service__document__submissions_and_repeat_tables(client, world):
    body = _get(client, world, "/forms/demo.svc").json
    assert body["@odata.context"].endswith("/forms/demo.svc/$metadata")
    assert [t["name"] for t in body["value"]] == ["Submissions", "Submissions.member"]


def test_odata_metadata__edmx__fields_typed(client, world):
    root = etree.fromstring(_get(client, world, "/forms/demo.svc/$metadata").data)
    properties = {p.get("Name"): p.get("Type") for p in root.iter("{*}Property")}
    assert properties["m_birth_year"] == "Edm.Int64" and properties["head_name"] == "Edm.String"
    assert {n.get("Name") for n in root.iter("{*}NavigationProperty")} == {"member"}


def test_odata_submissions__record__central_shape(client, seeded):
    body = _get(client, seeded, "/forms/demo.svc/Submissions").json
    assert body["@odata.context"].endswith("/forms/demo.svc/$metadata#Submissions")
    record = next(r for r in body["value"] if r["__id"] == "uuid:a1")
    assert record["head_name"] == "Nguyễn Văn An" and record["meta"] == {"instanceID": "uuid:a1"}
    assert record["member@odata.navigationLink"] == "Submissions('uuid%3Aa1')/member" and "member" not in record
    system = record["__system"]
    assert set(system) == SYSTEM_KEYS
    assert system["submitterName"] == "device_07210_01" and isinstance(system["submitterId"], str)
    assert (system["attachmentsPresent"], system["attachmentsExpected"]) == (1, 1)
    assert system["edits"] == 0 and system["formVersion"] == "1" and system["reviewState"] is None


def test_odata_submissions__expand__repeats_inline_typed(client, seeded):
    record = _get(client, seeded, "/forms/demo.svc/Submissions('uuid:a1')?$expand=*").json["value"][0]
    assert [(m["m_name"], m["m_birth_year"]) for m in record["member"]] == [("Nguyễn Văn An", 1970),
                                                                          ("Lê Thị Hoa", 1975)]
    assert all(m["__Submissions-id"] == "uuid:a1" for m in record["member"])


def test_odata_submissions__count_capitalised_true__count_and_all_rows(client, seeded):
    body = _get(client, seeded, "/forms/demo.svc/Submissions?$count=True").json
    assert body["@odata.count"] == 2 and len(body["value"]) == 2 and "@odata.nextLink" not in body


def test_odata_submissions__top_skip__paged_with_next_link(client, seeded):
    first = _get(client, seeded, "/forms/demo.svc/Submissions?$top=1&$count=true").json
    assert first["@odata.count"] == 2 and [r["__id"] for r in first["value"]] == ["uuid:b1"]
    following = first["@odata.nextLink"].replace("http://localhost", "")
    assert "%24skip=1" in following or "$skip=1" in following
    second = client.get(following, headers=seeded.basic("admin")).json
    assert [r["__id"] for r in second["value"]] == ["uuid:a1"] and "@odata.nextLink" not in second


def test_odata_submissions__bad_query_option__400(client, seeded):
    for query in ("$top=-1", "$skip=x", "$count=maybe", "$expand=member", "$select=nothing",
                  "$select=member/m_name", "$filter=__system/nothing eq 1", "$filter=head_name eq", "$filter=(a"):
        response = _get(client, seeded, f"/forms/demo.svc/Submissions?{query}")
        assert response.status_code == 400 and response.json["code"] == 400.11, query


def test_odata_submissions__filter_review_state__only_matching(client, seeded):
    client.patch(_url(seeded, "/forms/demo/submissions/uuid:b1"), json={"reviewState": "approved"},
                 headers=seeded.basic("admin"))
    approved = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=__system/reviewState eq 'approved'"
                    "&$count=true").json
    assert [r["__id"] for r in approved["value"]] == ["uuid:b1"] and approved["@odata.count"] == 1
    received = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=__system/reviewState eq null").json
    assert [r["__id"] for r in received["value"]] == ["uuid:a1"]


def test_odata_submissions__filter_submission_date__compared_as_time(client, seeded):
    later = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=__system/submissionDate gt 2020-01-01")
    assert len(later.json["value"]) == 2
    earlier = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=__system/submissionDate lt "
                   "2020-01-01T00:00:00Z")
    assert earlier.json["value"] == []


def test_odata_submissions__filter_answer_and_submitter__only_matching(client, seeded):
    by_name = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=head_name eq 'Trần Thị Bình'").json
    assert [r["__id"] for r in by_name["value"]] == ["uuid:b1"]
    submitter = by_name["value"][0]["__system"]["submitterId"]
    by_submitter = _get(client, seeded,
                        f"/forms/demo.svc/Submissions?$filter=$root/Submissions/__system/submitterId eq {submitter}")
    assert [r["__id"] for r in by_submitter.json["value"]] == ["uuid:b1"]


def test_odata_submissions__filter_with_paging__count_before_paging(client, seeded):
    body = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=__system/reviewState eq null"
                "&$top=1&$skip=1&$count=true").json
    assert body["@odata.count"] == 2 and [r["__id"] for r in body["value"]] == ["uuid:a1"]


def test_odata_submissions__select__only_named_properties(client, seeded):
    body = _get(client, seeded, "/forms/demo.svc/Submissions?$select=__id,head_name,__system/reviewState").json
    assert body["value"][0] == {"__id": "uuid:b1", "head_name": "Trần Thị Bình", "__system": {"reviewState": None}}


def test_odata_submissions__scoped_caller__other_village_absent(client, seeded):
    for persona, visible in (("verifier_07210_01", ["uuid:a1"]), ("verifier_07228_01", ["uuid:b1"])):
        body = _get(client, seeded, "/forms/demo.svc/Submissions?$count=true", persona).json
        assert [r["__id"] for r in body["value"]] == visible and body["@odata.count"] == 1
        filtered = _get(client, seeded, "/forms/demo.svc/Submissions?$filter=head_name ne 'x'", persona).json
        assert [r["__id"] for r in filtered["value"]] == visible
        rows = _get(client, seeded, "/forms/demo.svc/Submissions.member", persona).json["value"]
        assert {r["__Submissions-id"] for r in rows} == set(visible)


def test_odata_single__out_of_scope__404(client, seeded):
    for path in ("Submissions('uuid:b1')", "Submissions('uuid:b1')/member"):
        assert _get(client, seeded, f"/forms/demo.svc/{path}", "verifier_07210_01").status_code == 404, path
        assert _get(client, seeded, f"/forms/demo.svc/{path}", "verifier_07228_01").status_code == 200, path


def test_odata_repeat_table__rows_reference_their_submission(client, seeded):
    body = _get(client, seeded, "/forms/demo.svc/Submissions.member?$count=true").json
    assert body["@odata.context"].endswith("#Submissions.member") and body["@odata.count"] == 3
    assert sorted(r["m_name"] for r in body["value"]) == ["Lê Thị Hoa", "Nguyễn Văn An", "Nguyễn Văn An"]
    assert all(len(r["__id"]) == 40 for r in body["value"])


def test_odata_navigation__one_submission__its_repeat_rows_only(client, seeded):
    link = _get(client, seeded, "/forms/demo.svc/Submissions('uuid:a1')").json["value"][0]
    rows = _get(client, seeded, "/forms/demo.svc/" + link["member@odata.navigationLink"]).json["value"]
    assert [r["m_name"] for r in rows] == ["Nguyễn Văn An", "Lê Thị Hoa"]
    expanded = _get(client, seeded, "/forms/demo.svc/Submissions('uuid:a1')?$expand=*").json["value"][0]
    assert [r["__id"] for r in rows] == [m["__id"] for m in expanded["member"]]


def test_odata__unknown_resource__400(client, seeded):
    for path in ("Submissions.nothing", "Others", "Submissions('uuid:a1')/head_name", "Submissions/member"):
        assert _get(client, seeded, f"/forms/demo.svc/{path}").status_code == 400, path


def test_odata__unpublished_form__404(client, world):
    _post(client, world, "/forms?publish=false", data=_plain_xform(), headers=XML)
    assert _get(client, world, "/forms/plain.svc/Submissions").status_code == 404


# --- CSV export -----------------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    # A streamed response keeps its request context until closed; a real WSGI server always closes it.
    with response:
        assert response.data.startswith("\ufeff".encode())
        return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_csv__export__bom_one_row_per_submission_and_audited(app, client, seeded):
    response = _get(client, seeded, "/forms/demo/submissions.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="demo.csv"')
    header, *rows = _csv(response)
    assert header[0] == "SubmissionDate" and {"head_name", "member-count", "meta-instanceID", "KEY",
                                              "ReviewState"} <= set(header)
    by_key = {row[header.index("KEY")]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_key) == {"uuid:a1", "uuid:b1"}
    assert by_key["uuid:a1"]["head_name"] == "Nguyễn Văn An" and by_key["uuid:a1"]["member-count"] == "2"
    assert "submission.export" in _actions(app)


def test_csv__formula_like_cells__neutralised_numbers_kept(client, world):
    for iid, head in (("uuid:f1", "=HYPERLINK(\"http://x\")"), ("uuid:f2", "@SUM(A1)"), ("uuid:f3", "-5"),
                      ("uuid:f4", "+84912345678")):
        _post(client, world, "/forms/demo/submissions", data=submission_xml(iid, head=head), headers=XML)
    header, *rows = _csv(_get(client, world, "/forms/demo/submissions.csv"))
    heads = {row[header.index("KEY")]: row[header.index("head_name")] for row in rows}
    assert heads == {"uuid:f1": "'=HYPERLINK(\"http://x\")", "uuid:f2": "'@SUM(A1)", "uuid:f3": "-5",
                     "uuid:f4": "+84912345678"}


def test_csv__supervisor__other_area_absent(client, seeded):
    header, *rows = _csv(_get(client, seeded, "/forms/demo/submissions.csv", "supervisor_a"))
    assert [row[header.index("KEY")] for row in rows] == ["uuid:a1"]


def test_csv__verifier__403(client, seeded):
    assert _get(client, seeded, "/forms/demo/submissions.csv", "verifier_07210_01").status_code == 403


def test_csv__geopoint__split_into_four_columns(app, client):
    form = DEMO_FORM.replace("| | image | house_photo | Ảnh nhà |", "| | geopoint | gps | Vị trí |")
    world = build_world(app, forms={"demo": form})
    xml = submission_xml("uuid:g1").replace(b"<house_photo>house.jpg</house_photo>",
                                            b"<gps>21.18 106.07 12 4.5</gps>")
    _post(client, world, "/forms/demo/submissions", data=xml, headers=XML)
    header, row = _csv(_get(client, world, "/forms/demo/submissions.csv"))
    assert [row[header.index(f"gps-{p}")] for p in ("Latitude", "Longitude", "Altitude", "Accuracy")] == [
        "21.18", "106.07", "12", "4.5"]
    record = _get(client, world, "/forms/demo.svc/Submissions").json["value"][0]
    assert record["gps"] == {"type": "Point", "coordinates": [106.07, 21.18, 12.0], "properties": {"accuracy": 4.5}}
    wkt = _get(client, world, "/forms/demo.svc/Submissions?$wkt=true").json["value"][0]
    assert wkt["gps"] == "POINT (106.07 21.18 12)"


# --- OD005/OD006 the $filter language, without a server -------------------------------------------------------

TREE = odata.FieldTree.of([odata.Field("head_name", "string"), odata.Field("size", "int"),
                           odata.Field("income", "decimal"), odata.Field("visit", "date"),
                           odata.Field("grp", "structure"), odata.Field("grp/poor", "string"),
                           odata.Field("member", "repeat"), odata.Field("member/m_name", "string")])
SYSTEM = {"submissionDate": datetime(2026, 9, 15, 3, 30, tzinfo=UTC), "updatedAt": None, "submitterId": 7,
          "reviewState": "hasIssues", "deviceId": None}
ANSWERS = {"head_name": "O'Neil", "size": "4", "income": "1250000.5", "visit": "2026-09-14", "poor": "yes"}


def _matches(text: str) -> bool:
    resolve = odata.resolver("uuid:x", SYSTEM, ANSWERS, TREE)
    return odata.matches(odata.parse_filter(text, TREE), resolve, now=datetime(2026, 10, 1, tzinfo=UTC))


@pytest.mark.parametrize("text, expected", [
    ("__system/reviewState eq 'hasIssues'", True),
    ("__system/reviewState ne 'hasIssues'", False),
    ("__system/updatedAt eq null", True),
    ("__system/updatedAt ne null", False),
    ("__system/updatedAt lt 2030-01-01", False),
    ("__system/submitterId eq 7", True),
    ("__system/submitterId eq '7'", False),
    ("__system/submissionDate ge 2026-09-15", True),
    ("__system/submissionDate lt 2026-09-15T03:30:00+07:00", False),
    ("__system/submissionDate gt 2026-09-15T10:29:00+07:00", True),
    ("year(__system/submissionDate) eq 2026 and month(__system/submissionDate) eq 9", True),
    ("day(__system/submissionDate) eq 15 and hour(__system/submissionDate) eq 3", True),
    ("minute(__system/submissionDate) eq 30 and second(__system/submissionDate) eq 0", True),
    ("__system/submissionDate lt now()", True),
    ("head_name eq 'O''Neil'", True),
    ("size gt 3 and size le 4", True),
    ("size eq '4'", False),
    ("income ge 1250000.5", True),
    ("visit eq 2026-09-14", True),
    ("grp/poor eq 'yes'", True),
    ("not (grp/poor eq 'yes')", False),
    ("size eq 1 or (head_name ne 'x' and not __id eq 'uuid:y')", True),
    ("__id eq 'uuid:x'", True),
])
def test_filter__expression__evaluated_with_types(text, expected):
    assert _matches(text) is expected


@pytest.mark.parametrize("text", ["member/m_name eq 'A'", "grp eq 'x'", "nothing eq 1", "__system/edits eq 0",
                                  "size eq", "year(1, 2) eq 1", "size eq 'open", "size eq 1 extra", "(size eq 1",
                                  "visit eq 2026-13-01"])
def test_filter__unsupported_or_malformed__refused(text):
    with pytest.raises(odata.ODataError):
        odata.parse_filter(text, TREE)


def test_filter__paths_read__answers_only_when_named():
    assert odata.filter_paths(odata.parse_filter("__system/reviewState eq null", TREE)) == {"__system/reviewState"}
    assert odata.filter_paths(odata.parse_filter("year(visit) eq 2026 or size gt 1", TREE)) == {"visit", "size"}


def test_filter__unanswered_field__only_eq_null_matches():
    resolve = odata.resolver("uuid:x", SYSTEM, {}, TREE)
    assert odata.matches(odata.parse_filter("size eq null", TREE), resolve)
    assert not odata.matches(odata.parse_filter("size lt 100", TREE), resolve)
    assert odata.scalar("date", "2026-09-14") == date(2026, 9, 14)


NESTED_FORM = """
| survey |
| | type | name | label |
| | begin group | house-hold | Hộ |
| | text | head | Chủ hộ |
| | begin repeat | member | Thành viên |
| | text | m_name | Tên |
| | begin repeat | job | Việc làm |
| | text | j_name | Việc |
| | end repeat | | |
| | end repeat | | |
| | end group | | |
| settings |
| | form_id | version |
| | nested | 1 |
"""


def test_record__nested_repeats__rows_link_to_their_parents():
    from pyxform.xls2xform import convert

    tree = odata.field_tree(convert(xlsform=NESTED_FORM, file_type=".md").xform.encode())
    assert tree.tables() == ["Submissions.house_hold.member", "Submissions.house_hold.member.job"]
    xml = (b'<data id="nested" version="1"><house-hold><member><m_name>A</m_name><job><j_name>x</j_name></job>'
           b'<job><j_name>y</j_name></job></member><member><m_name>B</m_name></member></house-hold>'
           b'<meta><instanceID>uuid:n1</instanceID></meta></data>')
    reading = odata.read_submission(tree, xml, "uuid:n1")
    assert reading.record["house_hold"]["head"] is None
    assert reading.record["house_hold"]["member@odata.navigationLink"] == "Submissions('uuid%3An1')/house_hold/member"
    (parent_a, first), (_, second) = reading.tables["house-hold/member"]
    assert parent_a == "uuid:n1" and first["__Submissions-id"] == "uuid:n1" and first["m_name"] == "A"
    assert first["job@odata.navigationLink"] == f"Submissions('uuid%3An1')/house_hold/member('{first['__id']}')/job"
    jobs = reading.tables["house-hold/member/job"]
    assert [(p, r["j_name"]) for p, r in jobs] == [(first["__id"], "x"), (first["__id"], "y")]
    assert all(r["__Submissions-house_hold-member-id"] == first["__id"] for _, r in jobs)
    again = odata.read_submission(tree, xml, "uuid:n1").tables["house-hold/member"]
    assert first["__id"] != second["__id"] and again[0][1]["__id"] == first["__id"]
    target = odata.parse_target(first["job@odata.navigationLink"], tree)
    assert target == odata.Target(repeat_path="house-hold/member/job", instance_id="uuid:n1", parent_id=first["__id"])


def test_odata_name__xml_only_characters__replaced():
    assert odata.odata_name("house-hold.v2") == "house_hold_v2" and odata.odata_name("2nd") == "_2nd"


def test_odata_submissions__unanswered_field__present_as_null(client, world):
    xml = submission_xml("uuid:n1").replace(b"<head_name>Nguy\xe1\xbb\x85n V\xc4\x83n An</head_name>", b"")
    assert b"head_name" not in xml
    _post(client, world, "/forms/demo/submissions", data=xml, headers=XML)
    record = _get(client, world, "/forms/demo.svc/Submissions").json["value"][0]
    assert "head_name" in record and record["head_name"] is None
