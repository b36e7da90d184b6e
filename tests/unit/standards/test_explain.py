"""explain() for people and transition_counts() for recompute reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.standards import classify, explain, load_ruleset_file, transition_counts
from server.standards.text import format_number
from tests.unit.standards.builders import YEAR, answers, deprived_in, income


def test_explain__poor_household_in_vietnamese__class_reasons_and_every_indicator() -> None:
    text = explain(classify(income(1_200_000, **deprived_in(3)), year=YEAR, urban=False))
    assert "Kết quả: HỘ NGHÈO" in text
    assert "thu nhập ước tính trực tiếp 1.200.000 đ/người/tháng ≤ chuẩn 1.500.000 đ" in text
    assert "Số chỉ số thiếu hụt: 3/12" in text
    for indicator_id in ("1.1", "2.1", "3.2", "4.2", "6.2"):
        assert f" {indicator_id} " in text
    assert "[x] 4.2 Diện tích nhà ở bình quân đầu người: thiếu hụt — diện tích bình quân 5 m²/người < 8 m²" in text
    assert text.count("\n") >= 15


def test_explain__english__english_words_only_for_labels() -> None:
    text = explain(classify(income(1_800_000), year=YEAR, urban=True), "en")
    assert "Result: NEAR-POOR HOUSEHOLD" in text
    assert "review year 2024, urban" in text
    assert "Kết quả" not in text and "thiếu hụt" not in text


def test_explain__b1_from_sample_table__warns_loudly() -> None:
    text = explain(classify(answers(), year=YEAR, urban=False))
    assert "BẢNG MẪU" in text and "CẢNH BÁO" in text


def test_explain__b1_incomplete_beside_direct_income__b1_problem_shown() -> None:
    text = explain(classify(income(1_000_000, b1_floor=None), year=YEAR, urban=False))
    assert "Điểm B1 (b1-red-river-delta-sample v0.1): không tính được: thiếu nền nhà (b1_floor)" in text


def test_explain__unclassifiable__says_so_with_reasons() -> None:
    text = explain(classify(answers([]), year=YEAR, urban=False))
    assert "KHÔNG PHÂN LOẠI ĐƯỢC" in text and "0 nhân khẩu" in text


def test_explain__2027_above_line__says_average_living_not_determined() -> None:
    text = explain(classify(income(2_500_000), year=2027, urban=False), "en")
    assert "CANNOT BE CLASSIFIED" in text and "cannot be determined" in text


def test_explain__local_set__both_standards_explained(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    path.write_text(json.dumps({"format": 1, "extends": "vn-national-2022-2025", "scope": "local",
                                "id": "bn-local", "version": "2",
                                "income": {"rural": {"line": 2_000_000, "average_band_max": 2_500_000},
                                           "urban": {"line": 2_500_000, "average_band_max": 3_000_000}}}))
    result = classify(income(1_700_000), year=YEAR, urban=False, local=load_ruleset_file(path))
    text = explain(result)
    assert "Chuẩn quốc gia (vn-national-2022-2025, phiên bản 1) — Kết quả: HỘ CÓ MỨC SỐNG TRUNG BÌNH" in text
    assert "Chuẩn địa phương (bn-local, phiên bản 2) — Kết quả: HỘ CẬN NGHÈO" in text


def test_explain__unknown_language__raises() -> None:
    with pytest.raises(ValueError):
        explain(classify(income(1), year=YEAR, urban=False), "fr")


@pytest.mark.parametrize(("value", "lang", "shown"), [
    (1_500_000, "vi", "1.500.000"), (1_500_000, "en", "1,500,000"), (0, "vi", "0"), (999, "vi", "999"),
])
def test_format_number__thousands__grouped_per_language(value: int, lang: str, shown: str) -> None:
    assert format_number(value, lang) == shown


def test_transition_counts__before_and_after__pairs_counted_including_new_and_gone() -> None:
    before = {"h1": "poor", "h2": "poor", "h3": "near_poor", "h4": "near_poor", "h5": None, "h6": "poor"}
    after = {"h1": "near_poor", "h2": "poor", "h3": "not_classified", "h4": "near_poor", "h5": "poor",
             "h7": "near_poor"}
    assert transition_counts(before, after) == {
        ("poor", "near_poor"): 1, ("poor", "poor"): 1, ("near_poor", "not_classified"): 1,
        ("near_poor", "near_poor"): 1, ("none", "poor"): 1, ("poor", "none"): 1, ("none", "near_poor"): 1,
    }


def test_transition_counts__nothing__empty() -> None:
    assert transition_counts({}, {}) == {}
