"""The authorisation matrix: every endpoint × every caller × an object in / out of the caller's units →
exactly one expected status.

The expectations are not a recording of what the server answers: they are computed from the rules below,
written here independently of ``server/accounts/permissions.py`` and ``server/review/machine.py``:

- WHO: which roles may do what (a role→verb policy, one letter per role);
- the order of the checks: ODK Central's "look up → 404 → authorise" (a missing form or project is a 404
  before anything else), then either the verb first (Central's paths, the pages) or the unit scope first
  (the review and duplicate queues: an id outside your units does not exist for you, whatever your role);
- anonymous is 403 on the JSON and OpenRosa surfaces (as Central answers), bad credentials 401, and on
  the pages both are a redirect to the login page; a bad device token is 403 (so Collect never prompts);
- an object OUT of a scoped caller's units is 404 (hidden), except where the request *body* names the
  units (creating a submission or an app user there), which is a plain 403.

Each row of ROWS is one (method, URL rule) of ``app.url_map``; ``test_authz_matrix__every_endpoint_has_
expectations`` fails when a route has no row (or a row no route), so that no endpoint slips in unreviewed.
Every case really performs its request on its own copy of the world (tests/api/authz_world.py), with a
body that succeeds when the caller is allowed, so a permitted call is proved by its 2xx/3xx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from forms.compile import compile_xlsform
from server import create_app
from tests.api import authz_world
from tests.api.authz_world import COMMUNE, GPS, IN, OUT, VILLAGE, Seed
from tests.conftest import SECRET, _clean
from tests.factories import OPENROSA, PASSWORD
from tests.web.world import HEADS, PHOTO, YESTERDAY, household_xml

# ---- callers ----------------------------------------------------------------------------------------------------

ANON, STRANGER, DEVICE = "anonymous", "stranger", "device"
ROLES = ("admin", "province", "supervisor", "commune", "verifier", "enumerator")
LETTER = {"admin": "A", "province": "P", "supervisor": "S", "commune": "C", "verifier": "V", "enumerator": "E"}
PROVINCE_WIDE = ("admin", "province")
USERS = (ANON, STRANGER, *ROLES)        # the JSON API, the OpenRosa paths without a key, the pages
DEVICES = (ANON, DEVICE)                # /v1/key/{token}/…: a made-up token, or device 07210-01's own

# ---- who may do what (A admin, P province, S supervisor of area A, C commune 07210, V verifier and
# E enumerator of village 07210-01) -----------------------------------------------------------------------------

WHO = {
    "read": "APSCVE",     # projects, forms, submissions, queues: every role reads, within its units
    "admin": "A",         # create projects and forms, drafts, publishing
    "devices": "AS",      # app users (device credentials) and their form assignments
    "export": "APS",      # CSV export of a form's submissions
    "review": "APCV",     # Central's reviewState; deciding potential duplicates
    "comment": "APSCV",   # comments on a submission
    "collect": "AE",      # create and edit submissions, upload their files
    # the review procedure (Decision 24/2021/QĐ-TTg): who may take which step
    "return": "ASCV",     # return a household to the enumerator
    "meeting": "ACV",     # record the village meeting's vote
    "confirm": "AC",      # the commune confirms the village result
    "datasets": "A",      # entity lists and their properties
    "minutes": "APSCV",   # read a village meeting's minutes
    "dashboard": "APSC",  # the monitoring dashboard
    "targets": "AP",      # the province's plan targets
    "everyone": "APSCVE",
}

HIDDEN = 404      # an object outside the caller's units: looks exactly like one that is not there


@dataclass(frozen=True)
class Row:
    """One (method, rule): who may call it, what a permitted call answers, how scope shows."""

    method: str
    rule: str
    who: str                                 # a key of WHO
    ok: int                                  # the status of a permitted call
    scoped: bool = False                     # called against an object (or units) IN and OUT of scope
    scope_first: bool = False                # the unit scope is checked before the role
    out: int = HIDDEN                        # an allowed scoped caller, OUT of scope
    public: bool = False                     # no authentication: every caller gets ``ok``
    values: dict[str, str] = field(default_factory=dict)   # path values other than the defaults
    body: Callable[[Seed, str], dict[str, Any]] | None = None   # request kwargs (json=, data=, …)
    query: Callable[[Seed, str], str] | None = None
    special: dict[str, int] = field(default_factory=dict)  # caller → status, where a rule says so (see note)
    note: str = ""

    @property
    def family(self) -> str:
        if self.rule.startswith("/v1/key/"):
            return "device"
        return "api" if self.rule.startswith("/v1/") else "web"

    @property
    def callers(self) -> tuple[str, ...]:
        return DEVICES if self.family == "device" else USERS

    @property
    def sides(self) -> tuple[str | None, ...]:
        return (IN, OUT) if self.scoped else (None,)

    def expected(self, caller: str, side: str | None) -> int:
        if caller in self.special:
            return self.special[caller]
        if self.public:
            return self.ok
        if caller in (ANON, STRANGER):
            if self.family == "web":
                return 302                     # to the login page
            return 401 if caller == STRANGER else 403
        if caller == DEVICE:
            return self.out if side == OUT else self.ok
        allowed = LETTER[caller] in WHO[self.who]
        hidden = side == OUT and caller not in PROVINCE_WIDE
        if self.scope_first and hidden:
            return HIDDEN
        if not allowed:
            return 403
        return self.out if hidden else self.ok


# ---- request bodies ---------------------------------------------------------------------------------------------

def _head(side: str) -> str:
    return HEADS[0] if side == IN else HEADS[2]


def _household(instance_id: str, side: str, **extra: str) -> bytes:
    return household_xml(instance_id, head=_head(side), village=VILLAGE[side], commune=COMMUNE[side], gps=GPS[side],
                         **extra)


def _submission_xml(seed: Seed, side: str) -> dict[str, Any]:
    return {"data": _household(f"uuid:new-{side}", side), "content_type": "application/xml"}


def _edit_xml(seed: Seed, side: str) -> dict[str, Any]:
    return {"data": _household(f"uuid:edit-{side}", side, deprecated_id=seed.instance[side], living_area_m2="45"),
            "content_type": "application/xml"}


def _multipart(seed: Seed, side: str) -> dict[str, Any]:
    xml = _household(f"uuid:openrosa-{side}", side)
    return {"data": {"xml_submission_file": (BytesIO(xml), "submission.xml", "text/xml")},
            "content_type": "multipart/form-data"}


_NEW_FORM: list[bytes] = []


def _new_form(seed: Seed, side: str) -> dict[str, Any]:
    if not _NEW_FORM:
        md = "| survey |\n| | type | name | label |\n| | text | q | Câu hỏi |\n" \
             "| settings |\n| | form_id | version |\n| | moi | 1 |\n"
        _NEW_FORM.append(compile_xlsform(md.encode(), "form.md").xml)
    return {"data": _NEW_FORM[0], "content_type": "application/xml"}


def _json(payload: dict[str, Any]) -> Callable[[Seed, str], dict[str, Any]]:
    return lambda seed, side: {"json": payload}


def _form(payload: Callable[[Seed, str], dict[str, str]]) -> Callable[[Seed, str], dict[str, Any]]:
    return lambda seed, side: {"data": payload(seed, side)}


MEETING = {"held_on": YESTERDAY, "chair": "Trưởng thôn Nguyễn Văn Ba", "attendees": "40", "minutes_ref": "BB-02"}
SUB = "/v1/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>"
FORM = "/v1/projects/<int:project_id>/forms/<xml_form_id>"
KEY = "/v1/key/<token>/projects/<int:project_id>"
DEMO = {"xml_form_id": "demo", "name": "villages.csv"}
DATASETS = "/v1/projects/<int:project_id>/datasets"
ENTITY = DATASETS + "/<name>/entities/<uuid>"
LIST = {"name": "households"}


def _minutes_upload(seed: Seed, side: str) -> dict[str, Any]:
    return {"data": {"village": VILLAGE[side], "file": (BytesIO(PHOTO), "bien-ban.png", "image/png")},
            "content_type": "multipart/form-data"}

# ---- the table ----------------------------------------------------------------------------------------------------

ROWS: list[Row] = [
    # public
    Row("GET", "/v1/openapi.json", "everyone", 200, public=True, note="the API description is public"),
    Row("POST", "/v1/sessions", "everyone", 200, public=True, note="logging in needs no session",
        body=lambda seed, side: {"json": {"email": seed.email["verifier"], "password": PASSWORD}}),
    Row("GET", "/login", "everyone", 200, public=True, special=dict.fromkeys(ROLES, 302),
        note="already logged in: sent on to the home page"),
    Row("POST", "/login", "everyone", 302, public=True, note="a good login (double-submit CSRF) from anyone"),
    Row("GET", "/assets/<path:filename>", "everyone", 200, public=True),
    # sessions, users, projects
    Row("GET", "/v1/users/current", "everyone", 200),
    Row("GET", "/v1/projects", "read", 200),
    Row("POST", "/v1/projects", "admin", 200, body=_json({"name": "Dự án mới"})),
    Row("GET", "/v1/projects/<int:project_id>", "read", 200),
    # app users (devices) and form assignments: the supervisor manages the devices of their own area
    Row("GET", "/v1/projects/<int:project_id>/app-users", "devices", 200),
    Row("POST", "/v1/projects/<int:project_id>/app-users", "devices", 200, scoped=True, out=403,
        body=lambda seed, side: {"json": {"displayName": "Máy mới", "units": [VILLAGE[side]]}},
        note="the body names the units: outside one's own is a refusal, not a hidden object"),
    Row("DELETE", "/v1/projects/<int:project_id>/app-users/<int:actor_id>", "devices", 200, scoped=True),
    Row("GET", FORM + "/assignments", "devices", 200),
    Row("POST", FORM + "/assignments/<int:role_id>/<int:actor_id>", "devices", 200, scoped=True),
    # forms
    Row("GET", "/v1/projects/<int:project_id>/forms", "read", 200),
    Row("POST", "/v1/projects/<int:project_id>/forms", "admin", 200, body=_new_form),
    Row("GET", FORM, "read", 200),
    Row("POST", FORM + "/draft", "admin", 200, values=DEMO),
    Row("GET", FORM + "/draft/attachments", "admin", 200, values=DEMO),
    Row("POST", FORM + "/draft/attachments/<name>", "admin", 200, values=DEMO,
        body=lambda seed, side: {"data": b"name,label\n07210-01,T1\n", "content_type": "text/csv"}),
    Row("POST", FORM + "/draft/publish", "admin", 200, values=DEMO),
    Row("GET", FORM + ".svc", "read", 200),
    Row("GET", FORM + ".svc/<path:resource>", "read", 200),
    # OpenRosa, authenticated by header (web users)
    Row("GET", "/v1/projects/<int:project_id>/formList", "read", 200),
    Row("GET", FORM + ".xml", "read", 200),
    Row("GET", FORM + "/manifest", "read", 200, values=DEMO),
    Row("GET", FORM + "/attachments/<name>", "read", 200, values=DEMO),
    Row("HEAD", "/v1/projects/<int:project_id>/submission", "collect", 204),
    Row("POST", "/v1/projects/<int:project_id>/submission", "collect", 201, scoped=True, out=403, body=_multipart,
        note="RV003: a scoped caller cannot create a submission in units outside their scope"),
    # OpenRosa, devices (app-user token in the URL); OUT = another project, or a household of another village
    Row("GET", KEY + "/formList", "everyone", 200, scoped=True, out=403),
    Row("GET", KEY + "/forms/<xml_form_id>.xml", "everyone", 200, scoped=True, out=403),
    Row("GET", KEY + "/forms/<xml_form_id>/manifest", "everyone", 200, scoped=True, out=403, values=DEMO),
    Row("GET", KEY + "/forms/<xml_form_id>/attachments/<name>", "everyone", 200, scoped=True, out=403, values=DEMO),
    Row("HEAD", KEY + "/submission", "everyone", 204, scoped=True, out=403),
    Row("POST", KEY + "/submission", "everyone", 201, scoped=True, out=201, body=_multipart,
        note="a phone's household from another village is kept (never lost) and reviewed where it lies"),
    # submissions (Central's REST API): form → verb (403) → the submission within the caller's units (404)
    Row("GET", FORM + "/submissions", "read", 200),
    Row("POST", FORM + "/submissions", "collect", 200, scoped=True, out=403, body=_submission_xml,
        note="RV003: the body names the village; outside one's units is a refusal"),
    Row("GET", FORM + "/submissions.csv", "export", 200),
    Row("GET", SUB, "read", 200, scoped=True),
    Row("PUT", SUB, "collect", 200, scoped=True, body=_edit_xml),
    Row("PATCH", SUB, "review", 200, scoped=True, body=_json({"reviewState": "hasIssues"})),
    Row("GET", SUB + ".xml", "read", 200, scoped=True),
    Row("GET", SUB + "/attachments", "read", 200, scoped=True),
    Row("GET", SUB + "/attachments/<name>", "read", 200, scoped=True),
    Row("POST", SUB + "/attachments/<name>", "collect", 200, scoped=True,
        body=lambda seed, side: {"data": PHOTO, "content_type": "image/png"}),
    Row("GET", SUB + "/audits", "read", 200, scoped=True),
    Row("GET", SUB + "/comments", "read", 200, scoped=True),
    Row("POST", SUB + "/comments", "comment", 200, scoped=True, body=_json({"body": "Kiểm tra lại ảnh nhà"})),
    # duplicates and reviews (JSON): an id outside the caller's units does not exist for them
    Row("GET", "/v1/duplicates", "read", 200),
    Row("POST", "/v1/duplicates/<int:pair_id>", "review", 200, scoped=True, scope_first=True,
        body=_json({"decision": "not_same"})),
    Row("GET", "/v1/reviews", "read", 200),
    Row("GET", "/v1/reviews/<int:review_id>", "read", 200, scoped=True, scope_first=True),
    Row("POST", "/v1/reviews/<int:review_id>/actions", "return", 200, scoped=True, scope_first=True,
        body=_json({"action": "return_to_enumerator", "reason": "Thiếu ảnh", "expectedState": "village_review"})),
    Row("POST", "/v1/reviews/minutes", "meeting", 201, scoped=True, body=_minutes_upload,
        note="the form names the village, yet outside one's units it is hidden (404) where submissions, entities "
             "and app users answer 403: a known difference, kept"),
    Row("GET", "/v1/reviews/minutes/<int:minutes_id>", "minutes", 200, scoped=True, scope_first=True),
    # entity lists (Central's datasets): entities are household data, scoped by their village
    Row("GET", DATASETS, "read", 200),
    Row("POST", DATASETS, "datasets", 200, body=_json({"name": "danh_sach_moi"})),
    Row("GET", DATASETS + "/<name>", "read", 200, values=LIST),
    Row("POST", DATASETS + "/<name>/properties", "datasets", 200, values=LIST, body=_json({"name": "ghi_chu"})),
    Row("GET", DATASETS + "/<name>/entities", "read", 200, values=LIST),
    Row("POST", DATASETS + "/<name>/entities", "review", 200, scoped=True, out=403, values=LIST,
        body=lambda seed, side: {"json": {"label": "Hộ mới", "data": {"village": VILLAGE[side]}}},
        note="the body names the village: outside one's units is a refusal"),
    Row("GET", ENTITY, "read", 200, scoped=True, values=LIST),
    Row("PATCH", ENTITY, "review", 200, scoped=True, scope_first=True, values=LIST,
        query=lambda seed, side: "?force=true", body=_json({"label": "Hộ đã sửa"})),
    Row("DELETE", ENTITY, "review", 200, scoped=True, scope_first=True, values=LIST),
    Row("GET", ENTITY + "/versions", "read", 200, scoped=True, values=LIST),
    Row("GET", DATASETS + "/<name>/conflicts", "read", 200, values=LIST),
    Row("GET", DATASETS + "/<name>.svc/Entities", "read", 200, values=LIST),
    Row("GET", DATASETS + "/<name>/integrity", "everyone", 200, values=LIST),
    Row("GET", KEY + "/datasets/<name>/integrity", "everyone", 200, scoped=True, out=403, values=LIST),
    # assignments of work to devices and enumerators
    Row("GET", "/v1/projects/<int:project_id>/assignments", "devices", 200),
    Row("PUT", "/v1/projects/<int:project_id>/assignments/<int:actor_id>", "devices", 200, scoped=True,
        body=_json({"villages": [{"code": "07210-01", "expectedCount": 5}]})),
    # the pages (cookie session; every POST carries the session's CSRF token)
    Row("GET", "/", "everyone", 302, note="each role is sent to its own landing page"),
    Row("POST", "/logout", "everyone", 302),
    Row("GET", "/queue", "read", 200),
    Row("GET", "/returned", "read", 200),
    Row("GET", "/commune", "read", 200),
    Row("POST", "/commune", "confirm", 302, scoped=True, scope_first=True,
        body=_form(lambda seed, side: {"action": "commune_confirm", "review": str(seed.agreed[side]),
                                       f"expected-{seed.agreed[side]}": "village_agreed"})),
    Row("GET", "/reviews/<int:review_id>", "read", 200, scoped=True),
    Row("GET", "/reviews/<int:review_id>/photo", "read", 200, scoped=True),
    Row("POST", "/reviews/<int:review_id>/actions", "return", 302, scoped=True, scope_first=True,
        body=_form(lambda seed, side: {"action": "return_to_enumerator", "reason": "Thiếu ảnh",
                                       "expected_state": "village_review"})),
    Row("POST", "/reviews/<int:review_id>/duplicates/<int:pair_id>", "review", 302, scoped=True, scope_first=True,
        body=_form(lambda seed, side: {"decision": "not_same"})),
    Row("POST", "/reviews/<int:review_id>/entity-conflict", "review", 404, scoped=True, scope_first=True,
        body=_form(lambda seed, side: {"version": "1"}),
        note="the world's households have no entity conflict, so a permitted call ends in 404 after the role "
             "check; tests/web/test_entity_conflict_page.py resolves a real one"),
    Row("GET", "/meetings/minutes/<int:minutes_id>", "minutes", 200, scoped=True, scope_first=True),
    Row("GET", "/dashboard", "dashboard", 200),
    Row("GET", "/dashboard/<table>.csv", "dashboard", 200),
    Row("GET", "/dashboard/<level>/<code>", "dashboard", 200, scoped=True),
    Row("GET", "/dashboard/<level>/<code>/<table>.csv", "dashboard", 200, scoped=True),
    Row("POST", "/dashboard/targets", "targets", 302,
        body=_form(lambda seed, side: {"year": str(date.today().year), "indicator": "health_insurance",
                                       "target": "95"})),
    Row("GET", "/devices", "devices", 200),
    Row("POST", "/devices", "devices", 302, scoped=True, out=403,
        body=_form(lambda seed, side: {"name": "Máy mới", "village": VILLAGE[side], "project": str(seed.project_id)}),
        note="the form names the village: outside one's units is a refusal"),
    Row("POST", "/devices/<int:actor_id>/revoke", "devices", 302, scoped=True),
    Row("GET", "/meetings/new", "meeting", 200, scoped=True, query=lambda seed, side: f"?village={VILLAGE[side]}"),
    Row("POST", "/meetings/new", "meeting", 302, scoped=True, query=lambda seed, side: f"?village={VILLAGE[side]}",
        body=_form(lambda seed, side: {**MEETING, "review": str(seed.review[side]),
                                       f"votes-{seed.review[side]}": "30",
                                       f"expected-{seed.review[side]}": "village_review"})),
]

# ---- the routes ---------------------------------------------------------------------------------------------------


def _routes(app: Flask) -> set[tuple[str, str]]:
    """Every (method, rule) the server answers, but Flask's automatic HEAD/OPTIONS and Flask's own static."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = set(rule.methods or ()) - {"OPTIONS"}
        if "GET" in methods:
            methods.discard("HEAD")
        found |= {(method, rule.rule) for method in methods}
    return found


