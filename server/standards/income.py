"""Where a household's income stands against a rule set's lines.

Two sources: a directly estimated monthly income per person (``income_per_person_month``) or the B1
score. When both exist the direct estimate wins and is recorded as such: it is the commune's own
figure for this household, while the score is a statistical proxy (and may come from a sample
table). The B1 score is still computed and kept beside it for Phiếu C.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.standards.household import Household, to_int
from server.standards.rulesets import RuleSet
from server.standards.scoring import Score, ScoreTable, TableRef
from server.standards.text import Reason, Text, money, reason

AT_OR_BELOW_LINE = "at_or_below_line"
AVERAGE_BAND = "average_band"
ABOVE_BAND = "above_band"
ABOVE_LINE = "above_line"  # above the line, but the average-living band is not known
BANDS = (AT_OR_BELOW_LINE, AVERAGE_BAND, ABOVE_BAND, ABOVE_LINE)

DIRECT_ESTIMATE = "direct_estimate"
B1_SCORE = "b1_score"
METHODS = (DIRECT_ESTIMATE, B1_SCORE)


class IncomeUnavailable(Exception):
    def __init__(self, why: Reason):
        super().__init__(why.text.en)
        self.reason = why


@dataclass(frozen=True)
class Income:
    method: str
    band: str
    statement: Text  # the comparison in words, e.g. "… 1.200.000 đ … ≤ chuẩn 1.500.000 đ"
    line_vnd: int
    average_band_max_vnd: int | None
    value_vnd: int | None = None  # direct estimate only
    score: int | None = None  # B1 only
    table: TableRef | None = None  # B1 only

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "band": self.band, "statement": self.statement.to_dict(),
                "line_vnd": self.line_vnd, "average_band_max_vnd": self.average_band_max_vnd,
                "value_vnd": self.value_vnd, "score": self.score,
                "table": self.table.to_dict() if self.table else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Income:
        if data["method"] not in METHODS or data["band"] not in BANDS:
            raise ValueError(f"unknown income method/band {data['method']!r}/{data['band']!r}")
        return cls(method=data["method"], band=data["band"], statement=Text.from_dict(data["statement"]),
                   line_vnd=data["line_vnd"], average_band_max_vnd=data["average_band_max_vnd"],
                   value_vnd=data["value_vnd"], score=data["score"],
                   table=TableRef.from_dict(data["table"]) if data["table"] else None)


def band_of(value: int, line: int, band_max: int | None) -> str:
    """Place a value (VND or score points) against a line and the top of the average band."""
    if value <= line:
        return AT_OR_BELOW_LINE
    if band_max is None:
        return ABOVE_LINE
    return AVERAGE_BAND if value <= band_max else ABOVE_BAND


def read_direct_estimate(household: Household) -> int | None:
    """The directly estimated income, None when not given; raise IncomeUnavailable when unusable."""
    raw = household.get("income_per_person_month")
    if raw is None:
        return None
    try:
        value = to_int(raw)
    except ValueError:
        value = None
    if value is None or value < 0:
        raise IncomeUnavailable(reason("income_invalid", f"thu nhập ước tính không hợp lệ ({raw})",
                                       f"invalid income estimate ({raw})"))
    return value


def estimate_income(ruleset: RuleSet, urban: bool, direct: int | None, score: Score | None,
                    table: ScoreTable) -> Income:
    """Compare the income (direct estimate first, else the B1 score) with ``ruleset``'s lines."""
    lines = ruleset.lines(urban)
    line_vnd = money(lines.line)
    top_vnd = None if lines.average_band_max is None else money(lines.average_band_max)
    if direct is not None:
        band = band_of(direct, lines.line, lines.average_band_max)
        subject = money(direct)
        return Income(DIRECT_ESTIMATE, band, _statement(
            Text(f"thu nhập ước tính trực tiếp {subject.vi}/người/tháng",
                 f"directly estimated income {subject.en} per person per month"),
            band, Text(f"chuẩn {line_vnd.vi}", f"line {line_vnd.en}"), top_vnd),
            lines.line, lines.average_band_max, value_vnd=direct)
    if score is None or score.total is None:
        problems = score.problems if score else ()
        details = Text("; ".join(p.vi for p in problems), "; ".join(p.en for p in problems))
        raise IncomeUnavailable(reason(
            "income_unavailable",
            f"không có thu nhập ước tính và không tính được điểm B1: {details.vi}",
            f"no income estimate and the B1 score cannot be computed: {details.en}"))
    cutoffs = table.cutoffs_for(ruleset.id, urban)
    if cutoffs is None:
        raise IncomeUnavailable(reason(
            "no_cutoffs", f"bảng điểm {table.id} v{table.version} không có ngưỡng điểm cho bộ chuẩn "
            f"{ruleset.id}", f"score table {table.id} v{table.version} has no cut-offs for rule set "
            f"{ruleset.id}"))
    band = band_of(score.total, cutoffs.line, cutoffs.average_band)
    sample = Text(", BẢNG MẪU", ", SAMPLE TABLE") if table.sample else Text("", "")
    subject = Text(f"điểm B1 {score.total} (bảng {table.id} v{table.version}{sample.vi})",
                   f"B1 score {score.total} (table {table.id} v{table.version}{sample.en})")
    line = _points(cutoffs.line, Text(f"chuẩn {line_vnd.vi}", f"the line {line_vnd.en}"))
    top = None if cutoffs.average_band is None else _points(cutoffs.average_band, top_vnd)
    return Income(B1_SCORE, band, _statement(subject, band, line, top),
                  lines.line, lines.average_band_max, score=score.total, table=table.ref)


def _points(cutoff: int, meaning: Text | None) -> Text:
    """A score cut-off with the income it stands for, when known."""
    if meaning is None:
        return Text(f"ngưỡng {cutoff} điểm", f"cut-off {cutoff} points")
    return Text(f"ngưỡng {cutoff} điểm (tương ứng {meaning.vi})",
                f"cut-off {cutoff} points (standing for {meaning.en})")


def _statement(subject: Text, band: str, line: Text, top: Text | None) -> Text:
    if band == AT_OR_BELOW_LINE:
        return Text(f"{subject.vi} ≤ {line.vi}", f"{subject.en} ≤ {line.en}")
    if band == ABOVE_LINE:
        return Text(f"{subject.vi} > {line.vi}", f"{subject.en} > {line.en}")
    assert top is not None  # the other bands exist only when the top of the average band is known
    if band == AVERAGE_BAND:
        return Text(f"{subject.vi} > {line.vi} và ≤ {top.vi} (khoảng mức sống trung bình)",
                    f"{subject.en} > {line.en} and ≤ {top.en} (average-living band)")
    return Text(f"{subject.vi} > {top.vi} (trên khoảng mức sống trung bình)",
                f"{subject.en} > {top.en} (above the average-living band)")
