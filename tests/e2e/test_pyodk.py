"""The real pyodk 1.3 client against the server over HTTP (werkzeug on a free local port).

pyodk's config and token cache live in the test's temporary directory, never in the home directory.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from lxml import etree
from openpyxl import Workbook
from pyodk.client import Client
from pyodk.errors import PyODKError
from werkzeug.serving import make_server

from tests.factories import OPENROSA, PASSWORD, World, build_world, device_post, submission_xml

FL = "{http://openrosa.org/xforms/xformsList}"


@dataclass
class Central:
    world: World
    base_url: str
    home: Path

    def client(self, persona: str = "admin") -> Client:
        config = self.home / f"{persona}.toml"
        config.write_text(f'[central]\nbase_url = "{self.base_url}"\nusername = "{self.world.users[persona]}"\n'
                          f'password = "{PASSWORD}"\ndefault_project_id = {self.world.project_id}\n')
        return Client(config_path=config, cache_path=self.home / f"{persona}-cache.toml")


@pytest.fixture
def central(app: Flask, tmp_path: Path) -> Iterator[Central]:
    world = build_world(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Central(world, f"http://127.0.0.1:{server.server_port}", tmp_path)
    finally:
        server.shutdown()
        thread.join()


def _household_xlsx() -> bytes:
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    for row in (["type", "name", "label"], ["text", "head_name", "Họ tên chủ hộ"],
                ["integer", "size", "Số nhân khẩu"], ["select_one_from_file jobs.csv", "job", "Nghề nghiệp"]):
        survey.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title"])
    settings.append(["ho_e2e", "1", "Hộ gia đình (e2e)"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_pyodk__projects_and_forms__listed_and_read(central):
    with central.client() as client:
        (project,) = client.projects.list()
        assert project.id == central.world.project_id and project.name == "Rà soát 2026"
        assert client.projects.get().id == project.id
        (form,) = client.forms.list()
        assert form.xmlFormId == "demo" and form.version == "1" and form.publishedAt is not None
        assert client.forms.get("demo").hash == form.hash
        assert 'id="demo"' in client.forms.get_xml("demo")
    assert (central.home / "admin-cache.toml").read_text().startswith("token")


def test_pyodk__xlsx_form_with_attachment__published_then_attachment_updated(central):
    jobs = central.home / "jobs.csv"
    jobs.write_text("name,label\nfarmer,Nông dân\nworker,Công nhân\n", encoding="utf-8")
    with central.client() as client:
        created = client.forms.create(_household_xlsx(), attachments=[jobs], form_id="ho_e2e")
        assert created.xmlFormId == "ho_e2e" and created.publishedAt is None
        form = client.forms.get("ho_e2e")
        assert form.version == "1" and form.publishedAt is not None and form.name == "Hộ gia đình (e2e)"
        jobs.write_text("name,label\nfarmer,Nông dân\n", encoding="utf-8")
        client.forms.update("ho_e2e", attachments=[jobs], version_updater=lambda v: f"{v}.1")
        assert client.forms.get("ho_e2e").version == "1.1"
        served = client.get(f"projects/{central.world.project_id}/forms/ho_e2e/attachments/jobs.csv")
        assert served.content.decode("utf-8") == "name,label\nfarmer,Nông dân\n"


def test_pyodk__submission_lifecycle__create_edit_review_comment_table(central):
    photo = central.home / "house.jpg"
    photo.write_bytes(b"\xff\xd8jpeg")
    with central.client() as client:
        created = client.submissions.create(submission_xml("uuid:e2e-1").decode(), form_id="demo",
                                            device_id="pyodk", attachments=[photo])
        assert created.instanceId == "uuid:e2e-1" and created.deviceId == "pyodk"
        assert [(a.name, a.exists) for a in created.attachments] == [("house.jpg", True)]
        client.submissions.create(submission_xml("uuid:e2e-2", head="Trần Văn Bình").decode(), form_id="demo")
        assert {s.instanceId for s in client.submissions.list(form_id="demo")} == {"uuid:e2e-1", "uuid:e2e-2"}

        client.submissions.edit("uuid:e2e-1", submission_xml("uuid:e2e-1b", deprecated_id="uuid:e2e-1",
                                                             head="Nguyễn Văn Anh").decode(),
                                form_id="demo", comment="Sửa tên chủ hộ")
        assert client.submissions.get("uuid:e2e-1", form_id="demo").reviewState == "edited"
        client.submissions.review("uuid:e2e-2", "approved", form_id="demo", comment="Đạt")
        comments = client.submissions.list_comments("uuid:e2e-1", form_id="demo")
        assert [c.body for c in comments] == ["Sửa tên chủ hộ"]

        table = client.submissions.get_table(form_id="demo", filter="__system/reviewState eq 'approved'",
                                             count=True)
        assert table["@odata.count"] == 1 and [r["__id"] for r in table["value"]] == ["uuid:e2e-2"]
        edited = client.submissions.get_table(form_id="demo", filter="head_name eq 'Nguyễn Văn Anh'",
                                              select="__id,head_name,__system/edits")
        assert edited["value"] == [{"__id": "uuid:e2e-1", "head_name": "Nguyễn Văn Anh",
                                    "__system": {"edits": 1}}]
        members = client.submissions.get_table(form_id="demo", table_name="Submissions.member", count=True)
        assert members["@odata.count"] == 2


def test_pyodk__create_app_users__tokens_and_form_assigned(central):
    with central.client() as client:
        users = client.projects.create_app_users(["Máy thôn Đông", "Máy thôn Tây"], forms=["demo"])
        assert [u.displayName for u in users] == ["Máy thôn Đông", "Máy thôn Tây"]
        assert client.projects.create_app_users(["Máy thôn Đông"], forms=["demo"]) == []
    flask_client = central.world.app.test_client()
    for user in users:
        listing = flask_client.get(f"/v1/key/{user.token}/projects/{central.world.project_id}/formList",
                                   headers=OPENROSA)
        assert [x.text for x in etree.fromstring(listing.data).iter(f"{FL}formID")] == ["demo"]


def test_pyodk__village_verifier__sees_only_own_village(central):
    flask_client = central.world.app.test_client()
    device_post(flask_client, central.world, submission_xml("uuid:own"))
    device_post(flask_client, central.world, submission_xml("uuid:other", village="07228-01", commune="07228"),
                device="device_07228_01")
    with central.client("verifier_07210_01") as client:
        assert [s.instanceId for s in client.submissions.list(form_id="demo")] == ["uuid:own"]
        table = client.submissions.get_table(form_id="demo", count=True)
        assert table["@odata.count"] == 1 and table["value"][0]["__id"] == "uuid:own"
        with pytest.raises(PyODKError, match="404"):
            client.submissions.get("uuid:other", form_id="demo")
