"""The account and form commands an administrator runs."""

from __future__ import annotations

import re

from lxml import etree

from server.accounts import queries
from server.extensions import db
from tests.factories import OPENROSA, build_world


def test_users_create__password_option__user_with_role_and_units(app, runner):
    build_world(app)
    result = runner.invoke(args=["users", "create", "Head@Village.vn", "--role", "verifier", "--unit", "07210-01",
                                 "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = queries.user_by_email("head@village.vn")
        assert user.role == "verifier"
        assert queries.scope_codes(user.actor_id) == ["07210-01"]
        assert "a long enough password" not in user.password_hash


def test_users_create__password_from_stdin__accepted(app, runner):
    build_world(app)
    result = runner.invoke(args=["users", "create", "p@x.vn", "--role", "province"], input="from standard input\n")
    assert result.exit_code == 0, result.output


def test_users_create__verifier_without_unit__refused(app, runner):
    build_world(app)
    result = runner.invoke(args=["users", "create", "v@x.vn", "--role", "verifier", "--password", "long password 1"])
    assert result.exit_code != 0
    assert "--unit" in result.output


def test_users_create__unit_of_wrong_level__refused(app, runner):
    build_world(app)
    result = runner.invoke(args=["users", "create", "c@x.vn", "--role", "commune", "--unit", "07210-01",
                                 "--password", "long password 1"])
    assert result.exit_code != 0


def test_users_create__short_password__refused(app, runner):
    build_world(app)
    result = runner.invoke(args=["users", "create", "s@x.vn", "--role", "admin", "--password", "short"])
    assert result.exit_code != 0


def test_app_users_create__prints_token_and_collect_url_that_work(app, runner):
    world = build_world(app)
    result = runner.invoke(args=["app-users", "create", "Máy 7", "--project", str(world.project_id),
                                 "--unit", "07228-02"])
    assert result.exit_code == 0, result.output
    token = re.search(r"Token: (\w{64})", result.output).group(1)
    assert f"http://localhost/v1/key/{token}/projects/{world.project_id}" in result.output
    response = app.test_client().get(f"/v1/key/{token}/projects/{world.project_id}/formList", headers=OPENROSA)
    assert etree.fromstring(response.data).find("{*}xform/{*}formID").text == "demo"


def test_app_users_revoke__token_stops_working(app, runner):
    world = build_world(app)
    with app.app_context():
        actor_id = queries.field_keys_of_project(world.project_id)[0].actor_id
    assert runner.invoke(args=["app-users", "revoke", str(actor_id)]).exit_code == 0
    response = app.test_client().get(
        f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/formList", headers=OPENROSA)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(type(queries.field_key(actor_id)), actor_id).token_sha256 is None
