"""The OpenRosa device surface (requirements FL/MF in forms/openrosa.py, OR in sync/submission.py)."""

from __future__ import annotations

import hashlib
import threading

import pytest
from lxml import etree
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from server.accounts.models import Audit
from server.collect.models import Blob, Submission, SubmissionAttachment, SubmissionDef
from server.extensions import db
from tests.factories import OPENROSA, build_world, device_post, submission_xml

FL = "{http://openrosa.org/xforms/xformsList}"
MF = "{http://openrosa.org/xforms/xformsManifest}"
OR = "{http://openrosa.org/http/response}"


@pytest.fixture
def world(app):
    return build_world(app)


def _key_url(world, path: str, device: str = "device_07210_01") -> str:
    return f"/v1/key/{world.tokens[device]}/projects/{world.project_id}{path}"


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Submission)),
                db.session.scalar(select(func.count()).select_from(SubmissionDef)),
                db.session.scalar(select(func.count()).select_from(SubmissionAttachment)
                                  .where(SubmissionAttachment.blob_id.is_not(None))))


# --- formList, download, manifest -------------------------------------------------------------------------

def test_form_list__namespaced_with_md5_of_served_bytes(client, world):
    response = client.get(_key_url(world, "/formList"), headers=OPENROSA)
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    assert root.tag == f"{FL}xforms"
    xform = root.find(f"{FL}xform")
    for required in ("formID", "name", "version", "hash", "downloadUrl"):
        assert xform.find(f"{FL}{required}").text
    download = client.get(xform.find(f"{FL}downloadUrl").text.replace("http://localhost", ""))
    assert download.status_code == 200
    assert xform.find(f"{FL}hash").text == "md5:" + hashlib.md5(download.data).hexdigest()


def test_form_list__form_with_attachments__has_manifest_url(client, world):
    root = etree.fromstring(client.get(_key_url(world, "/formList"), headers=OPENROSA).data)
    assert root.find(f"{FL}xform/{FL}manifestUrl") is not None


def test_form_list__form_without_attachments__no_manifest_url(app, client):
    plain = ("| survey |\n| | type | name | label |\n| | text | a | A |\n"
             "| settings |\n| | form_id | version |\n| | plain | 1 |\n")
    world = build_world(app, forms={"plain": plain})
    root = etree.fromstring(client.get(_key_url(world, "/formList"), headers=OPENROSA).data)
    assert root.find(f"{FL}xform/{FL}formID").text == "plain"
    assert root.find(f"{FL}xform/{FL}manifestUrl") is None


def test_form_list__form_id_filter__only_that_form(client, world):
    root = etree.fromstring(client.get(_key_url(world, "/formList?formID=nothing"), headers=OPENROSA).data)
    assert root.findall(f"{FL}xform") == []
    root = etree.fromstring(client.get(_key_url(world, "/formList?formID=demo"), headers=OPENROSA).data)
    assert len(root.findall(f"{FL}xform")) == 1


def test_form_list__without_openrosa_version__400(client, world):
    assert client.get(_key_url(world, "/formList")).status_code == 400
    assert client.get(_key_url(world, "/formList"), headers={"X-OpenRosa-Version": "2.0"}).status_code == 400


def test_form_list__bad_token__403(client, world):
    response = client.get(f"/v1/key/nonsense/projects/{world.project_id}/formList", headers=OPENROSA)
    assert response.status_code == 403


def test_form_list__revoked_token__403(app, client, world):
    from server.accounts import queries, services

    with app.app_context():
        key = next(k for k in queries.field_keys_of_project(world.project_id))
        services.revoke_app_user(key, by=None)
        db.session.commit()
    assert client.get(_key_url(world, "/formList"), headers=OPENROSA).status_code == 403


def test_manifest__namespaced_files_hash_matches_download(client, world):
    response = client.get(_key_url(world, "/forms/demo/manifest"), headers=OPENROSA)
    root = etree.fromstring(response.data)
    assert root.tag == f"{MF}manifest"
    files = {f.find(f"{MF}filename").text: f for f in root.findall(f"{MF}mediaFile")}
    assert set(files) == {"communes.csv", "villages.csv"}
    villages = client.get(files["villages.csv"].find(f"{MF}downloadUrl").text.replace("http://localhost", ""))
    assert files["villages.csv"].find(f"{MF}hash").text == "md5:" + hashlib.md5(villages.data).hexdigest()
    assert b"07210-01" in villages.data


# --- submission preflight and POST ------------------------------------------------------------------------

def test_submission_head__204_with_accept_content_length(app, client, world):
    response = client.head(_key_url(world, "/submission"), headers=OPENROSA)
    assert response.status_code == 204
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(app.config["MAX_CONTENT_LENGTH"])


