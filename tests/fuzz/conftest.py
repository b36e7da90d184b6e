"""A small province with one form, one submission (with its photo) and sessions for two personas."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask

from server.accounts import queries as account_queries
from server.accounts import services as accounts
from server.extensions import db
from tests.factories import World, build_world, device_post, open_campaign, submission_xml

INSTANCE_ID = "uuid:fuzz-1"


@dataclass
class FuzzWorld:
    world: World
    bearer: dict[str, str]  # persona → session token
    app_user_id: int

    @property
    def project_id(self) -> int:
        return self.world.project_id

    def auth(self, persona: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer[persona]}"}


@pytest.fixture
def fuzz_world(app: Flask, client) -> FuzzWorld:  # type: ignore[no-untyped-def]
    world = build_world(app)
    open_campaign(app, world.project_id)
    response = device_post(client, world, submission_xml(INSTANCE_ID), {"house.jpg": b"\xff\xd8jpeg"})
    assert response.status_code == 201, response.data
    bearer = {}
    with app.app_context():
        for persona in ("admin", "enumerator_07210_01"):
            user = account_queries.user_by_email(world.users[persona])
            bearer[persona] = accounts.open_session(user)[1]
        app_user_id = account_queries.field_keys_of_project(world.project_id)[0].actor_id
        db.session.commit()
    return FuzzWorld(world, bearer, app_user_id)
