"""Issue 6 item 2 on the reviewer's page: two phones' offline updates of one household from the same version
are both kept, shown side by side on the household's review page, and resolved there explicitly."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from server.collect.models import Submission
from server.entities.models import Entity
from server.extensions import db
from server.review.models import Review
from tests.api.test_entities import _households_csv, entity_xml
from tests.api.test_entities import world as entities_world  # noqa: F401  (the fixture)
from tests.factories import device_post
from tests.web.world import login


@pytest.fixture
def conflicted(app, client, entities_world):  # noqa: F811
    world = entities_world
    _households_csv(client, world)
    assert device_post(client, world, entity_xml("uuid:a", "HH-1", 1, latrine="open")).status_code == 201
    assert device_post(client, world, entity_xml("uuid:b", "HH-1", 1, latrine="none")).status_code == 201
    with app.app_context():
        review_id = db.session.scalar(select(Review.id).join(Submission, Submission.id == Review.submission_id)
                                      .where(Submission.instance_id == "uuid:b"))
    return world, review_id


def _entity(app) -> Entity:
    with app.app_context():
        entity = db.session.scalar(select(Entity).where(Entity.uuid == "HH-1"))
        db.session.expunge(entity)
        return entity


def test_review_page__entity_conflict__both_sides_shown_with_a_choice_per_clash(client, conflicted):
    world, review_id = conflicted
    login(client, world, "verifier_07210_01")
    html = client.get(f"/reviews/{review_id}?lang=en").get_data(as_text=True)
    row = re.search(r'<tr data-field="latrine" class="clash">(.*?)</tr>', html, re.S).group(1)
    assert 'name="field-latrine" value="open"' in row and 'name="field-latrine" value="none"' in row
    assert "Two phones updated this household differently" in html


def test_review_page__resolve_entity_conflict__chosen_value_becomes_a_new_version(app, client, conflicted):
    world, review_id = conflicted
    csrf = login(client, world, "verifier_07210_01")
    version = _entity(app).version
    response = client.post(f"/reviews/{review_id}/entity-conflict",
                           data={"csrf_token": csrf, "version": version, "field-latrine": "open"})
    assert response.status_code == 302
    entity = _entity(app)
    assert (entity.conflict, entity.version, entity.data["latrine"]) == (None, version + 1, "open")
    assert 'id="entity-conflict"' not in client.get(f"/reviews/{review_id}").get_data(as_text=True)


def test_review_page__resolve_without_choosing__400_message_and_conflict_kept(app, client, conflicted):
    world, review_id = conflicted
    csrf = login(client, world, "verifier_07210_01")
    response = client.post(f"/reviews/{review_id}/entity-conflict?lang=en",
                           data={"csrf_token": csrf, "version": _entity(app).version})
    assert response.status_code == 400 and 'id="conflict-error"' in response.get_data(as_text=True)
    assert _entity(app).conflict == "hard"


def test_review_page__resolve_from_a_stale_page__409_and_conflict_kept(app, client, conflicted):
    world, review_id = conflicted
    csrf = login(client, world, "verifier_07210_01")
    response = client.post(f"/reviews/{review_id}/entity-conflict",
                           data={"csrf_token": csrf, "version": 1, "field-latrine": "open"})
    assert response.status_code == 409 and _entity(app).conflict == "hard"


def test_review_page__resolve_conflict_as_enumerator__403(app, client, conflicted):
    world, review_id = conflicted
    csrf = login(client, world, "enumerator_07210_01")
    response = client.post(f"/reviews/{review_id}/entity-conflict",
                           data={"csrf_token": csrf, "version": _entity(app).version, "field-latrine": "open"})
    assert response.status_code == 403 and _entity(app).conflict == "hard"
