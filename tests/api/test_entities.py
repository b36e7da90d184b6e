"""Issue 6: households as ODK entity lists (manifest, integrity, byte-stable CSV), entity updates from
submissions with conflicts, Central's dataset/entity API, assignments and returned surveys."""

from __future__ import annotations

import hashlib
import uuid as uuidlib

import pytest
from lxml import etree
from sqlalchemy import select

from server.collect.models import Submission
from server.entities.models import Entity, EntityVersion
from server.extensions import db
from server.households.models import Household, HouseholdYear
from server.review.models import Review
from tests.api.test_classification import household_xml
from tests.factories import OPENROSA, PHIEU_B, build_world, device_post, open_campaign

MF = "{http://openrosa.org/xforms/xformsManifest}"


def _entity_form() -> str:
    """The factories' compact Phiếu B plus a household picker, save_to and the entities sheet."""
    out = []
    for line in PHIEU_B.strip("\n").splitlines():
        if line.startswith("| | type | name | label |"):
            out.append("| | type | name | label | calculation | save_to |")
            out.append("| | select_one_from_file returned.csv | returned_review | Phiếu bị trả lại | | |")
            out.append("| | select_one_from_file households.csv | existing_household | Hộ | | |")
            out.append("| | calculate | household_id | | ${existing_household} | |")
            continue
        if line.startswith("| settings |"):
            out += ["| entities |", "| | list_name | label | entity_id | create_if | update_if |",
                    "| | households | ${head_name} | coalesce(${household_id}, uuid()) | ${household_id} = '' "
                    "| ${household_id} != '' |"]
            out.append(line)
            continue
        cells = line.split("|")
        if len(cells) == 6 and cells[1] == " " and cells[2].strip() not in ("form_id", "phieu_b"):
            name = cells[3].strip()
            saved = name if name in ("head_name", "commune", "village", "wall_material", "latrine") else ""
            out.append(f"{line} | {saved} |")
            continue
        out.append(line)
    return "\n".join(out) + "\n"


ENTITY_FORM = _entity_form()


@pytest.fixture
def world(app):
    world = build_world(app, forms={"phieu_b": ENTITY_FORM})
    open_campaign(app, world.project_id)
    with app.app_context():
        for code, village, head in (("HH-1", "07210-01", "Nguyễn Văn An"), ("HH-2", "07210-01", "Lê Thị Bình"),
                                    ("HH-3", "07210-02", "Trần Văn Cường"), ("HH-9", "07228-01", "Đỗ Văn Hải")):
            db.session.add(Household(code=code, village_code=village, head_name=head, address=f"Xóm {code}",
                                     member_names=[head]))
        db.session.flush()
        hh1 = db.session.scalar(select(Household).where(Household.code == "HH-1"))
        db.session.add(HouseholdYear(household_id=hh1.id, year=2025, end_class="near_poor"))
        db.session.commit()
    return world


def _base(world, device: str = "device_07210_01") -> str:
    return f"/v1/key/{world.tokens[device]}/projects/{world.project_id}"


def _manifest(client, world, device: str = "device_07210_01") -> dict[str, etree._Element]:
    response = client.get(f"{_base(world, device)}/forms/phieu_b/manifest", headers=OPENROSA)
    assert response.status_code == 200, response.data
    return {f.findtext(f"{MF}filename"): f for f in etree.fromstring(response.data).findall(f"{MF}mediaFile")}


def _download(client, item: etree._Element) -> bytes:
    response = client.get(item.findtext(f"{MF}downloadUrl").replace("http://localhost", ""))
    assert response.status_code == 200
    return response.data


def _households_csv(client, world, device: str = "device_07210_01") -> tuple[str, bytes]:
    item = _manifest(client, world, device)["households.csv"]
    return item.findtext(f"{MF}hash"), _download(client, item)


def entity_xml(instance_id: str, household: str | None, base: int | None, *, head: str = "Nguyễn Văn An",
               branch: str = "", trunk: str = "", deprecated: str = "", **house: str) -> bytes:
    xml = household_xml(instance_id, commune="07210", village="07210-01", head=head, **house).decode()
    picked = household or ""
    entity_id = household or str(uuidlib.uuid4())
    flags = 'update="true" create="false"' if household else 'update="false" create="true"'
    block = (f'<entity dataset="households" id="{entity_id}" {flags} baseVersion="{base or ""}" '
             f'trunkVersion="{trunk}" branchId="{branch}"><label>{head}</label></entity>')
    xml = xml.replace('<data id="phieu_b" version="1">',
                      f'<data id="phieu_b" version="1"><existing_household>{picked}</existing_household>'
                      f"<household_id>{picked}</household_id>")
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return xml.replace("</instanceID></meta>", f"</instanceID>{dep}{block}</meta>").encode()


