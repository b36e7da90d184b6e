"""Issue 4 in the server: registry import/export, matching at ingest, the duplicate queue, geolocation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from server.collect.models import Submission
from server.extensions import db
from server.households import services
from server.households.models import DuplicatePair, Household
from tests.factories import build_world, device_post

FORM = """
| survey |
| | type | name | label |
| | text | commune | Xã |
| | text | village | Thôn |
| | text | head_name | Chủ hộ |
| | text | head_national_id | CCCD |
| | text | phone | Điện thoại |
| | geopoint | gps | GPS |
| | begin repeat | member | Thành viên |
| | text | m_name | Tên |
| | text | m_sex | Giới tính |
| | integer | m_birth_year | Năm sinh |
| | text | m_relation | Quan hệ |
| | end repeat | | |
| settings |
| | form_id | version |
| | phieu_a | 1 |
"""

HEADER = ("record_id,head_name,birth_year,gender,national_id,phone,village_code,address,lat,lon,member_names,"
          "so_ho_tinh\n")
REGISTRY = HEADER + (
    "BN-1,Nguyễn Văn An,1970,M,027070001234,0912345678,07210-01,Số 1,21.2800,106.2100,"
    "Trần Thị Bình|Nguyễn Văn Cường,A1\n"
    "BN-2,Lê Thị Hoa,1985,F,,0987654321,07210-01,Số 2,21.2810,106.2110,Phạm Văn Đức,A2\n"
    "BN-3,Hoàng Văn Minh,1960,M,,,07228-01,Thôn Đông,,,,A3\n")


def household_xml(instance_id: str, head: str, *, national_id: str = "", phone: str = "", year: str = "1970",
                  sex: str = "male", members: tuple[str, ...] = (), village: str = "07210-01",
                  gps: str = "21.2800 106.2100 0 5") -> bytes:
    roster = f"<member><m_name>{head}</m_name><m_sex>{sex}</m_sex><m_birth_year>{year}</m_birth_year>" \
             f"<m_relation>head</m_relation></member>"
    roster += "".join(f"<member><m_name>{m}</m_name><m_relation>other</m_relation></member>" for m in members)
    return (f'<data id="phieu_a" version="1"><commune>{village[:5]}</commune><village>{village}</village>'
            f"<head_name>{head}</head_name><head_national_id>{national_id}</head_national_id><phone>{phone}</phone>"
            f"<gps>{gps}</gps>{roster}<meta><instanceID>{instance_id}</instanceID></meta></data>").encode()


@pytest.fixture
def world(app):
    world = build_world(app, forms={"phieu_a": FORM})
    with app.app_context():
        services.import_registry(io.StringIO(REGISTRY))
        db.session.commit()
    return world


def _submission(app, instance_id: str) -> Submission:
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        db.session.expunge(submission)
        return submission


def test_import__rows_inserted_with_province_columns_and_keys(app, world):
    with app.app_context():
        household = db.session.scalar(select(Household).where(Household.code == "BN-1"))
        assert household.member_names == ["Trần Thị Bình", "Nguyễn Văn Cường"]
        assert household.extra == {"so_ho_tinh": "A1"}


def test_import__same_file_twice__changes_nothing(app, world):
    with app.app_context():
        report = services.import_registry(io.StringIO(REGISTRY))
        assert (report.inserted, report.updated, report.unchanged) == (0, 0, 3)


def test_import__bad_rows__rejected_with_reasons_others_kept(app, world):
    bad = (HEADER + ",Không mã,,,,,,,,,,\nBN-9,Tên,abc,M,,,,,,,,\nBN-8,Tên,,X,,,,,,,,\n"
           "BN-7,Đúng,1990,F,,,07228-01,,,,,\n")
    with app.app_context():
        report = services.import_registry(io.StringIO(bad))
    assert report.inserted == 1
    assert [line for line, _ in report.rejected] == [2, 3, 4]
    assert "record_id" in report.rejected[0][1] and "birth_year" in report.rejected[1][1]


def test_export__round_trips_through_import(app, world, runner, tmp_path):
    out = tmp_path / "registry.csv"
    assert runner.invoke(args=["households", "export", "--out", str(out)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["record_id"] for r in rows] == ["BN-1", "BN-2", "BN-3"]
    with app.app_context():
        report = services.import_registry(io.StringIO(out.read_text(encoding="utf-8")))
        assert (report.inserted, report.updated, report.rejected) == (0, 0, [])


def test_submission__same_household_without_accents__linked_to_registry(app, client, world):
    xml = household_xml("uuid:s1", "Nguyen Van An", national_id="027070001234", phone="+84912345678",
                        members=("Tran Thi Binh", "Nguyen Van Cuong"))
    assert device_post(client, world, xml).status_code == 201
    submission = _submission(app, "uuid:s1")
    assert submission.match["decision"] == "match"
    with app.app_context():
        assert db.session.get(Household, submission.household_id).code == "BN-1"


def test_submission__two_enumerators_same_new_household__second_found(app, client, world):
    for instance_id, device in (("uuid:d1", "device_07210_01"), ("uuid:d2", "device_07228_01")):
        xml = household_xml(instance_id, "Đỗ Văn Tuấn", phone="0911222333", year="1991",
                            members=("Vũ Thị Lan",), gps="21.2900 106.2200 0 5")
        device_post(client, world, xml, device=device)
    first, second = _submission(app, "uuid:d1"), _submission(app, "uuid:d2")
    assert first.match["decision"] == "new"
    assert second.household_id == first.household_id


def test_submission__doubtful_candidate__queued_and_decided_same(app, client, world):
    # Same name and village as BN-2, but no ID, a different phone and no members: a person decides.
    device_post(client, world, household_xml("uuid:q1", "Lê Thị Hoa", year="1985", sex="female", phone="0900000000"))
    submission = _submission(app, "uuid:q1")
    assert submission.match["decision"] == "review"
    headers = world.basic("verifier_07210_01")
    pairs = client.get("/v1/duplicates", headers=headers).get_json()
    assert [p["householdCode"] for p in pairs] == ["BN-2"]
    response = client.post(f"/v1/duplicates/{pairs[0]['id']}", json={"decision": "same"}, headers=headers)
    assert response.status_code == 200
    with app.app_context():
        linked = db.session.get(Submission, submission.id)
        assert db.session.get(Household, linked.household_id).code == "BN-2"
        provisional = db.session.get(Household, submission.household_id)
        assert provisional.merged_into_id == linked.household_id


def test_duplicate_queue__other_village__not_visible_nor_decidable(app, client, world):
    device_post(client, world, household_xml("uuid:q1", "Lê Thị Hoa", year="1985", sex="female", phone="0900000000"))
    with app.app_context():
        pair_id = db.session.scalar(select(DuplicatePair.id))
    outsider = world.basic("verifier_07228_01")
    assert client.get("/v1/duplicates", headers=outsider).get_json() == []
    assert client.post(f"/v1/duplicates/{pair_id}", json={"decision": "same"}, headers=outsider).status_code == 404


def test_duplicate__not_same__never_proposed_again(app, client, world):
    device_post(client, world, household_xml("uuid:q1", "Lê Thị Hoa", year="1985", sex="female", phone="0900000000"))
    headers = world.basic("verifier_07210_01")
    pair_id = client.get("/v1/duplicates", headers=headers).get_json()[0]["id"]
    client.post(f"/v1/duplicates/{pair_id}", json={"decision": "not_same"}, headers=headers)
    edit = household_xml("uuid:q2", "Lê Thị Hoa", year="1985", sex="female", phone="0900000000").replace(
        b"<instanceID>uuid:q2</instanceID>", b"<instanceID>uuid:q2</instanceID><deprecatedID>uuid:q1</deprecatedID>")
    assert device_post(client, world, edit).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DuplicatePair)) == 1


def _square(code: str, level: str, parent: str, lon0: float, lat0: float, size: float) -> dict:
    ring = [[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size], [lon0, lat0 + size], [lon0, lat0]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"code": code, "name": code, "level": level, "parent_code": parent}}


BOUNDARIES = {"type": "FeatureCollection", "features": [
    _square("07210", "commune", "24", 106.20, 21.27, 0.02),
    _square("07210-01", "village", "07210", 106.20, 21.27, 0.01),
    _square("07210-02", "village", "07210", 106.21, 21.27, 0.01),
]}


def test_geo__point_in_another_village__flagged_declared_kept(app, client, runner, world, tmp_path):
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(BOUNDARIES))
    assert runner.invoke(args=["geo", "load", str(path)]).exit_code == 0
    device_post(client, world, household_xml("uuid:g1", "Phan Văn Long", gps="21.2750 106.2150 0 5"))
    submission = _submission(app, "uuid:g1")
    assert submission.village_code == "07210-01"
    assert submission.geo["village_code"] == "07210-02"
    assert "outside_declared_village" in submission.geo["flags"]
    assert submission.geo["distance_to_declared_m"] > 0


def test_geo__no_gps__flagged(app, client, runner, world, tmp_path):
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(BOUNDARIES))
    runner.invoke(args=["geo", "load", str(path)])
    device_post(client, world, household_xml("uuid:g2", "Phan Văn Long", gps=""))
    assert "no_gps" in _submission(app, "uuid:g2").geo["flags"]


def test_cli_link__pairs_csv_columns(runner, world, tmp_path):
    registry, incoming, out = tmp_path / "r.csv", tmp_path / "i.csv", tmp_path / "o.csv"
    registry.write_text(REGISTRY.replace(",so_ho_tinh", "").replace(",A1", "").replace(",A2", "").replace(",A3", ""))
    incoming.write_text(HEADER.replace(",so_ho_tinh", "")
                        + "IN-1,Nguyen Van An,1970,M,027070001234,0912345678,07210-01,,,,Tran Thi Binh\n")
    result = runner.invoke(args=["households", "link", str(registry), str(incoming), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == "incoming_id,registry_id,score,decision"
    assert out.read_text().splitlines()[1].startswith("IN-1,BN-1,")


def test_cli_geo_locate__flags_column(runner, world, tmp_path):
    boundaries, points, out = tmp_path / "b.geojson", tmp_path / "p.csv", tmp_path / "o.csv"
    boundaries.write_text(json.dumps(BOUNDARIES))
    points.write_text("id,lat,lon,acc\np1,21.275,106.205,5\np2,,,\n")
    result = runner.invoke(args=["geo", "locate", str(points), "--boundaries", str(boundaries), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert (rows[0]["village_code"], rows[0]["commune_code"]) == ("07210-01", "07210")
    assert "no_gps" in rows[1]["flag"]


def test_geo__no_polygons__commune_from_its_centroid(app, client, world):
    # The test units give the two communes centroids (factories.UNITS) and no boundaries are loaded.
    device_post(client, world, household_xml("uuid:c1", "Phan Văn Long", gps="21.2805 106.2102 0 5"))
    geo = _submission(app, "uuid:c1").geo
    assert geo["commune_code"] == "07210" and geo["village_code"] is None
    assert "commune_from_centroid" in geo["flags"]
