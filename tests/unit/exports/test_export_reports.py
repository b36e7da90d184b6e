"""Summary reports: every measure against a hand-computed fixture, templates as data, the workbook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.exports.reports import (
    TEMPLATE_DIR,
    ReportRow,
    ReportTable,
    TemplateError,
    bundled_templates,
    compute_report,
    format_value,
    header_cells,
    load_template,
    parse_measure,
    report_row,
    template_from_data,
    write_report_xlsx,
)
from server.standards.classify import CLASSES

A, B = "24001", "24002"
NAMES = {A: "Xã An Bình", B: "Phường Bình Minh"}


def row(unit: str, urban: bool, start: str | None, end: str | None, deprived: str = "",
        fell_back: bool = False) -> ReportRow:
    return ReportRow(unit, NAMES[unit], urban, start, end, fell_back,
                     frozenset(deprived.split()) if deprived else frozenset())


# Twelve households, two communes, each with urban and rural households. The expected figures in
# EXPECTED were worked out by hand from this table (see the comments), not by the code under test.
HOUSEHOLDS = [
    row(A, False, "poor", "poor", "1.1 2.2 4.1"),             # 1  stays poor
    row(A, False, "poor", "near_poor", "2.2"),                # 2  escapes poverty, new near-poor
    row(A, False, "near_poor", "poor", "1.1 3.1 5.2"),        # 3  new poor; leaves near-poor (other exit)
    row(A, True, "not_classified", "poor", "1.1 2.2 6.1", fell_back=True),  # 4  falls back into poverty
    row(A, True, "near_poor", "not_classified"),              # 5  escapes near-poverty
    row(A, True, None, "near_poor", "4.2"),                   # 6  split off this year: new near-poor
    row(B, True, "poor", None, "1.1"),                        # 7  moved away: other exit; indicators ignored
    row(B, True, "average_living", "average_living"),         # 8
    row(B, True, "not_classified", "not_classified", "2.2"),  # 9  deprived but not poor
    row(B, False, "near_poor", "near_poor", "2.2 5.1"),       # 10 stays near-poor
    row(B, False, "poor", "average_living"),                  # 11 escapes poverty
    row(B, False, "not_classified", "near_poor", "1.2", fell_back=True),  # 12 falls back into near-poverty
]

D = Decimal
# measure: (commune A, commune B, total, urban, rural)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "households_total_start": (5, 6, 11, 5, 6),             # all but 6; urban 4,5,7,8,9
    "households_total": (6, 5, 11, 5, 6),                   # all but 7; urban 4,5,6,8,9
    "poor_count_start": (2, 2, 4, 1, 3),                    # 1,2 | 7,11
    "poor_rate_start": (D("40.00"), D("33.33"), D("36.36"), D("20.00"), D("50.00")),
    "poor_count": (3, 0, 3, 1, 2),                          # 1,3,4
    "poor_rate": (D("50.00"), D("0.00"), D("27.27"), D("20.00"), D("33.33")),
    "near_poor_count_start": (2, 1, 3, 1, 2),               # 3,5 | 10
    "near_poor_rate_start": (D("40.00"), D("16.67"), D("27.27"), D("20.00"), D("33.33")),
    "near_poor_count": (2, 2, 4, 1, 3),                     # 2,6 | 10,12
    "near_poor_rate": (D("33.33"), D("40.00"), D("36.36"), D("20.00"), D("50.00")),
    "average_living_count_start": (0, 1, 1, 1, 0),          # 8
    "average_living_count": (0, 2, 2, 1, 1),                # 8, 11
    "average_living_rate": (D("0.00"), D("40.00"), D("18.18"), D("20.00"), D("16.67")),
    "average_living_rate_start": (D("0.00"), D("16.67"), D("9.09"), D("20.00"), D("0.00")),
    "poor_new": (1, 0, 1, 0, 1),                            # 3
    "poor_fell_back": (1, 0, 1, 1, 0),                      # 4
    "poor_escaped": (1, 1, 2, 0, 2),                        # 2, 11
    "poor_exited_other": (0, 1, 1, 1, 0),                   # 7
    "near_poor_new": (2, 0, 2, 1, 1),                       # 2 (rural), 6 (urban)
    "near_poor_fell_back": (0, 1, 1, 0, 1),                 # 12
    "near_poor_escaped": (1, 0, 1, 1, 0),                   # 5
    "near_poor_exited_other": (1, 0, 1, 0, 1),              # 3 (became poor)
    "deprived_1_1": (3, 0, 3, 1, 2),                        # 1,3,4; 7 has left
    "deprived_2_2": (3, 2, 5, 2, 3),                        # 1,2,4 | 9,10
    "deprived_2_2_rate": (D("50.00"), D("40.00"), D("45.45"), D("40.00"), D("50.00")),
    "deprived_4_2": (1, 0, 1, 1, 0),                        # 6
    "poor_deprived_1_1": (3, 0, 3, 1, 2),
    "poor_deprived_1_1_rate": (D("100.00"), None, D("100.00"), D("100.00"), D("100.00")),
    "poor_deprived_2_2": (2, 0, 2, 1, 1),                   # 1, 4
    "poor_deprived_2_2_rate": (D("66.67"), None, D("66.67"), D("100.00"), D("50.00")),
    "poor_deprived_5_1": (0, 0, 0, 0, 0),
    "poor_deprived_6_1": (1, 0, 1, 1, 0),                   # 4
    "near_poor_deprived_2_2": (1, 1, 2, 0, 2),              # 2 | 10
    "near_poor_deprived_2_2_rate": (D("50.00"), D("50.00"), D("50.00"), D("0.00"), D("66.67")),
    "near_poor_deprived_1_2": (0, 1, 1, 0, 1),              # 12
    "average_living_deprived_2_2": (0, 0, 0, 0, 0),
}


def text(vi: str, en: str | None = None) -> dict[str, str]:
    return {"vi": vi, "en": en or vi}


def template_data(measures: list[str], area: str | None = None, **sheet: Any) -> dict[str, Any]:
    columns = [{"label": text(m), "measure": m, **({"area": area} if area else {})} for m in measures]
    return {"format": 1, "id": "test", "version": "1", "modelled": False, "sheets": [{
        "name": text("Bảng", "Table"), "title": [text("BÁO CÁO NĂM {year}", "REPORT {year}")],
        "unit_label": text("Đơn vị", "Unit"), "columns": columns,
        "summary_rows": [{"label": text("Tổng cộng", "Total"), "area": None},
                         {"label": text("Thành thị", "Urban"), "area": "urban"},
                         {"label": text("Nông thôn", "Rural"), "area": "rural"}],
        **sheet}]}


def measures_report(measures: list[str], rows: Any = HOUSEHOLDS, **kwargs: Any) -> ReportTable:
    return compute_report(template_from_data(template_data(measures)), rows, context={"year": 2025}, **kwargs)


# --- every measure against the hand-computed figures ---------------------------------------------------

@pytest.mark.parametrize("measure", sorted(EXPECTED))
def test_measure__twelve_households__matches_the_hand_computed_figures(measure: str) -> None:
    sheet = measures_report([measure]).sheets[0]
    got = tuple(line.values[0] for line in (sheet.unit(A), sheet.unit(B), sheet.summary(None),
                                             sheet.summary("urban"), sheet.summary("rural")))
    assert got == EXPECTED[measure]


@pytest.mark.parametrize(("measure", "area", "expected"), [
    ("poor_count", "urban", (1, 0)), ("poor_count", "rural", (2, 0)),
    ("households_total", "urban", (3, 2)), ("poor_rate", "rural", (D("66.67"), D("0.00"))),
    ("near_poor_rate", "urban", (D("33.33"), D("0.00"))),
])
def test_column_limited_to_an_area__unit_rows__count_only_that_area(measure: str, area: str,
                                                                    expected: tuple[Any, ...]) -> None:
    sheet = compute_report(template_from_data(template_data([measure], area)), HOUSEHOLDS,
                           context={"year": 2025}).sheets[0]
    assert (sheet.unit(A).values[0], sheet.unit(B).values[0]) == expected


def test_column_limited_to_urban__rural_summary_row__is_zero() -> None:
    sheet = compute_report(template_from_data(template_data(["poor_count"], "urban")), HOUSEHOLDS,
                           context={"year": 2025}).sheets[0]
    assert (sheet.summary(None).values[0], sheet.summary("urban").values[0], sheet.summary("rural").values[0]) == (
        1, 1, 0)


def test_rate__third_decimal_five__rounds_half_up() -> None:
    rows = [row(A, False, "poor", "poor")] + [row(A, False, "not_classified", "not_classified")] * 31
    assert measures_report(["poor_rate"], rows).sheets[0].unit(A).values[0] == D("3.13")  # 1/32 = 3.125 %


def test_rate__total_row__is_computed_from_counts_not_averaged() -> None:
    rows = [row(A, False, "poor", "poor"), row(B, False, "poor", "poor")] + [row(B, False, None, "not_classified")] * 3
    sheet = measures_report(["poor_rate"], rows).sheets[0]
    assert (sheet.unit(A).values[0], sheet.unit(B).values[0], sheet.summary().values[0]) == (
        D("100.00"), D("25.00"), D("40.00"))  # the mean of the rates would be 62.50


def test_rate__no_households__is_empty_not_zero() -> None:
    sheet = measures_report(["poor_rate", "poor_count"], [], units=[(A, NAMES[A])]).sheets[0]
    assert sheet.unit(A).values == (None, 0)


# --- rows, units, streaming ----------------------------------------------------------------------------

def test_report__units_given__keep_their_order_and_appear_without_households() -> None:
    sheet = measures_report(["households_total"], units=[(B, NAMES[B]), ("24003", "Xã Trống")]).sheets[0]
    units = [(line.number, line.code, line.label.vi, line.values[0]) for line in sheet.lines if line.kind == "unit"]
    assert units == [(1, B, "Phường Bình Minh", 5), (2, "24003", "Xã Trống", 0), (3, A, "Xã An Bình", 6)]


def test_report__summary_position__puts_totals_first_or_last() -> None:
    top = measures_report(["poor_count"]).sheets[0]
    bottom = compute_report(template_from_data(template_data(["poor_count"], summary_position="bottom")),
                            HOUSEHOLDS, context={"year": 2025}).sheets[0]
    assert [line.kind for line in top.lines] == ["summary"] * 3 + ["unit"] * 2
    assert [line.kind for line in bottom.lines] == ["unit"] * 2 + ["summary"] * 3


def test_report__rows_from_a_one_shot_generator__are_read_once() -> None:
    pulled = 0

    def once() -> Iterator[ReportRow]:
        nonlocal pulled
        for household in HOUSEHOLDS:
            pulled += 1
            yield household

    sheet = measures_report(["poor_count"], once()).sheets[0]
    assert (pulled, sheet.summary().values[0]) == (12, 3)


def test_report__title_placeholders__are_filled_from_the_context() -> None:
    assert measures_report(["poor_count"]).sheets[0].title[0].vi == "BÁO CÁO NĂM 2025"


def test_report__title_placeholder_missing_from_context__raises() -> None:
    with pytest.raises(TemplateError, match="year"):
        compute_report(template_from_data(template_data(["poor_count"])), HOUSEHOLDS)


_classes = st.sampled_from((None, *CLASSES))
_rows = st.builds(ReportRow, unit_code=st.sampled_from([A, B, "24003"]), unit_name=st.just("X"),
                  urban=st.booleans(), start_class=_classes, end_class=_classes, fell_back=st.booleans(),
                  deprived=st.frozensets(st.sampled_from(["1.1", "2.2", "6.2"])))
_BALANCE = ["poor_count", "poor_count_start", "poor_new", "poor_fell_back", "poor_escaped", "poor_exited_other",
            "near_poor_count", "near_poor_count_start", "near_poor_new", "near_poor_fell_back", "near_poor_escaped",
            "near_poor_exited_other", "households_total", "deprived_2_2"]


@given(st.lists(_rows, max_size=40))
@settings(max_examples=150, deadline=None)
def test_report__any_households__balance_and_add_up(rows: list[ReportRow]) -> None:
    sheet = measures_report(_BALANCE, rows).sheets[0]
    for line in sheet.lines:
        v = dict(zip(_BALANCE, line.values, strict=True))
        for k in ("poor", "near_poor"):
            assert v[f"{k}_count"] == (v[f"{k}_count_start"] + v[f"{k}_new"] + v[f"{k}_fell_back"]
                                       - v[f"{k}_escaped"] - v[f"{k}_exited_other"])
    units = [line.values for line in sheet.lines if line.kind == "unit"]
    total, urban, rural = (sheet.summary(area).values for area in (None, "urban", "rural"))
    assert list(total) == [sum(values[i] for values in units) for i in range(len(_BALANCE))] == [
        u + r for u, r in zip(urban, rural, strict=True)]


# --- report rows from the export's household dicts ---------------------------------------------------------

def test_report_row__household_dict__takes_unit_area_history_and_deprivations() -> None:
    household = {"record_id": "BN1", "commune_code": A, "commune_name": NAMES[A], "village_code": "2400101",
                 "village_name": "Thôn Đông", "urban": False, "start_class": "not_classified", "end_class": "poor",
                 "change_type": "fell_back",
                 "indicators": {"1.1": "deprived", "2.2": "not_deprived", "4.1": "deprived"}}
    assert report_row(household) == ReportRow(A, NAMES[A], False, "not_classified", "poor", True,
                                              frozenset({"1.1", "4.1"}))
    assert report_row(household, "village").unit_code == "2400101"


def test_report_row__household_without_area__raises() -> None:
    with pytest.raises(ValueError, match="urban"):
        report_row({"record_id": "BN1", "commune_code": A, "urban": None})


@pytest.mark.parametrize("kwargs", [{"start_class": "rich"}, {"end_class": "unclassifiable"},
                                    {"deprived": frozenset({"9.9"})}])
def test_report_row__unknown_class_or_indicator__raises(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReportRow(**{"unit_code": A, "unit_name": "X", "urban": False, "start_class": None, "end_class": None,
                     **kwargs})


# --- measures and templates -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["poor", "poor_count_end", "rich_count", "average_living_new", "deprived_7_1",
                                  "poor_deprived_1_3", "households", "near_poor_rate_start_rate"])
def test_parse_measure__unknown_name__raises(name: str) -> None:
    with pytest.raises(ValueError):
        parse_measure(name)


@pytest.mark.parametrize(("change", "where"), [
    (lambda t: t["sheets"][0]["columns"][0].update(measure="poverty"), "measure"),
    (lambda t: t["sheets"][0]["columns"][0].update(area="suburban"), "area"),
    (lambda t: t["sheets"][0]["columns"].append({"label": text("G"), "columns": []}), "columns[1].columns"),
    (lambda t: t["sheets"][0].update(name=text("Bảng [1]")), "name"),
    (lambda t: t["sheets"][0].update(name=text("x" * 32)), "name"),
    (lambda t: t["sheets"][0]["title"].append({"vi": "Chỉ tiếng Việt"}), "title[1]"),
    (lambda t: t.update(modelled=True), "notice"),
    (lambda t: t.update(format=2), "format"),
    (lambda t: t.update(sheets=[]), "sheets"),
    (lambda t: t["sheets"][0].update(summary_position="middle"), "summary_position"),
    (lambda t: t["sheets"][0]["columns"][0].update(columns=[]), "not both"),
])
def test_template__invalid__raises_naming_the_place(change: Any, where: str) -> None:
    data = template_data(["poor_count"])
    change(data)
    with pytest.raises(TemplateError, match=where.replace("[", r"\[").replace("]", r"\]")):
        template_from_data(data, "t.json")


def test_template__unreadable_file__raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TemplateError, match="bad.json"):
        load_template(path)


def test_bundled_templates__load__and_say_they_are_modelled_not_official() -> None:
    templates = bundled_templates()
    assert set(templates) == {"annex7-7.1-modelled", "annex7-by-indicator-modelled"}
    assert len(list(TEMPLATE_DIR.glob("*.json"))) == 2
    for template in templates.values():
        assert template.modelled
        assert "MÔ PHỎNG" in template.notice.vi and "NOT the official layout" in template.notice.en


def test_bundled_7_1_template__columns__are_start_changes_end_for_poor_then_near_poor() -> None:
    sheet = bundled_templates()["annex7-7.1-modelled"].sheets[0]
    assert [c.measure.name for c in sheet.columns] == [
        "households_total_start", "households_total",
        "poor_count_start", "poor_rate_start", "poor_escaped", "poor_exited_other", "poor_fell_back", "poor_new",
        "poor_count", "poor_rate",
        "near_poor_count_start", "near_poor_rate_start", "near_poor_escaped", "near_poor_exited_other",
        "near_poor_fell_back", "near_poor_new", "near_poor_count", "near_poor_rate"]
    by_area = bundled_templates()["annex7-7.1-modelled"].sheets[1]
    assert {c.area for c in by_area.columns} == {"urban", "rural"}


def test_bundled_indicator_template__covers_all_twelve_indicators_for_both_classes() -> None:
    for sheet, cls in zip(bundled_templates()["annex7-by-indicator-modelled"].sheets, ("poor", "near_poor"),
                          strict=True):
        names = [c.measure.name for c in sheet.columns]
        assert names[0] == f"{cls}_count"
        assert len(names) == 25 and all(n.startswith(f"{cls}_") for n in names)


def test_bundled_7_1_template__fixture__gives_the_hand_computed_totals() -> None:
    table = compute_report(bundled_templates()["annex7-7.1-modelled"], HOUSEHOLDS,
                           context={"year": 2025, "scope": "Tỉnh Bắc Ninh"})
    first = table.sheets[0]
    names = [c.measure.name for c in first.template.columns]
    total = dict(zip(names, first.summary().values, strict=True))
    assert {n: total[n] for n in ("poor_count_start", "poor_escaped", "poor_new", "poor_count", "poor_rate")} == {
        "poor_count_start": 4, "poor_escaped": 2, "poor_new": 1, "poor_count": 3, "poor_rate": D("27.27")}


# --- layout, screen and workbook --------------------------------------------------------------------------

def test_header_cells__nested_groups__span_their_columns_and_leaves_reach_the_bottom() -> None:
    sheet = bundled_templates()["annex7-7.1-modelled"].sheets[0]
    cells = {(c.label.en, c.col): (c.row, c.rowspan, c.colspan) for c in header_cells(sheet.header)}
    assert cells[("Total households", 0)] == (0, 1, 2)
    assert cells[("Start of year", 0)] == (1, 2, 1)  # a leaf on the second of three rows
    assert cells[("Poor households", 2)] == (0, 1, 8)
    assert cells[("Changes during the year", 4)] == (1, 1, 4)
    assert cells[("Households", 2)] == (2, 1, 1)


@pytest.mark.parametrize(("value", "lang", "expected"), [
    (1234567, "vi", "1.234.567"), (1234567, "en", "1,234,567"), (D("1234.5"), "vi", "1.234,50"),
    (D("36.36"), "en", "36.36"), (None, "vi", ""), (0, "vi", "0")])
def test_format_value__count_or_rate__uses_the_language_separators(value: Any, lang: str, expected: str) -> None:
    assert format_value(value, lang) == expected


def test_report_to_dict__for_screen__is_json_with_labels_in_the_language() -> None:
    table = compute_report(bundled_templates()["annex7-7.1-modelled"], HOUSEHOLDS,
                           context={"year": 2025, "scope": "Tỉnh Bắc Ninh"})
    vi, en = table.to_dict("vi"), table.to_dict("en")
    json.dumps(vi)
    assert vi["modelled"] and "MÔ PHỎNG" in vi["notice"]
    assert vi["sheets"][0]["header"][0]["label"] == "Tổng số hộ dân cư"
    assert en["sheets"][0]["header"][0]["label"] == "Total households"
    total = vi["sheets"][0]["lines"][0]
    assert (total["label"], total["values"][9], total["display"][9]) == ("Tổng cộng", 27.27, "27,27")


def test_write_report_xlsx__bundled_template__is_readable_with_vietnamese_headers_and_values(tmp_path: Path) -> None:
    table = compute_report(bundled_templates()["annex7-7.1-modelled"], HOUSEHOLDS,
                           context={"year": 2025, "scope": "Tỉnh Bắc Ninh"})
    path = tmp_path / "report.xlsx"
    write_report_xlsx(table, path)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Nghèo, cận nghèo", "Theo khu vực"]
    ws = workbook["Nghèo, cận nghèo"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "TỔNG HỢP KẾT QUẢ RÀ SOÁT HỘ NGHÈO, HỘ CẬN NGHÈO NĂM 2025"
    assert rows[1][0] == "Tỉnh Bắc Ninh"
    assert "MÔ PHỎNG" in rows[2][0]
    assert rows[4][:5] == ("STT", "Đơn vị", "Tổng số hộ dân cư", None, "Hộ nghèo")
    assert rows[6][4:6] == ("Số hộ", "Tỷ lệ (%)")
    assert rows[7][:4] == ("A", "B", "1", "2")
    assert rows[8][1:] == ("Tổng cộng", 11, 11, 4, 36.36, 2, 1, 1, 1, 3, 27.27, 3, 27.27, 1, 1, 1, 2, 4, 36.36)
    assert rows[11][:3] == (1, "Xã An Bình", 5)
    assert "E5:L5" in {str(r) for r in ws.merged_cells.ranges}  # "Hộ nghèo" spans its eight columns
    assert ws["F9"].number_format == "0.00" and ws["E9"].number_format == "#,##0"
    assert ws["A1"].font.bold


def test_write_report_xlsx__english__uses_english_labels(tmp_path: Path) -> None:
    table = measures_report(["poor_count"])
    path = tmp_path / "report.xlsx"
    write_report_xlsx(table, path, lang="en")
    ws = openpyxl.load_workbook(path)["Table"]
    assert ws["A1"].value == "REPORT 2025"
    assert (ws["A3"].value, ws["B3"].value, ws["C3"].value) == ("No.", "Unit", "poor_count")
