"""The three survey forms (forms/*.xlsx) against their contract, forms/FIELDS.md.

The server and the poverty engine read submissions by leaf name, so a renamed field, a changed
choice name or a lost constraint must fail here, before a form reaches a phone. Behaviour of the
constraints in the real ODK engine is tested in tests/e2e/test_form_constraints.py.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import vietnamadminunits
from openpyxl import load_workbook
from pyxform.xls2xform import convert

FORMS_DIR = Path(__file__).resolve().parents[3] / "forms"
MEDIA_DIR = FORMS_DIR / "media"
FORM_IDS = ("phieu_a", "phieu_b", "de_nghi")
VI = "Tiếng Việt (vi)"
EN = "English (en)"
PROVINCE_CODE = "24"

NS = {
    "xf": "http://www.w3.org/2002/xforms",
    "h": "http://www.w3.org/1999/xhtml",
    "jr": "http://openrosa.org/javarosa",
}
JR_CONSTRAINT_MSG = f"{{{NS['jr']}}}constraintMsg"

# Contract types (FIELDS.md wording) as the XForm writes them: bind type and body control.
CONTRACT_TYPES: dict[str, tuple[str, str | None]] = {
    "text": ("string", "input"),
    "hidden": ("string", None),
    "integer": ("int", "input"),
    "decimal": ("decimal", "input"),
    "date": ("date", "input"),
    "geopoint": ("geopoint", "input"),
    "image": ("binary", "upload"),
    "select_one": ("string", "select1"),
    "select_one_from_file": ("string", "select1"),
    "select_multiple": ("string", "select"),
}

# FIELDS.md describes these two forms in prose, so their fields are listed here.
PHIEU_A_FIELDS = {
    "province": "select_one_from_file", "commune": "select_one_from_file",
    "village": "select_one_from_file", "head_name": "text", "head_national_id": "text",
    "phone": "text", "gps": "geopoint", "a_car": "select_one", "a_house_durable_large": "select_one",
    "a_salary_all_adults": "select_one", "a_business": "select_one", "a_assets_many": "select_one",
}
SCREENING_QUESTIONS = ("a_car", "a_house_durable_large", "a_salary_all_adults", "a_business", "a_assets_many")
DE_NGHI_FIELDS = {
    "province": "select_one_from_file", "commune": "select_one_from_file",
    "village": "select_one_from_file", "head_name": "text", "head_national_id": "text",
    "phone": "text", "address": "text", "request_type": "select_one", "reason": "text",
    "applicant_signature_photo": "image", "application_date": "date",
}
DE_NGHI_CHOICES = {"request_type": {"review", "escape"}}
PHIEU_A_CHOICES = {name: {"yes", "no"} for name in SCREENING_QUESTIONS}


# ---------------------------------------------------------------- helpers


def compile_xform(form_id: str) -> ET.Element:
    return ET.fromstring(convert(xlsform=FORMS_DIR / f"{form_id}.xlsx").xform)


def leaf(nodeset: str) -> str:
    return nodeset.rsplit("/", 1)[-1]


def binds(root: ET.Element) -> dict[str, ET.Element]:
    return {leaf(b.get("nodeset", "")): b for b in root.iter(f"{{{NS['xf']}}}bind")}


def body_controls(root: ET.Element) -> dict[str, ET.Element]:
    body = root.find("h:body", NS)
    assert body is not None
    return {leaf(el.get("ref", "")): el for el in body.iter() if el.get("ref", "").startswith("/")}


def repeats(root: ET.Element) -> dict[str, ET.Element]:
    return {leaf(el.get("nodeset", "")): el for el in root.iter(f"{{{NS['xf']}}}repeat")}


def translations(root: ET.Element) -> dict[str, dict[str, str]]:
    """lang -> {text id -> all forms of the text joined}, with the default language marked by key order."""
    out: dict[str, dict[str, str]] = {}
    for translation in root.iter(f"{{{NS['xf']}}}translation"):
        out[translation.get("lang", "")] = {
            text.get("id", ""): " ".join("".join(v.itertext()).strip() for v in text.findall("xf:value", NS))
            for text in translation.findall("xf:text", NS)
        }
    return out


def default_language(root: ET.Element) -> str | None:
    for translation in root.iter(f"{{{NS['xf']}}}translation"):
        if translation.get("default") == "true()":
            return translation.get("lang")
    return None


def choice_names(root: ET.Element, control: ET.Element) -> set[str]:
    itemset = control.find("xf:itemset", NS)
    assert itemset is not None, f"{control.get('ref')} has no itemset"
    instance_id = re.match(r"instance\('([^']+)'\)", itemset.get("nodeset", ""))
    assert instance_id is not None
    instance = next(i for i in root.iter(f"{{{NS['xf']}}}instance") if i.get("id") == instance_id.group(1))
    return {item.findtext("xf:name", namespaces=NS) or "" for item in instance.iter(f"{{{NS['xf']}}}item")}


def contract_rows() -> dict[str, tuple[str, list[str]]]:
    """The phieu_b table of FIELDS.md: field -> (type word, backticked values)."""
    text = (FORMS_DIR / "FIELDS.md").read_text(encoding="utf-8")
    section = text.split("## `phieu_b`", 1)[1].split("| field | type |", 1)[1]
    table = section.split("\n\n", 1)[0]
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        name = cells[0].strip("`")
        type_word = "hidden" if "hidden" in cells[1] else cells[1].strip("*").split()[0]
        rows[name] = (type_word, re.findall(r"`([^`]+)`", cells[2]))
    return rows


def type_mismatches(root: ET.Element, fields: dict[str, str]) -> list[str]:
    all_binds, controls = binds(root), body_controls(root)
    problems = []
    for name, type_word in fields.items():
        bind_type, control_tag = CONTRACT_TYPES[type_word]
        if name not in all_binds:
            problems.append(f"{name}: missing")
            continue
        if all_binds[name].get("type") != bind_type:
            problems.append(f"{name}: bind type {all_binds[name].get('type')}, expected {bind_type}")
        control = controls.get(name)
        actual_tag = None if control is None else control.tag.split("}")[-1]
        if actual_tag != control_tag:
            problems.append(f"{name}: control {actual_tag}, expected {control_tag}")
    return problems


def read_csv(name: str) -> list[dict[str, str]]:
    with (MEDIA_DIR / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def xforms() -> dict[str, ET.Element]:
    return {form_id: compile_xform(form_id) for form_id in FORM_IDS}


@pytest.fixture(scope="module")
def phieu_b(xforms: dict[str, ET.Element]) -> ET.Element:
    return xforms["phieu_b"]


# ---------------------------------------------------------------- compile + ODK Validate


@pytest.mark.slow
@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__compiled_with_odk_validate__no_errors_no_warnings(form_id: str) -> None:
    result = convert(xlsform=FORMS_DIR / f"{form_id}.xlsx", validate=True)

    assert result.warnings == []
    assert ET.fromstring(result.xform).find(".//xf:instance/*", NS).get("id") == form_id


# ---------------------------------------------------------------- the contract


def test_phieu_b__contract_fields__present_with_contract_types(phieu_b: ET.Element) -> None:
    fields = {name: type_word for name, (type_word, _) in contract_rows().items() if type_word != "repeat"}

    assert len(fields) > 40, "the FIELDS.md table was not parsed"
    assert type_mismatches(phieu_b, fields) == []


def test_phieu_b__contract_selects__offer_exactly_the_contract_choices(phieu_b: ET.Element) -> None:
    controls = body_controls(phieu_b)
    selects = {name: set(values) for name, (type_word, values) in contract_rows().items()
               if type_word in ("select_one", "select_multiple")}

    mismatches = {name: (choice_names(phieu_b, controls[name]), expected) for name, expected in selects.items()
                  if choice_names(phieu_b, controls[name]) != expected}

    assert len(selects) > 20
    assert mismatches == {}


def test_phieu_b__member__is_a_repeat_inside_the_roster_group(phieu_b: ET.Element) -> None:
    member = repeats(phieu_b).get("member")

    assert member is not None
    assert member.get("nodeset") == "/data/roster/member"
    assert binds(phieu_b)["m_name"].get("nodeset") == "/data/roster/member/m_name"


def test_phieu_b__groups__one_per_topic(phieu_b: ET.Element) -> None:
    body = phieu_b.find("h:body", NS)
    groups = {leaf(g.get("ref", "")) for g in body.findall("xf:group", NS)}

    assert groups == {"identity", "roster", "housing", "water_sanitation", "information", "b1", "income",
                      "reasons_flags"}


def test_phieu_a__contract_fields__present_with_contract_types(xforms: dict[str, ET.Element]) -> None:
    assert type_mismatches(xforms["phieu_a"], PHIEU_A_FIELDS) == []


def test_de_nghi__contract_fields__present_with_contract_types(xforms: dict[str, ET.Element]) -> None:
    assert type_mismatches(xforms["de_nghi"], DE_NGHI_FIELDS) == []


@pytest.mark.parametrize(("form_id", "expected"), [("phieu_a", PHIEU_A_CHOICES), ("de_nghi", DE_NGHI_CHOICES)])
def test_form__contract_selects__offer_exactly_the_contract_choices(
    xforms: dict[str, ET.Element], form_id: str, expected: dict[str, set[str]]
) -> None:
    root = xforms[form_id]
    controls = body_controls(root)

    assert {name: choice_names(root, controls[name]) for name in expected} == expected


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__leaf_names__unique_so_groups_can_be_flattened(xforms: dict[str, ET.Element], form_id: str) -> None:
    names = Counter(leaf(b.get("nodeset", "")) for b in xforms[form_id].iter(f"{{{NS['xf']}}}bind"))

    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__metadata__start_end_device_and_user_recorded(xforms: dict[str, ET.Element], form_id: str) -> None:
    all_binds = binds(xforms[form_id])

    assert {name: all_binds[name].get(f"{{{NS['jr']}}}preloadParams") for name in
            ("start", "end", "deviceid", "username")} == {
        "start": "start", "end": "end", "deviceid": "deviceid", "username": "username"}


# ---------------------------------------------------------------- languages and settings


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__default_language__is_vietnamese(xforms: dict[str, ET.Element], form_id: str) -> None:
    assert default_language(xforms[form_id]) == VI


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__every_text__in_vietnamese_and_english(xforms: dict[str, ET.Element], form_id: str) -> None:
    texts = translations(xforms[form_id])

    assert set(texts) == {VI, EN}
    assert set(texts[VI]) == set(texts[EN])
    assert [text_id for lang in texts for text_id, value in texts[lang].items() if not value] == []


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__every_constraint__has_a_message_in_both_languages(
    xforms: dict[str, ET.Element], form_id: str
) -> None:
    root = xforms[form_id]
    texts = translations(root)
    constrained = [b for b in root.iter(f"{{{NS['xf']}}}bind") if b.get("constraint")]

    missing = []
    for bind in constrained:
        text_id = re.fullmatch(r"jr:itext\('([^']+)'\)", bind.get(JR_CONSTRAINT_MSG, ""))
        if text_id is None or not texts[VI].get(text_id.group(1)) or not texts[EN].get(text_id.group(1)):
            missing.append(bind.get("nodeset"))

    assert constrained
    assert missing == []


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__settings__id_version_language_and_instance_name(form_id: str) -> None:
    workbook = load_workbook(FORMS_DIR / f"{form_id}.xlsx", read_only=True)
    header, values = list(workbook["settings"].iter_rows(min_row=1, max_row=2, values_only=True))
    workbook.close()
    settings = dict(zip(header, values, strict=True))

    assert settings["form_id"] == form_id
    assert re.fullmatch(r"\d{10}", str(settings["version"]))
    assert settings["default_language"] == VI
    assert "${head_name}" in settings["instance_name"]
    assert "${village}" in settings["instance_name"]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form__workbook__tidy_sheets_with_frozen_header(form_id: str) -> None:
    workbook = load_workbook(FORMS_DIR / f"{form_id}.xlsx")

    # Phiếu B also creates / updates household entities (forms/FIELDS.md).
    assert workbook.sheetnames == ["survey", "choices", "settings"] + (["entities"] if form_id == "phieu_b" else [])
    assert all(workbook[name].freeze_panes is not None and workbook[name].freeze_panes.endswith("2")
               for name in workbook.sheetnames)
    survey_header = [cell.value for cell in workbook["survey"][1]]
    assert survey_header[:4] == ["type", "name", f"label::{VI}", f"label::{EN}"]


# ---------------------------------------------------------------- constraints and relevance


@pytest.mark.parametrize(
    ("field", "fragments"),
    [
        ("m_birth_year", [". >= 1900", "format-date(today(), '%Y')", "'child'", "indexed-repeat("]),
        ("m_national_id", ["^[0-9]{12}$", "^[0-9]{9}$", "substr(., 3, 4)", "substr(., 4, 6)", "../m_sex",
                           "../m_birth_year"]),
        ("m_relation", ["position(..) = 1", "'head'"]),
        ("head_national_id", ["^[0-9]{12}$", "^[0-9]{9}$"]),
        ("phone", ["^0[0-9]{9}$"]),
        ("living_area_m2", [". > 0"]),
        ("m_height_cm", [". >= 30"]),
        ("m_weight_kg", [". >= 1"]),
        ("b1_electricity_kwh", [". >= 0"]),
        ("b1_farm_land_m2", [". >= 0"]),
        ("income_per_person_month", [". >= 0"]),
        ("info_devices", ["selected(., 'none')"]),
        ("b1_assets", ["selected(., 'none')"]),
    ],
)
def test_phieu_b__constraint__on_the_field_it_guards(phieu_b: ET.Element, field: str, fragments: list[str]) -> None:
    constraint = binds(phieu_b)[field].get("constraint") or ""

    assert [fragment for fragment in fragments if fragment not in constraint] == []


@pytest.mark.parametrize("form_id", ["phieu_a", "de_nghi"])
@pytest.mark.parametrize(("field", "fragment"), [("head_national_id", "^[0-9]{12}$"), ("phone", "^0[0-9]{9}$")])
def test_form__identity_constraints__shared_with_phieu_b(
    xforms: dict[str, ET.Element], form_id: str, field: str, fragment: str
) -> None:
    assert fragment in (binds(xforms[form_id])[field].get("constraint") or "")


def test_de_nghi__application_date__not_in_the_future(xforms: dict[str, ET.Element]) -> None:
    assert binds(xforms["de_nghi"])["application_date"].get("constraint") == ". <= today()"


@pytest.mark.parametrize(
    ("field", "relevant"),
    [
        ("m_school_level", "../m_in_school = 'yes'"),
        ("m_work", "../m_age >= 15"),
        ("m_height_cm", "../m_age < 16"),
        ("m_weight_kg", "../m_age < 16"),
        ("m_malnourished", "../m_age < 16"),
    ],
)
def test_phieu_b__member_question__relevant_only_when_it_applies(
    phieu_b: ET.Element, field: str, relevant: str
) -> None:
    assert " ".join((binds(phieu_b)[field].get("relevant") or "").split()) == relevant


def test_phieu_b__m_age__calculated_from_birth_year_and_today(phieu_b: ET.Element) -> None:
    calculation = binds(phieu_b)["m_age"].get("calculate") or ""

    assert "format-date(today(), '%Y')" in calculation
    assert "- ../m_birth_year" in " ".join(calculation.split())


def test_phieu_b__gps__auto_accepts_at_10_metres(phieu_b: ET.Element) -> None:
    assert body_controls(phieu_b)["gps"].get("accuracyThreshold") == "10"


@pytest.mark.parametrize("form_id", FORM_IDS)
@pytest.mark.parametrize(
    ("field", "nodeset"),
    [
        ("province", "instance('provinces')/root/item"),
        ("commune", "instance('communes')/root/item[province= /data/identity/province ]"),
        ("village", "instance('villages')/root/item[commune= /data/identity/commune ]"),
    ],
)
def test_form__location__cascades_province_commune_village_from_csv(
    xforms: dict[str, ET.Element], form_id: str, field: str, nodeset: str
) -> None:
    root = xforms[form_id]
    itemset = body_controls(root)[field].find("xf:itemset", NS)
    sources = {i.get("id"): i.get("src") for i in root.iter(f"{{{NS['xf']}}}instance") if i.get("src")}

    lists = ("provinces", "communes", "villages") + (("returned", "households") if form_id == "phieu_b" else ())
    assert itemset is not None and itemset.get("nodeset") == nodeset
    assert sources == {name: f"jr://file-csv/{name}.csv" for name in lists}


def test_phieu_a__screened_out__calculated_from_every_screening_question(xforms: dict[str, ET.Element]) -> None:
    all_binds = binds(xforms["phieu_a"])
    calculation = all_binds["screened_out"].get("calculate") or ""

    assert [name for name in SCREENING_QUESTIONS if f"/{name}  = 'yes'" not in calculation] == []
    assert "screened_out  = 'yes'" in (all_binds["screened_out_note"].get("relevant") or "")


# ---------------------------------------------------------------- CSV attachments


@pytest.mark.parametrize(
    ("name", "header"),
    [("provinces.csv", ["name", "label"]), ("communes.csv", ["name", "label", "province"]),
     ("villages.csv", ["name", "label", "commune"])],
)
def test_media__csv__contract_header_and_nfc_text(name: str, header: list[str]) -> None:
    text = (MEDIA_DIR / name).read_text(encoding="utf-8")

    assert text.splitlines()[0].split(",") == header
    assert unicodedata.normalize("NFC", text) == text


def test_media__provinces__only_bac_ninh() -> None:
    assert read_csv("provinces.csv") == [{"name": PROVINCE_CODE, "label": "Tỉnh Bắc Ninh"}]


def test_media__communes__real_units_of_province_24() -> None:
    database = Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"
    with sqlite3.connect(database) as connection:
        real = dict(connection.execute(
            "SELECT wardCode, ward FROM admin_units WHERE provinceCode = ?", (PROVINCE_CODE,)).fetchall())
    communes = read_csv("communes.csv")

    assert len(communes) >= 5
    assert [row for row in communes if row["province"] != PROVINCE_CODE or real.get(row["name"]) != row["label"]] == []


def test_media__villages__two_or_three_per_commune_coded_by_commune() -> None:
    villages = read_csv("villages.csv")
    commune_codes = {row["name"] for row in read_csv("communes.csv")}
    per_commune = Counter(row["commune"] for row in villages)
    misnamed = [row["name"] for row in villages if not re.fullmatch(re.escape(row["commune"]) + r"-\d{2}", row["name"])]

    assert misnamed == []
    assert set(per_commune) == commune_codes
    assert all(2 <= count <= 3 for count in per_commune.values())
    assert len({row["name"] for row in villages}) == len(villages)


# ---------------------------------------------------------------- entity lists (households, returned surveys)

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"
PREFILLED = ("commune", "village", "head_name", "head_national_id", "phone", "address", "wall_material",
             "column_material", "roof_material", "living_area_m2", "water_source", "latrine")


def test_phieu_b__entity_block__creates_or_updates_a_household_with_base_version(phieu_b: ET.Element) -> None:
    entity = phieu_b.find(".//xf:instance/xf:data/xf:meta/xf:entity", NS)
    entity_binds = {b.get("nodeset"): b.get("calculate") for b in phieu_b.iter(f"{{{NS['xf']}}}bind")
                    if b.get("nodeset", "").startswith("/data/meta/entity")}

    assert entity is not None and entity.get("dataset") == "households"
    assert phieu_b.find(".//xf:model", NS).get(f"{{{ENTITIES_NS}}}entities-version") == "2024.1.0"
    assert " ".join(entity_binds["/data/meta/entity/@update"].split()) == "/data/household_id != ''"
    assert " ".join(entity_binds["/data/meta/entity/@create"].split()) == "/data/household_id = ''"
    assert "instance('households')" in entity_binds["/data/meta/entity/@baseVersion"]
    assert entity_binds["/data/meta/entity/@baseVersion"].endswith("/__version")
    assert "/data/household_id" in entity_binds["/data/meta/entity/@id"]


def test_phieu_b__prefilled_fields__set_from_the_picked_household_and_saved_back(phieu_b: ET.Element) -> None:
    setvalues = {leaf(s.get("ref", "")): s for s in phieu_b.iter(f"{{{NS['xf']}}}setvalue")}
    saved = {leaf(b.get("nodeset", "")): b.get(f"{{{ENTITIES_NS}}}saveto") for b in phieu_b.iter(f"{{{NS['xf']}}}bind")
             if b.get(f"{{{ENTITIES_NS}}}saveto")}

    wrong = [name for name in PREFILLED if setvalues.get(name) is None
             or setvalues[name].get("event") != "xforms-value-changed"
             or f"item[name= /data/identity/existing_household ]/{name}" not in setvalues[name].get("value", "")]
    assert wrong == []
    assert saved == {**{name: name for name in PREFILLED}, "members": "members", "member_count": "member_count"}


def test_phieu_b__returned_pick__selects_the_household_and_shows_the_reason(phieu_b: ET.Element) -> None:
    setvalue = next(s for s in phieu_b.iter(f"{{{NS['xf']}}}setvalue")
                    if s.get("ref", "").endswith("existing_household"))

    assert setvalue.get("value").strip() == "/data/identity/returned_review"
    assert "instance('returned')" in binds(phieu_b)["returned_reason"].get("calculate")


@pytest.mark.parametrize(("name", "first_columns"), [("households.csv", ["name", "label", "__version", "head_name"]),
                                                     ("returned.csv", ["name", "label", "__version", "reason"])])
def test_media__entity_list_samples__entity_list_header(name: str, first_columns: list[str]) -> None:
    text = (MEDIA_DIR / name).read_text(encoding="utf-8")

    assert text.splitlines()[0].split(",")[:4] == first_columns
    assert unicodedata.normalize("NFC", text) == text
