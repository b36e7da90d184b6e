"""Rule sets: choice by campaign year, what the bundled data says, loading and refusing files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.standards import DataFileError, RuleSetNotFound, load_ruleset, load_ruleset_file
from server.standards.rulesets import DATA_DIR

NATIONAL_2022 = DATA_DIR / "ruleset-national-2022-2025.json"


def bundled(path: Path = NATIONAL_2022) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict[str, Any], name: str = "rules.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("year", "ruleset_id"), [
    (2022, "vn-national-2022-2025"), (2025, "vn-national-2022-2025"), (2026, "vn-national-2022-2025"),
    (2027, "vn-national-2027-2030"), (2030, "vn-national-2027-2030"),
])
def test_load_ruleset__campaign_year__picks_the_set_in_force(year: int, ruleset_id: str) -> None:
    assert load_ruleset(year).id == ruleset_id


@pytest.mark.parametrize("year", [2021, 2031])
def test_load_ruleset__year_outside_every_set__raises(year: int) -> None:
    with pytest.raises(RuleSetNotFound):
        load_ruleset(year)


@pytest.mark.parametrize(("year", "rural", "urban", "rural_top", "urban_top"), [
    (2026, 1_500_000, 2_000_000, 2_250_000, 3_000_000),
    (2027, 2_200_000, 2_800_000, None, None),
])
def test_load_ruleset__year__income_lines_and_average_band(year: int, rural: int, urban: int,
                                                           rural_top: int | None, urban_top: int | None) -> None:
    rules = load_ruleset(year)
    assert (rules.rural.line, rules.urban.line) == (rural, urban)
    assert (rules.rural.average_band_max, rules.urban.average_band_max) == (rural_top, urban_top)
    assert rules.poor_min_deprivations == 3
    assert rules.lines(urban=True) is rules.urban


@pytest.mark.parametrize("indicator_id", ["1.1", "1.2", "2.2", "3.2", "5.1", "5.2", "6.1", "6.2"])
def test_bundled_data__unverified_definition__marked_unverified_with_source(indicator_id: str) -> None:
    spec = bundled()["indicators"][indicator_id]
    assert spec["verified"] is False
    assert spec["source"]


def test_bundled_data__durable_materials__marked_unverified() -> None:
    materials = bundled()["indicators"]["4.1"]["durable_materials"]
    assert materials["verified"] is False and materials["source"]


def test_bundled_data__2027_set__provisional_indicators_and_unknown_band_said() -> None:
    data = bundled(DATA_DIR / "ruleset-national-2027-2030.json")
    assert all(spec["verified"] is False for spec in data["indicators"].values())
    assert "indicator_list_note" in data
    assert data["income"]["verified"] is False and "not found" in data["income"]["note"]
    assert set(data["indicators"]) == set(bundled()["indicators"])


def test_load_ruleset_file__local_extending_national__overrides_lines_keeps_indicators(tmp_path: Path) -> None:
    path = write(tmp_path, {"format": 1, "extends": "vn-national-2022-2025", "scope": "local",
                            "id": "bac-ninh-2024", "version": "2024.1",
                            "title": {"vi": "Chuẩn địa phương", "en": "Local standard"},
                            "income": {"rural": {"line": 2_000_000, "average_band_max": 2_700_000},
                                       "urban": {"line": 2_500_000, "average_band_max": 3_500_000}}})
    local = load_ruleset_file(path)
    national = load_ruleset(2024)
    assert (local.scope, local.id, local.version) == ("local", "bac-ninh-2024", "2024.1")
    assert local.rural.line == 2_000_000 and local.urban.average_band_max == 3_500_000
    assert local.indicators == national.indicators
    assert (local.first_year, local.last_year) == (2022, 2026)


def test_load_ruleset_file__local_overriding_one_indicator__replaces_only_it(tmp_path: Path) -> None:
    area = copy.deepcopy(bundled()["indicators"]["4.2"])
    area["params"]["min_m2_per_person"] = 10
    path = write(tmp_path, {"format": 1, "extends": "vn-national-2022-2025", "scope": "local",
                            "id": "local", "version": "1", "indicators": {"4.2": area}})
    local = load_ruleset_file(path)
    changed = {s.id: s.params for s in local.indicators}
    assert changed["4.2"]["min_m2_per_person"] == 10
    assert len(local.indicators) == 12


def test_load_ruleset_file__bundled_file__same_as_by_year() -> None:
    assert load_ruleset_file(NATIONAL_2022) == load_ruleset(2024)


def test_load_ruleset_file__extends_unknown_set__raises(tmp_path: Path) -> None:
    path = write(tmp_path, {"format": 1, "extends": "vn-national-1999", "scope": "local", "id": "x", "version": "1"})
    with pytest.raises(RuleSetNotFound):
        load_ruleset_file(path)


BROKEN = {  # case: (change to the bundled 2022 file, where the error must point)
    "wrong format": (lambda d: d.update(format=2), "format"),
    "unknown scope": (lambda d: d.update(scope="district"), "scope"),
    "years reversed": (lambda d: d.update(years={"first": 2026, "last": 2022}), "years"),
    "line as text": (lambda d: d["income"]["rural"].update(line="1500000"), "income.rural.line"),
    "line zero": (lambda d: d["income"]["rural"].update(line=0), "income.rural.line"),
    "band below line": (lambda d: d["income"]["urban"].update(average_band_max=1_000_000),
                        "income.urban.average_band_max"),
    "no indicators": (lambda d: d.update(indicators={}), "indicators"),
    "unknown method": (lambda d: d["indicators"]["1.1"].update(method="astrology"), "indicators.1.1.method"),
    "unexpected param": (lambda d: d["indicators"]["4.2"]["params"].update(min_m2=8), "indicators.4.2.params"),
    "missing param": (lambda d: d["indicators"]["4.2"]["params"].pop("min_m2_per_person"),
                      "indicators.4.2.params.min_m2_per_person"),
    "share above 1": (lambda d: d["indicators"]["1.2"]["params"].update(max_share=1.5),
                      "indicators.1.2.params.max_share"),
    "bool as int": (lambda d: d["indicators"]["2.2"]["params"].update(age_from=True),
                    "indicators.2.2.params.age_from"),
    "missing verified flag": (lambda d: d["indicators"]["5.1"].pop("verified"), "indicators.5.1"),
    "level table with a gap": (lambda d: d["indicators"]["3.2"]["params"]["levels_for_age"].pop("9"),
                               "indicators.3.2.params.levels_for_age"),
    "bad telecom rule": (lambda d: d["indicators"]["6.1"]["params"].update(deprived_unless="some"),
                         "indicators.6.1.params.deprived_unless"),
    "name without English": (lambda d: d["indicators"]["6.2"]["name"].pop("en"), "indicators.6.2.name"),
    "national with extends": (lambda d: d.update(extends="vn-national-2022-2025"), "extends"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_load_ruleset_file__malformed__raises_data_file_error_naming_the_key(tmp_path: Path, case: str) -> None:
    mutate, where = BROKEN[case]
    data = bundled()
    mutate(data)
    with pytest.raises(DataFileError, match=rf": {re.escape(where)}\b"):
        load_ruleset_file(write(tmp_path, data))


def test_load_ruleset_file__not_json__raises_data_file_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFileError):
        load_ruleset_file(path)
