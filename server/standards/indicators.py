"""The deprivation indicators, computed from raw answers.

Each rule-set indicator names a *method* (a function here) and its *params* (thresholds, lists of
answer values): what the law says lives in the data, how to apply it lives here. Every method returns
one of four statuses with a bilingual reason:

- ``deprived`` / ``not_deprived``;
- ``not_applicable``: no member the indicator is about (counts as not deprived);
- ``unknown``: an answer it needs is missing or unusable. The household may still be classified when
  the class is the same whichever way the unknown indicators go (see classify.py).

Member-level indicators are deprived as soon as one eligible member is, so a known deprivation
outweighs another member's missing answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from server.standards.household import Household, Member
from server.standards.text import Text, choice_label, field_label, join, member_label, number, plain_label

DEPRIVED = "deprived"
NOT_DEPRIVED = "not_deprived"
NOT_APPLICABLE = "not_applicable"
UNKNOWN = "unknown"
STATUSES = (DEPRIVED, NOT_DEPRIVED, NOT_APPLICABLE, UNKNOWN)

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: Text


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator of a rule set, as loaded from its data file."""

    id: str
    method: str
    name: Text
    params: Params = field(hash=False)
    verified: bool
    source: str


@dataclass(frozen=True)
class IndicatorResult:
    id: str
    name: Text
    status: str
    reason: Text

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name.to_dict(), "status": self.status,
                "reason": self.reason.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndicatorResult:
        if data["status"] not in STATUSES:
            raise ValueError(f"unknown indicator status {data['status']!r}")
        return cls(id=str(data["id"]), name=Text.from_dict(data["name"]), status=str(data["status"]),
                   reason=Text.from_dict(data["reason"]))


def evaluate(spec: IndicatorSpec, household: Household) -> IndicatorResult:
    outcome = METHODS[spec.method].evaluate(household, spec.params)
    return IndicatorResult(id=spec.id, name=spec.name, status=outcome.status, reason=outcome.reason)


# --- helpers ------------------------------------------------------------------------------------

def _about(member: Member, vi: str, en: str) -> Text:
    label = member_label(member.index, member.age)
    return Text(f"{label.vi} {vi}", f"{label.en} {en}")


def _missing(member: Member, name: str) -> Outcome:
    label = field_label(name)
    return Outcome(UNKNOWN, _about(member, f"thiếu {label.vi}", f"has no answer for {label.en}"))


def _unusable(member: Member, name: str, value: str) -> Outcome:
    label = field_label(name)
    return Outcome(UNKNOWN, _about(member, f"có {label.vi} = '{value}' không dùng để xác định được",
                                   f"has {label.en} = '{value}', which cannot be used"))


def _household_unusable(name: str, value: str | None) -> Outcome:
    label = field_label(name)
    if value is None:
        return Outcome(UNKNOWN, Text(f"thiếu {label.vi}", f"no answer for {label.en}"))
    return Outcome(UNKNOWN, Text(f"{label.vi} = '{value}' không dùng để xác định được",
                                 f"{label.en} = '{value}' cannot be used"))


def _sentences(texts: list[Text]) -> Text:
    return Text("; ".join(t.vi for t in texts), "; ".join(t.en for t in texts))


def _combine(findings: list[Outcome], *, not_applicable: Text, not_deprived: Text) -> Outcome:
    """Aggregate the findings of eligible members: any deprived wins, then any unknown."""
    if not findings:
        return Outcome(NOT_APPLICABLE, not_applicable)
    for status in (DEPRIVED, UNKNOWN):
        reasons = [f.reason for f in findings if f.status == status]
        if reasons:
            return Outcome(status, _sentences(reasons))
    return Outcome(NOT_DEPRIVED, not_deprived)


# A member who is fine; _combine words the indicator's not-deprived reason itself, so no text here.
_OK = Outcome(NOT_DEPRIVED, Text("", ""))


