"""Classification of one household under the national rule set and, optionally, a local one.

- poor: income at or below the line AND deprived in at least ``poor_min_deprivations`` indicators;
- near_poor: income at or below the line AND fewer deprivations;
- average_living: income in the band just above the line, whatever the deprivations;
- not_classified: income above that band.

Unknown indicators (a needed answer is missing) never get a guessed value: the class is given only
when it is the same whether they all turn out deprived or all not deprived; otherwise the verdict
is ``unclassifiable`` with the reasons. The same holds for an average-living band that the rule set
does not know (2027–2030): the verdict says so instead of inventing a band.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.standards.household import UnclassifiableAnswers, read_household
from server.standards.income import (
    ABOVE_BAND,
    ABOVE_LINE,
    AT_OR_BELOW_LINE,
    Income,
    IncomeUnavailable,
    estimate_income,
    read_direct_estimate,
)
from server.standards.indicators import DEPRIVED, UNKNOWN, IndicatorResult, evaluate
from server.standards.rulesets import RuleSet, load_ruleset
from server.standards.scoring import Score, ScoreTable, load_score_table
from server.standards.text import Reason, Text, reason

POOR = "poor"
NEAR_POOR = "near_poor"
AVERAGE_LIVING = "average_living"
NOT_CLASSIFIED = "not_classified"
CLASSES = (POOR, NEAR_POOR, AVERAGE_LIVING, NOT_CLASSIFIED)  # poorest first

CLASSIFIED = "classified"
UNCLASSIFIABLE = "unclassifiable"
RESULT_FORMAT = 1


def class_rank(name: str) -> int:
    """Position in CLASSES: a lower rank is a poorer class."""
    return CLASSES.index(name)


@dataclass(frozen=True)
class RuleSetRef:
    id: str
    version: str
    scope: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "scope": self.scope}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSetRef:
        return cls(id=str(data["id"]), version=str(data["version"]), scope=str(data["scope"]))


@dataclass(frozen=True)
class Verdict:
    """The outcome under one rule set."""

    ruleset: RuleSetRef
    status: str
    class_: str | None
    reasons: tuple[Reason, ...]
    indicators: tuple[IndicatorResult, ...] = ()
    income: Income | None = None

    @property
    def deprivation_count(self) -> int:
        return sum(1 for i in self.indicators if i.status == DEPRIVED)

    @property
    def unknown_count(self) -> int:
        return sum(1 for i in self.indicators if i.status == UNKNOWN)

    def to_dict(self) -> dict[str, Any]:
        return {"ruleset": self.ruleset.to_dict(), "status": self.status, "class": self.class_,
                "reasons": [r.to_dict() for r in self.reasons],
                "deprivation_count": self.deprivation_count, "unknown_count": self.unknown_count,
                "indicators": [i.to_dict() for i in self.indicators],
                "income": self.income.to_dict() if self.income else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        if data["status"] not in (CLASSIFIED, UNCLASSIFIABLE) or (
                data["class"] is not None and data["class"] not in CLASSES):
            raise ValueError(f"unknown status/class {data['status']!r}/{data['class']!r}")
        return cls(ruleset=RuleSetRef.from_dict(data["ruleset"]), status=data["status"],
                   class_=data["class"], reasons=tuple(Reason.from_dict(r) for r in data["reasons"]),
                   indicators=tuple(IndicatorResult.from_dict(i) for i in data["indicators"]),
                   income=Income.from_dict(data["income"]) if data["income"] else None)


@dataclass(frozen=True)
class Classification:
    """A household's result: the national verdict (the official class), an optional local one and
    the B1 score. The summary properties all refer to the national verdict."""

    year: int
    urban: bool
    national: Verdict
    local: Verdict | None = None
    b1: Score | None = None

    @property
    def status(self) -> str:
        return self.national.status

    @property
    def class_(self) -> str | None:
        return self.national.class_

    @property
    def local_class(self) -> str | None:
        return self.local.class_ if self.local else None

    @property
    def deprivation_count(self) -> int:
        return self.national.deprivation_count

    @property
    def indicators(self) -> tuple[IndicatorResult, ...]:
        return self.national.indicators

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; the top-level summary keys are derived and ignored on read."""
        return {"format": RESULT_FORMAT, "year": self.year, "urban": self.urban,
                "status": self.status, "class": self.class_, "local_class": self.local_class,
                "deprivation_count": self.deprivation_count,
                "national": self.national.to_dict(),
                "local": self.local.to_dict() if self.local else None,
                "b1": self.b1.to_dict() if self.b1 else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        if data.get("format") != RESULT_FORMAT:
            raise ValueError(f"unsupported result format {data.get('format')!r}")
        return cls(year=int(data["year"]), urban=bool(data["urban"]),
                   national=Verdict.from_dict(data["national"]),
                   local=Verdict.from_dict(data["local"]) if data["local"] else None,
                   b1=Score.from_dict(data["b1"]) if data["b1"] else None)


def classify(answers: Mapping[str, Any], *, year: int, urban: bool, ruleset: RuleSet | None = None,
             local: RuleSet | None = None, score_table: ScoreTable | None = None) -> Classification:
    """Classify one household from its ``phieu_b`` answers (forms/FIELDS.md).

    ``ruleset`` defaults to the bundled national set for ``year``; ``score_table`` to the bundled
    (sample) B1 table. ``urban`` is the commune's attribute. Raise ValueError when a given rule set
    does not fit (wrong scope, or not in force in ``year``); answer problems never raise.
    """
    national = ruleset if ruleset is not None else load_ruleset(year)
    _check_fits(national, "national", year)
    if local is not None:
        _check_fits(local, "local", year)
    table = score_table if score_table is not None else load_score_table()
    try:
        household = read_household(answers, year)
    except UnclassifiableAnswers as problem:
        return Classification(year, urban, _refused(national, problem.reasons),
                              _refused(local, problem.reasons) if local else None)
    score = table.score(household, urban)
    try:
        direct, direct_problem = read_direct_estimate(household), None
    except IncomeUnavailable as unusable:
        direct, direct_problem = None, unusable.reason

    def verdict(rules: RuleSet) -> Verdict:
        indicators = tuple(evaluate(spec, household) for spec in rules.indicators)
        if direct_problem is not None:
            return Verdict(_ref(rules), UNCLASSIFIABLE, None, (direct_problem,), indicators)
        try:
            income = estimate_income(rules, urban, direct, score, table)
        except IncomeUnavailable as unavailable:
            return Verdict(_ref(rules), UNCLASSIFIABLE, None, (unavailable.reason,), indicators)
        deprived = sum(1 for i in indicators if i.status == DEPRIVED)
        unknown = sum(1 for i in indicators if i.status == UNKNOWN)
        class_, why = decide(income, deprived, unknown, rules)
        return Verdict(_ref(rules), CLASSIFIED if class_ else UNCLASSIFIABLE, class_, (why,),
                       indicators, income)

    return Classification(year, urban, verdict(national), verdict(local) if local else None, score)


def decide(income: Income, deprived: int, unknown: int, rules: RuleSet) -> tuple[str | None, Reason]:
    """The class from the income band and the deprivation count (with ``unknown`` undecided)."""
    needed = rules.poor_min_deprivations
    said = income.statement
    if income.band == AT_OR_BELOW_LINE:
        if deprived >= needed:
            return POOR, reason(POOR, f"{said.vi}; thiếu hụt {deprived} chỉ số (từ {needed} trở lên)",
                                f"{said.en}; deprived in {deprived} indicators ({needed} or more)")
        if deprived + unknown < needed:
            counted = Text(f", kể cả {unknown} chỉ số chưa xác định", f", even counting {unknown} unknown")
            extra = counted if unknown else Text("", "")
            return NEAR_POOR, reason(
                NEAR_POOR, f"{said.vi}; thiếu hụt {deprived} chỉ số (dưới {needed}{extra.vi})",
                f"{said.en}; deprived in {deprived} indicators (fewer than {needed}{extra.en})")
        return None, reason(
            "indicators_unknown",
            f"{said.vi}; thiếu hụt {deprived} chỉ số và {unknown} chỉ số chưa xác định do thiếu câu trả "
            f"lời: chưa phân biệt được hộ nghèo hay hộ cận nghèo",
            f"{said.en}; deprived in {deprived} indicators with {unknown} unknown for lack of answers: "
            f"poor or near-poor cannot be decided")
    if income.band == ABOVE_LINE:
        return None, reason(
            "average_band_unknown",
            f"{said.vi}; bộ chuẩn {rules.id} chưa có khoảng thu nhập của hộ có mức sống trung bình nên "
            f"không xác định được hộ có mức sống trung bình (hộ không thuộc diện nghèo, cận nghèo)",
            f"{said.en}; rule set {rules.id} has no average-living income band, so whether the "
            f"household is 'average living' cannot be determined (it is neither poor nor near-poor)")
    if income.band == ABOVE_BAND:
        return NOT_CLASSIFIED, reason(NOT_CLASSIFIED, said.vi, said.en)
    return AVERAGE_LIVING, reason(AVERAGE_LIVING, f"{said.vi}; không xét số chỉ số thiếu hụt",
                                  f"{said.en}; the deprivation count does not matter")


def _ref(rules: RuleSet) -> RuleSetRef:
    return RuleSetRef(rules.id, rules.version, rules.scope)


def _refused(rules: RuleSet, reasons: tuple[Reason, ...]) -> Verdict:
    return Verdict(_ref(rules), UNCLASSIFIABLE, None, reasons)


def _check_fits(rules: RuleSet, scope: str, year: int) -> None:
    if rules.scope != scope:
        raise ValueError(f"rule set {rules.id} is {rules.scope}, expected {scope}")
    if not rules.covers(year):
        raise ValueError(f"rule set {rules.id} covers {rules.first_year}–{rules.last_year}, not {year}")