def test_authz_matrix__every_endpoint_has_expectations(matrix_app):
    table = [(row.method, row.rule) for row in ROWS]
    assert len(table) == len(set(table)), "a route has two rows"
    routes = _routes(matrix_app)
    assert sorted(routes - set(table)) == [], "routes without a row in the authorisation matrix: add them to ROWS"
    assert sorted(set(table) - routes) == [], "rows of the matrix that are no longer routes"


def test_authz_matrix__every_guarded_row__some_caller_allowed_and_some_refused():
    """The table cannot pass by being wholly permissive or wholly closed."""
    for row in ROWS:
        outcomes = {row.expected(caller, side) for caller in row.callers for side in row.sides}
        assert any(status < 400 for status in outcomes), row
        if not row.public:
            assert row.expected(ANON, None) in (302, 403), row
            by_roles = {row.expected(role, side) for role in ROLES for side in row.sides}
            assert len(WHO[row.who]) == len(ROLES) or any(status >= 400 for status in by_roles), row


# ---- running the cases -----------------------------------------------------------------------------------------------

_DIRTY: list[bool] = [True]   # whether the database may differ from the world (after a write)


@pytest.fixture(scope="module")
def matrix_app(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One application for the whole matrix (creating one per case costs more than the case)."""
    app = create_app({"DATABASE_URL": migrated, "SECRET_KEY": SECRET, "TESTING": True, "BLOB_FSYNC": False,
                      "BLOB_DIR": str(tmp_path_factory.mktemp("authz-blobs")), "PASSWORD_KDF": "scrypt:1024:8:1",
                      "PUBLIC_URL": "http://localhost"})
    _DIRTY[0] = True
    yield app
    _clean(app)


@pytest.fixture
def seed(matrix_app: Flask, request: pytest.FixtureRequest) -> Seed:
    """The world, fresh: a clean database for each case that writes and after one that wrote."""
    writes = request.node.callspec.params["row"].method not in ("GET", "HEAD")
    if _DIRTY[0] or writes:
        found = authz_world.world(matrix_app, matrix_app.test_client())
    else:
        found = authz_world.cached(matrix_app)
    _DIRTY[0] = writes
    return found


def _cases() -> list[Any]:
    return [pytest.param(row, caller, side, id=f"{row.method} {row.rule} {caller}{' ' + side if side else ''}")
            for row in ROWS for caller in row.callers for side in row.sides]


def _call(client: FlaskClient, seed: Seed, row: Row, caller: str, side: str | None):  # type: ignore[no-untyped-def]
    on = side or IN
    values = {"project_id": str(seed.project_id), "xml_form_id": "phieu_b", "instance_id": seed.instance[on],
              "review_id": str(seed.review[on]), "pair_id": str(seed.pair[on]),
              "actor_id": str(seed.device_actor[on]), "role_id": "2", "name": "house.png",
              "resource": "Submissions", "filename": "app.css", "minutes_id": str(seed.minutes[on]),
              "uuid": seed.entity[on], "level": "commune", "code": COMMUNE[on], "table": "units", **row.values}
    headers: dict[str, str] = {}
    kwargs = row.body(seed, on) if row.body else {}
    if row.family == "device":
        values["token"] = seed.device_token[IN] if caller == DEVICE else "not-a-device-token"
        if side == OUT and row.method in ("GET", "HEAD"):
            values["project_id"] = str(seed.other_project_id)
    if row.family in ("api", "device"):
        headers.update(OPENROSA)
        if caller == STRANGER:
            headers["Authorization"] = "Bearer not-a-session"
        elif caller in ROLES:
            headers["Authorization"] = f"Bearer {seed.session[caller]}"
    else:
        if caller == STRANGER:
            client.set_cookie("session_token", "not-a-session")
        elif caller in ROLES:
            client.set_cookie("session_token", seed.session[caller])
            if row.method == "POST":
                kwargs.setdefault("data", {})["csrf_token"] = seed.csrf[caller]
        if row.rule == "/login" and row.method == "POST":
            client.set_cookie("login_csrf", "double-submit", path="/login")
            kwargs["data"] = {"email": seed.email["verifier"], "password": PASSWORD, "csrf_token": "double-submit"}
    path = row.rule
    for name, value in values.items():
        for converter in ("", "int:", "path:"):
            path = path.replace(f"<{converter}{name}>", value)
    assert "<" not in path, path
    path += row.query(seed, on) if row.query else ""
    return client.open(path, method=row.method, headers=headers, **kwargs)


@pytest.mark.parametrize("row, caller, side", _cases())
def test_authz_matrix__caller_and_scope__exact_status(matrix_app, seed, row, caller, side):
    client = matrix_app.test_client()
    response = _call(client, seed, row, caller, side)
    status = response.status_code
    body = response.get_data(as_text=True)[:300] if status >= 400 else ""
    location = response.headers.get("Location", "")
    response.close()
    assert status == row.expected(caller, side), body
    if status == 302 and caller in (ANON, STRANGER) and not row.public:
        assert location.startswith("/login"), location