def _percent(share: Fraction) -> Text:
    value = Decimal(share.numerator * 100) / Decimal(share.denominator)
    shown = number(value, decimals=1)
    return Text(f"{shown.vi}%", f"{shown.en}%")


# --- 1.1 employment -----------------------------------------------------------------------------

def _in_working_age(member: Member, params: Params) -> bool | None:
    """True / False, or None when it depends on a sex that was not recorded."""
    if member.age < params["working_age_from"]:
        return False
    limits: Mapping[str, int] = params["working_age_below"]
    sex = member.get("m_sex")
    if sex in limits:
        return member.age < limits[sex]
    if member.age < min(limits.values()):
        return True
    if member.age >= max(limits.values()):
        return False
    return None


def employment(household: Household, params: Params) -> Outcome:
    findings: list[Outcome] = []
    for member in household.members:
        work = member.get("m_work")
        if work in params["no_labour_capacity_work"]:
            continue
        in_age = _in_working_age(member, params)
        if in_age is False:
            continue
        if work is None:
            findings.append(_missing(member, "m_work"))
        elif work in params["not_deprived_work"]:
            findings.append(_OK)
        elif work not in params["deprived_work"]:
            findings.append(_unusable(member, "m_work", work))
        elif in_age is None:
            findings.append(_missing(member, "m_sex"))
        else:
            label = choice_label(work)
            findings.append(Outcome(DEPRIVED, _about(member, label.vi, label.en)))
    return _combine(
        findings,
        not_applicable=Text("không có thành viên trong độ tuổi lao động có khả năng lao động",
                            "no working-age member able to work"),
        not_deprived=Text("không có thành viên trong độ tuổi lao động thất nghiệp hoặc làm công "
                          "không có hợp đồng lao động",
                          "no working-age member is unemployed or works for wages without a "
                          "labour contract"))


# --- 1.2 dependants -----------------------------------------------------------------------------

def dependants(household: Household, params: Params) -> Outcome:
    known = 0
    undecided: list[Member] = []
    for member in household.members:
        if member.age < params["child_age_below"] or member.age >= params["elderly_age_from"]:
            known += 1
            continue
        work = member.get("m_work")
        if work is None:
            undecided.append(member)
        elif work in params["dependant_work"]:
            known += 1
    total = len(household.members)
    limit = Fraction(params["max_share"])
    low, high = Fraction(known, total), Fraction(known + len(undecided), total)
    limit_text = _percent(limit)
    if low > limit:
        share = _percent(low)
        return Outcome(DEPRIVED, Text(f"người phụ thuộc {known}/{total} = {share.vi} > {limit_text.vi}",
                                      f"dependants {known}/{total} = {share.en} > {limit_text.en}"))
    if high <= limit:
        count = known + len(undecided)
        share = _percent(high)
        return Outcome(NOT_DEPRIVED,
                       Text(f"người phụ thuộc {count}/{total} = {share.vi} ≤ {limit_text.vi}",
                            f"dependants {count}/{total} = {share.en} ≤ {limit_text.en}"))
    missing = _sentences([_missing(m, "m_work").reason for m in undecided])
    bounds = f"{known}/{total}–{known + len(undecided)}/{total}"
    return Outcome(UNKNOWN, Text(f"{missing.vi}: tỷ lệ người phụ thuộc trong khoảng {bounds}, "
                                 f"ngưỡng {limit_text.vi}",
                                 f"{missing.en}: dependants between {bounds}, threshold {limit_text.en}"))


# --- 2.1 nutrition ------------------------------------------------------------------------------