def test_submission__new__201_openrosa_response_raw_xml_kept(app, client, world):
    xml = submission_xml("uuid:a1")
    response = device_post(client, world, xml, {"house.jpg": b"jpeg-bytes"})
    assert response.status_code == 201
    assert etree.fromstring(response.data).tag == f"{OR}OpenRosaResponse"
    with app.app_context():
        stored = db.session.scalar(select(SubmissionDef))
        assert stored.xml == xml
        assert stored.answers["fields"]["head_name"] == "Nguyễn Văn An"
        assert stored.answers["repeats"]["member"] == [{"m_name": "Nguyễn Văn An", "m_birth_year": "1970"}]
        assert stored.submission.village_code == "07210-01"
    assert _counts(app) == (1, 1, 1)


def test_submission__same_instance_identical_xml__201_adds_missing_attachment(app, client, world):
    xml = submission_xml("uuid:a1")
    first = device_post(client, world, xml, extra={"*isIncomplete*": "yes"})
    assert first.status_code == 201
    assert _counts(app) == (1, 1, 0)
    second = device_post(client, world, xml, {"house.jpg": b"jpeg-bytes"})
    assert second.status_code == 201
    assert _counts(app) == (1, 1, 1)
    third = device_post(client, world, xml, {"house.jpg": b"jpeg-bytes"})
    assert third.status_code == 201
    assert _counts(app) == (1, 1, 1)


def test_submission__same_instance_different_xml__409(app, client, world):
    device_post(client, world, submission_xml("uuid:a1"))
    response = device_post(client, world, submission_xml("uuid:a1", head="Trần Thị Bình"))
    assert response.status_code == 409
    assert etree.fromstring(response.data).find(f"{OR}message").get("nature") == "error"
    assert _counts(app)[:2] == (1, 1)


def test_submission__deprecated_id_current__new_version_edited_attachments_carried(app, client, world):
    device_post(client, world, submission_xml("uuid:a1"), {"house.jpg": b"jpeg-bytes"})
    edit = submission_xml("uuid:a2", deprecated_id="uuid:a1", head="Nguyễn Văn Ân")
    response = device_post(client, world, edit)
    assert response.status_code == 201
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        assert submission.review_state == "edited"
        assert submission.instance_id == "uuid:a1"
        current = [d for d in submission.defs if d.current]
        assert [d.instance_id for d in current] == ["uuid:a2"]
        assert current[0].attachments[0].blob_id is not None
    assert _counts(app)[:2] == (1, 2)


def test_submission__stale_deprecated_id__409(client, world):
    device_post(client, world, submission_xml("uuid:a1"))
    device_post(client, world, submission_xml("uuid:a2", deprecated_id="uuid:a1"))
    response = device_post(client, world, submission_xml("uuid:a3", deprecated_id="uuid:a1"))
    assert response.status_code == 409


def test_submission__unknown_deprecated_id__404(client, world):
    response = device_post(client, world, submission_xml("uuid:a2", deprecated_id="uuid:never"))
    assert response.status_code == 404


def test_submission__unknown_form__404_names_form(client, world):
    response = device_post(client, world, submission_xml("uuid:a1", form_id="ghost"))
    assert response.status_code == 404
    assert b"ghost" in response.data


def test_submission__unknown_form_version__404_names_version(client, world):
    response = device_post(client, world, submission_xml("uuid:a1", version="99"))
    assert response.status_code == 404
    assert b"99" in response.data


def test_submission__missing_openrosa_version__400(app, client, world):
    response = device_post(client, world, submission_xml("uuid:a1"), headers={})
    assert response.status_code == 400
    assert _counts(app) == (0, 0, 0)


@pytest.mark.parametrize("xml", [
    b"<data id='demo'><unclosed></data>",
    b"not xml at all",
    b"",
], ids=["unclosed", "text", "empty"])
def test_submission__malformed_xml__400_nothing_stored(app, client, world, xml):
    response = device_post(client, world, xml)
    assert response.status_code == 400
    assert etree.fromstring(response.data).tag == f"{OR}OpenRosaResponse"
    assert _counts(app) == (0, 0, 0)


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<data id="demo" version="1"><head_name>&xxe;</head_name><meta><instanceID>uuid:x</instanceID></meta></data>',
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b'<data id="demo" version="1"><head_name>&lol2;</head_name><meta><instanceID>uuid:x</instanceID></meta></data>',
], ids=["xxe", "billion-laughs"])
def test_submission__dtd_or_entities__400_nothing_stored(app, client, world, xml):
    response = device_post(client, world, xml)
    assert response.status_code == 400
    assert _counts(app) == (0, 0, 0)


def test_submission__missing_instance_id__400(app, client, world):
    response = device_post(client, world, b'<data id="demo" version="1"><head_name>A</head_name></data>')
    assert response.status_code == 400


