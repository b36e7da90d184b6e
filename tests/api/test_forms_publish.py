"""Publishing XLSForms: compile, version, keep old versions, attachments."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.collect import queries
from server.collect.models import FormDef, Project
from server.errors import Problem
from server.extensions import db
from tests.factories import DEMO_FORM, build_world, device_post, publish_md, submission_xml


def _versions(xml_form_id: str = "demo") -> list[str]:
    return list(db.session.scalars(select(FormDef.version).where(FormDef.published_at.is_not(None))
                                   .order_by(FormDef.id)))


def test_publish__same_content_twice__no_new_version(app, ctx):
    build_world(app)
    publish_md(db.session.get(Project, 1), DEMO_FORM)
    assert _versions() == ["1"]


def test_publish__changed_content_same_version__new_version_assigned(app, ctx):
    build_world(app)
    publish_md(db.session.get(Project, 1), DEMO_FORM.replace("Họ tên chủ hộ", "Họ và tên chủ hộ"))
    versions = _versions()
    assert len(versions) == 2 and versions[0] == "1" and versions[1].startswith("1-")
    current = queries.form(1, "demo").current_def
    assert f'version="{versions[1]}"'.encode() in current.xml


def test_publish__no_version_in_settings__version_assigned(app, ctx):
    build_world(app, forms={})
    publish_md(db.session.get(Project, 1), "| survey |\n| | type | name | label |\n| | text | a | A |\n")
    assert _versions("data")[0].isdigit()


def test_publish__old_version_submission__still_lands(app, client):
    world = build_world(app)
    with app.app_context():
        publish_md(db.session.get(Project, 1), DEMO_FORM.replace("| demo | 1 |", "| demo | 2 |"))
        db.session.commit()
    assert device_post(client, world, submission_xml("uuid:old", version="1")).status_code == 201
    assert device_post(client, world, submission_xml("uuid:new", version="2")).status_code == 201


def test_publish__invalid_xlsform__pyxform_message_with_row(app, ctx):
    build_world(app, forms={})
    broken = ("| survey |\n| | type | name | label | relevant |\n| | text | a | A | |\n"
              "| | text | b | B | ${nothere} = 1 |\n")
    with pytest.raises(Problem) as caught:
        publish_md(db.session.get(Project, 1), broken)
    assert caught.value.key == "form_invalid"
    assert caught.value.details["code"] == "PYREF_003"
    assert caught.value.details["row"] == 3
    assert "nothere" in caught.value.message("en")


def test_publish__csv_attachments_generated_from_units(app, ctx):
    build_world(app)
    current = queries.form(1, "demo").current_def
    assert {a.name for a in current.attachments if a.blob_id} == {"communes.csv", "villages.csv"}


def test_publish__supplied_attachment__replaces_generated(app, ctx):
    build_world(app, forms={})
    publish_md(db.session.get(Project, 1), DEMO_FORM, attachments={"villages.csv": b"name,label,commune\nx,X,07210\n"})
    from server.collect.forms_service import read_blob

    attachment = queries.form_attachment(queries.form(1, "demo").current_def.id, "villages.csv")
    assert read_blob(attachment.blob) == b"name,label,commune\nx,X,07210\n"
