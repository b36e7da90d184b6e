"""Human-readable explanations of a result and counts of class transitions (CLI reports)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from server.standards.classify import Classification, Verdict
from server.standards.indicators import DEPRIVED, NOT_APPLICABLE, NOT_DEPRIVED, UNKNOWN
from server.standards.text import Text

NO_CLASS = "none"  # transition label for a household without a class (absent or unclassifiable)

CLASS_LABELS = {
    "poor": Text("HỘ NGHÈO", "POOR HOUSEHOLD"),
    "near_poor": Text("HỘ CẬN NGHÈO", "NEAR-POOR HOUSEHOLD"),
    "average_living": Text("HỘ CÓ MỨC SỐNG TRUNG BÌNH", "AVERAGE-LIVING HOUSEHOLD"),
    "not_classified": Text("KHÔNG THUỘC DIỆN NGHÈO, CẬN NGHÈO, MỨC SỐNG TRUNG BÌNH",
                           "NOT CLASSIFIED (not poor, near-poor or average living)"),
}
UNCLASSIFIABLE_LABEL = Text("KHÔNG PHÂN LOẠI ĐƯỢC", "CANNOT BE CLASSIFIED")

STATUS_MARKS = {
    DEPRIVED: ("[x]", Text("thiếu hụt", "deprived")),
    NOT_DEPRIVED: ("[ ]", Text("không thiếu hụt", "not deprived")),
    NOT_APPLICABLE: ("[-]", Text("không áp dụng", "not applicable")),
    UNKNOWN: ("[?]", Text("chưa xác định", "unknown")),
}

_WORDS = {
    "national": Text("Chuẩn quốc gia", "National standard"),
    "local": Text("Chuẩn địa phương", "Local standard"),
    "result": Text("Kết quả", "Result"),
    "version": Text("phiên bản", "version"),
    "year": Text("năm rà soát", "review year"),
    "urban": Text("thành thị", "urban"),
    "rural": Text("nông thôn", "rural"),
    "deprivations": Text("Số chỉ số thiếu hụt", "Deprivations"),
    "unknown": Text("chưa xác định", "unknown"),
    "why": Text("Lý do", "Why"),
    "indicators": Text("Các chỉ số", "Indicators"),
    "b1": Text("Điểm B1", "B1 score"),
    "b1_missing": Text("không tính được", "cannot be computed"),
    "sample": Text("CẢNH BÁO: bảng điểm B1 {table} là BẢNG MẪU, không phải bảng chính thức; kết quả "
                   "dựa trên điểm B1 chỉ để thử nghiệm.",
                   "WARNING: B1 score table {table} is a SAMPLE, not the official table; results "
                   "based on the B1 score are for testing only."),
}


def explain(c: Classification, lang: str = "vi") -> str:
    """A multi-line explanation of ``c`` in ``lang`` ("vi" or "en")."""
    word = {key: text.get(lang) for key, text in _WORDS.items()}
    area = word["urban"] if c.urban else word["rural"]
    lines = [f"{word['year']} {c.year}, {area}"]
    lines += _verdict_lines(c.national, word["national"], word, lang)
    if c.local is not None:
        lines.append("")
        lines += _verdict_lines(c.local, word["local"], word, lang)
    if c.b1 is not None:
        lines.append("")
        table = f"{c.b1.table.id} v{c.b1.table.version}"
        if c.b1.total is None:
            problems = "; ".join(p.get(lang) for p in c.b1.problems)
            lines.append(f"{word['b1']} ({table}): {word['b1_missing']}: {problems}")
        else:
            lines.append(f"{word['b1']} ({table}): {c.b1.total}")
        if c.b1.table.sample:
            lines.append(word["sample"].format(table=table))
    return "\n".join(lines)


def _verdict_lines(verdict: Verdict, title: str, word: Mapping[str, str], lang: str) -> list[str]:
    ref = verdict.ruleset
    label = CLASS_LABELS[verdict.class_] if verdict.class_ is not None else UNCLASSIFIABLE_LABEL
    lines = [f"{title} ({ref.id}, {word['version']} {ref.version}) — {word['result']}: {label.get(lang)}"]
    lines += [f"  {word['why']}: {r.text.get(lang)}" for r in verdict.reasons]
    if verdict.indicators:
        unknown = f", {verdict.unknown_count} {word['unknown']}" if verdict.unknown_count else ""
        lines.append(f"  {word['deprivations']}: {verdict.deprivation_count}/{len(verdict.indicators)}"
                     f"{unknown}")
        lines.append(f"  {word['indicators']}:")
        for indicator in verdict.indicators:
            mark, status = STATUS_MARKS[indicator.status]
            lines.append(f"    {mark} {indicator.id} {indicator.name.get(lang)}: {status.get(lang)} — "
                         f"{indicator.reason.get(lang)}")
    return lines


def transition_counts(before: Mapping[str, str | None],
                      after: Mapping[str, str | None]) -> dict[tuple[str, str], int]:
    """Count households by (class before, class after), unchanged ones included.

    Keys are household keys; a household missing on one side, or with a None class, counts as
    NO_CLASS there, so new and dropped households show as ("none", x) and (x, "none").
    """
    counts = Counter((before.get(key) or NO_CLASS, after.get(key) or NO_CLASS)
                     for key in before.keys() | after.keys())
    return dict(counts)