def test_submission__oversized_body__413(app, client, world):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = device_post(client, world, submission_xml("uuid:a1"), {"house.jpg": b"x" * 20_000})
    assert response.status_code == 413
    assert _counts(app) == (0, 0, 0)


@pytest.mark.parametrize("name", ["../house.jpg", "/etc/house.jpg", "sub/house.jpg", ".."])
def test_submission__attachment_name_with_path__400_nothing_stored(app, client, world, name):
    response = device_post(client, world, submission_xml("uuid:a1"), {name: b"jpeg"})
    assert response.status_code == 400
    assert _counts(app) == (0, 0, 0)


def test_submission__not_multipart__400(app, client, world):
    response = client.post(_key_url(world, "/submission"), data=submission_xml("uuid:a1"),
                           content_type="text/xml", headers=OPENROSA)
    assert response.status_code == 400
    assert _counts(app) == (0, 0, 0)


def test_submission__unreferenced_attachment__ignored(app, client, world):
    response = device_post(client, world, submission_xml("uuid:a1"), {"house.jpg": b"jpeg", "other.jpg": b"x"})
    assert response.status_code == 201
    with app.app_context():
        names = db.session.scalars(select(SubmissionAttachment.name)).all()
    assert names == ["house.jpg"]


def test_submission__bad_token__403(client, world):
    world.tokens["device_07210_01"] = "bogus"
    assert device_post(client, world, submission_xml("uuid:a1")).status_code == 403


def test_submission__every_state_change__audited(app, client, world):
    device_post(client, world, submission_xml("uuid:a1"), extra={"*isIncomplete*": "yes"})
    device_post(client, world, submission_xml("uuid:a1"), {"house.jpg": b"jpeg"})
    device_post(client, world, submission_xml("uuid:a2", deprecated_id="uuid:a1"))
    with app.app_context():
        actions = db.session.scalars(select(Audit.action).order_by(Audit.id)).all()
    assert actions[-3:] == ["submission.create", "submission.attachment.update", "submission.update.version"]


def test_submission__new__every_row_written_and_audited(app, client, world):
    """The rows of a new submission (one statement on PostgreSQL, one insert each on SQLite) read back whole."""
    xml = submission_xml("uuid:rows", head="Trần Thị Bình")
    assert device_post(client, world, xml, {"house.jpg": b"jpeg-bytes", "unused.jpg": b"x"},
                       headers={**OPENROSA}).status_code == 201
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        version = db.session.scalar(select(SubmissionDef))
        attachments = db.session.scalars(select(SubmissionAttachment)).all()
        logged = db.session.scalars(select(Audit).where(Audit.action == "submission.create")).all()
        assert (submission.instance_id, submission.village_code, submission.commune_code) == \
            ("uuid:rows", "07210-01", "07210")
        assert submission.submitter_id is not None and submission.created_at is not None
        assert (version.submission_id, version.instance_id, version.current, version.xml) == \
            (submission.id, "uuid:rows", True, xml)
        assert version.submitter_id == submission.submitter_id and version.form_def_id is not None
        assert version.answers["fields"]["head_name"] == "Trần Thị Bình"
        assert [(a.submission_def_id, a.name, a.blob is not None) for a in attachments] == \
            [(version.id, "house.jpg", True)]
        assert [(a.actor_id, a.actee_type, a.actee_id, a.details) for a in logged] == [(
            submission.submitter_id, "submission", str(submission.id),
            {"instanceId": "uuid:rows", "form": "demo", "deprecatedId": None, "attachments": ["house.jpg"]})]


def test_submission__photo_already_stored__blob_row_shared(app, client, world):
    """Two households photographed with the same bytes: one blob row, named by both attachments."""
    for instance_id in ("uuid:first", "uuid:second"):
        assert device_post(client, world, submission_xml(instance_id), {"house.jpg": b"same-jpeg"}).status_code == 201
    with app.app_context():
        blob_ids = db.session.scalars(select(SubmissionAttachment.blob_id)).all()
        photo_rows = db.session.scalar(select(func.count()).select_from(Blob)
                                       .where(Blob.sha256 == hashlib.sha256(b"same-jpeg").hexdigest()))
    assert photo_rows == 1
    assert len(blob_ids) == 2 and len(set(blob_ids)) == 1 and None not in blob_ids


def test_submission__repeat_of_known_instance__blob_row_not_rewritten(app, client, world):
    """A phone resending what was already taken in (its answer was lost) writes nothing, not even the
    version of a blob row that a blind upsert would leave behind."""
    xml = submission_xml("uuid:again")
    assert device_post(client, world, xml, {"house.jpg": b"jpeg-bytes"}).status_code == 201
    with app.app_context():
        if db.session.get_bind().dialect.name != "postgresql":
            pytest.skip("row versions (xmin) exist on PostgreSQL only")
        row_version = text("SELECT xmin::text FROM blobs WHERE sha256 = :sha256")
        sha256 = hashlib.sha256(b"jpeg-bytes").hexdigest()
        before = db.session.scalar(row_version, {"sha256": sha256})
    assert device_post(client, world, xml, {"house.jpg": b"jpeg-bytes"}).status_code == 201
    with app.app_context():
        assert db.session.scalar(row_version, {"sha256": sha256}) == before