def _entity(app, code: str) -> tuple[Entity, list[EntityVersion]]:
    with app.app_context():
        entity = db.session.scalar(select(Entity).where(Entity.uuid == code))
        versions = list(db.session.scalars(select(EntityVersion).where(EntityVersion.entity_id == entity.id)
                                           .order_by(EntityVersion.version)))
        db.session.expunge_all()
        return entity, versions


# --- the list on the phone ----------------------------------------------------------------------------------

def test_manifest__households_list__entity_list_with_integrity_url_and_md5_of_served_bytes(client, world):
    item = _manifest(client, world)["households.csv"]

    assert item.get("type") == "entityList"
    assert item.findtext(f"{MF}integrityUrl") == \
        f"http://localhost{_base(world)}/datasets/households/integrity"
    body = _download(client, item)
    assert item.findtext(f"{MF}hash") == "md5:" + hashlib.md5(body).hexdigest()
    lines = body.decode().splitlines()
    assert lines[0].startswith("name,label,__version,head_name,")
    assert [line.split(",")[0] for line in lines[1:]] == ["HH-1", "HH-2"]  # only the device's village
    assert "near_poor,2025" in lines[1]


def test_entity_list__unchanged__byte_identical_then_hash_changes_on_update(app, client, world):
    first_hash, first = _households_csv(client, world)
    again_hash, again = _households_csv(client, world)
    assert (again_hash, again) == (first_hash, first)

    assert device_post(client, world, entity_xml("uuid:u1", "HH-1", 1, wall_material="non_durable")).status_code == 201
    changed_hash, changed = _households_csv(client, world)
    assert changed_hash != first_hash and changed != first
    assert "HH-1,Nguyễn Văn An,2," in changed.decode()


def test_entity_list__registry_household_changed__new_version_and_new_hash(app, client, world):
    first_hash, _ = _households_csv(client, world)
    with app.app_context():
        household = db.session.scalar(select(Household).where(Household.code == "HH-2"))
        household.address = "Số 5, Xóm mới"
        from server.timeutil import utcnow

        household.updated_at = utcnow()
        db.session.commit()
    second_hash, body = _households_csv(client, world)
    assert second_hash != first_hash
    assert "HH-2,\"Lê Thị Bình - Số 5, Xóm mới\",2," in body.decode()


def test_integrity__known_and_deleted_ids__reported_unknown_left_out(app, client, world):
    _households_csv(client, world)
    response = client.delete(f"/v1/projects/{world.project_id}/datasets/households/entities/HH-2",
                             headers=world.basic("admin"))
    assert response.status_code == 200
    response = client.get(f"{_base(world)}/datasets/households/integrity?id=HH-1,HH-2,nope", headers=OPENROSA)
    root = etree.fromstring(response.data)
    assert [(e.get("id"), e.findtext("deleted")) for e in root.iter("entity")] == [("HH-1", "false"),
                                                                                  ("HH-2", "true")]
    _, body = _households_csv(client, world)
    assert "HH-2" not in body.decode()


# --- assignments --------------------------------------------------------------------------------------------

def _device_actor(app, world, device: str = "device_07210_01") -> int:
    from server.accounts import queries, tokens

    with app.app_context():
        return queries.field_key_by_token_hash(tokens.sha256_hex(world.tokens[device])).actor_id


def test_assignments__supervisor_reassigns__list_changes_at_next_sync(app, client, world):
    before_hash, _ = _households_csv(client, world)
    actor_id = _device_actor(app, world)
    response = client.put(f"/v1/projects/{world.project_id}/assignments/{actor_id}",
                          json={"villages": [{"code": "07210-02", "expectedCount": 12}], "households": ["HH-1"]},
                          headers=world.basic("supervisor_a"))
    assert response.status_code == 200, response.get_json()
    assert {(a["villageCode"], a["householdCode"], a["expectedCount"]) for a in response.get_json()} == {
        ("07210-02", None, 12), (None, "HH-1", None)}
    after_hash, body = _households_csv(client, world)
    assert after_hash != before_hash
    assert [line.split(",")[0] for line in body.decode().splitlines()[1:]] == ["HH-1", "HH-3"]


