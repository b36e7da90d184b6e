"""Hostile uploads, rule by rule: XLSForms, the registry CSV, boundary GeoJSON, OpenRosa multipart, and
formula injection in every CSV the server writes. Whatever arrives: no crash or 5xx, a message a person
can act on, and nothing stored or changed by a refused upload. The inputs come from tests/fuzz/corpus.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.collect.presenters import safe_cell
from server.exports.writers import csv_chunks, neutralise_text, unneutralise
from server.extensions import db
from server.households.models import Boundary, Household
from tests.factories import OPENROSA, build_world, submission_xml
from tests.fuzz import corpus
from tests.fuzz.support import abandoned_uploads_expected, assert_problem, row_counts

REGISTRY_HEADER = "record_id,head_name,birth_year,gender,national_id,phone,village_code,address,lat,lon,member_names\n"
GOOD_ROW = "BN-1,Nguyễn Văn An,1970,M,027070001234,0912345678,07210-01,Số 1,21.28,106.21,Trần Thị Bình\n"
MEMORY_LIMIT = 64 * 1024 * 1024  # bytes a refused upload may allocate in Python while being refused


@pytest.fixture
def world(app):
    return build_world(app)


def _stored(app) -> tuple[dict[str, int], list[str]]:
    """Every table's row count and every file in the blob store."""
    blobs = Path(app.config["BLOB_DIR"])
    return row_counts(app), sorted(str(p) for p in blobs.rglob("*")) if blobs.exists() else []


