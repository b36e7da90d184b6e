"""No response ever includes a household outside the caller's scope.

Every GET route the server has (read from its own URL map) is called by scoped personas with the path
filled in to point at a household of a village they do not cover; its head's name must never appear.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from server.collect.models import Submission
from server.extensions import db
from server.review.models import Review
from tests.api.test_classification import household_xml
from tests.factories import PHIEU_B, build_world, device_post, open_campaign

OUTSIDER = "Khong Thi Bimat"  # ASCII, so that JSON escaping cannot hide it
SCOPED = ["supervisor_a", "commune_07210", "verifier_07210_01", "enumerator_07210_01"]


@pytest.fixture
def world(app, client):
    world = build_world(app, forms={"phieu_b": PHIEU_B})
    open_campaign(app, world.project_id)
    # The outsider lives in Xã Mẫu (07228), outside every persona above (area A = commune 07210).
    assert device_post(client, world, household_xml("uuid:outsider", head=OUTSIDER), device="device_07228_01") \
        .status_code == 201
    assert device_post(client, world, household_xml("uuid:insider", commune="07210", village="07210-01",
                                                    head="Nguyễn Văn Trong")).status_code == 201
    return world


def _values(app) -> dict[str, str]:
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:outsider"))
        review = db.session.scalar(select(Review).where(Review.submission_id == submission.id))
        return {"project_id": "1", "xml_form_id": "phieu_b", "instance_id": "uuid:outsider",
                "review_id": str(review.id), "household_id": str(submission.household_id or 0),
                "submission_id": str(submission.id), "village": "07228-01", "name": "house.jpg"}


def _urls(app, values: dict[str, str]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or "<token>" in rule.rule or rule.endpoint == "static":
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), rule.rule)
        urls.append(url)
    return sorted(set(urls))


@pytest.mark.parametrize("persona", SCOPED)
def test_no_get_route__shows_a_household_outside_the_callers_scope(app, client, world, persona):
    urls = _urls(app, _values(app))
    assert len(urls) > 30  # the whole surface, not a handful
    leaks = []
    for url in urls:
        for suffix in ("", "?village=07228-01", "?$filter=true"):
            response = client.get(url + suffix, headers=world.basic(persona))
            if OUTSIDER.encode() in response.data:
                leaks.append(f"{response.status_code} {url}{suffix}")
            response.close()
    assert leaks == []


def test_no_leaks__the_probe_sees_the_outsider_when_in_scope(app, client, world):
    """The check above can fail: the province sees the outsider through the same routes."""
    seen = []
    for url in _urls(app, _values(app)):
        response = client.get(url, headers=world.basic("province"))
        if OUTSIDER.encode() in response.data:
            seen.append(url)
        response.close()
    assert seen
