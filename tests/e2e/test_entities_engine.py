"""Phiếu B with its household entity list, as a phone uses it: the manifest and the list downloaded from our
server, a household picked and pre-filled by the real ODK form engine, the update sent back with its
baseVersion, and two offline updates from the same version turned into a visible conflict."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from server.accounts import queries as account_queries
from server.campaigns import services as campaigns
from server.collect import forms_service
from server.collect.models import FormAssignment, Project, Submission
from server.entities.models import Entity
from server.extensions import db
from server.households.models import Household
from tests.e2e.odk_engine import fill_form, fill_many
from tests.e2e.test_form_constraints import VALID_HOUSEHOLD
from tests.factories import OPENROSA, build_world

pytestmark = pytest.mark.slow
FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
MF = "{http://openrosa.org/xforms/xformsManifest}"
ID = "/data/identity"
# The household's identity and place come from the list: the enumerator does not type them again.
PREFILLED = {f"{ID}/{name}" for name in ("commune", "village", "head_name", "head_national_id", "phone",
                                         "address")}


@pytest.fixture
def world(app):
    world = build_world(app, forms={})
    media = {p.name: p.read_bytes() for p in (FORMS_DIR / "media").glob("*.csv")}
    with app.app_context():
        project = db.session.get(Project, world.project_id)
        forms_service.publish(project, (FORMS_DIR / "phieu_b.xlsx").read_bytes(), "application/octet-stream", None,
                              filename="phieu_b.xlsx", attachments=media)
        year = date.today().year
        campaigns.create_campaign(world.project_id, year, date(year, 1, 1), date(year, 12, 31), [], by=None)
        for key in account_queries.field_keys_of_project(world.project_id):
            for form in forms_service.queries.forms(world.project_id):
                db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form.id))
        db.session.add(Household(code="HH-0001", village_code="07210-01", head_name="Nguyễn Văn An",
                                 address="Số 12, ngõ 3", phone="0912345678", national_id="027080001234",
                                 member_names=["Nguyễn Văn An", "Trần Thị Bình"]))
        db.session.add(Household(code="HH-0002", village_code="07228-01", head_name="Đỗ Văn Hải", address="Thôn Đông"))
        db.session.commit()
    return world


def _get(client, world, path: str):
    response = client.get(f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}{path}",
                          headers=OPENROSA)
    assert response.status_code == 200, response.data
    return response


def _sync(client, world) -> tuple[str, dict[str, str], dict[str, str]]:
    """What Collect does: the form, its manifest, every file in it; returns (form, files, manifest hashes)."""
    form_xml = _get(client, world, "/forms/phieu_b.xml").data.decode()
    manifest = etree.fromstring(_get(client, world, "/forms/phieu_b/manifest").data)
    files, hashes = {}, {}
    for item in manifest.findall(f"{MF}mediaFile"):
        name = item.findtext(f"{MF}filename")
        files[name] = client.get(item.findtext(f"{MF}downloadUrl").replace("http://localhost", "")).data.decode()
        hashes[name] = item.findtext(f"{MF}hash")
    return form_xml, files, hashes


def _steps(**changes: str) -> list[dict[str, str]]:
    steps = [{"set": f"{ID}/existing_household", "value": "HH-0001"}]
    steps += [s for s in VALID_HOUSEHOLD if s.get("set") not in PREFILLED]
    return steps + [{"set": path, "value": value} for path, value in changes.items()]


def _post(client, world, xml: str) -> None:
    data = {"xml_submission_file": (BytesIO(xml.encode()), "submission.xml", "text/xml"),
            "nha-an.jpg": (BytesIO(b"\xff\xd8 photo"), "nha-an.jpg", "image/jpeg")}
    response = client.post(f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission",
                           data=data, content_type="multipart/form-data", headers=OPENROSA)
    assert response.status_code == 201, response.data


def test_phieu_b__household_picked_from_entity_list__prefilled_update_applied(app, client, world):
    form_xml, files, hashes = _sync(client, world)
    assert files["households.csv"].splitlines()[1].startswith("HH-0001,")
    assert "HH-0002" not in files["households.csv"]  # another village's household never reaches this phone

    filled = fill_form(form_xml, _steps(**{"/data/water_sanitation/latrine": "pour_flush"}), attachments=files)
    assert filled.xml is not None, filled.violations
    root = etree.fromstring(filled.xml.encode())
    entity = root.find("meta/entity")
    assert (entity.get("id"), entity.get("update"), entity.get("baseVersion")) == ("HH-0001", "true", "1")
    assert root.findtext("identity/village") == "07210-01"  # pre-filled from the list
    assert root.findtext("identity/head_name") == "Nguyễn Văn An"
    _post(client, world, filled.xml)

    with app.app_context():
        row = db.session.scalar(select(Entity).where(Entity.uuid == "HH-0001"))
        submission = db.session.scalar(select(Submission))
        assert (row.version, row.conflict, row.data["latrine"]) == (2, None, "pour_flush")
        assert db.session.get(Household, submission.household_id).code == "HH-0001"
    api = client.get(f"/v1/projects/{world.project_id}/datasets/households/entities/HH-0001",
                     headers=world.basic("admin")).get_json()
    assert api["currentVersion"]["data"]["latrine"] == "pour_flush"
    _, again, new_hashes = _sync(client, world)
    assert new_hashes["households.csv"] != hashes["households.csv"]
    assert ",2," in again["households.csv"].splitlines()[1]


def test_phieu_b__two_offline_updates_from_same_version__conflict_visible(app, client, world):
    form_xml, files, _ = _sync(client, world)
    first, second = fill_many(form_xml, [_steps(**{"/data/water_sanitation/latrine": "pour_flush"}),
                                         _steps(**{"/data/water_sanitation/latrine": "open"})], attachments=files)
    for filled in (first, second):
        assert filled.xml is not None, filled.violations
        _post(client, world, filled.xml)

    conflicts = client.get(f"/v1/projects/{world.project_id}/datasets/households/conflicts",
                           headers=world.basic("verifier_07210_01")).get_json()
    (item,) = conflicts
    assert item["uuid"] == "HH-0001" and item["conflict"] == "hard"
    clash = {f["property"]: (f["theirs"], f["ours"]) for f in item["fields"] if f["clash"]}
    assert clash == {"latrine": ("pour_flush", "open")}
    assert [v["data"]["latrine"] for v in item["versions"][1:]] == ["pour_flush", "open"]  # both kept