def nutrition(household: Household, params: Params) -> Outcome:
    findings: list[Outcome] = []
    for member in household.members:
        if member.age >= params["child_age_below"]:
            continue
        value = member.get("m_malnourished")
        if value is None:
            findings.append(_missing(member, "m_malnourished"))
        elif value in params["not_deprived_values"]:
            findings.append(_OK)
        elif value in params["deprived_values"]:
            label = choice_label(value)
            findings.append(Outcome(DEPRIVED, _about(member, f"suy dinh dưỡng ({label.vi})",
                                                     f"is malnourished ({label.en})")))
        else:
            findings.append(_unusable(member, "m_malnourished", value))
    below = params["child_age_below"]
    return _combine(findings,
                    not_applicable=Text(f"không có trẻ em dưới {below} tuổi", f"no child under {below}"),
                    not_deprived=Text(f"không có trẻ em dưới {below} tuổi bị suy dinh dưỡng",
                                      f"no child under {below} is malnourished"))


# --- 2.2 health insurance -----------------------------------------------------------------------

def health_insurance(household: Household, params: Params) -> Outcome:
    findings: list[Outcome] = []
    for member in household.members:
        if member.age < params["age_from"]:
            continue
        value = member.get("m_insurance")
        if value == "yes":
            findings.append(_OK)
        elif value == "no":
            findings.append(Outcome(DEPRIVED, _about(member, "không có thẻ bảo hiểm y tế còn hạn",
                                                     "has no valid health-insurance card")))
        elif value is None:
            findings.append(_missing(member, "m_insurance"))
        else:
            findings.append(_unusable(member, "m_insurance", value))
    age = params["age_from"]
    return _combine(findings,
                    not_applicable=Text(f"không có thành viên từ {age} tuổi trở lên",
                                        f"no member aged {age} or over"),
                    not_deprived=Text(f"mọi thành viên từ {age} tuổi trở lên có thẻ bảo hiểm y tế",
                                      f"every member aged {age} or over has health insurance"))


# --- 3.1 adult education ------------------------------------------------------------------------

