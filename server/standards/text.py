"""Bilingual texts and the number formats they use.

Every user-facing string of the engine is a ``Text`` (Vietnamese first, English beside it) so that a
stored result can be shown in either language later without recomputing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Text:
    vi: str
    en: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` ("vi" or "en")."""
        if lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}; use one of {LANGUAGES}")
        return self.vi if lang == "vi" else self.en

    def to_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Text:
        return cls(vi=str(data["vi"]), en=str(data["en"]))


@dataclass(frozen=True)
class Reason:
    """Why something is as it is: a stable machine code plus the bilingual wording."""

    code: str
    text: Text

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "vi": self.text.vi, "en": self.text.en}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        return cls(code=str(data["code"]), text=Text.from_dict(data))


def reason(code: str, vi: str, en: str) -> Reason:
    return Reason(code, Text(vi, en))


_SEPARATORS = {"vi": (".", ","), "en": (",", ".")}


def format_number(value: Decimal | int, lang: str, decimals: int = 2) -> str:
    """Group thousands and keep at most ``decimals`` digits, truncated, trailing zeros dropped.

    Truncation (not rounding) keeps the shown figure consistent with the comparison made: 7.999 m²
    shows as 7,99 and never as "8 < 8".
    """
    thousands, point = _SEPARATORS[lang]
    quantum = Decimal(1).scaleb(-decimals)
    truncated = Decimal(value).quantize(quantum, rounding=ROUND_DOWN)
    sign = "-" if truncated < 0 else ""
    whole, _, fraction = f"{abs(truncated):f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", thousands)
    fraction = fraction.rstrip("0")
    return f"{sign}{grouped}{point}{fraction}" if fraction else f"{sign}{grouped}"


def money(value: int) -> Text:
    """A VND amount in both languages: "1.500.000 đ" / "1,500,000 VND"."""
    return Text(f"{format_number(value, 'vi')} đ", f"{format_number(value, 'en')} VND")


def number(value: Decimal | int, decimals: int = 2) -> Text:
    return Text(format_number(value, "vi", decimals), format_number(value, "en", decimals))


def member_label(index: int, age: int) -> Text:
    """How a roster member is named in reasons: by position and age, never by name."""
    return Text(f"thành viên số {index} ({age} tuổi)", f"member #{index} (aged {age})")


# Wording of the form vocabulary (forms/FIELDS.md) used in reasons.
CHOICE_LABELS: dict[str, Text] = {
    "none": Text("không có", "none"),
    "other": Text("khác", "other"),
    "preschool": Text("mầm non", "preschool"),
    "primary": Text("tiểu học", "primary"),
    "lower_secondary": Text("trung học cơ sở", "lower secondary"),
    "upper_secondary": Text("trung học phổ thông", "upper secondary"),
    "vocational": Text("giáo dục nghề nghiệp", "vocational"),
    "higher": Text("cao đẳng, đại học trở lên", "higher education"),
    "unemployed": Text("thất nghiệp", "unemployed"),
    "wage_no_contract": Text("làm công ăn lương không có hợp đồng lao động",
                             "works for wages without a labour contract"),
    "stunted": Text("thấp còi", "stunted"),
    "underweight": Text("nhẹ cân", "underweight"),
    "both": Text("thấp còi và nhẹ cân", "stunted and underweight"),
    "piped": Text("nước máy", "piped water"),
    "drilled_well": Text("giếng khoan", "drilled well"),
    "protected_dug_well": Text("giếng đào được bảo vệ", "protected dug well"),
    "unprotected_dug_well": Text("giếng đào không được bảo vệ", "unprotected dug well"),
    "protected_spring": Text("nước khe, mó được bảo vệ", "protected spring"),
    "unprotected_spring": Text("nước khe, mó không được bảo vệ", "unprotected spring"),
    "rainwater": Text("nước mưa", "rainwater"),
    "bottled": Text("nước đóng chai, bình", "bottled water"),
    "surface": Text("nước mặt (sông, suối, ao, hồ)", "surface water (river, stream, pond, lake)"),
    "tanker": Text("nước mua từ xe chở nước", "water bought from a tanker"),
    "septic": Text("tự hoại", "septic tank"),
    "semi_septic": Text("bán tự hoại", "semi-septic tank"),
    "pour_flush": Text("thấm dội nước", "pour-flush"),
    "double_vault": Text("hai ngăn", "double vault"),
    "ventilated_pit": Text("chìm có ống thông hơi", "ventilated improved pit"),
    "pit_no_slab": Text("hố xí không có bệ", "pit without slab"),
    "open": Text("hố xí hở, cầu cá", "open latrine or fish-pond latrine"),
    "tv": Text("ti vi", "TV"),
    "radio": Text("radio", "radio"),
    "computer": Text("máy tính", "computer"),
    "smartphone": Text("điện thoại thông minh", "smartphone"),
    "loudspeaker": Text("loa truyền thanh", "public loudspeaker"),
}

FIELD_LABELS: dict[str, Text] = {
    "m_sex": Text("giới tính", "sex"),
    "m_work": Text("tình trạng việc làm", "work status"),
    "m_malnourished": Text("đánh giá suy dinh dưỡng", "malnutrition assessment"),
    "m_insurance": Text("thẻ bảo hiểm y tế", "health-insurance card"),
    "m_in_school": Text("tình trạng đi học", "school attendance"),
    "m_school_level": Text("cấp học đang theo học", "level attended"),
    "m_diploma": Text("bằng cấp cao nhất", "highest diploma"),
    "wall_material": Text("tường", "walls"),
    "column_material": Text("cột, khung", "columns"),
    "roof_material": Text("mái", "roof"),
    "water_source": Text("nguồn nước sinh hoạt", "water source"),
    "latrine": Text("nhà tiêu", "latrine"),
    "uses_phone": Text("thuê bao điện thoại", "a phone subscription"),
    "uses_internet": Text("internet", "the internet"),
    "info_devices": Text("phương tiện tiếp cận thông tin", "means of access to information"),
    "living_area_m2": Text("diện tích nhà ở", "living area"),
    "b1_floor": Text("nền nhà", "floor"),
    "b1_cooking_fuel": Text("nhiên liệu nấu ăn", "cooking fuel"),
    "b1_electricity_kwh": Text("điện tiêu thụ (kWh/tháng)", "electricity used (kWh per month)"),
    "b1_assets": Text("tài sản", "assets"),
    "b1_farm_land_m2": Text("đất sản xuất nông nghiệp (m²)", "farm land (m²)"),
}


def choice_label(choice: str) -> Text:
    """The wording of a form choice; unknown choices are shown as their raw name."""
    return CHOICE_LABELS.get(choice, Text(choice, choice))


def plain_label(name: str) -> Text:
    """The wording of a form field alone, for sentences about known answers."""
    return FIELD_LABELS.get(name, Text(name, name))


def field_label(name: str) -> Text:
    """The wording of a form field, with its technical name so that officers can find it."""
    label = FIELD_LABELS.get(name)
    return Text(f"{label.vi} ({name})", f"{label.en} ({name})") if label else Text(name, name)


def join(texts: list[Text], vi_word: str = "hoặc", en_word: str = "or") -> Text:
    """Join alternatives: "a, b hoặc c" / "a, b or c"."""
    def one(parts: list[str], word: str) -> str:
        return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {word} {parts[-1]}"
    return Text(one([t.vi for t in texts], vi_word), one([t.en for t in texts], en_word))