def _cli_refused(result) -> str:  # type: ignore[no-untyped-def]
    """A command that refused its input: exit 1 with a message, never a traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Error:" in result.output and "Traceback" not in result.output, result.output
    return result.output


# --- XLSForm publish: POST /v1/projects/{id}/forms and `flask forms publish` --------------------------------

HOSTILE_XLSX = {
    "zip_bomb": (corpus.xlsx_zip_bomb, 400.9, "inflates"),
    "lying_zip_headers": (corpus.xlsx_lying_sizes, 400.9, "damaged"),
    "xxe_in_sheet": (corpus.xlsx_xxe, 400.5, "DTD"),
    "billion_laughs_in_sheet": (corpus.xlsx_billion_laughs, 400.5, "DTD"),
    "not_a_zip": (lambda: b"hello, I am not a spreadsheet", 400.9, "not a zip"),
    "truncated_zip": (lambda: corpus.truncated(corpus.xlsform()), 400.9, "not a zip"),
    "path_traversal_member": (lambda: corpus.xlsx_path_traversal("../../../tmp/owned"), 400.9, "path"),
    "absolute_member": (lambda: corpus.xlsx_path_traversal("/etc/cron.d/owned"), 400.9, "path"),
    "backslash_member": (lambda: corpus.xlsx_path_traversal("..\\..\\owned"), 400.9, "path"),
    "too_many_members": (corpus.xlsx_many_members, 400.9, "parts"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_XLSX))
def test_upload__hostile_xlsx__400_problem_nothing_stored_memory_bounded(app, client, world, case):
    build, code, words = HOSTILE_XLSX[case]
    body = build()
    before = _stored(app)
    tracemalloc.start()
    try:
        response = client.post(f"/v1/projects/{world.project_id}/forms?publish=true", data=body,
                               content_type=corpus.XLSX_TYPE, headers={**world.basic("admin"), "Accept-Language": "en"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = assert_problem(response)
    assert response.get_json()["code"] == code and words in message, response.get_json()
    assert peak < MEMORY_LIMIT, f"{peak / 1e6:.0f} MB to refuse {len(body)} bytes"
    assert _stored(app) == before


def test_upload__xlsx_zip_bomb__400_nothing_stored(app, client, world):
    """The headline case on its own: 128 MB of sheet in 130 KB of upload."""
    before = _stored(app)
    response = client.post(f"/v1/projects/{world.project_id}/forms", data=corpus.xlsx_zip_bomb(),
                           content_type=corpus.XLSX_TYPE, headers=world.basic("admin"))
    assert assert_problem(response) and response.get_json()["code"] == 400.9
    assert _stored(app) == before


def test_upload__valid_xlsx_control__published(client, world):
    """The corpus's base workbook is sound, so every refusal above is the tampering's doing."""
    response = client.post(f"/v1/projects/{world.project_id}/forms?publish=true", data=corpus.xlsform(),
                           content_type=corpus.XLSX_TYPE, headers=world.basic("admin"))
    assert response.status_code == 200 and response.get_json()["xmlFormId"] == "fuzz_form"


@pytest.mark.parametrize("case", sorted(HOSTILE_XLSX))
def test_cli_forms_publish__hostile_xlsx__refused_with_message_nothing_stored(app, runner, world, tmp_path, case):
    path = tmp_path / "form.xlsx"
    path.write_bytes(HOSTILE_XLSX[case][0]())
    before = _stored(app)
    output = _cli_refused(runner.invoke(args=["forms", "publish", "--project", str(world.project_id), str(path)]))
    assert HOSTILE_XLSX[case][2] in output
    assert _stored(app) == before


# --- the household registry: `flask households import` ------------------------------------------------------

def _households(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(select(Household.code, Household.head_name).order_by(Household.code)).all()
        return [tuple(r) for r in rows]


def _import(runner, tmp_path: Path, data: bytes, *options: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "registry.csv"
    path.write_bytes(data)
    return runner.invoke(args=["households", "import", str(path), *options])


@pytest.mark.parametrize("data, line", [
    ((REGISTRY_HEADER + GOOD_ROW).encode() + b"BN-2,L\xea Th\xf5 Hoa,1985,F,,,,,,,\n", 3),  # Windows-1258 bytes
    ((REGISTRY_HEADER + GOOD_ROW).encode("utf-16"), 1),
    (b"\xff" + (REGISTRY_HEADER + GOOD_ROW).encode(), 1),
], ids=["latin-bytes-on-line-3", "utf-16", "stray-byte"])
def test_import__invalid_utf8__refused_naming_line_nothing_imported(app, runner, world, tmp_path, data, line):
    output = _cli_refused(_import(runner, tmp_path, data))
    assert f"line {line} is not UTF-8" in output and "CSV UTF-8" in output
    assert _households(app) == []


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf"], ids=["none", "bom", "two-boms"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_import__bom_and_newline_variants__imported(app, runner, world, tmp_path, prefix, newline):
    data = prefix + (REGISTRY_HEADER + GOOD_ROW).replace("\n", newline).encode()
    result = _import(runner, tmp_path, data)
    assert result.exit_code == 0, result.output
    assert _households(app) == [("BN-1", "Nguyễn Văn An")]


def test_import__huge_field__refused_with_message_nothing_imported(app, runner, world, tmp_path):
    data = (REGISTRY_HEADER + GOOD_ROW + "BN-2," + "N" * 200_000 + ",1985,F,,,,,,,\n").encode()
    output = _cli_refused(_import(runner, tmp_path, data))
    assert "field larger than field limit" in output
    assert _households(app) == []


def test_import__oversized_or_nul_cells__rows_rejected_with_reasons_others_kept(app, runner, world, tmp_path):
    rows = ["R" * 65 + ",Tên,,,,,,,,,", "BN-2," + "N" * 201 + ",,,,,,,,,", "BN-3,Tên,,,12345678901234567,,,,,,",
            "BN-4,Tên,,,,+8491234567890123456789,,,,,", "BN-5,Tên,,,,," + "V" * 33 + ",,,,",
            "BN-6,Tên,99999999999999999999,,,,,,,,", "BN-7,T\x00n,,,,,,,,,", "BN-8,Tên,,,,,,,nan,inf,",
            "BN-9,Tên,1970,M,,,,,,,,,extra,cells", "BN-10,Tên"]
    rejected = tmp_path / "rejected.csv"
    result = _import(runner, tmp_path, (REGISTRY_HEADER + GOOD_ROW + "\n".join(rows) + "\n").encode(),
                     "--rejected", str(rejected))
    assert result.exit_code == 0, (result.output, result.exception)
    assert [code for code, _ in _households(app)] == ["BN-1", "BN-10", "BN-9"]
    reasons = dict(csv.reader(io.StringIO(rejected.read_text(encoding="utf-8"))))
    assert reasons.pop("line") == "reason"
    assert {line: reason.split(" ")[0] for line, reason in reasons.items()} == {
        "3": "record_id", "4": "head_name", "5": "national_id", "6": "phone", "7": "village_code",
        "8": "birth_year", "9": "head_name:", "10": "toạ"}


def test_import__wrong_columns__refused_naming_the_missing_ones(app, runner, world, tmp_path):
    output = _cli_refused(_import(runner, tmp_path, b"id;name;year\nBN-1;An;1970\n"))
    assert "missing columns" in output and "record_id" in output and "head_name" in output
    assert _households(app) == []


def test_import__empty_file__refused(app, runner, world, tmp_path):
    _cli_refused(_import(runner, tmp_path, b""))


def test_import__hostile_reasons__rejected_file_is_valid_csv(app, runner, world, tmp_path):
    rejected = tmp_path / "rejected.csv"
    bad = 'BN-2,Tên,,"=cmd|\' /C calc\'!A0 ""x""",,,,,,,\n'
    assert _import(runner, tmp_path, (REGISTRY_HEADER + bad).encode(), "--rejected", str(rejected)).exit_code == 0
    (header, (line, reason)) = list(csv.reader(io.StringIO(rejected.read_text(encoding="utf-8"))))
    assert header == ["line", "reason"] and line == "2" and "=CMD" in reason and reason.startswith("gender")


