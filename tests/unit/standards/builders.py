"""Answers dicts for tests (forms/FIELDS.md shape): a baseline household deprived in nothing,
with overrides for whatever a test is about."""

from __future__ import annotations

from typing import Any

YEAR = 2024
UNSET = None  # pass as an override to remove an answer


def member(relation: str = "other", age: int = 40, *, year: int = YEAR, **answers: Any) -> dict[str, Any]:
    """A roster entry for an adult who is deprived in nothing; ``age`` sets the birth year."""
    entry: dict[str, Any] = {
        "m_name": "Nguyễn Văn A", "m_sex": "male", "m_birth_year": str(year - age),
        "m_relation": relation, "m_insurance": "yes", "m_in_school": "no",
        "m_diploma": "upper_secondary", "m_work": "wage_contract", "m_disability": "no",
        "m_malnourished": "no",
    }
    entry.update(answers)
    return {k: v for k, v in entry.items() if v is not None}


def child(age: int, level: str | None, *, year: int = YEAR, **answers: Any) -> dict[str, Any]:
    """A child attending ``level`` (None: not in school)."""
    school = {"m_in_school": "yes", "m_school_level": level} if level else {"m_in_school": "no"}
    return member("child", age, year=year, **{"m_work": None, "m_diploma": "none", **school, **answers})


BASE_FIELDS: dict[str, str] = {
    "province": "24", "commune": "07210", "village": "v01", "head_name": "Nguyễn Văn A",
    "wall_material": "durable", "column_material": "durable", "roof_material": "durable",
    "living_area_m2": "60", "water_source": "piped", "latrine": "septic", "uses_phone": "yes",
    "uses_internet": "yes", "info_devices": "tv smartphone",
    "b1_floor": "tiles_wood", "b1_cooking_fuel": "electricity_gas", "b1_electricity_kwh": "150",
    "b1_assets": "motorbike fridge tv washing_machine", "b1_farm_land_m2": "500",
}


def answers(members: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """The baseline household (a head and a spouse) with ``fields`` overridden (None removes)."""
    roster = members if members is not None else [member("head", 44), member("spouse", 42, m_sex="female")]
    merged = {**BASE_FIELDS, **{k: (None if v is None else str(v)) for k, v in fields.items()}}
    return {"fields": {k: v for k, v in merged.items() if v is not None}, "repeats": {"member": roster}}


def income(value: int, members: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """The baseline household with a direct income estimate."""
    return answers(members, income_per_person_month=value, **fields)


# Household-level answers that make exactly one indicator deprived each (used to count up).
DEPRIVING: dict[str, dict[str, str]] = {
    "4.1": {"wall_material": "non_durable", "roof_material": "non_durable"},
    "4.2": {"living_area_m2": "10"},
    "5.1": {"water_source": "surface"},
    "5.2": {"latrine": "open"},
    "6.1": {"uses_internet": "no"},
    "6.2": {"info_devices": "none"},
}


def deprived_in(count: int) -> dict[str, str]:
    """Field overrides deprived in the first ``count`` household-level indicators."""
    chosen: dict[str, str] = {}
    for overrides in list(DEPRIVING.values())[:count]:
        chosen.update(overrides)
    return chosen
