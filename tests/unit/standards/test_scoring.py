"""The B1 score table: the bundled sample, what each item kind scores, and refused files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.standards import DataFileError, load_score_table
from server.standards.household import read_household
from server.standards.scoring import DEFAULT_TABLE
from tests.unit.standards.builders import YEAR, answers, child, member


def both(rural: int, urban: int) -> dict[str, int]:
    return {"rural": rural, "urban": urban}


TABLE: dict[str, Any] = {
    "format": 1, "id": "b1-test", "version": "3", "sample": False, "note": "test", "region": "red_river_delta",
    "intercept": both(100, 200),
    "items": [
        {"id": "floor", "kind": "choice", "field": "b1_floor", "label": {"vi": "Nền", "en": "Floor"},
         "points": {"tiles_wood": both(5, 50), "cement": both(2, 20), "earth_other": both(0, 0)}},
        {"id": "assets", "kind": "multiple", "field": "b1_assets", "label": {"vi": "Tài sản", "en": "Assets"},
         "points": {"car": both(10, 100), "tv": both(1, 10), "none": both(0, 0)}},
        {"id": "area", "kind": "number", "field": "living_area_m2", "per_person": True,
         "label": {"vi": "Diện tích", "en": "Area"},
         "ranges": [{"from": 0, "points": both(0, 0)}, {"from": 10, "points": both(3, 30)}]},
        {"id": "land", "kind": "number", "field": "b1_farm_land_m2", "label": {"vi": "Đất", "en": "Land"},
         "ranges": [{"from": 100, "points": both(1, 1)}, {"from": 1000, "points": both(4, 4)}]},
        {"id": "degrees", "kind": "members", "age_from": 15, "age_to": 60, "field": "m_diploma",
         "values": ["upper_secondary", "higher"], "label": {"vi": "Bằng", "en": "Diplomas"},
         "ranges": [{"from": 0, "points": both(0, 0)}, {"from": 1, "points": both(7, 70)},
                    {"from": 2, "points": both(9, 90)}]},
    ],
    "cutoffs": {"vn-national-2022-2025": {"rural": {"line": 110, "average_band": 120},
                                          "urban": {"line": 300, "average_band": None}}},
}

SCORED_FIELDS = {"b1_floor": "cement", "b1_assets": "car tv", "living_area_m2": "30", "b1_farm_land_m2": "2000"}


def table_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def score(tmp_path: Path, data: dict[str, Any], urban: bool = False) -> Any:
    household = read_household(data, YEAR)
    return load_score_table(table_file(tmp_path, TABLE)).score(household, urban)


def test_load_score_table__no_path__the_loudly_labelled_sample() -> None:
    table = load_score_table()
    assert table.sample is True and "SAMPLE" in table.note and "MẪU" in table.note
    assert table.ref.to_dict() == {"id": "b1-red-river-delta-sample", "version": "0.1", "sample": True}
    assert table.region == "red_river_delta"
    assert load_score_table(DEFAULT_TABLE) == table


def test_sample_table__baseline_household_rural__hand_computed_total() -> None:
    result = load_score_table().score(read_household(answers(), YEAR), urban=False)
    # intercept 20, 2 members 12, 2 upper-secondary 6, 2 contracts 8, tiles 6, gas 5, 150 kWh 6,
    # 30 m²/person 6, motorbike+fridge+tv+washing machine 12, 500 m² land 1
    assert result.total == 82
    assert result.points["household_size"] == 12 and result.points["intercept"] == 20


@pytest.mark.parametrize(("urban", "total"), [(False, 100 + 2 + 11 + 3 + 4 + 7), (True, 200 + 20 + 110 + 30 + 4 + 70)])
def test_score__every_item_kind__column_points_summed(tmp_path: Path, urban: bool, total: int) -> None:
    roster = [member("head", 40), member("spouse", 38, m_diploma="primary"), member("parent", 70, m_diploma="higher")]
    result = score(tmp_path, answers(roster, **SCORED_FIELDS), urban=urban)
    assert result.total == total
    assert result.table.to_dict() == {"id": "b1-test", "version": "3", "sample": False}


@pytest.mark.parametrize(("area", "members", "points"), [("30", 3, 3), ("29.99", 3, 0), ("20", 2, 3), ("19", 2, 0)])
def test_score__per_person_number__divided_by_member_count(tmp_path: Path, area: str, members: int,
                                                           points: int) -> None:
    roster = [member("head", 40)] + [member("child", 20, m_diploma="none") for _ in range(members - 1)]
    result = score(tmp_path, answers(roster, **{**SCORED_FIELDS, "living_area_m2": area}))
    assert result.points["area"] == points


@pytest.mark.parametrize(("overrides", "roster", "problem"), [
    ({"b1_floor": None}, None, "b1_floor"),
    ({"b1_floor": "marble"}, None, "marble"),
    ({"b1_assets": None}, None, "b1_assets"),
    ({"b1_assets": "car jet"}, None, "jet"),
    ({"b1_farm_land_m2": "99"}, None, "99"),  # below the first range
    ({"b1_farm_land_m2": "much"}, None, "much"),
    ({}, [member("head", 40, m_diploma=None)], "m_diploma"),
])
def test_score__item_cannot_be_scored__no_total_and_the_problem_named(
        tmp_path: Path, overrides: dict[str, Any], roster: list[dict[str, Any]] | None, problem: str) -> None:
    result = score(tmp_path, answers(roster, **{**SCORED_FIELDS, **overrides}))
    assert result.total is None
    assert any(problem in p.en for p in result.problems)


def test_score__member_outside_age_filter_without_answer__not_needed(tmp_path: Path) -> None:
    roster = [member("head", 40), child(8, "primary", m_diploma=None)]
    assert score(tmp_path, answers(roster, **SCORED_FIELDS)).total is not None


def test_cutoffs_for__unknown_ruleset__none(tmp_path: Path) -> None:
    table = load_score_table(table_file(tmp_path, TABLE))
    assert table.cutoffs_for("vn-national-2027-2030", urban=False) is None
    assert table.cutoffs_for("vn-national-2022-2025", urban=True).average_band is None


def _item(n: int) -> str:
    return f"items[{n}]"


BROKEN = {  # case: (change, where the error must point)
    "wrong format": (lambda t: t.update(format=0), "format"),
    "sample flag missing": (lambda t: t.pop("sample"), "(top level)"),
    "sample flag as text": (lambda t: t.update(sample="yes"), "sample"),
    "no items": (lambda t: t.update(items=[]), "items"),
    "duplicate item ids": (lambda t: t["items"][1].update(id="floor"), "items"),
    "item named intercept": (lambda t: t["items"][0].update(id="intercept"), "items"),
    "unknown kind": (lambda t: t["items"][0].update(kind="guess"), f"{_item(0)}.kind"),
    "label missing": (lambda t: t["items"][0].pop("label"), _item(0)),
    "points missing a column": (lambda t: t["items"][0]["points"]["cement"].pop("urban"),
                                f"{_item(0)}.points.cement"),
    "points with an extra column": (lambda t: t["items"][0]["points"]["cement"].update(mountain=1),
                                    f"{_item(0)}.points.cement"),
    "fractional points": (lambda t: t["items"][0]["points"]["cement"].update(rural=1.5),
                          f"{_item(0)}.points.cement.rural"),
    "ranges not rising": (lambda t: t["items"][3]["ranges"].reverse(), f"{_item(3)}.ranges"),
    "no ranges": (lambda t: t["items"][3].update(ranges=[]), f"{_item(3)}.ranges"),
    "per_person as text": (lambda t: t["items"][2].update(per_person="yes"), f"{_item(2)}.per_person"),
    "members field without values": (lambda t: t["items"][4].pop("values"), _item(4)),
    "members negative age": (lambda t: t["items"][4].update(age_from=-1), _item(4)),
    "cutoff band at the line": (lambda t: t["cutoffs"]["vn-national-2022-2025"]["rural"].update(average_band=110),
                                "cutoffs.vn-national-2022-2025.rural.average_band"),
    "cutoff column missing": (lambda t: t["cutoffs"]["vn-national-2022-2025"].pop("urban"),
                              "cutoffs.vn-national-2022-2025"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_load_score_table__malformed__raises_data_file_error_naming_the_key(tmp_path: Path, case: str) -> None:
    change, where = BROKEN[case]
    data = copy.deepcopy(TABLE)
    change(data)
    with pytest.raises(DataFileError, match=rf": {re.escape(where)}(:|\.)"):
        load_score_table(table_file(tmp_path, data))