# --- boundaries: `flask geo load` ---------------------------------------------------------------------------

def _boundaries(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Boundary.code).order_by(Boundary.code)))


def _feature(code="07228", level="commune", parent="24", geometry=None, **properties):  # type: ignore[no-untyped-def]
    feature = corpus.boundary_feature(code, level, parent, geometry or {"type": "Polygon",
                                                                         "coordinates": corpus.square(106.1, 21.3)})
    feature["properties"].update(properties)
    return feature


def _ring(count: int) -> list[list[float]]:
    return [[106.0 + i * 1e-6, 21.0 + (i % 2) * 1e-6] for i in range(count)]


HOSTILE_GEOJSON = {
    "not_json": (b"{\"type\": \"FeatureCollection\", ", "not readable"),
    "invalid_utf8": (b"{\"type\": \"FeatureCollection\", \"name\": \"\xff\"}", "not readable"),
    "deep_nesting": (b"[" * 200_000 + b"]" * 200_000, "not readable"),
    "top_level_array": (b"[]", "not a GeoJSON FeatureCollection"),
    "no_features": (b'{"type": "FeatureCollection", "features": []}', "no 'features'"),
    "deep_coordinates": (corpus.boundaries(_feature(geometry={"type": "Polygon", "coordinates":
                                                              json.loads("[" * 500 + "1" + "]" * 500)})).encode(),
                         "coordinates"),
    "huge_open_ring": (corpus.boundaries(_feature(geometry={"type": "Polygon",
                                                            "coordinates": [_ring(200_000)]})).encode(),
                       "end where it starts"),
    "bowtie": (corpus.boundaries(_feature(geometry={"type": "Polygon", "coordinates": [
        [[106.0, 21.0], [106.1, 21.1], [106.1, 21.0], [106.0, 21.1], [106.0, 21.0]]]})).encode(), "invalid"),
    "nan_coordinates": (corpus.boundaries(_feature(geometry={"type": "Polygon", "coordinates": [
        [[106.0, 21.0], [float("nan"), 21.1], [106.1, 21.0], [106.0, 21.0]]]})).encode(), "pairs of numbers"),
    "overflowing_number": (corpus.boundaries(_feature()).replace("106.1", "1e999", 1).encode(), "pairs of numbers"),
    "code_is_a_number": (corpus.boundaries(_feature(code=7228)).encode(), "must be a string"),
    "code_is_a_list": (corpus.boundaries(_feature(code=["07228"])).encode(), "missing or empty"),
    "properties_null": (corpus.boundaries({**_feature(), "properties": None}).encode(), "missing or empty"),
    "code_too_long": (corpus.boundaries(_feature(code="0" * 33)).encode(), "longer than 32"),
    "nul_in_name": (corpus.boundaries(_feature(name="Xã\x00Mẫu")).encode(), "NUL"),
    "orphan_village": (corpus.boundaries(_feature(code="99999-01", level="village", parent="99999")).encode(),
                       "unknown"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_GEOJSON))
