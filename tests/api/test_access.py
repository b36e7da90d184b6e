"""Access: login throttling shared by every app server (TH rules in server/accounts/throttle.py) on the
web form, POST /v1/sessions and HTTP Basic; session expiry, logout and app-user revocation; the audit
row written by every read of personal data (CSV, OData, submission XML, attachments, registry export)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server import create_app
from server.accounts.models import Audit, LoginFailure
from server.accounts.models import Session as SessionRow
from server.extensions import db
from server.timeutil import utcnow
from tests.factories import OPENROSA, PASSWORD, build_world, device_post, submission_xml
from tests.web.world import csrf_in

ATTACKER, OFFICE = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def world(app):
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_IP=5, LOGIN_WINDOW_MINUTES=15)
    return build_world(app)


@pytest.fixture
def seeded(client, world):
    assert device_post(client, world, submission_xml("uuid:a1"), files={"house.jpg": b"jpeg-a"}).status_code == 201
    assert device_post(client, world, submission_xml("uuid:b1", village="07228-01", commune="07228",
                                                     photo="house-b.jpg"),
                       files={"house-b.jpg": b"jpeg-b"}, device="device_07228_01").status_code == 201
    return world


def _session(client, email: str, password: str, address: str = ATTACKER, **headers):
    return client.post("/v1/sessions", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def _basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def _web_login(client, email: str, password: str, address: str = ATTACKER):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_in(page.get_data(as_text=True))},
                       environ_base={"REMOTE_ADDR": address})


def _audits(app, action: str) -> list[Audit]:
    with app.app_context():
        return list(db.session.scalars(select(Audit).where(Audit.action == action).order_by(Audit.id)))


def _lock(client, email: str, address: str = ATTACKER) -> None:
    statuses = [_session(client, email, "wrong password!", address).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


# --- login throttling -----------------------------------------------------------------------------------------

def test_sessions__max_failures__429_problem_with_retry_after(client, world):
    email = world.users["admin"]
    _lock(client, email)
    response = _session(client, email, PASSWORD, OFFICE)  # the right password, from elsewhere: still locked
    assert response.status_code == 429
    assert response.json["code"] == 429.1
    # The lock lasts the window from the failure that reached the limit, a moment ago.
    assert 15 * 60 - 60 <= int(response.headers["Retry-After"]) <= 15 * 60
    assert response.json["details"]["retryAfter"] == int(response.headers["Retry-After"])


def test_sessions__locked_on_one_app_server__locked_on_another(app, client, world):
    _lock(client, world.users["admin"])
    other = create_app({**{k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "BLOB_DIR", "PASSWORD_KDF")},
                        "TESTING": True, "LOGIN_MAX_FAILURES": 3})
    response = _session(other.test_client(), world.users["admin"], PASSWORD, OFFICE)
    assert response.status_code == 429 and "Retry-After" in response.headers
    with other.app_context():
        db.engine.dispose()


def test_basic_auth__account_locked__429_with_retry_after(client, world):
    _lock(client, world.users["province"])
    response = client.get("/v1/projects", headers=world.basic("province"))
    assert response.status_code == 429 and response.json["code"] == 429.1
    assert int(response.headers["Retry-After"]) >= 1


def test_basic_auth__wrong_passwords__counted_and_locked(client, world):
    email = world.users["province"]
    statuses = [client.get("/v1/projects", headers=_basic(email, "not it at all"),
                           environ_base={"REMOTE_ADDR": ATTACKER}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_web_login__locked__429_page_says_so_in_vietnamese_and_english(client, world):
    email = world.users["verifier_07210_01"]
    assert [_web_login(client, email, "wrong password!").status_code for _ in range(3)] == [401, 401, 429]
    response = _web_login(client, email, PASSWORD)
    assert response.status_code == 429
    assert "thử lại sau" in response.get_data(as_text=True)
    client.get("/login?lang=en")
    english = _web_login(client, email, PASSWORD)
    assert english.status_code == 429 and "try again in" in english.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    assert not any(c.startswith("session_token=") for c in response.headers.getlist("Set-Cookie"))


def test_login__success__clears_account_failures(client, world):
    email = world.users["admin"]
    assert [_session(client, email, "wrong password!").status_code for _ in range(2)] == [401, 401]
    assert _session(client, email, PASSWORD).status_code == 200
    assert [_session(client, email, "wrong password!").status_code for _ in range(2)] == [401, 401]


def test_login__address_over_its_limit__every_account_refused_there_not_elsewhere(client, world):
    emails = [world.users[p] for p in ("admin", "province", "supervisor_a", "commune_07210", "verifier_07210_01")]
    statuses = [_session(client, email, "wrong password!").status_code for email in emails]
    assert statuses == [401, 401, 401, 401, 429]
    assert _session(client, world.users["enumerator_07210_01"], PASSWORD).status_code == 429
    assert _session(client, world.users["enumerator_07210_01"], PASSWORD, OFFICE).status_code == 200


def test_login__unknown_account__counted_like_a_known_one(client, world):
    statuses = [_session(client, "nobody@test.vn", "wrong password!").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_login__failures_older_than_the_window__no_longer_lock(app, client, world):
    _lock(client, world.users["admin"])
    with app.app_context():
        db.session.execute(update(LoginFailure).values(failed_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    assert _session(client, world.users["admin"], PASSWORD).status_code == 200


def test_login__behind_trusted_proxy__forwarded_client_address_counted(app, client, world):
    app.config["TRUSTED_PROXY_HOPS"] = 1
    for email in (world.users[p] for p in ("admin", "province", "supervisor_a", "commune_07210", "verifier_07210_01")):
        _session(client, email, "wrong password!", "127.0.0.1", **{"X-Forwarded-For": f"10.9.9.9, {ATTACKER}"})
    proxied_office = {"X-Forwarded-For": OFFICE}
    assert _session(client, world.users["enumerator_07210_01"], PASSWORD, "127.0.0.1", **proxied_office).status_code \
        == 200
    with app.app_context():
        addresses = set(db.session.scalars(select(LoginFailure.key).where(LoginFailure.kind == "ip")))
    assert addresses == {ATTACKER}


def test_lockout__audited_once_with_account_and_address(app, client, world):
    email = world.users["admin"]
    _lock(client, email)
    _session(client, email, PASSWORD)  # refused while locked: not audited again
    (entry,) = _audits(app, "user.login.lockout")
    assert entry.details["email"] == email and entry.details["ip"] == ATTACKER
    assert entry.details["lockedBy"] == "account" and entry.actee_type == "actor"


# --- sessions and device tokens -------------------------------------------------------------------------------

def test_api_session__expired__401(app, client, world):
    token = _session(client, world.users["admin"], PASSWORD).json["token"]
    with app.app_context():
        db.session.execute(update(SessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.get("/v1/users/current", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json["code"] == 401.2


def test_web_session__expired__redirect_to_login(app, client, world):
    assert _web_login(client, world.users["verifier_07210_01"], PASSWORD).status_code == 302
    assert client.get("/queue").status_code == 200
    with app.app_context():
        db.session.execute(update(SessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.get("/queue")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_web_logout__session_ended_on_the_server(app, client, world):
    assert _web_login(client, world.users["verifier_07210_01"], PASSWORD).status_code == 302
    token = client.get_cookie("session_token").value
    csrf = csrf_in(client.get("/returned").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(SessionRow)) is None
    # The old cookie value, replayed (a copied cookie, a second tab), opens nothing.
    client.set_cookie("session_token", token)
    assert client.get("/queue").status_code == 302
    assert client.get("/v1/users/current", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_app_user__revoked__403_on_openrosa(client, world):
    token = world.tokens["device_07210_01"]
    base = f"/v1/key/{token}/projects/{world.project_id}"
    assert client.get(base + "/formList", headers=OPENROSA).status_code == 200
    actor_id = next(u["id"] for u in client.get(f"/v1/projects/{world.project_id}/app-users",
                                                headers=world.basic("admin")).json if u["token"] == token)
    assert client.delete(f"/v1/projects/{world.project_id}/app-users/{actor_id}",
                         headers=world.basic("admin")).status_code == 200
    assert client.get(base + "/formList", headers=OPENROSA).status_code == 403
    assert device_post(client, world, submission_xml("uuid:after-revoke")).status_code == 403


# --- audit of personal-data reads -----------------------------------------------------------------------------

def _url(world, path: str) -> str:
    return f"/v1/projects/{world.project_id}/forms/demo{path}"


def test_csv_export__read__audited_with_actor_form_units_and_filters(app, client, seeded):
    response = client.get(_url(seeded, "/submissions.csv?attachments=false"), headers=seeded.basic("supervisor_a"))
    assert response.status_code == 200
    (entry,) = _audits(app, "submission.export")
    assert entry.actee_type == "form" and entry.actor_id is not None
    assert entry.details["format"] == "csv" and entry.details["xmlFormId"] == "demo"
    assert entry.details["units"] == ["AREA-A"] and entry.details["role"] == "supervisor"
    assert entry.details["filters"] == {"attachments": "false"}


def test_odata_feed__read__audited_with_query(app, client, seeded):
    response = client.get(_url(seeded, ".svc/Submissions?$top=1&$filter=__system/reviewState eq null"),
                          headers=seeded.basic("admin"))
    assert response.status_code == 200
    (entry,) = _audits(app, "submission.export")
    assert entry.details["format"] == "odata" and entry.details["resource"] == "Submissions"
    assert entry.details["filters"] == {"$top": "1", "$filter": "__system/reviewState eq null"}
    assert entry.details["units"] == "*"


def test_odata_metadata__no_personal_data__not_audited(app, client, seeded):
    assert client.get(_url(seeded, ".svc/$metadata"), headers=seeded.basic("admin")).status_code == 200
    assert client.get(_url(seeded, ".svc"), headers=seeded.basic("admin")).status_code == 200
    assert _audits(app, "submission.export") == []


def test_attachment_download__read__audited_with_submission_and_file(app, client, seeded):
    response = client.get(_url(seeded, "/submissions/uuid:a1/attachments/house.jpg"), headers=seeded.basic("admin"))
    assert response.status_code == 200 and response.data == b"jpeg-a"
    (entry,) = _audits(app, "submission.attachment.read")
    assert entry.details["instanceId"] == "uuid:a1" and entry.details["name"] == "house.jpg"
    assert entry.details["village"] == "07210-01"


def test_submission_xml__read__audited(app, client, seeded):
    assert client.get(_url(seeded, "/submissions/uuid:a1.xml"), headers=seeded.basic("admin")).status_code == 200
    (entry,) = _audits(app, "submission.read")
    assert entry.details["format"] == "xml" and entry.details["instanceId"] == "uuid:a1"


def test_attachment_download__out_of_scope__404_and_not_audited(app, client, seeded):
    response = client.get(_url(seeded, "/submissions/uuid:b1/attachments/house-b.jpg"),
                          headers=seeded.basic("supervisor_a"))
    assert response.status_code == 404
    assert _audits(app, "submission.attachment.read") == []


def test_households_export_cli__run__audited_with_operator_and_file(app, runner, world, tmp_path):
    out = tmp_path / "registry.csv"
    result = runner.invoke(args=["households", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    (entry,) = _audits(app, "registry.export")
    assert entry.details["via"] == "cli" and entry.details["out"] == str(out.resolve())
    assert entry.details["osUser"]


# --- password policy where accounts are made ------------------------------------------------------------------

def test_users_create__common_password__refused(runner, world):
    result = runner.invoke(args=["users", "create", "new@test.vn", "--role", "admin", "--password", "Password123"])
    assert result.exit_code != 0 and "common" in result.output


def test_users_create__password_is_the_email__refused(runner, world):
    result = runner.invoke(args=["users", "create", "canbo.xa@test.vn", "--role", "admin",
                                 "--password", "canbo.xa@test.vn"])
    assert result.exit_code != 0 and "e-mail" in result.output