def test_assignments__village_outside_supervisor_area__403(app, client, world):
    actor_id = _device_actor(app, world)
    response = client.put(f"/v1/projects/{world.project_id}/assignments/{actor_id}",
                          json={"villages": ["07228-01"]}, headers=world.basic("supervisor_a"))
    assert response.status_code == 403
    response = client.put(f"/v1/projects/{world.project_id}/assignments/{actor_id}",
                          json={"villages": ["07210-01"]}, headers=world.basic("verifier_07210_01"))
    assert response.status_code == 403


def test_assignments_cli__set_then_list__printed(app, runner, world):
    actor_id = _device_actor(app, world)
    result = runner.invoke(args=["assignments", "set", str(actor_id), "--project", str(world.project_id),
                                 "--village", "07210-02:30"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["assignments", "list", "--project", str(world.project_id)])
    assert f"{actor_id}\t07210-02\t30" in result.output


# --- updates from submissions -------------------------------------------------------------------------------

def test_submission_update__base_version__new_version_and_household_linked(app, client, world):
    _households_csv(client, world)
    assert device_post(client, world, entity_xml("uuid:u1", "HH-1", 1, wall_material="non_durable")).status_code == 201
    entity, versions = _entity(app, "HH-1")
    assert (entity.version, entity.conflict) == (2, None)
    assert versions[1].changed["wall_material"] == "non_durable"
    assert versions[1].changed["latrine"] == "septic" and "head_name" not in versions[1].changed
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:u1"))
        household = db.session.get(Household, submission.household_id)
        assert household.code == "HH-1" and versions[1].submission_id == submission.id


def test_submission_update__two_phones_same_base__hard_conflict_visible_then_resolved(app, client, world):
    _households_csv(client, world)
    assert device_post(client, world, entity_xml("uuid:a", "HH-1", 1, latrine="open")).status_code == 201
    assert device_post(client, world, entity_xml("uuid:b", "HH-1", 1, latrine="none")).status_code == 201
    entity, versions = _entity(app, "HH-1")
    assert (entity.version, entity.conflict) == (3, "hard")
    assert [v.data["latrine"] for v in versions] == ["", "open", "none"]  # both kept, in arrival order

    listed = client.get(f"/v1/projects/{world.project_id}/datasets/households/conflicts",
                        headers=world.basic("verifier_07210_01")).get_json()
    (item,) = listed
    clash = next(f for f in item["fields"] if f["property"] == "latrine")
    assert (clash["base"], clash["theirs"], clash["ours"], clash["clash"]) == ("", "open", "none", True)
    sources = [(v["version"], (v["source"]["submission"] or {}).get("instanceId")) for v in item["versions"]]
    assert sources == [(1, None), (2, "uuid:a"), (3, "uuid:b")]  # the common base, then both sides
    assert client.get(f"/v1/projects/{world.project_id}/datasets/households/conflicts",
                      headers=world.basic("verifier_07228_01")).get_json() == []

    url = f"/v1/projects/{world.project_id}/datasets/households/entities/HH-1"
    refused = client.patch(url + "?resolve=true", json={}, headers=world.basic("verifier_07210_01"))
    assert refused.status_code == 400 and refused.get_json()["details"]["reason"] == "unresolved_fields"
    resolved = client.patch(url + "?resolve=true&baseVersion=3", json={"data": {"latrine": "open"}},
                            headers=world.basic("verifier_07210_01"))
    assert resolved.status_code == 200, resolved.get_json()
    body = resolved.get_json()
    assert (body["conflict"], body["currentVersion"]["version"], body["currentVersion"]["data"]["latrine"]) == \
        (None, 4, "open")


def test_submission_update__offline_chain_out_of_order__held_then_applied_without_conflict(app, client, world):
    _households_csv(client, world)
    branch = str(uuidlib.uuid4())
    second = entity_xml("uuid:c2", "HH-1", 2, branch=branch, trunk="1", latrine="none", wall_material="x")
    first = entity_xml("uuid:c1", "HH-1", 1, branch=branch, trunk="1", latrine="open")
    assert device_post(client, world, second).status_code == 201
    assert _entity(app, "HH-1")[0].version == 1  # waiting for its predecessor
    assert device_post(client, world, first).status_code == 201
    entity, versions = _entity(app, "HH-1")
    assert (entity.version, entity.conflict, entity.held) == (3, None, None)
    assert [v.source for v in versions[1:]] == ["uuid:c1", "uuid:c2"]
    assert entity.data["latrine"] == "none"


def test_submission_create__new_household__entity_created_and_linked_after_matching(app, client, world):
    xml = entity_xml("uuid:new", None, None, head="Phạm Thị Mới")
    assert device_post(client, world, xml).status_code == 201
    with app.app_context():
        entity = db.session.scalar(select(Entity).where(Entity.label == "Phạm Thị Mới"))
        submission = db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:new"))
        assert entity.version == 1 and entity.village_code == "07210-01"
        assert entity.household_id == submission.household_id is not None


def test_submission_update__unknown_entity__submission_kept_error_audited(app, client, world):
    assert device_post(client, world, entity_xml("uuid:x", "NOPE", 1)).status_code == 201
    from server.accounts.models import Audit

    with app.app_context():
        audit = db.session.scalar(select(Audit).where(Audit.action == "entity.error"))
        assert audit.details["reason"] == "entity_not_found"


# --- Central's API ------------------------------------------------------------------------------------------

def test_entity_api__get_versions_patch__central_shapes_and_version_checks(app, client, world):
    _households_csv(client, world)
    url = f"/v1/projects/{world.project_id}/datasets/households/entities/HH-1"
    got = client.get(url, headers=world.basic("admin")).get_json()
    assert got["uuid"] == "HH-1" and got["currentVersion"]["version"] == 1
    assert got["currentVersion"]["data"]["last_class"] == "near_poor"
    stale = client.patch(url + "?baseVersion=7", json={"data": {"latrine": "open"}}, headers=world.basic("admin"))
    assert stale.status_code == 409 and stale.get_json()["code"] == 409.15
    done = client.patch(url + "?baseVersion=1", json={"data": {"latrine": "open"}}, headers=world.basic("admin"))
    assert done.get_json()["currentVersion"]["version"] == 2
    forced = client.patch(url + "?force=True", json={"label": "An (sửa)"}, headers=world.basic("admin"))
    assert forced.get_json()["currentVersion"]["label"] == "An (sửa)"
    versions = client.get(url + "/versions", headers=world.basic("admin")).get_json()
    assert [v["version"] for v in versions] == [1, 2, 3]


def test_entity_api__household_outside_scope__404_and_absent(app, client, world):
    _households_csv(client, world)
    _households_csv(client, world, "device_07228_01")
    url = f"/v1/projects/{world.project_id}/datasets/households"
    assert client.get(url + "/entities/HH-1", headers=world.basic("verifier_07228_01")).status_code == 404
    listed = client.get(url + "/entities", headers=world.basic("verifier_07228_01")).get_json()
    assert [e["uuid"] for e in listed] == ["HH-9"]
    table = client.get(url + ".svc/Entities?$count=True", headers=world.basic("verifier_07228_01")).get_json()
    assert table["@odata.count"] == 1 and table["value"][0]["__id"] == "HH-9"


# --- returned surveys ---------------------------------------------------------------------------------------

def test_returned__review_returned__on_the_phone_then_resubmission_continues_it(app, client, world):
    _households_csv(client, world)
    assert device_post(client, world, entity_xml("uuid:r1", "HH-1", 1)).status_code == 201
    with app.app_context():
        review_id = db.session.scalar(select(Review.id))
    response = client.post(f"/v1/reviews/{review_id}/actions", json={"action": "return_to_enumerator",
                                                                      "reason": "Thiếu ảnh nhà"},
                           headers=world.basic("verifier_07210_01"))
    assert response.get_json()["state"] == "returned"
    item = _manifest(client, world)["returned.csv"]
    assert item.get("type") == "entityList"
    body = _download(client, item).decode()
    assert body == ("name,label,__version,reason,review_id\n"
                    f"HH-1,Nguyễn Văn An - Xóm HH-1,1,Thiếu ảnh nhà,{review_id}\n")
    assert "HH-1" not in _download(client, _manifest(client, world, "device_07228_01")["returned.csv"]).decode()

    assert device_post(client, world, entity_xml("uuid:r2", "HH-1", 2)).status_code == 201
    with app.app_context():
        review = db.session.get(Review, review_id)
        submission = db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:r2"))
        assert review.submission_id == submission.id
        assert review.state == "village_review"
        assert db.session.scalar(select(Review).where(Review.id != review_id)) is None
    after = _download(client, _manifest(client, world)["returned.csv"]).decode()
    assert after == "name,label,__version,reason,review_id\n"