def test_geo_load__hostile_geojson__refused_with_message_nothing_half_loaded(app, runner, world, tmp_path, case):
    valid = tmp_path / "valid.geojson"
    valid.write_text(corpus.valid_boundaries(), encoding="utf-8")
    assert runner.invoke(args=["geo", "load", str(valid)]).exit_code == 0
    before = _boundaries(app)
    hostile = tmp_path / "hostile.geojson"
    hostile.write_bytes(HOSTILE_GEOJSON[case][0])
    output = _cli_refused(runner.invoke(args=["geo", "load", str(hostile)]))
    assert HOSTILE_GEOJSON[case][1] in output
    assert _boundaries(app) == before == ["07210", "07210-01"]


def test_geo_load__stray_geometry_members__dropped_and_loaded(app, runner, world, tmp_path):
    feature = _feature()
    feature["geometry"]["bbox"] = "\x00 not a bbox"  # PostgreSQL's JSON cannot hold NUL
    path = tmp_path / "b.geojson"
    path.write_text(corpus.boundaries(feature), encoding="utf-8")
    assert runner.invoke(args=["geo", "load", str(path)]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(Boundary.geometry)).keys() == {"type", "coordinates"}


# --- OpenRosa submissions: multipart edge cases (tests/api/test_openrosa.py has XXE, size, plain paths) -------

def _submit(client, world, body: bytes, content_type: str = "multipart/form-data; boundary=fuzzBoundary",
            query: str = ""):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}/submission{query}",
                       data=body, content_type=content_type, headers={**OPENROSA, "Accept-Language": "en"})


def _xml_part(xml: bytes) -> tuple[str, str, bytes, str]:
    return ("xml_submission_file", "submission.xml", xml, "text/xml")


MULTIPART = {
    "missing_boundary": (corpus.multipart([_xml_part(submission_xml("uuid:m1"))]), "multipart/form-data",
                         "multipart"),
    "wrong_boundary": (corpus.multipart([_xml_part(submission_xml("uuid:m1"))], boundary="other"),
                       "multipart/form-data; boundary=fuzzBoundary", "multipart"),
    "truncated": (corpus.multipart([_xml_part(submission_xml("uuid:m1"))])[:-40], None, "multipart"),
    "duplicate_xml_parts": (corpus.multipart([_xml_part(submission_xml("uuid:m1")),
                                              _xml_part(submission_xml("uuid:m2"))]), None, "more than one"),
    "xml_part_as_plain_field": (corpus.multipart([("xml_submission_file", None, submission_xml("uuid:m1"),
                                                   "text/xml")]), None, "multipart"),
    "invalid_utf8_filename": (corpus.multipart([_xml_part(submission_xml("uuid:m1")),
                                                ("house.jpg", b"\xff\xfe.jpg", b"jpeg", "image/jpeg")]), None,
                              "multipart"),
    "invalid_utf8_in_xml": (corpus.multipart([_xml_part(submission_xml("uuid:m1").replace(b"An", b"\xff\xfe"))]),
                            None, "Could not parse the XML"),
    "encoding_lie": (corpus.multipart([_xml_part(b'<?xml version="1.0" encoding="UTF-16"?>'
                                                 + submission_xml("uuid:m1"))]), None, "Could not parse the XML"),
    "huge_attribute": (corpus.multipart([_xml_part(submission_xml("uuid:m1").replace(
        b'version="1"', b'version="1" x="' + b"a" * 5_000_000 + b'"'))]), None, "attribute value is longer"),
    "past_parser_attribute_limit": (corpus.multipart([_xml_part(submission_xml("uuid:m1").replace(
        b'version="1"', b'version="1" x="' + b"a" * 11_000_000 + b'"'))]), None, "Could not parse the XML"),
    "deeply_nested": (corpus.multipart([_xml_part(corpus.deeply_nested_xml(5000))]), None, "depth"),
    "overlong_instance_id": (corpus.multipart([_xml_part(submission_xml("uuid:" + "i" * 300))]), None,
                             "instanceID is longer"),
}


