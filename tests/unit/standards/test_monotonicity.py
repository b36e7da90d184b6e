"""Properties: the class is monotone (poor < near_poor < average_living < not_classified).

More income never makes a household poorer; one more deprivation never makes it richer.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.standards import class_rank, classify

pytestmark = pytest.mark.slow  # a few seconds each on a loaded 2-core machine

WORK = ["wage_contract", "wage_no_contract", "self_employed", "unemployed", "student", "retired", "homemaker",
        "unable"]
LEVELS = ["preschool", "primary", "lower_secondary", "upper_secondary", "vocational", "higher"]
DIPLOMAS = ["none", "primary", "lower_secondary", "upper_secondary", "vocational", "higher"]
RELATIONS = ["spouse", "child", "parent", "grandchild", "sibling", "other"]
WATER = ["piped", "drilled_well", "protected_dug_well", "unprotected_dug_well", "protected_spring",
         "unprotected_spring", "rainwater", "bottled", "surface", "tanker", "other"]
LATRINES = ["septic", "semi_septic", "pour_flush", "double_vault", "ventilated_pit", "pit_no_slab", "open",
            "none", "other"]
DEVICES = ["tv", "radio", "computer", "smartphone", "loudspeaker"]

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


def answer(values: list[str], missing: bool) -> st.SearchStrategy[str | None]:
    """A valid choice, or (when ``missing``) sometimes no answer at all."""
    choice = st.sampled_from(values)
    return st.one_of(choice, st.none()) if missing else choice


@st.composite
def members(draw: st.DrawFn, relation: str, year: int, missing: bool) -> dict[str, Any]:
    entry = {
        "m_relation": relation,
        "m_birth_year": str(year - draw(st.integers(0, 95))),
        "m_sex": draw(answer(["male", "female"], missing)),
        "m_insurance": draw(answer(["yes", "no"], missing)),
        "m_in_school": draw(answer(["yes", "no"], missing)),
        "m_school_level": draw(answer(LEVELS, missing)),
        "m_diploma": draw(answer(DIPLOMAS, missing)),
        "m_work": draw(answer(WORK, missing)),
        "m_malnourished": draw(answer(["stunted", "underweight", "both", "no", "unknown"] if missing
                                      else ["stunted", "underweight", "both", "no"], missing)),
    }
    return {k: v for k, v in entry.items() if v is not None}


@st.composite
def households(draw: st.DrawFn, year: int, missing: bool) -> dict[str, Any]:
    """phieu_b answers of a structurally valid household (one head, real ages, positive area)."""
    roster = [draw(members("head", year, missing))]
    roster += [draw(members(r, year, missing)) for r in draw(st.lists(st.sampled_from(RELATIONS), max_size=6))]
    devices = draw(st.lists(st.sampled_from(DEVICES), unique=True, max_size=3))
    fields = {
        "living_area_m2": str(draw(st.decimals(min_value="0.5", max_value="150", places=1))),
        "wall_material": draw(answer(["durable", "non_durable"], missing)),
        "column_material": draw(answer(["durable", "non_durable"], missing)),
        "roof_material": draw(answer(["durable", "non_durable"], missing)),
        "water_source": draw(answer(WATER, missing)),
        "latrine": draw(answer(LATRINES, missing)),
        "uses_phone": draw(answer(["yes", "no"], missing)),
        "uses_internet": draw(answer(["yes", "no"], missing)),
        "info_devices": " ".join(devices) or "none",
    }
    return {"fields": {k: v for k, v in fields.items() if v is not None}, "repeats": {"member": roster}}


@st.composite
def cases(draw: st.DrawFn, years: tuple[int, int], missing: bool) -> tuple[dict[str, Any], int, bool]:
    year = draw(st.integers(*years))
    return draw(households(year, missing)), year, draw(st.booleans())


def with_income(data: dict[str, Any], value: int) -> dict[str, Any]:
    return {**data, "fields": {**data["fields"], "income_per_person_month": str(value)}}


# Lines and band tops of the bundled sets, so that draws land on and around every boundary.
BOUNDARIES = [1_500_000, 2_000_000, 2_200_000, 2_250_000, 2_800_000, 3_000_000]
INCOMES = st.one_of(st.integers(0, 4_000_000),
                    st.sampled_from(BOUNDARIES).flatmap(lambda b: st.integers(b - 1, b + 1)),
                    st.sampled_from(BOUNDARIES).flatmap(lambda b: st.integers(b - 300_000, b + 300_000)))


@PROPERTY_SETTINGS
@given(case=cases((2022, 2030), missing=True), one=INCOMES, other=INCOMES)
def test_classify__more_income__never_a_poorer_class(case: tuple[dict[str, Any], int, bool], one: int,
                                                     other: int) -> None:
    data, year, urban = case
    before = classify(with_income(data, min(one, other)), year=year, urban=urban)
    after = classify(with_income(data, max(one, other)), year=year, urban=urban)
    if before.class_ is not None and after.class_ is not None:
        assert class_rank(after.class_) >= class_rank(before.class_)


@PROPERTY_SETTINGS
@given(case=cases((2022, 2026), missing=False), one=INCOMES, other=INCOMES)
def test_classify__more_income_complete_answers__classified_and_never_poorer(
        case: tuple[dict[str, Any], int, bool], one: int, other: int) -> None:
    data, year, urban = case
    before = classify(with_income(data, min(one, other)), year=year, urban=urban)
    after = classify(with_income(data, max(one, other)), year=year, urban=urban)
    assert before.class_ is not None and after.class_ is not None
    assert class_rank(after.class_) >= class_rank(before.class_)


# Household-level changes that make one indicator deprived whatever the other answers are.
SWITCHES: dict[str, dict[str, str]] = {
    "4.1": {"wall_material": "non_durable", "column_material": "non_durable", "roof_material": "non_durable"},
    "4.2": {"living_area_m2": "0.5"},
    "5.1": {"water_source": "surface"},
    "5.2": {"latrine": "open"},
    "6.1": {"uses_phone": "no"},
    "6.2": {"info_devices": "none"},
}


def _one_more_deprivation(case: tuple[dict[str, Any], int, bool], value: int, pick: int) -> tuple[Any, Any]:
    data, year, urban = case
    data = with_income(data, value)
    before = classify(data, year=year, urban=urban)
    open_ids = [i.id for i in before.indicators if i.id in SWITCHES and i.status == "not_deprived"]
    if not open_ids:
        return before, None
    switch = open_ids[pick % len(open_ids)]
    after = classify({**data, "fields": {**data["fields"], **SWITCHES[switch]}}, year=year, urban=urban)
    changed = {a.id for a, b in zip(before.indicators, after.indicators, strict=True) if a.status != b.status}
    assert changed == {switch}
    assert after.deprivation_count == before.deprivation_count + 1
    return before, after


@PROPERTY_SETTINGS
@given(case=cases((2022, 2030), missing=True), value=INCOMES, pick=st.integers(0, 5))
def test_classify__one_more_deprivation__never_a_richer_class(case: tuple[dict[str, Any], int, bool], value: int,
                                                              pick: int) -> None:
    before, after = _one_more_deprivation(case, value, pick)
    if after is not None and before.class_ is not None and after.class_ is not None:
        assert class_rank(after.class_) <= class_rank(before.class_)


@PROPERTY_SETTINGS
@given(case=cases((2022, 2026), missing=False), value=INCOMES, pick=st.integers(0, 5))
def test_classify__one_more_deprivation_complete_answers__classified_and_never_richer(
        case: tuple[dict[str, Any], int, bool], value: int, pick: int) -> None:
    before, after = _one_more_deprivation(case, value, pick)
    if after is not None:
        assert before.class_ is not None and after.class_ is not None
        assert class_rank(after.class_) <= class_rank(before.class_)