def _age_band(member: Member, bands: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((b for b in bands if b["age_from"] <= member.age <= b["age_to"]), None)


def adult_education(household: Household, params: Params) -> Outcome:
    findings: list[Outcome] = []
    for member in household.members:
        band = _age_band(member, params["bands"])
        if band is None:
            continue
        in_school = member.get("m_in_school")
        diploma = member.get("m_diploma")
        if in_school == "yes":
            findings.append(_OK)
        elif in_school is None:
            findings.append(_missing(member, "m_in_school"))
        elif in_school != "no":
            findings.append(_unusable(member, "m_in_school", in_school))
        elif diploma is None:
            findings.append(_missing(member, "m_diploma"))
        elif diploma in band["diplomas"]:
            findings.append(_OK)
        else:
            required, held = Text.from_dict(band["required"]), choice_label(diploma)
            findings.append(Outcome(DEPRIVED, _about(
                member, f"không đi học và chưa có {required.vi} (bằng cao nhất: {held.vi})",
                f"is not studying and lacks {required.en} (highest diploma: {held.en})")))
    low = min(b["age_from"] for b in params["bands"])
    high = max(b["age_to"] for b in params["bands"])
    return _combine(
        findings,
        not_applicable=Text(f"không có thành viên từ {low} đến {high} tuổi",
                            f"no member aged {low} to {high}"),
        not_deprived=Text(f"mọi thành viên từ {low} đến {high} tuổi đang đi học hoặc có bằng cấp "
                          "phù hợp với độ tuổi",
                          f"every member aged {low} to {high} is studying or holds the diploma for "
                          "their age"))


# --- 3.2 school attendance of children ----------------------------------------------------------

def child_schooling(household: Household, params: Params) -> Outcome:
    findings: list[Outcome] = []
    for member in household.members:
        if not params["age_from"] <= member.age < params["age_below"]:
            continue
        expected: list[str] = params["levels_for_age"][str(member.age)]
        in_school = member.get("m_in_school")
        level = member.get("m_school_level")
        if in_school == "no":
            findings.append(Outcome(DEPRIVED, _about(member, "không đi học", "does not attend school")))
        elif in_school is None:
            findings.append(_missing(member, "m_in_school"))
        elif in_school != "yes":
            findings.append(_unusable(member, "m_in_school", in_school))
        elif level is None:
            findings.append(_missing(member, "m_school_level"))
        elif level in expected:
            findings.append(_OK)
        else:
            wanted = join([choice_label(name) for name in expected])
            attended = choice_label(level)
            findings.append(Outcome(DEPRIVED, _about(
                member, f"đang học {attended.vi}, không đúng cấp học theo độ tuổi ({wanted.vi})",
                f"attends {attended.en}, not the level for age ({wanted.en})")))
    low, below = params["age_from"], params["age_below"]
    return _combine(
        findings,
        not_applicable=Text(f"không có trẻ em từ {low} đến dưới {below} tuổi",
                            f"no child aged {low} to under {below}"),
        not_deprived=Text(f"mọi trẻ em từ {low} đến dưới {below} tuổi đi học đúng cấp học",
                          f"every child aged {low} to under {below} attends school at the level "
                          "for age"))


# --- 4.1 housing quality ------------------------------------------------------------------------

def housing_quality(household: Household, params: Params) -> Outcome:
    parts: list[str] = params["parts"]
    needed: int = params["min_non_durable"]
    weak: list[str] = []
    undecided: list[Outcome] = []
    for part in parts:
        value = household.get(part)
        if value == "non_durable":
            weak.append(part)
        elif value != "durable":
            undecided.append(_household_unusable(part, value))
    weak_names = join([plain_label(p) for p in weak], "và", "and") if weak else Text("", "")
    listed = Text(f" ({weak_names.vi})", f" ({weak_names.en})") if weak else Text("", "")
    count = f"{len(weak)}/{len(parts)}"
    if len(weak) >= needed:
        return Outcome(DEPRIVED, Text(
            f"{count} bộ phận nhà làm bằng vật liệu không bền chắc{listed.vi}, ngưỡng {needed}",
            f"{count} parts of the house are of non-durable materials{listed.en}, threshold {needed}"))
    if len(weak) + len(undecided) < needed:
        return Outcome(NOT_DEPRIVED, Text(
            f"{count} bộ phận nhà làm bằng vật liệu không bền chắc{listed.vi}, dưới ngưỡng {needed}",
            f"{count} parts of the house are of non-durable materials{listed.en}, below the "
            f"threshold {needed}"))
    return Outcome(UNKNOWN, _sentences([u.reason for u in undecided]))


# --- 4.2 living area per person -----------------------------------------------------------------

def living_area(household: Household, params: Params) -> Outcome:
    per_person = household.living_area_m2 / len(household.members)
    threshold = Decimal(params["min_m2_per_person"])
    shown, limit = number(per_person), number(threshold)
    if per_person < threshold:
        return Outcome(DEPRIVED, Text(f"diện tích bình quân {shown.vi} m²/người < {limit.vi} m²",
                                      f"living area {shown.en} m²/person < {limit.en} m²"))
    return Outcome(NOT_DEPRIVED, Text(f"diện tích bình quân {shown.vi} m²/người ≥ {limit.vi} m²",
                                      f"living area {shown.en} m²/person ≥ {limit.en} m²"))


# --- 5.1 water, 5.2 latrine ---------------------------------------------------------------------

def _household_choice(household: Household, name: str, good: list[str], bad: list[str],
                      good_word: Text, bad_word: Text) -> Outcome:
    value = household.get(name)
    if value in good or value in bad:
        label, word = plain_label(name), good_word if value in good else bad_word
        status = NOT_DEPRIVED if value in good else DEPRIVED
        choice = choice_label(value)
        return Outcome(status, Text(f"{label.vi} {word.vi}: {choice.vi}", f"{label.en} {word.en}: "
                                    f"{choice.en}"))
    return _household_unusable(name, value)


def water_source(household: Household, params: Params) -> Outcome:
    return _household_choice(household, "water_source", params["clean"], params["not_clean"],
                             Text("hợp vệ sinh", "is clean"), Text("không hợp vệ sinh", "is not clean"))


def latrine(household: Household, params: Params) -> Outcome:
    return _household_choice(household, "latrine", params["hygienic"], params["not_hygienic"],
                             Text("hợp vệ sinh", "is hygienic"), Text("không hợp vệ sinh",
                                                                       "is not hygienic"))


# --- 6.1 telecommunication ----------------------------------------------------------------------

def telecom(household: Household, params: Params) -> Outcome:
    services: list[str] = params["services"]
    used = [s for s in services if household.get(s) == "yes"]
    unused = [s for s in services if household.get(s) == "no"]
    undecided = [s for s in services if s not in used and s not in unused]
    need_all = params["deprived_unless"] == "all"
    if (unused if need_all else len(unused) == len(services)):
        names = join([plain_label(s) for s in unused])
        return Outcome(DEPRIVED, Text(f"không có thành viên nào sử dụng {names.vi}",
                                      f"no member uses {names.en}"))
    if (len(used) == len(services) if need_all else used):
        names = join([plain_label(s) for s in used], "và", "and")
        return Outcome(NOT_DEPRIVED, Text(f"có thành viên sử dụng {names.vi}", f"members use {names.en}"))
    return Outcome(UNKNOWN, _sentences([_household_unusable(s, household.get(s)).reason
                                        for s in undecided]))


# --- 6.2 means of access to information ---------------------------------------------------------

def information_means(household: Household, params: Params) -> Outcome:
    chosen = household.choices("info_devices")
    if chosen is None:
        return _household_unusable("info_devices", None)
    means: list[str] = params["means"]
    present = [m for m in means if m in chosen]
    if present:
        names = join([choice_label(m) for m in present], "và", "and")
        return Outcome(NOT_DEPRIVED, Text(f"hộ có {names.vi}", f"the household has {names.en}"))
    strange = sorted(chosen - set(params["none_values"]))
    if strange:
        return _household_unusable("info_devices", " ".join(strange))
    listed = join([choice_label(m) for m in means])
    return Outcome(DEPRIVED, Text(f"hộ không có phương tiện tiếp cận thông tin nào ({listed.vi})",
                                  f"the household has no means of access to information "
                                  f"({listed.en})"))


# --- registry -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    evaluate: Callable[[Household, Params], Outcome]
    # param name -> kind, checked when a rule set is loaded (see rulesets._check_param)
    params: Mapping[str, str]


METHODS: dict[str, Method] = {
    "employment": Method(employment, {
        "working_age_from": "int", "working_age_below": "by_sex", "deprived_work": "names",
        "not_deprived_work": "names", "no_labour_capacity_work": "names"}),
    "dependants": Method(dependants, {
        "child_age_below": "int", "elderly_age_from": "int", "dependant_work": "names",
        "max_share": "share"}),
    "nutrition": Method(nutrition, {
        "child_age_below": "int", "deprived_values": "names", "not_deprived_values": "names"}),
    "health_insurance": Method(health_insurance, {"age_from": "int"}),
    "adult_education": Method(adult_education, {"bands": "education_bands"}),
    "child_schooling": Method(child_schooling, {
        "age_from": "int", "age_below": "int", "levels_for_age": "levels_for_age"}),
    "housing_quality": Method(housing_quality, {"parts": "names", "min_non_durable": "int"}),
    "living_area": Method(living_area, {"min_m2_per_person": "number"}),
    "water_source": Method(water_source, {"clean": "names", "not_clean": "names"}),
    "latrine": Method(latrine, {"hygienic": "names", "not_hygienic": "names"}),
    "telecom": Method(telecom, {"services": "names", "deprived_unless": "all_or_any"}),
    "information_means": Method(information_means, {"means": "names", "none_values": "names"}),
}