TWO_PHOTOS = """
| survey |
| | type | name | label |
| | text | village | Thôn |
| | image | front | Mặt trước |
| | image | back | Mặt sau |
| settings |
| | form_id | version |
| | photos | 1 |
"""


def test_submission__two_files_same_bytes__one_blob_both_attached(app, client):
    world = build_world(app, forms={"photos": TWO_PHOTOS})
    xml = (b'<data id="photos" version="1"><village>07210-01</village><front>front.jpg</front><back>back.jpg</back>'
           b"<meta><instanceID>uuid:twice</instanceID></meta></data>")
    response = device_post(client, world, xml, {"front.jpg": b"one-jpeg", "back.jpg": b"one-jpeg"})
    assert response.status_code == 201
    with app.app_context():
        attached = db.session.execute(select(SubmissionAttachment.name, SubmissionAttachment.blob_id)
                                      .order_by(SubmissionAttachment.name)).all()
        photo_rows = db.session.scalar(select(func.count()).select_from(Blob)
                                       .where(Blob.sha256 == hashlib.sha256(b"one-jpeg").hexdigest()))
    assert photo_rows == 1
    assert [name for name, _ in attached] == ["back.jpg", "front.jpg"]
    assert attached[0].blob_id is not None and attached[0].blob_id == attached[1].blob_id


def test_submission__instance_id_of_an_edit__409_nothing_added(app, client, world):
    """An instanceID already taken by a later version of another submission is not a new submission."""
    device_post(client, world, submission_xml("uuid:a1"))
    device_post(client, world, submission_xml("uuid:a2", deprecated_id="uuid:a1"))
    response = device_post(client, world, submission_xml("uuid:a2", head="Trần Thị Bình"))
    assert response.status_code == 409
    assert _counts(app)[:2] == (1, 2)


def test_submission__ten_identical_in_parallel__exactly_one(app, world):
    xml = submission_xml("uuid:parallel")
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(device_post(client, world, xml, {"house.jpg": b"jpeg-bytes"}).status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 10
    assert _counts(app) == (1, 1, 1)


def test_submission__two_edits_of_one_version_in_parallel__one_current(app, world):
    """Two phones edit the same version at once: one edit wins, the other is stale (409), and the
    submission never has two current versions."""
    assert device_post(app.test_client(), world, submission_xml("uuid:base")).status_code == 201
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def edit(number: int) -> None:
        client = app.test_client()
        xml = submission_xml(f"uuid:edit{number}", deprecated_id="uuid:base", head=f"Nguyễn Văn Số {number}")
        barrier.wait()
        statuses.append(device_post(client, world, xml).status_code)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 5
    with app.app_context():
        current = db.session.scalars(select(SubmissionDef.instance_id).where(SubmissionDef.current)).all()
    assert len(current) == 1 and current[0].startswith("uuid:edit")
    assert _counts(app)[:2] == (1, 2)


def test_submission_defs__second_current_version__refused_by_database(app, client, world):
    device_post(client, world, submission_xml("uuid:a1"))
    with app.app_context():
        first = db.session.scalar(select(SubmissionDef))
        db.session.add(SubmissionDef(submission_id=first.submission_id, form_id=first.form_id,
                                     form_def_id=first.form_def_id, instance_id="uuid:a2", xml=b"<a/>", current=True))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_submission__later_stage_fails__kept_and_marked_for_attention(app, client, world, monkeypatch):
    from server.collect import submissions_service

    def broken_stage(submission, submission_def, answers):
        submission.review_state = "approved"  # a half-done change that must be rolled back
        raise RuntimeError("boom")

    monkeypatch.setattr(submissions_service, "STAGES", [("classify", broken_stage)])
    response = device_post(client, world, submission_xml("uuid:a1"), {"house.jpg": b"jpeg"})
    assert response.status_code == 201
    with app.app_context():
        stored = db.session.scalar(select(SubmissionDef))
        assert stored.attention.startswith("classify: RuntimeError: boom")
        assert stored.xml == submission_xml("uuid:a1")
        assert stored.submission.review_state is None
    assert _counts(app) == (1, 1, 1)


def test_audit_log__update__refused(app, client, world):
    from sqlalchemy import update
    from sqlalchemy.exc import DatabaseError

    device_post(client, world, submission_xml("uuid:a1"))
    with app.app_context():
        with pytest.raises(DatabaseError):
            db.session.execute(update(Audit).values(action="tampered"))
            db.session.flush()
        db.session.rollback()
