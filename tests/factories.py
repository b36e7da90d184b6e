"""Building blocks for tests: a small province, personas for every role, forms, submissions."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from flask import Flask
from flask.testing import FlaskClient

from server.accounts import services as accounts
from server.collect import forms_service
from server.collect.models import FormAssignment, Project
from server.extensions import db
from server.units.services import UnitRecord, set_area_members, upsert_units

PASSWORD = "correct horse battery"
OPENROSA = {"X-OpenRosa-Version": "1.0"}

# Province 24 with two communes (one urban phường, one rural xã), two villages each, one area.
UNITS = [
    UnitRecord("24", "province", "Tỉnh Bắc Ninh"),
    UnitRecord("07210", "commune", "Phường Bắc Giang", "24", "phường", True, 21.28, 106.21),
    UnitRecord("07228", "commune", "Xã Mẫu", "24", "xã", False, 21.30, 106.17),
    UnitRecord("07210-01", "village", "Tổ dân phố 1", "07210"),
    UnitRecord("07210-02", "village", "Tổ dân phố 2", "07210"),
    UnitRecord("07228-01", "village", "Thôn Đông", "07228"),
    UnitRecord("07228-02", "village", "Thôn Tây", "07228"),
    UnitRecord("AREA-A", "area", "Khu vực A", "24"),
    UnitRecord("AREA-B", "area", "Khu vực B", "24"),
]

DEMO_FORM = """
| survey |
| | type | name | label |
| | text | head_name | Họ tên chủ hộ |
| | select_one_from_file communes.csv | commune | Xã |
| | select_one_from_file villages.csv | village | Thôn |
| | image | house_photo | Ảnh nhà |
| | begin repeat | member | Thành viên |
| | text | m_name | Tên |
| | integer | m_birth_year | Năm sinh |
| | end repeat | | |
| settings |
| | form_id | version |
| | demo | 1 |
"""

# Persona → (role, units)
PERSONAS = {
    "admin": ("admin", []),
    "province": ("province", []),
    "supervisor_a": ("supervisor", ["AREA-A"]),
    "commune_07210": ("commune", ["07210"]),
    "verifier_07210_01": ("verifier", ["07210-01"]),
    "verifier_07228_01": ("verifier", ["07228-01"]),
    "enumerator_07210_01": ("enumerator", ["07210-01"]),
}


@dataclass
class World:
    app: Flask
    project_id: int
    tokens: dict[str, str] = field(default_factory=dict)     # app users
    users: dict[str, str] = field(default_factory=dict)      # persona → email

    def basic(self, persona: str) -> dict[str, str]:
        raw = f"{self.users[persona]}:{PASSWORD}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def build_world(app: Flask, forms: dict[str, str] | None = None) -> World:
    with app.app_context():
        upsert_units(UNITS)
        set_area_members("AREA-A", ["07210"])
        set_area_members("AREA-B", ["07228"])
        project = Project(name="Rà soát 2026")
        db.session.add(project)
        db.session.flush()
        world = World(app, project.id)
        for md in (forms if forms is not None else {"demo": DEMO_FORM}).values():
            publish_md(project, md)
        for persona, (role, units) in PERSONAS.items():
            email = f"{persona}@test.vn"
            accounts.create_user(email, PASSWORD, role, units, by=None)
            world.users[persona] = email
        for name, units in {"device_07210_01": ["07210-01"], "device_07228_01": ["07228-01"]}.items():
            key = accounts.create_app_user(project.id, name, units, by=None)
            for form in project_forms(project.id):
                db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form))
            world.tokens[name] = accounts.app_user_token(key)
        db.session.commit()
    return world


def open_campaign(app: Flask, project_id: int, year: int | None = None) -> None:
    """This year's campaign (or ``year``'s), covering every commune all year round."""
    from datetime import date

    from server.campaigns import services as campaigns

    year = year or date.today().year
    with app.app_context():
        campaigns.create_campaign(project_id, year, date(year, 1, 1), date(year, 12, 31), [], by=None)
        db.session.commit()


def project_forms(project_id: int) -> list[int]:
    from server.collect import queries

    return [f.id for f in queries.forms(project_id)]


def publish_md(project: Project, md: str, attachments: dict[str, bytes] | None = None) -> None:
    from server.units.services import choice_lists

    forms_service.publish(project, md.encode(), "text/markdown", None, filename="form.md",
                          attachments=attachments, generate=choice_lists)


def submission_xml(instance_id: str, *, form_id: str = "demo", version: str = "1", head: str = "Nguyễn Văn An",
                   village: str = "07210-01", commune: str = "07210", photo: str = "house.jpg",
                   deprecated_id: str | None = None,
                   members: tuple[tuple[str, int], ...] = (("Nguyễn Văn An", 1970),)) -> bytes:
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    roster = "".join(f"<member><m_name>{n}</m_name><m_birth_year>{y}</m_birth_year></member>" for n, y in members)
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" id="{form_id}" '
            f'version="{version}"><head_name>{head}</head_name><commune>{commune}</commune>'
            f"<village>{village}</village><house_photo>{photo}</house_photo>{roster}"
            f"<meta><instanceID>{instance_id}</instanceID>{deprecated}</meta></data>").encode()


def device_post(client: FlaskClient, world: World, xml: bytes, files: dict[str, bytes] | None = None,
                device: str = "device_07210_01", headers: dict[str, str] | None = None, extra: dict | None = None):
    from io import BytesIO

    data: dict = {"xml_submission_file": (BytesIO(xml), "submission.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (BytesIO(content), name, "image/jpeg")
    data.update(extra or {})
    return client.post(f"/v1/key/{world.tokens[device]}/projects/{world.project_id}/submission",
                       data=data, content_type="multipart/form-data",
                       headers=OPENROSA if headers is None else headers)


# A compact Phiếu B with the contract's field names (forms/FIELDS.md), for API and page tests.
PHIEU_B = """
| survey |
| | type | name | label |
| | text | head_name | Họ tên chủ hộ |
| | text | commune | Xã |
| | text | village | Thôn |
| | geopoint | gps | Toạ độ |
| | image | house_photo | Ảnh nhà |
| | begin repeat | member | Thành viên |
| | text | m_name | Tên |
| | text | m_sex | Giới tính |
| | integer | m_birth_year | Năm sinh |
| | text | m_relation | Quan hệ |
| | text | m_insurance | BHYT |
| | text | m_in_school | Đi học |
| | text | m_school_level | Cấp học |
| | text | m_diploma | Bằng cấp |
| | text | m_work | Việc làm |
| | text | m_disability | Khuyết tật |
| | text | m_malnourished | Suy dinh dưỡng |
| | end repeat | | |
| | text | wall_material | Tường |
| | text | column_material | Cột |
| | text | roof_material | Mái |
| | decimal | living_area_m2 | Diện tích |
| | text | water_source | Nước |
| | text | latrine | Nhà tiêu |
| | text | uses_phone | Điện thoại |
| | text | uses_internet | Internet |
| | text | info_devices | Phương tiện |
| | integer | income_per_person_month | Thu nhập |
| settings |
| | form_id | version |
| | phieu_b | 1 |
"""

ADULT = {"m_sex": "male", "m_birth_year": "1980", "m_relation": "head", "m_insurance": "yes", "m_in_school": "no",
         "m_diploma": "upper_secondary", "m_work": "self_employed", "m_disability": "no"}
GOOD_HOUSE = {"wall_material": "durable", "column_material": "durable", "roof_material": "durable",
         "living_area_m2": "60", "water_source": "piped", "latrine": "septic", "uses_phone": "yes",
         "uses_internet": "yes", "info_devices": "tv smartphone"}
