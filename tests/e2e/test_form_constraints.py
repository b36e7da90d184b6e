"""The survey forms (forms/*.xlsx) filled by the real ODK form engine, as a phone would.

Each impossible answer must be rejected on the phone with the form's own message, and a
plausible household must produce a submission carrying the contract's fields (forms/FIELDS.md).
Cases of one form share one Node process (`run_engine`), which costs over a second to start.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pyxform.xls2xform import convert

from tests.e2e.odk_engine import PHONE_TIMEZONE, FilledForm, Step, run_engine

pytestmark = pytest.mark.slow

FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
ATTACHMENTS = {path.name: path.read_text(encoding="utf-8") for path in (FORMS_DIR / "media").glob("*.csv")}

# The forms compare with the phone's date, and the harness runs the engine in Vietnam's zone.
TODAY = datetime.now(ZoneInfo(PHONE_TIMEZONE)).date()
YEAR = TODAY.year

ID = "/data/identity"
M = "/data/roster/member"

CHILD_BIRTH_YEAR = YEAR - 10
CHILD_ID = f"0272{CHILD_BIRTH_YEAR % 100:02d}009012"  # male born in the 2000s: 4th digit 2


def compile_form(form_id: str) -> str:
    return convert(xlsform=FORMS_DIR / f"{form_id}.xlsx").xform


def answers(prefix: str, values: Mapping[str, str]) -> list[Step]:
    return [{"set": f"{prefix}/{name}", "value": value} for name, value in values.items()]


def then(steps: Sequence[Step], path: str, value: str) -> list[Step]:
    """The enumerator goes back and changes one answer after filling everything else."""
    return [*steps, {"set": path, "value": value}]


def submission(filled: FilledForm) -> ET.Element:
    assert filled.refused is None, filled.refused
    assert filled.xml is not None, filled.violations
    return ET.fromstring(filled.xml)


def constraint_refs(filled: FilledForm) -> list[str]:
    return [violation.ref for violation in filled.violations if violation.kind == "constraint"]


LOCATION = {"province": "24", "commune": "09319", "village": "09319-02"}

VALID_HOUSEHOLD: list[Step] = [
    *answers(ID, {**LOCATION, "head_name": "Nguyễn Văn An", "head_national_id": "027080001234",
                 "phone": "0912345678", "address": "Số 12, ngõ 3", "gps": "21.1214 106.0051 15 6.5",
                 "house_photo": "nha-an.jpg"}),
    *answers(f"{M}[1]", {"m_name": "Nguyễn Văn An", "m_sex": "male", "m_relation": "head",
                         "m_birth_year": "1980", "m_national_id": "027080001234", "m_insurance": "yes",
                         "m_in_school": "no", "m_diploma": "upper_secondary", "m_work": "self_employed",
                         "m_disability": "no"}),
    {"add_repeat": M},
    *answers(f"{M}[2]", {"m_name": "Trần Thị Bình", "m_sex": "female", "m_relation": "spouse",
                         "m_birth_year": "1983", "m_national_id": "024183005678", "m_insurance": "yes",
                         "m_in_school": "no", "m_diploma": "lower_secondary", "m_work": "wage_no_contract",
                         "m_disability": "no"}),
    {"add_repeat": M},
    *answers(f"{M}[3]", {"m_name": "Nguyễn Văn Cường", "m_sex": "male", "m_relation": "child",
                         "m_birth_year": str(CHILD_BIRTH_YEAR), "m_national_id": CHILD_ID,
                         "m_insurance": "yes", "m_in_school": "yes", "m_school_level": "primary",
                         "m_diploma": "none", "m_disability": "no", "m_height_cm": "135.5",
                         "m_weight_kg": "30", "m_malnourished": "no"}),
    {"add_repeat": M},
    # The head's mother, born long before the head, with only an old 9-digit CMND.
    *answers(f"{M}[4]", {"m_name": "Lê Thị Dung", "m_sex": "female", "m_relation": "parent",
                         "m_birth_year": "1950", "m_national_id": "121234567", "m_insurance": "yes",
                         "m_in_school": "no", "m_diploma": "none", "m_work": "retired",
                         "m_disability": "yes"}),
    *answers("/data/housing", {"wall_material": "durable", "wall_material_detail": "Gạch",
                               "column_material": "durable", "roof_material": "non_durable",
                               "living_area_m2": "48.5"}),
    *answers("/data/water_sanitation", {"water_source": "piped", "latrine": "septic"}),
    *answers("/data/information", {"uses_phone": "yes", "uses_internet": "yes", "info_devices": "tv smartphone"}),
    *answers("/data/b1", {"b1_floor": "cement", "b1_cooking_fuel": "electricity_gas", "b1_electricity_kwh": "120",
                          "b1_assets": "motorbike fridge tv", "b1_farm_land_m2": "720"}),
    *answers("/data/income", {"income_per_person_month": "1400000"}),
    *answers("/data/reasons_flags", {"poverty_reasons": "illness", "ethnic_minority": "no",
                                     "meritorious_family": "no", "no_labour_capacity": "no"}),
]

# case -> (steps, the one field whose constraint must reject them)
IMPOSSIBLE: dict[str, tuple[list[Step], str]] = {
    "birth_year_next_year": (then(VALID_HOUSEHOLD, f"{M}[4]/m_birth_year", str(YEAR + 1)), f"{M}[4]/m_birth_year"),
    "birth_year_1899": (then(VALID_HOUSEHOLD, f"{M}[4]/m_birth_year", "1899"), f"{M}[4]/m_birth_year"),
    "child_born_before_head": (
        then(then(VALID_HOUSEHOLD, f"{M}[3]/m_national_id", ""), f"{M}[3]/m_birth_year", "1975"),
        f"{M}[3]/m_birth_year",
    ),
    "living_area_zero": (then(VALID_HOUSEHOLD, "/data/housing/living_area_m2", "0"), "/data/housing/living_area_m2"),
    "living_area_negative": (
        then(VALID_HOUSEHOLD, "/data/housing/living_area_m2", "-12"), "/data/housing/living_area_m2"),
    "head_id_11_digits": (then(VALID_HOUSEHOLD, f"{ID}/head_national_id", "02708000123"), f"{ID}/head_national_id"),
    "head_id_with_dots": (then(VALID_HOUSEHOLD, f"{ID}/head_national_id", "027.080.001234"), f"{ID}/head_national_id"),
    "member_id_10_digits": (then(VALID_HOUSEHOLD, f"{M}[1]/m_national_id", "0270800012"), f"{M}[1]/m_national_id"),
    "member_id_female_digit_for_male": (
        then(VALID_HOUSEHOLD, f"{M}[1]/m_national_id", "027180001234"), f"{M}[1]/m_national_id"),
    "member_id_male_digit_for_female": (
        then(VALID_HOUSEHOLD, f"{M}[2]/m_national_id", "024083005678"), f"{M}[2]/m_national_id"),
    "member_id_1900s_digit_for_2000s_birth": (
        then(VALID_HOUSEHOLD, f"{M}[3]/m_national_id", "0270" + CHILD_ID[4:]), f"{M}[3]/m_national_id"),
    "member_id_year_digits_wrong": (
        then(VALID_HOUSEHOLD, f"{M}[1]/m_national_id", "027081001234"), f"{M}[1]/m_national_id"),
    "member_sex_changed_after_id": (then(VALID_HOUSEHOLD, f"{M}[2]/m_sex", "male"), f"{M}[2]/m_national_id"),
    "phone_9_digits": (then(VALID_HOUSEHOLD, f"{ID}/phone", "091234567"), f"{ID}/phone"),
    "phone_without_leading_zero": (then(VALID_HOUSEHOLD, f"{ID}/phone", "8491234567"), f"{ID}/phone"),
    "phone_with_country_code": (then(VALID_HOUSEHOLD, f"{ID}/phone", "+84912345678"), f"{ID}/phone"),
    "first_member_not_head": (then(VALID_HOUSEHOLD, f"{M}[1]/m_relation", "spouse"), f"{M}[1]/m_relation"),
    "second_head": (then(VALID_HOUSEHOLD, f"{M}[2]/m_relation", "head"), f"{M}[2]/m_relation"),
    "child_height_10_cm": (then(VALID_HOUSEHOLD, f"{M}[3]/m_height_cm", "10"), f"{M}[3]/m_height_cm"),
    "child_weight_zero": (then(VALID_HOUSEHOLD, f"{M}[3]/m_weight_kg", "0"), f"{M}[3]/m_weight_kg"),
    "electricity_negative": (
        then(VALID_HOUSEHOLD, "/data/b1/b1_electricity_kwh", "-1"), "/data/b1/b1_electricity_kwh"),
    "farm_land_negative": (then(VALID_HOUSEHOLD, "/data/b1/b1_farm_land_m2", "-5"), "/data/b1/b1_farm_land_m2"),
    "income_negative": (
        then(VALID_HOUSEHOLD, "/data/income/income_per_person_month", "-100"), "/data/income/income_per_person_month"),
    "info_devices_none_and_tv": (
        then(VALID_HOUSEHOLD, "/data/information/info_devices", "none tv"), "/data/information/info_devices"),
    "assets_none_and_car": (then(VALID_HOUSEHOLD, "/data/b1/b1_assets", "car none"), "/data/b1/b1_assets"),
}

ACCEPTED: dict[str, list[Step]] = {
    "valid": VALID_HOUSEHOLD,
    "birth_year_1900": then(VALID_HOUSEHOLD, f"{M}[4]/m_birth_year", "1900"),
    "child_born_this_year": then(
        then(VALID_HOUSEHOLD, f"{M}[3]/m_birth_year", str(YEAR)),
        f"{M}[3]/m_national_id", f"0272{YEAR % 100:02d}009012",
    ),
    "head_id_9_digit_cmnd": then(VALID_HOUSEHOLD, f"{ID}/head_national_id", "121234567"),
    "no_phone": then(VALID_HOUSEHOLD, f"{ID}/phone", ""),
    "small_living_area": then(VALID_HOUSEHOLD, "/data/housing/living_area_m2", "0.5"),
    "info_devices_none_alone": then(VALID_HOUSEHOLD, "/data/information/info_devices", "none"),
}

# case -> (steps, the path the phone must refuse)
NOT_SHOWN: dict[str, tuple[list[Step], str]] = {
    "height_of_an_adult": (then(VALID_HOUSEHOLD, f"{M}[1]/m_height_cm", "170"), f"{M}[1]/m_height_cm"),
    "malnutrition_of_an_adult": (then(VALID_HOUSEHOLD, f"{M}[2]/m_malnourished", "no"), f"{M}[2]/m_malnourished"),
    "school_level_when_not_in_school": (
        then(VALID_HOUSEHOLD, f"{M}[1]/m_school_level", "higher"), f"{M}[1]/m_school_level"),
    "work_status_of_a_10_year_old": (then(VALID_HOUSEHOLD, f"{M}[3]/m_work", "student"), f"{M}[3]/m_work"),
    "village_of_another_commune": (then(VALID_HOUSEHOLD, f"{ID}/village", "07210-01"), f"{ID}/village"),
}


@pytest.fixture(scope="module")
def phieu_b() -> dict[str, FilledForm]:
    cases: dict[str, list[Step]] = {
        **{name: steps for name, (steps, _) in IMPOSSIBLE.items()},
        **ACCEPTED,
        **{name: steps for name, (steps, _) in NOT_SHOWN.items()},
    }
    run = run_engine(compile_form("phieu_b"), list(cases.values()), ATTACHMENTS)
    return dict(zip(cases, run.fillings, strict=True))


@pytest.mark.parametrize("case", IMPOSSIBLE)
def test_phieu_b__impossible_answer__rejected_by_its_constraint(phieu_b: dict[str, FilledForm], case: str) -> None:
    filled = phieu_b[case]
    _, field = IMPOSSIBLE[case]

    assert filled.refused is None, filled.refused
    assert filled.xml is None
    assert constraint_refs(filled) == [field]


def test_phieu_b__constraint_message__vietnamese_by_default(phieu_b: dict[str, FilledForm]) -> None:
    violation = next(v for v in phieu_b["birth_year_1899"].violations if v.kind == "constraint")

    assert violation.message is not None and violation.message.startswith("Năm sinh phải từ 1900")


@pytest.mark.parametrize("case", ACCEPTED)
def test_phieu_b__plausible_answers__submission_produced(phieu_b: dict[str, FilledForm], case: str) -> None:
    filled = phieu_b[case]

    assert filled.violations == []
    submission(filled)


@pytest.mark.parametrize("case", NOT_SHOWN)
def test_phieu_b__question_that_does_not_apply__not_shown(phieu_b: dict[str, FilledForm], case: str) -> None:
    _, path = NOT_SHOWN[case]

    assert phieu_b[case].refused is not None and phieu_b[case].refused.startswith(path)


def test_phieu_b__valid_household__submission_has_contract_fields(phieu_b: dict[str, FilledForm]) -> None:
    root = submission(phieu_b["valid"])
    leaves = {element.tag for element in root.iter()}
    members = root.findall("roster/member")

    assert root.get("id") == "phieu_b"
    assert {name: root.findtext(f"identity/{name}") for name in LOCATION} == LOCATION
    assert [m.findtext("m_relation") for m in members] == ["head", "spouse", "child", "parent"]
    assert [m.findtext("m_age") for m in members] == [str(YEAR - 1980), str(YEAR - 1983), "10", str(YEAR - 1950)]
    assert members[3].findtext("m_national_id") == "121234567"
    assert root.findtext("roster/member_count") == "4"
    assert root.findtext("information/info_devices") == "tv smartphone"
    assert root.findtext("meta/instanceName") == "Nguyễn Văn An - Thôn Hạ"
    assert phieu_b["valid"].attachments == ["nha-an.jpg"]
    assert {"household_id", "gps", "living_area_m2", "b1_assets", "no_labour_capacity"} <= leaves


def test_phieu_b__child_questions__only_in_the_child_member(phieu_b: dict[str, FilledForm]) -> None:
    members = submission(phieu_b["valid"]).findall("roster/member")

    assert [m.find("m_height_cm") is not None for m in members] == [False, False, True, False]
    assert [m.find("m_work") is not None for m in members] == [True, True, False, True]


# ---------------------------------------------------------------- phieu_a

A = "/data/screening"
PHIEU_A_IDENTITY: list[Step] = answers(ID, {
    **LOCATION, "head_name": "Phạm Văn Giang", "head_national_id": "027075004321", "phone": "0987654321",
    "gps": "21.1190 106.0102 12 4"})
ALL_NO = {"a_car": "no", "a_house_durable_large": "no", "a_salary_all_adults": "no", "a_business": "no",
          "a_assets_many": "no"}
PHIEU_A_CASES: dict[str, list[Step]] = {
    "all_no": [*PHIEU_A_IDENTITY, *answers(A, ALL_NO)],
    "owns_a_car": [*PHIEU_A_IDENTITY, *answers(A, {**ALL_NO, "a_car": "yes"})],
    "phone_9_digits": then([*PHIEU_A_IDENTITY, *answers(A, ALL_NO)], f"{ID}/phone", "098765432"),
}


@pytest.fixture(scope="module")
def phieu_a() -> dict[str, FilledForm]:
    run = run_engine(compile_form("phieu_a"), list(PHIEU_A_CASES.values()), ATTACHMENTS)
    return dict(zip(PHIEU_A_CASES, run.fillings, strict=True))


def test_phieu_a__every_answer_no__submitted_not_screened_out(phieu_a: dict[str, FilledForm]) -> None:
    root = submission(phieu_a["all_no"])

    assert root.get("id") == "phieu_a"
    assert root.findtext("screening/screened_out") == "no"
    assert root.find("screening/screened_out_note") is None
    assert root.findtext("meta/instanceName") == "Phạm Văn Giang - Thôn Hạ"


def test_phieu_a__one_answer_yes__submitted_screened_out(phieu_a: dict[str, FilledForm]) -> None:
    root = submission(phieu_a["owns_a_car"])

    assert root.findtext("screening/screened_out") == "yes"
    assert root.find("screening/screened_out_note") is not None
    assert root.find("screening/continue_note") is None


def test_phieu_a__phone_9_digits__rejected(phieu_a: dict[str, FilledForm]) -> None:
    assert constraint_refs(phieu_a["phone_9_digits"]) == [f"{ID}/phone"]


# ---------------------------------------------------------------- de_nghi

D = "/data/application"
APPLICATION: list[Step] = [
    *answers(ID, {**LOCATION, "head_name": "Đỗ Thị Hoa", "head_national_id": "027170002468", "phone": "0351234567",
                 "address": "Thôn Hạ, xã Tiên Du"}),
    *answers(D, {"request_type": "review", "reason": "Chồng mất, hộ mất nguồn thu nhập chính.",
                 "applicant_signature_photo": "don-de-nghi.jpg",
                 "application_date": (TODAY - timedelta(days=3)).isoformat()}),
]
DE_NGHI_CASES: dict[str, list[Step]] = {
    "valid": APPLICATION,
    "dated_today": then(APPLICATION, f"{D}/application_date", TODAY.isoformat()),
    "dated_in_two_days": then(APPLICATION, f"{D}/application_date", (TODAY + timedelta(days=2)).isoformat()),
}


@pytest.fixture(scope="module")
def de_nghi() -> dict[str, FilledForm]:
    run = run_engine(compile_form("de_nghi"), list(DE_NGHI_CASES.values()), ATTACHMENTS)
    return dict(zip(DE_NGHI_CASES, run.fillings, strict=True))


def test_de_nghi__valid_application__submission_has_contract_fields(de_nghi: dict[str, FilledForm]) -> None:
    root = submission(de_nghi["valid"])

    assert root.get("id") == "de_nghi"
    assert root.findtext("identity/village") == "09319-02"
    assert root.findtext("application/request_type") == "review"
    assert root.findtext("application/application_date") == (TODAY - timedelta(days=3)).isoformat()
    assert de_nghi["valid"].attachments == ["don-de-nghi.jpg"]


def test_de_nghi__dated_today__accepted(de_nghi: dict[str, FilledForm]) -> None:
    assert de_nghi["dated_today"].violations == []


def test_de_nghi__dated_in_the_future__rejected(de_nghi: dict[str, FilledForm]) -> None:
    assert constraint_refs(de_nghi["dated_in_two_days"]) == [f"{D}/application_date"]