@pytest.mark.parametrize("case", sorted(MULTIPART))
def test_submission__hostile_multipart__4xx_problem_nothing_stored(app, client, world, case):
    body, content_type, words = MULTIPART[case]
    before = _stored(app)
    with abandoned_uploads_expected():
        response = _submit(client, world, body, content_type or "multipart/form-data; boundary=fuzzBoundary")
    message = assert_problem(response, "text/xml")
    assert words in message, message
    assert _stored(app) == before


@pytest.mark.parametrize("name", [
    "house\x00.jpg", "..", "．．", "．．／house.jpg", "house／..／x.jpg", "gpj.\u202eexe.jpg", "\u200bhouse.jpg",
    "house\t.jpg", "x" * 256,
], ids=["nul", "dotdot", "fullwidth-dotdot", "fullwidth-traversal", "fullwidth-solidus", "rlo", "zero-width",
        "tab", "256-chars"])
def test_submission__attachment_name_tricks__400_nothing_stored(app, client, world, name):
    referenced = name if "\x00" not in name and "\t" not in name else "house.jpg"
    xml = submission_xml("uuid:n1", photo=referenced)
    body = corpus.multipart([_xml_part(xml), ("house_photo", name, b"\xff\xd8jpeg", "image/jpeg")])
    before = _stored(app)
    response = _submit(client, world, body)
    message = assert_problem(response, "text/xml")
    assert response.status_code == 400 and "Invalid attachment file name" in message
    assert "\x00" not in message and "\u202e" not in message  # spelled out, not sent raw
    assert _stored(app) == before


def test_submission__overlong_device_id__400_nothing_stored(app, client, world):
    before = _stored(app)
    response = _submit(client, world, corpus.multipart([_xml_part(submission_xml("uuid:d1"))]),
                       query="?deviceID=" + "d" * 201)
    assert "deviceID" in assert_problem(response, "text/xml")
    assert _stored(app) == before


def test_submission__overlong_instance_name__stored_cut_to_the_column(app, client, world):
    xml = submission_xml("uuid:l1").replace(b"</instanceID>", b"</instanceID><instanceName>" + "Tên".encode() * 300
                                            + b"</instanceName>")
    assert _submit(client, world, corpus.multipart([_xml_part(xml)])).status_code == 201
    response = client.get(f"/v1/projects/{world.project_id}/forms/demo/submissions/uuid:l1",
                          headers=world.basic("admin"))
    assert len(response.get_json()["instanceName"]) == 400


# --- formula injection in every CSV the server writes -------------------------------------------------------

FORMULAS = {"=1+1": "'=1+1", "+SUM(A1)": "'+SUM(A1)", "-2+3": "'-2+3", "@cmd": "'@cmd", "\t=1": "'\t=1",
            "\r=1": "'\r=1", "'=x": "''=x", "\n=1": "\n=1", "=HYPERLINK(\"http://127.0.0.1\",\"x\")": "'=HYPERLINK(\"http://127.0.0.1\",\"x\")"}
