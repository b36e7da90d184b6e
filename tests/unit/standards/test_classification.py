"""Classification: income against the lines, deprivation counts, years, urban/rural, local sets,
unclassifiable answers, and the stored result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.standards import (
    Classification,
    classify,
    load_ruleset,
    load_ruleset_file,
    load_score_table,
)
from tests.unit.standards.builders import YEAR, answers, child, deprived_in, income, member

LOCAL = {"format": 1, "extends": "vn-national-2022-2025", "scope": "local", "id": "bac-ninh-local-2024",
         "version": "1", "title": {"vi": "Chuẩn nghèo Bắc Ninh", "en": "Bắc Ninh poverty standard"},
         "income": {"rural": {"line": 2_000_000, "average_band_max": 2_700_000},
                    "urban": {"line": 2_600_000, "average_band_max": 3_600_000}}}


@pytest.fixture
def local_rules(tmp_path: Path) -> Any:
    path = tmp_path / "local.json"
    path.write_text(json.dumps(LOCAL), encoding="utf-8")
    return load_ruleset_file(path)


# --- income and deprivations ----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "deprivations", "urban", "expected"), [
    (1_500_000, 3, False, "poor"),  # exactly at the rural line
    (1_500_000, 2, False, "near_poor"),
    (0, 6, False, "poor"),
    (0, 0, False, "near_poor"),
    (1_500_001, 6, False, "average_living"),  # deprivations do not matter above the line
    (2_250_000, 0, False, "average_living"),
    (2_250_001, 6, False, "not_classified"),
    (2_000_000, 3, True, "poor"),  # exactly at the urban line
    (2_000_000, 2, True, "near_poor"),
    (2_000_001, 3, True, "average_living"),
    (3_000_000, 3, True, "average_living"),
    (3_000_001, 0, True, "not_classified"),
    (2_000_000, 3, False, "average_living"),  # the same household in a rural commune
])
def test_classify__direct_income_and_deprivations__class(value: int, deprivations: int, urban: bool,
                                                         expected: str) -> None:
    result = classify(income(value, **deprived_in(deprivations)), year=YEAR, urban=urban)
    assert result.deprivation_count == deprivations
    assert (result.status, result.class_) == ("classified", expected)
    assert result.national.income is not None and result.national.income.method == "direct_estimate"


@pytest.mark.parametrize(("year", "value", "expected"), [
    (2026, 1_500_000, "near_poor"),
    (2026, 2_000_000, "average_living"),
    (2027, 2_000_000, "near_poor"),
    (2027, 2_200_000, "near_poor"),
])
def test_classify__campaign_year__uses_the_lines_of_the_set_in_force(year: int, value: int, expected: str) -> None:
    result = classify(income(value), year=year, urban=False)
    assert result.class_ == expected
    assert result.national.ruleset.id == ("vn-national-2022-2025" if year <= 2026 else "vn-national-2027-2030")


@pytest.mark.parametrize(("urban", "value"), [(False, 2_200_001), (True, 2_800_001), (False, 9_000_000)])
def test_classify__2027_above_the_line__says_average_living_cannot_be_determined(urban: bool, value: int) -> None:
    result = classify(income(value, **deprived_in(4)), year=2027, urban=urban)
    assert (result.status, result.class_) == ("unclassifiable", None)
    assert [r.code for r in result.national.reasons] == ["average_band_unknown"]
    assert "mức sống trung bình" in result.national.reasons[0].text.vi
    assert result.national.income is not None and result.national.income.band == "above_line"


def test_classify__2027_at_the_urban_line__near_poor() -> None:
    assert classify(income(2_800_000), year=2027, urban=True).class_ == "near_poor"


# --- unknown indicators ---------------------------------------------------------------------------

def _with_unknown(deprivations: int) -> dict[str, Any]:
    return {**deprived_in(deprivations), "water_source": None} if deprivations < 3 else \
        {**deprived_in(deprivations), "info_devices": None}


@pytest.mark.parametrize(("value", "deprivations", "expected_class", "code"), [
    (1_000_000, 1, "near_poor", "near_poor"),  # 1 + 1 unknown < 3 either way
    (1_000_000, 2, None, "indicators_unknown"),  # 2 or 3: poor or near-poor undecided
    (1_000_000, 3, "poor", "poor"),  # 3 known already
    (1_600_000, 2, "average_living", "average_living"),  # deprivations do not matter
])
def test_classify__one_indicator_unknown__class_only_when_it_cannot_change(
        value: int, deprivations: int, expected_class: str | None, code: str) -> None:
    result = classify(income(value, **_with_unknown(deprivations)), year=YEAR, urban=False)
    assert result.national.unknown_count == 1
    assert result.class_ == expected_class
    assert [r.code for r in result.national.reasons] == [code]


# --- where the income comes from ------------------------------------------------------------------

def _b1_table(tmp_path: Path, line: int = 10, average_band: int | None = 20) -> Any:
    """A table whose score is the electricity answer itself (for exact cut-off tests)."""
    points = [{"from": v, "points": {"rural": v, "urban": v}} for v in (0, 9, 10, 11, 19, 20, 21)]
    table = {"format": 1, "id": "b1-test", "version": "7", "sample": False, "note": "test table",
             "region": "red_river_delta", "intercept": {"rural": 0, "urban": 0},
             "items": [{"id": "kwh", "kind": "number", "field": "b1_electricity_kwh",
                        "label": {"vi": "Điện", "en": "Power"}, "ranges": points}],
             "cutoffs": {"vn-national-2022-2025": {"rural": {"line": line, "average_band": average_band},
                                                   "urban": {"line": line, "average_band": average_band}}}}
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    return load_score_table(path)


@pytest.mark.parametrize(("kwh", "deprivations", "expected"), [
    (9, 3, "poor"), (10, 3, "poor"), (10, 2, "near_poor"), (11, 3, "average_living"),
    (20, 0, "average_living"), (21, 3, "not_classified"),
])
def test_classify__b1_score_against_cutoffs__class(tmp_path: Path, kwh: int, deprivations: int,
                                                   expected: str) -> None:
    table = _b1_table(tmp_path)
    result = classify(answers(b1_electricity_kwh=kwh, **deprived_in(deprivations)), year=YEAR, urban=False,
                      score_table=table)
    assert result.class_ == expected
    income_used = result.national.income
    assert income_used is not None
    assert (income_used.method, income_used.score) == ("b1_score", kwh)
    assert income_used.table is not None and income_used.table.to_dict() == {"id": "b1-test", "version": "7",
                                                                              "sample": False}


def test_classify__direct_estimate_and_b1_both_present__direct_estimate_wins(tmp_path: Path) -> None:
    table = _b1_table(tmp_path)
    result = classify(income(3_500_000, b1_electricity_kwh=9, **deprived_in(3)), year=YEAR, urban=False,
                      score_table=table)
    assert result.class_ == "not_classified"
    assert result.national.income is not None and result.national.income.method == "direct_estimate"
    assert result.b1 is not None and result.b1.total == 9  # still computed, for Phiếu C


def test_classify__default_table__names_the_sample_table() -> None:
    result = classify(answers(), year=YEAR, urban=False)
    used = result.national.income
    assert used is not None and used.table is not None
    assert used.table.to_dict() == {"id": "b1-red-river-delta-sample", "version": "0.1", "sample": True}
    assert result.to_dict()["national"]["income"]["table"]["sample"] is True


@pytest.mark.parametrize(("overrides", "code"), [
    ({"b1_floor": None}, "income_unavailable"),
    ({"b1_assets": "spaceship"}, "income_unavailable"),
    ({"b1_electricity_kwh": "a lot"}, "income_unavailable"),
    ({"income_per_person_month": "about two million"}, "income_invalid"),
    ({"income_per_person_month": "-5"}, "income_invalid"),
    ({"income_per_person_month": "1500000.5"}, "income_invalid"),
])
def test_classify__income_cannot_be_placed__unclassifiable(overrides: dict[str, Any], code: str) -> None:
    result = classify(answers(**overrides), year=YEAR, urban=False)
    assert (result.status, result.class_) == ("unclassifiable", None)
    assert [r.code for r in result.national.reasons] == [code]
    assert len(result.indicators) == 12  # the indicators are still reported


def test_classify__sample_table_in_2027_without_direct_income__no_cutoffs() -> None:
    result = classify(answers(), year=2027, urban=False)
    assert [r.code for r in result.national.reasons] == ["no_cutoffs"]


def test_classify__b1_missing_but_direct_given__classified_and_b1_problem_kept() -> None:
    result = classify(income(1_000_000, b1_floor=None), year=YEAR, urban=False)
    assert result.class_ == "near_poor"
    assert result.b1 is not None and result.b1.total is None and result.b1.problems


# --- local rule set -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "national", "local"), [
    (1_400_000, "near_poor", "near_poor"),
    (1_800_000, "average_living", "near_poor"),
    (2_500_000, "not_classified", "average_living"),
    (2_800_000, "not_classified", "not_classified"),
])
def test_classify__local_set__both_classes_reported(local_rules: Any, value: int, national: str, local: str) -> None:
    result = classify(income(value), year=YEAR, urban=False, local=local_rules)
    assert (result.class_, result.local_class) == (national, local)
    data = result.to_dict()
    assert (data["class"], data["local_class"]) == (national, local)
    assert data["local"]["ruleset"] == {"id": "bac-ninh-local-2024", "version": "1", "scope": "local"}


def test_classify__no_local_set__local_class_absent() -> None:
    result = classify(income(1_000_000), year=YEAR, urban=False)
    assert result.local is None and result.to_dict()["local_class"] is None


def test_classify__national_set_given_as_local__raises() -> None:
    with pytest.raises(ValueError, match="expected local"):
        classify(answers(), year=YEAR, urban=False, local=load_ruleset(YEAR))


def test_classify__rule_set_not_in_force_that_year__raises() -> None:
    with pytest.raises(ValueError, match="not 2027"):
        classify(answers(), year=2027, urban=False, ruleset=load_ruleset(2026))


# --- unclassifiable answers -----------------------------------------------------------------------

def _roster(*entries: dict[str, Any]) -> list[dict[str, Any]]:
    return list(entries)


UNCLASSIFIABLE = {
    "no roster": ({"fields": {"living_area_m2": "30"}}, ["no_roster"]),
    "no repeats at all": ({"fields": {"living_area_m2": "30"}, "repeats": {}}, ["no_roster"]),
    "member count 0": (answers([]), ["no_members"]),
    "no head": (answers(_roster(member("spouse", 40), child(8, "primary"))), ["no_head"]),
    "two heads": (answers(_roster(member("head", 40), member("head", 38))), ["several_heads"]),
    "birth year in the future": (answers(_roster(member("head", 40), member("child", -1))),
                                 ["birth_year_in_future"]),
    "birth year missing": (answers(_roster(member("head", 40), member("child", 3, m_birth_year=None))),
                           ["birth_year_missing"]),
    "birth year not a number": (answers(_roster(member("head", 40, m_birth_year="198O"))),
                                ["birth_year_invalid"]),
    "age over 120": (answers(_roster(member("head", 121))), ["age_impossible"]),
    "living area missing": (answers(living_area_m2=None), ["living_area_missing"]),
    "living area zero": (answers(living_area_m2="0"), ["living_area_not_positive"]),
    "living area negative": (answers(living_area_m2="-12"), ["living_area_not_positive"]),
    "living area not a number": (answers(living_area_m2="NaN"), ["living_area_invalid"]),
    "several problems": (answers(_roster(member("spouse", 40), member("child", -2)), living_area_m2=None),
                         ["birth_year_in_future", "no_head", "living_area_missing"]),
}


@pytest.mark.parametrize("case", sorted(UNCLASSIFIABLE))
def test_classify__impossible_answers__unclassifiable_with_every_reason(case: str) -> None:
    data, codes = UNCLASSIFIABLE[case]
    result = classify(data, year=YEAR, urban=False)
    assert (result.status, result.class_) == ("unclassifiable", None)
    assert [r.code for r in result.national.reasons] == codes
    assert all(r.text.vi and r.text.en for r in result.national.reasons)
    assert result.indicators == () and result.b1 is None


def test_classify__impossible_answers_with_local_set__both_verdicts_refused(local_rules: Any) -> None:
    result = classify(answers([]), year=YEAR, urban=False, local=local_rules)
    assert result.local is not None and result.local.status == "unclassifiable"


def test_classify__age_exactly_120__accepted() -> None:
    assert classify(income(1_000_000, [member("head", 120)], living_area_m2="20"), year=YEAR,
                    urban=False).status == "classified"


# --- the stored result ----------------------------------------------------------------------------

ROUND_TRIP = {
    "classified by b1": lambda rules: classify(answers(), year=YEAR, urban=True),
    "classified with local": lambda rules: classify(income(1_800_000, **deprived_in(4)), year=YEAR, urban=False,
                                                    local=rules),
    "unknown indicator": lambda rules: classify(income(1_000_000, **_with_unknown(2)), year=YEAR, urban=False),
    "2027 band unknown": lambda rules: classify(income(3_000_000), year=2027, urban=False),
    "unclassifiable": lambda rules: classify(answers([]), year=YEAR, urban=False, local=rules),
    "b1 incomplete": lambda rules: classify(income(1, b1_floor=None, **{"info_devices": None}), year=YEAR,
                                            urban=False),
    "children": lambda rules: classify(income(900_000, [member("head", 30), child(4, None), child(12, "primary")],
                                              living_area_m2="17.5"), year=YEAR, urban=False),
}


@pytest.mark.parametrize("case", sorted(ROUND_TRIP))
def test_to_dict__any_result__json_round_trips_to_an_equal_classification(local_rules: Any, case: str) -> None:
    result = ROUND_TRIP[case](local_rules)
    stored = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert Classification.from_dict(stored) == result
    assert Classification.from_dict(stored).to_dict() == stored


def test_to_dict__classified__has_the_documented_keys() -> None:
    data = classify(income(1_200_000, **deprived_in(3)), year=YEAR, urban=False).to_dict()
    assert {"format", "year", "urban", "status", "class", "local_class", "deprivation_count", "national",
            "local", "b1"} == set(data)
    national = data["national"]
    assert national["ruleset"] == {"id": "vn-national-2022-2025", "version": "1", "scope": "national"}
    assert (data["class"], data["deprivation_count"], national["deprivation_count"]) == ("poor", 3, 3)
    assert national["income"]["method"] == "direct_estimate" and national["income"]["value_vnd"] == 1_200_000
    assert national["income"]["line_vnd"] == 1_500_000
    first = national["indicators"][0]
    assert set(first) == {"id", "name", "status", "reason"} and set(first["reason"]) == {"vi", "en"}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(format=9), "format"),
    (lambda d: d["national"].update(status="maybe"), "status"),
    (lambda d: d["national"].update({"class": "rich"}), "class"),
    (lambda d: d["national"]["indicators"][0].update(status="half"), "indicator status"),
])
def test_from_dict__unknown_values__raises(change: Any, message: str) -> None:
    data = classify(income(1_200_000), year=YEAR, urban=False).to_dict()
    change(data)
    with pytest.raises(ValueError, match=message):
        Classification.from_dict(data)
