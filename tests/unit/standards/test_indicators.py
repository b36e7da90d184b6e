"""The 12 indicators at their boundaries, table-driven, through the public classify()."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from server.standards import IndicatorResult, classify, load_ruleset
from tests.unit.standards.builders import YEAR, answers, child, member

D, N, NA, U = "deprived", "not_deprived", "not_applicable", "unknown"


def indicator(data: dict[str, Any], indicator_id: str, **kwargs: Any) -> IndicatorResult:
    result = classify(data, year=kwargs.pop("year", YEAR), urban=False, **kwargs)
    assert result.indicators, result.national.reasons
    return next(i for i in result.indicators if i.id == indicator_id)


def status(data: dict[str, Any], indicator_id: str, **kwargs: Any) -> str:
    return indicator(data, indicator_id, **kwargs).status


def elderly_head() -> dict[str, Any]:
    """A head outside every age band the member indicators look at (70, retired, insured)."""
    return member("head", 70, m_work="retired", m_diploma="none")


# --- 1.1 employment ------------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "sex", "work", "expected"), [
    (14, "male", "unemployed", NA),
    (15, "male", "unemployed", D),
    (30, "male", "wage_no_contract", D),
    (30, "male", "wage_contract", N),
    (30, "male", "self_employed", N),
    (30, "female", "homemaker", N),
    (30, "male", "unable", NA),
    (60, "male", "unemployed", D),
    (61, "male", "unemployed", NA),
    (55, "female", "unemployed", D),
    (56, "female", "unemployed", NA),
    (30, "male", None, U),
    (30, "male", "astronaut", U),
    (58, None, "unemployed", U),
    (58, None, "self_employed", N),
    (40, None, "unemployed", D),
    (65, None, "unemployed", NA),
])
def test_employment__member_age_sex_work__status(age: int, sex: str | None, work: str | None,
                                                 expected: str) -> None:
    data = answers([elderly_head(), member("child", age, m_sex=sex, m_work=work)])
    assert status(data, "1.1") == expected


def test_employment__one_member_deprived_another_unknown__deprived() -> None:
    data = answers([elderly_head(), member("child", 30, m_work="unemployed"), member("child", 32, m_work=None)])
    result = indicator(data, "1.1")
    assert result.status == D
    assert result.reason.vi == "thành viên số 2 (30 tuổi) thất nghiệp"
    assert result.reason.en == "member #2 (aged 30) unemployed"


# --- 1.2 dependants ------------------------------------------------------------------------------

@pytest.mark.parametrize(("roster", "expected"), [
    ([member("head", 40), child(10, "primary")], N),  # 1/2 = 50 % is not more than half
    ([member("head", 40), child(10, "primary"), child(8, "primary")], D),  # 2/3
    ([member("head", 40), child(15, "upper_secondary"), member("child", 20)], N),  # 1/3
    ([member("head", 40), member("child", 16, m_work="student")], N),  # 16 is no longer a child
    ([member("head", 40), member("child", 15, m_work="student"), child(9, "primary")], D),
    ([member("head", 59), member("parent", 59), member("child", 20)], N),
    ([member("head", 60), member("parent", 60), member("child", 20)], D),
    ([member("head", 40), member("spouse", 38, m_work="unable"), child(9, "primary")], D),
    ([member("head", 40), member("spouse", 38, m_work=None)], N),  # at most 1/2
    ([member("head", 40), member("spouse", 38, m_work=None), child(9, "primary")], U),  # 1/3 or 2/3
    ([member("head", 40), member("spouse", 38, m_work=None), child(9, "primary"), child(7, "primary")], U),
    ([member("head", 40), member("spouse", 38, m_work=None), child(9, "primary"), child(7, "primary"),
      child(4, "preschool")], D),  # 3/5 already, whatever the spouse does
])
def test_dependants__roster__status(roster: list[dict[str, Any]], expected: str) -> None:
    assert status(answers(roster), "1.2") == expected


def test_dependants__two_of_three__reason_shows_share() -> None:
    result = indicator(answers([member("head", 40), child(10, "primary"), child(8, "primary")]), "1.2")
    assert (result.reason.vi, result.reason.en) == ("người phụ thuộc 2/3 = 66,6% > 50%",
                                                    "dependants 2/3 = 66.6% > 50%")


# --- 2.1 nutrition -------------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "value", "expected"), [
    (15, "stunted", D), (4, "underweight", D), (4, "both", D), (4, "no", N),
    (15, "unknown", U), (4, None, U), (16, "stunted", NA),
])
def test_nutrition__child_age_and_assessment__status(age: int, value: str | None, expected: str) -> None:
    data = answers([elderly_head(), child(age, "lower_secondary", m_malnourished=value)])
    assert status(data, "2.1") == expected


# --- 2.2 health insurance ------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "insured", "expected"), [
    (5, "no", N), (6, "no", D), (40, "no", D), (6, "yes", N), (40, None, U), (40, "maybe", U),
])
def test_health_insurance__member_age_and_card__status(age: int, insured: str | None, expected: str) -> None:
    data = answers([member("head", 40), member("child", age, m_insurance=insured)])
    assert status(data, "2.2") == expected


def test_health_insurance__nobody_aged_6__not_applicable() -> None:
    assert status(answers([member("head", 5, m_insurance="no")], living_area_m2="20"), "2.2") == NA


# --- 3.1 adult education -------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "in_school", "diploma", "expected"), [
    (15, "no", "none", NA),
    (16, "no", "primary", D),
    (16, "no", "lower_secondary", N),
    (17, "no", "lower_secondary", N),
    (18, "no", "lower_secondary", D),
    (18, "no", "vocational", N),
    (18, "no", "upper_secondary", N),
    (25, "no", "higher", N),
    (30, "no", "lower_secondary", D),
    (31, "no", "lower_secondary", NA),
    (20, "yes", "none", N),
    (20, "no", None, U),
    (20, None, "none", U),
])
def test_adult_education__age_school_diploma__status(age: int, in_school: str | None, diploma: str | None,
                                                     expected: str) -> None:
    data = answers([elderly_head(), member("child", age, m_in_school=in_school, m_diploma=diploma)])
    assert status(data, "3.1") == expected


# --- 3.2 school attendance of children -----------------------------------------------------------

@pytest.mark.parametrize(("age", "level", "expected"), [
    (2, None, NA),
    (3, None, D),
    (3, "preschool", N),
    (5, "preschool", N),
    (6, "preschool", D),
    (6, "primary", N),
    (10, "primary", N),
    (11, "primary", D),
    (11, "lower_secondary", N),
    (14, "lower_secondary", N),
    (15, "lower_secondary", D),
    (15, "upper_secondary", N),
    (15, "vocational", N),
    (16, None, NA),
])
def test_child_schooling__age_and_level__status(age: int, level: str | None, expected: str) -> None:
    assert status(answers([elderly_head(), child(age, level)]), "3.2") == expected


def test_child_schooling__in_school_without_level__unknown() -> None:
    data = answers([elderly_head(), child(8, "primary", m_school_level=None)])
    assert status(data, "3.2") == U


# --- 4.1 housing quality -------------------------------------------------------------------------

@pytest.mark.parametrize(("wall", "column", "roof", "expected"), [
    ("durable", "durable", "durable", N),
    ("non_durable", "durable", "durable", N),
    ("non_durable", "non_durable", "durable", D),
    ("durable", "non_durable", "non_durable", D),
    ("non_durable", "non_durable", "non_durable", D),
    ("non_durable", None, "non_durable", D),
    ("durable", None, "durable", N),
    ("non_durable", None, "durable", U),
    ("non_durable", "straw", "durable", U),
])
def test_housing_quality__materials__status(wall: str, column: str | None, roof: str, expected: str) -> None:
    data = answers(wall_material=wall, column_material=column, roof_material=roof)
    assert status(data, "4.1") == expected


# --- 4.2 living area per person ------------------------------------------------------------------

@pytest.mark.parametrize(("area", "members", "expected"), [
    ("16", 2, N),  # exactly 8.0 m² per person
    ("16.0", 2, N),
    ("15.98", 2, D),  # 7.99
    ("24", 3, N),
    ("23.99", 3, D),
    ("13", 2, D),
])
def test_living_area__area_per_person__status(area: str, members: int, expected: str) -> None:
    roster = [member("head", 44)] + [member("child", 20) for _ in range(members - 1)]
    assert status(answers(roster, living_area_m2=area), "4.2") == expected


@pytest.mark.parametrize(("area", "vi", "en"), [
    ("13", "diện tích bình quân 6,5 m²/người < 8 m²", "living area 6.5 m²/person < 8 m²"),
    ("15.98", "diện tích bình quân 7,99 m²/người < 8 m²", "living area 7.99 m²/person < 8 m²"),
    ("15.9998", "diện tích bình quân 7,99 m²/người < 8 m²", "living area 7.99 m²/person < 8 m²"),
    ("16", "diện tích bình quân 8 m²/người ≥ 8 m²", "living area 8 m²/person ≥ 8 m²"),
    ("2500", "diện tích bình quân 1.250 m²/người ≥ 8 m²", "living area 1,250 m²/person ≥ 8 m²"),
])
def test_living_area__reason__vietnamese_and_english_number_formats(area: str, vi: str, en: str) -> None:
    result = indicator(answers(living_area_m2=area), "4.2")
    assert (result.reason.vi, result.reason.en) == (vi, en)


# --- 5.1 water, 5.2 latrine ----------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    *[(s, N) for s in ("piped", "drilled_well", "protected_dug_well", "protected_spring", "rainwater", "bottled")],
    *[(s, D) for s in ("unprotected_dug_well", "unprotected_spring", "surface", "tanker", "other")],
    (None, U), ("river", U),
])
def test_water_source__source__status(source: str | None, expected: str) -> None:
    assert status(answers(water_source=source), "5.1") == expected


@pytest.mark.parametrize(("latrine", "expected"), [
    *[(t, N) for t in ("septic", "semi_septic", "pour_flush", "double_vault", "ventilated_pit")],
    *[(t, D) for t in ("pit_no_slab", "open", "none", "other")],
    (None, U),
])
def test_latrine__type__status(latrine: str | None, expected: str) -> None:
    assert status(answers(latrine=latrine), "5.2") == expected


# --- 6.1 telecommunication -----------------------------------------------------------------------

@pytest.mark.parametrize(("phone", "internet", "unless", "expected"), [
    ("yes", "yes", "all", N), ("yes", "no", "all", D), ("no", "yes", "all", D), ("no", "no", "all", D),
    ("no", None, "all", D), ("yes", None, "all", U),
    ("yes", "yes", "any", N), ("yes", "no", "any", N), ("no", "no", "any", D),
    ("no", None, "any", U), (None, "yes", "any", N),
])
def test_telecom__services_and_rule__status(phone: str | None, internet: str | None, unless: str,
                                            expected: str) -> None:
    national = load_ruleset(YEAR)
    specs = tuple(replace(s, params={**s.params, "deprived_unless": unless}) if s.id == "6.1" else s
                  for s in national.indicators)
    rules = replace(national, indicators=specs)
    assert status(answers(uses_phone=phone, uses_internet=internet), "6.1", ruleset=rules) == expected


# --- 6.2 means of access to information ----------------------------------------------------------

@pytest.mark.parametrize(("devices", "expected"), [
    ("tv", N), ("radio", N), ("computer", N), ("smartphone", N), ("loudspeaker", N), ("none", D),
    ("none tv", N), (None, U), ("", U), ("fax", U),
])
def test_information_means__devices__status(devices: str | None, expected: str) -> None:
    assert status(answers(info_devices=devices), "6.2") == expected


# --- all together --------------------------------------------------------------------------------

def test_indicators__baseline_household__twelve_none_deprived() -> None:
    result = classify(answers(), year=YEAR, urban=False)
    assert [i.id for i in result.indicators] == ["1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "4.1", "4.2",
                                                 "5.1", "5.2", "6.1", "6.2"]
    assert {i.status for i in result.indicators} <= {N, NA}
    assert all(i.reason.vi and i.reason.en for i in result.indicators)