NUMBERS = {"-5": "-5", "+84912345678": "+84912345678", "-0.5": "-0.5", "0912345678": "0912345678", "Bình": "Bình"}


def test_export__one_rule_for_text_cells__formulas_quoted_numbers_kept():
    for text, expected in {**FORMULAS, **NUMBERS}.items():
        assert neutralise_text(text) == safe_cell(text) == expected
        assert unneutralise(expected) == text


def test_export__submissions_csv__formula_cells_neutralised_numbers_kept(app, client, world):
    heads = {**FORMULAS, **NUMBERS}
    xml_safe = {h: h.replace("&", "&amp;").replace("<", "&lt;").replace("\r", "&#13;") for h in heads}
    for number, head in enumerate(heads):
        response = _submit(client, world, corpus.multipart([_xml_part(submission_xml(f"uuid:x{number}",
                                                                                     head=xml_safe[head]))]))
        assert response.status_code == 201, response.data
    with client.get(f"/v1/projects/{world.project_id}/forms/demo/submissions.csv",
                    headers=world.basic("admin")) as response:
        header, *rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    cells = {row[header.index("KEY")]: row[header.index("head_name")] for row in rows}
    # the XML reader trims the answers, so "\t=1" arrives as "=1": neutralised all the same
    assert cells == {f"uuid:x{n}": neutralise_text(h.strip()) for n, h in enumerate(heads)}
    assert cells["uuid:x0"] == "'=1+1" and cells[f"uuid:x{list(heads).index('+84912345678')}"] == "+84912345678"


def test_export__registry_csv_chunks__formula_cells_neutralised_numbers_kept():
    texts = list({**FORMULAS, **NUMBERS})
    data = b"".join(csv_chunks(["text", "number"], [[t, -5] for t in texts] + [[None, -0.5]]))
    _, *rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[:len(FORMULAS)]] == list(FORMULAS.values())
    assert all(r[1] == "-5" for r in rows[:-1]) and rows[-1] == ["", "-0.5"]
    assert [unneutralise(r[0]) for r in rows[:-1]] == texts


def test_export__households_cli__formula_cells_neutralised_and_round_trip(app, runner, world, tmp_path):
    heads = list(FORMULAS) + ["Nguyễn Văn An"]
    rows = [f"BN-{i},\"{h.replace(chr(34), chr(34) * 2)}\",,,,+84912345678,,,-0.5,106.2," for i, h in enumerate(heads)]
    rows.append('=EVIL(),Tên,,,,,,,,,')
    assert _import(runner, tmp_path, (REGISTRY_HEADER.rstrip("\n") + ",=col\n" + "\n".join(
        r + ",=x" for r in rows) + "\n").encode()).exit_code == 0
    before = _households(app)
    out = tmp_path / "export.csv"
    assert runner.invoke(args=["households", "export", "--out", str(out)]).exit_code == 0
    header, *cells = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert header[-1] == "'=col"
    by_code = {unneutralise(row[0]): row for row in cells}
    stored = dict(before)  # names are stored trimmed ("\t=1" is "=1"), still formulas
    assert {code: by_code[code][1] for code in stored} == {code: neutralise_text(h) for code, h in stored.items()}
    assert all(by_code[f"BN-{i}"][1].startswith("'") for i in range(len(FORMULAS)))
    assert by_code["=EVIL()"][0] == "'=EVIL()" and by_code["BN-0"][5] == "+84912345678" and by_code["BN-0"][8] == "-0.5"
    assert by_code["BN-0"][-1] == "'=x"
    report = _import(runner, tmp_path, out.read_bytes())
    assert report.exit_code == 0 and "updated 0" in report.output and "rejected 0" in report.output, report.output
    assert _households(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Household)) == len(rows)
