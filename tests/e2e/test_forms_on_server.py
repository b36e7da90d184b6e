"""Each form in forms/, as a phone uses it: fetched from our server, filled by the real ODK form engine,
submitted back, and read back field by field."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from server.campaigns import services as campaigns
from server.campaigns.models import Classification
from server.collect import forms_service
from server.collect.models import Project, Submission
from server.extensions import db
from tests.e2e.odk_engine import fill_form
from tests.e2e.test_form_constraints import APPLICATION, PHIEU_A_CASES, VALID_HOUSEHOLD
from tests.factories import OPENROSA, build_world

pytestmark = pytest.mark.slow
FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
CASES = {"phieu_a": PHIEU_A_CASES["all_no"], "phieu_b": VALID_HOUSEHOLD, "de_nghi": APPLICATION}
MF = "{http://openrosa.org/xforms/xformsManifest}"


@pytest.fixture
def world(app):
    world = build_world(app, forms={})
    media = {p.name: p.read_bytes() for p in (FORMS_DIR / "media").glob("*.csv")}
    with app.app_context():
        project = db.session.get(Project, world.project_id)
        for form_id in CASES:
            forms_service.publish(project, (FORMS_DIR / f"{form_id}.xlsx").read_bytes(), "application/octet-stream",
                                  None, filename=f"{form_id}.xlsx", attachments=media)
        from server.accounts import queries
        from server.collect.models import FormAssignment

        campaigns.create_campaign(world.project_id, date.today().year, date(date.today().year, 1, 1),
                                  date(date.today().year, 12, 31), [], by=None)
        for key in queries.field_keys_of_project(world.project_id):
            for form in forms_service.queries.forms(world.project_id):
                db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form.id))
        db.session.commit()
    return world


def _device_get(client, world, path: str):
    return client.get(f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}{path}", headers=OPENROSA)


def _expected(steps) -> dict[tuple[str | None, int, str], str]:
    """(repeat name or None, 1-based instance, leaf) → value the enumerator entered (last one wins)."""
    expected: dict[tuple[str | None, int, str], str] = {}
    for step in steps:
        if "set" not in step:
            continue
        match = re.match(r"^/data/(?:.*/)?(\w+)\[(\d+)\]/(\w+)$", step["set"])
        if match:
            expected[(match.group(1), int(match.group(2)), match.group(3))] = step["value"]
        else:
            expected[(None, 0, step["set"].rsplit("/", 1)[-1])] = step["value"]
    return expected


def _same(got: str, entered: str) -> bool:
    """The engine writes numbers its own way ("30" → "30.0", also inside a geopoint)."""
    if got == entered:
        return True
    try:
        return [float(p) for p in got.split()] == [float(p) for p in entered.split()]
    except ValueError:
        return False


@pytest.mark.parametrize("form_id", list(CASES))
def test_form__filled_by_odk_engine__accepted_and_read_back(app, client, world, form_id):
    form_xml = _device_get(client, world, f"/forms/{form_id}.xml").data.decode()
    manifest = etree.fromstring(_device_get(client, world, f"/forms/{form_id}/manifest").data)
    media = {f.findtext(f"{MF}filename"): client.get(f.findtext(f"{MF}downloadUrl").replace("http://localhost", ""))
             .data.decode() for f in manifest.findall(f"{MF}mediaFile")}
    filled = fill_form(form_xml, CASES[form_id], attachments=media)
    assert filled.xml is not None, filled.violations
    data = {"xml_submission_file": (BytesIO(filled.xml.encode()), "submission.xml", "text/xml")}
    for name in filled.attachments:
        data[name] = (BytesIO(b"\xff\xd8 photo " + name.encode()), name, "image/jpeg")
    response = client.post(f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission",
                           data=data, content_type="multipart/form-data", headers=OPENROSA)
    assert response.status_code == 201, response.data

    with app.app_context():
        submission = db.session.scalar(select(Submission))
        stored = submission.defs[-1]
        assert stored.xml == filled.xml.encode()
        assert stored.attention is None
        assert {a.name for a in stored.attachments if a.blob_id} == set(filled.attachments)
        answers = stored.answers
        classification = db.session.scalar(select(Classification))
        if form_id == "phieu_b":  # the household is classified on arrival (1.4M/person, rural: near-poor)
            assert (classification.status, classification.household_class) == ("classified", "near_poor")
        else:
            assert classification is None
    for (repeat, index, leaf), value in _expected(CASES[form_id]).items():
        got = answers["fields"].get(leaf) if repeat is None else answers["repeats"][repeat][index - 1].get(leaf)
        assert _same(got or "", value), (repeat, index, leaf, got, value)
    assert submission.village_code == "09319-02"
