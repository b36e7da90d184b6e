"""Summary reports of a campaign (rows = communes) or of a commune (rows = villages).

The layout is data: a template (``templates/*.json``, format below) lists sheets, title lines, a
tree of column groups whose leaves are columns, and summary rows; every column is a named measure.
The bundled templates are MODELLED on Annex VII of Circular 07/2021/TT-BLĐTBXH and say so in their
``notice``; the official column order can be matched by editing the JSON alone.

Measures (counts are of households; "start"/"end" = start/end of the campaign year):
- ``households_total`` / ``households_total_start``: households in the unit at the end / start;
- ``<class>_count[_start]``, ``<class>_rate[_start]`` for class ``poor``, ``near_poor``,
  ``average_living``; a rate is a percentage of the households of the same moment, 2 decimals,
  rounded half up, empty when there are no households;
- ``<class>_new``, ``<class>_fell_back``, ``<class>_escaped``, ``<class>_exited_other`` for
  ``poor`` and ``near_poor``: a household entering the class in the year is ``fell_back`` when its
  history says it had escaped before (change type ``fell_back``), otherwise ``new``; one leaving it
  has ``escaped`` when it ends in a better-off class, otherwise ``exited_other`` (moved away,
  dissolved, merged, or — for near-poor — fell into poverty). So for every unit:
  ``count = count_start + new + fell_back - escaped - exited_other``;
- ``deprived_<i>_<j>[_rate]`` and ``<class>_deprived_<i>_<j>[_rate]``: households (of the class) at
  the end of the year deprived in indicator i.j; the rate is of the households (of that class).

A column may be limited to ``urban`` or ``rural`` households; a summary row sums all units, or
only their urban or rural households. Totals are computed from the summed counts, never by adding
or averaging the units' rates.

Template format 1 (JSON)::

    {"format": 1, "id": "...", "version": "1", "modelled": true, "notice": {"vi": ..., "en": ...},
     "sheets": [{"name": {vi, en}, "title": [{vi, en}, ...], "unit_label": {vi, en},
                 "summary_position": "top" | "bottom",
                 "summary_rows": [{"label": {vi, en}, "area": null | "urban" | "rural"}],
                 "columns": [{"label": {vi, en}, "columns": [...]}                    (a group)
                             {"label": {vi, en}, "measure": "poor_rate", "area": null}]}]}  (a column)

Titles may use ``{placeholders}`` filled from the ``context`` given to :func:`compute_report`.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from server.exports.registry import INDICATOR_IDS, RURAL, URBAN
from server.standards.classify import AVERAGE_LIVING, CLASSES, NEAR_POOR, POOR, class_rank
from server.standards.indicators import DEPRIVED
from server.standards.text import LANGUAGES, Text

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_FORMAT = 1
AREAS = (URBAN, RURAL)
COUNTED_CLASSES = (POOR, NEAR_POOR, AVERAGE_LIVING)
TRACKED_CLASSES = (POOR, NEAR_POOR)  # the classes whose movements the reports follow
TRANSITIONS = ("new", "fell_back", "escaped", "exited_other")
UNIT_LEVELS = {"commune": ("commune_code", "commune_name"), "village": ("village_code", "village_name")}
SUMMARY_POSITIONS = ("top", "bottom")
RATE_QUANTUM = Decimal("0.01")
SHEET_NAME_MAX = 31  # Excel's limit
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_INDICATORS = frozenset(INDICATOR_IDS)


class TemplateError(ValueError):
    """A report template that cannot be used; the message names the file and the place in it."""


# --- rows and what is counted ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReportRow:
    """One household as the reports see it."""

    unit_code: str  # the unit the household is reported under (commune or village)
    unit_name: str
    urban: bool
    start_class: str | None  # None: not a household of the unit at the start of the year
    end_class: str | None  # None: no longer one at the end (moved away, dissolved, merged)
    fell_back: bool = False  # its history: it had escaped this class in an earlier year
    deprived: frozenset[str] = frozenset()  # indicator ids ("1.1") deprived at the end of the year

    def __post_init__(self) -> None:
        for moment in (self.start_class, self.end_class):
            if moment is not None and moment not in CLASSES:
                raise ValueError(f"{self.unit_code}: unknown class {moment!r}")
        if not self.deprived <= _INDICATORS:
            raise ValueError(f"{self.unit_code}: unknown indicators {sorted(self.deprived - _INDICATORS)}")


def report_row(household: Mapping[str, Any], unit_level: str = "commune") -> ReportRow:
    """The household dict of the registry export (``registry.HouseholdData``) as a report row,
    reported under its commune (a campaign's report) or its village (a commune's report)."""
    code_key, name_key = UNIT_LEVELS[unit_level]
    if household.get("urban") is None or not household.get(code_key):
        raise ValueError(f"household {household.get('record_id')}: {code_key} and urban are needed for reports")
    indicators = household.get("indicators") or {}
    return ReportRow(
        unit_code=household[code_key],
        unit_name=household.get(name_key) or household[code_key],
        urban=bool(household["urban"]),
        start_class=household.get("start_class"),
        end_class=household.get("end_class"),
        fell_back=household.get("change_type") == "fell_back",
        deprived=frozenset(i for i, status in indicators.items() if status == DEPRIVED),
    )


def _atoms(row: ReportRow) -> list[str]:
    """The elementary counts a household adds to; every measure is a sum (or ratio) of these."""
    start, end = row.start_class, row.end_class
    atoms = []
    if start is not None:
        atoms += ["hh:start", f"start:{start}"]
    if end is not None:
        atoms += ["hh:end", f"end:{end}"]
        atoms += [f"deprived:{indicator}:{end}" for indicator in row.deprived]
    for tracked in TRACKED_CLASSES:
        if end == tracked and start != tracked:
            atoms.append(f"{'fell_back' if row.fell_back else 'new'}:{tracked}")
        elif start == tracked and end != tracked:
            better_off = end is not None and class_rank(end) > class_rank(tracked)
            atoms.append(f"{'escaped' if better_off else 'exited_other'}:{tracked}")
    return atoms


# --- measures --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    """A count (sum of atoms) or, with a denominator, a percentage."""

    name: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] | None = None

    @property
    def is_rate(self) -> bool:
        return self.denominator is not None

    def value(self, counts: Mapping[str, int]) -> int | Decimal | None:
        top = sum(counts.get(atom, 0) for atom in self.numerator)
        if self.denominator is None:
            return top
        bottom = sum(counts.get(atom, 0) for atom in self.denominator)
        if bottom == 0:
            return None
        return (Decimal(top * 100) / Decimal(bottom)).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


_CLASS_PATTERN = "|".join(COUNTED_CLASSES)
_TRACKED_PATTERN = "|".join(TRACKED_CLASSES)
_COUNT_RE = re.compile(rf"(?P<cls>{_CLASS_PATTERN})_(?P<kind>count|rate)(?P<start>_start)?")
_TRANSITION_RE = re.compile(rf"(?P<cls>{_TRACKED_PATTERN})_(?P<kind>{'|'.join(TRANSITIONS)})")
_DEPRIVED_RE = re.compile(rf"(?:(?P<cls>{_CLASS_PATTERN})_)?deprived_(?P<a>\d)_(?P<b>\d)(?P<rate>_rate)?")


def parse_measure(name: str) -> Measure:
    """The measure called ``name`` (see the module docstring); ValueError when there is none."""
    if name in ("households_total", "households_total_start"):
        return Measure(name, ("hh:start",) if name.endswith("_start") else ("hh:end",))
    if match := _COUNT_RE.fullmatch(name):
        moment = "start" if match["start"] else "end"
        return Measure(name, (f"{moment}:{match['cls']}",), (f"hh:{moment}",) if match["kind"] == "rate" else None)
    if match := _TRANSITION_RE.fullmatch(name):
        return Measure(name, (f"{match['kind']}:{match['cls']}",))
    if (match := _DEPRIVED_RE.fullmatch(name)) and f"{match['a']}.{match['b']}" in _INDICATORS:
        indicator = f"{match['a']}.{match['b']}"
        classes = (match["cls"],) if match["cls"] else CLASSES
        denominator = (f"end:{match['cls']}",) if match["cls"] else ("hh:end",)
        return Measure(name, tuple(f"deprived:{indicator}:{c}" for c in classes),
                       denominator if match["rate"] else None)
    raise ValueError(f"unknown measure {name!r}")


# --- templates -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    label: Text
    measure: Measure
    area: str | None = None  # only urban or only rural households


@dataclass(frozen=True)
class Group:
    label: Text
    children: tuple[Group | Column, ...]


@dataclass(frozen=True)
class SummaryRow:
    label: Text
    area: str | None = None


@dataclass(frozen=True)
class SheetTemplate:
    name: Text
    title: tuple[Text, ...]
    unit_label: Text
    header: tuple[Group | Column, ...]
    summary_rows: tuple[SummaryRow, ...]
    summary_position: str = "top"

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(_leaves(self.header))


def _leaves(nodes: Iterable[Group | Column]) -> Iterable[Column]:
    for node in nodes:
        if isinstance(node, Column):
            yield node
        else:
            yield from _leaves(node.children)


@dataclass(frozen=True)
class ReportTemplate:
    id: str
    version: str
    modelled: bool  # True until the official layout has been checked against the form
    notice: Text | None
    sheets: tuple[SheetTemplate, ...]


class _Reader:
    """Reads one template file, naming the place of every problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> TemplateError:
        return TemplateError(f"{self.source}: {where}: {problem}")

    def get(self, data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
        if not isinstance(data, dict) or key not in data:
            raise self.fail(where, f"'{key}' is missing")
        if not isinstance(data[key], kind):
            raise self.fail(f"{where}.{key}", f"expected {kind}, got {type(data[key]).__name__}")
        return data[key]

    def text(self, data: Any, where: str) -> Text:
        if not isinstance(data, dict) or set(data) != set(LANGUAGES) \
                or not all(isinstance(data[lang], str) and data[lang].strip() for lang in LANGUAGES):
            raise self.fail(where, f"a text needs non-empty {' and '.join(LANGUAGES)}")
        return Text(vi=data["vi"], en=data["en"])

    def area(self, data: Mapping[str, Any], where: str) -> str | None:
        area = data.get("area")
        if area is not None and area not in AREAS:
            raise self.fail(f"{where}.area", f"must be null or one of {AREAS}, not {area!r}")
        return area

    def node(self, data: Any, where: str) -> Group | Column:
        label = self.text(self.get(data, "label", dict, where), f"{where}.label")
        if "measure" in data:
            if "columns" in data:
                raise self.fail(where, "a column has a measure, a group has columns: not both")
            try:
                measure = parse_measure(self.get(data, "measure", str, where))
            except ValueError as error:
                raise self.fail(f"{where}.measure", str(error)) from None
            return Column(label, measure, self.area(data, where))
        children = self.get(data, "columns", list, where)
        if not children:
            raise self.fail(f"{where}.columns", "a group needs at least one column")
        return Group(label, tuple(self.node(child, f"{where}.columns[{i}]") for i, child in enumerate(children)))

    def sheet(self, data: Any, where: str) -> SheetTemplate:
        name = self.text(self.get(data, "name", dict, where), f"{where}.name")
        for lang in LANGUAGES:
            if len(name.get(lang)) > SHEET_NAME_MAX or _SHEET_NAME_FORBIDDEN.search(name.get(lang)):
                raise self.fail(f"{where}.name.{lang}", f"a sheet name has at most {SHEET_NAME_MAX} characters "
                                                        "and none of []:*?/\\")
        columns = self.get(data, "columns", list, where)
        if not columns:
            raise self.fail(f"{where}.columns", "a sheet needs at least one column")
        position = data.get("summary_position", "top")
        if position not in SUMMARY_POSITIONS:
            raise self.fail(f"{where}.summary_position", f"must be one of {SUMMARY_POSITIONS}")
        summaries = self.get(data, "summary_rows", list, where)
        return SheetTemplate(
            name=name,
            title=tuple(self.text(line, f"{where}.title[{i}]")
                        for i, line in enumerate(self.get(data, "title", list, where))),
            unit_label=self.text(self.get(data, "unit_label", dict, where), f"{where}.unit_label"),
            header=tuple(self.node(column, f"{where}.columns[{i}]") for i, column in enumerate(columns)),
            summary_rows=tuple(
                SummaryRow(self.text(self.get(row, "label", dict, f"{where}.summary_rows[{i}]"),
                                     f"{where}.summary_rows[{i}].label"),
                           self.area(row, f"{where}.summary_rows[{i}]"))
                for i, row in enumerate(summaries)),
            summary_position=position,
        )

    def template(self, data: Any) -> ReportTemplate:
        if self.get(data, "format", int, "template") != TEMPLATE_FORMAT:
            raise self.fail("format", f"only format {TEMPLATE_FORMAT} is known")
        modelled = self.get(data, "modelled", bool, "template")
        notice = self.text(data["notice"], "notice") if data.get("notice") is not None else None
        if modelled and notice is None:
            raise self.fail("notice", "a modelled template must carry a notice saying so")
        sheets = self.get(data, "sheets", list, "template")
        if not sheets:
            raise self.fail("sheets", "a template needs at least one sheet")
        return ReportTemplate(
            id=self.get(data, "id", str, "template"),
            version=self.get(data, "version", str, "template"),
            modelled=modelled,
            notice=notice,
            sheets=tuple(self.sheet(sheet, f"sheets[{i}]") for i, sheet in enumerate(sheets)),
        )


def template_from_data(data: Mapping[str, Any], source: str = "<data>") -> ReportTemplate:
    """A template from its parsed JSON; TemplateError names the first problem."""
    return _Reader(source).template(data)


def load_template(path: str | Path) -> ReportTemplate:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise TemplateError(f"{path}: {error}") from None
    return template_from_data(data, str(path))


def bundled_templates() -> dict[str, ReportTemplate]:
    """The templates shipped in ``templates/``, by id."""
    templates = [load_template(path) for path in sorted(TEMPLATE_DIR.glob("*.json"))]
    return {template.id: template for template in templates}


# --- computing a report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportLine:
    kind: str  # "unit" or "summary"
    label: Text  # a unit's name (the same in both languages) or the summary row's label
    values: tuple[int | Decimal | None, ...]  # one per column, in column order
    number: int | None = None  # the unit's position (STT)
    code: str | None = None  # the unit's code
    area: str | None = None  # a summary row's area


@dataclass(frozen=True)
class ReportSheet:
    template: SheetTemplate
    title: tuple[Text, ...]  # placeholders filled
    lines: tuple[ReportLine, ...]  # in display order

    def unit(self, code: str) -> ReportLine:
        return next(line for line in self.lines if line.kind == "unit" and line.code == code)

    def summary(self, area: str | None = None) -> ReportLine:
        return next(line for line in self.lines if line.kind == "summary" and line.area == area)


@dataclass(frozen=True)
class ReportTable:
    template: ReportTemplate
    sheets: tuple[ReportSheet, ...]

    def to_dict(self, lang: str = "vi") -> dict[str, Any]:
        """Everything a page needs to show the report: header cells with spans, formatted values."""
        return {
            "template": self.template.id, "version": self.template.version, "modelled": self.template.modelled,
            "notice": self.template.notice.get(lang) if self.template.notice else None,
            "sheets": [_sheet_dict(sheet, lang) for sheet in self.sheets],
        }


def _sheet_dict(sheet: ReportSheet, lang: str) -> dict[str, Any]:
    columns = sheet.template.columns
    return {
        "name": sheet.template.name.get(lang),
        "title": [line.get(lang) for line in sheet.title],
        "number_label": _NUMBER_LABEL.get(lang),
        "unit_label": sheet.template.unit_label.get(lang),
        "header_rows": header_depth(sheet.template.header),
        "header": [{"label": cell.label.get(lang), "row": cell.row, "col": cell.col, "rowspan": cell.rowspan,
                    "colspan": cell.colspan} for cell in header_cells(sheet.template.header)],
        "columns": [{"measure": c.measure.name, "area": c.area, "rate": c.measure.is_rate} for c in columns],
        "lines": [{"kind": line.kind, "number": line.number, "code": line.code, "label": line.label.get(lang),
                   "values": [None if v is None else float(v) if isinstance(v, Decimal) else v for v in line.values],
                   "display": [format_value(v, lang) for v in line.values]}
                  for line in sheet.lines],
    }


def _merge(counters: Iterable[Counter[str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return total


def _line_values(columns: Sequence[Column], by_area: Mapping[str, Counter[str]]) -> tuple[int | Decimal | None, ...]:
    everywhere = _merge(by_area.values())
    return tuple(column.measure.value(by_area[column.area] if column.area else everywhere) for column in columns)


def _fill(text: Text, context: Mapping[str, object], where: str) -> Text:
    needed = {name for lang in LANGUAGES for _, name, _, _ in string.Formatter().parse(text.get(lang)) if name}
    missing = needed - set(context)
    if missing:
        raise TemplateError(f"{where}: the context lacks {sorted(missing)}")
    return Text(text.vi.format_map(context), text.en.format_map(context))


def compute_report(template: ReportTemplate, rows: Iterable[ReportRow], *,
                   context: Mapping[str, object] | None = None, units: Sequence[tuple[str, str]] = ()) -> ReportTable:
    """Aggregate ``rows`` in one pass (memory grows with units, not households) into the template.

    ``units`` (code, name) fixes the order of the unit rows and lists units without households;
    units met only in ``rows`` follow, by code.
    """
    counts: dict[tuple[str, bool], Counter[str]] = {}
    names = dict(units)
    for row in rows:
        key = (row.unit_code, row.urban)
        counter = counts.get(key)
        if counter is None:
            counter = counts[key] = Counter()
            names.setdefault(row.unit_code, row.unit_name)
        counter.update(_atoms(row))
    order = [code for code, _ in units] + sorted(set(names) - {code for code, _ in units})

    def by_area(codes: Iterable[str]) -> dict[str, Counter[str]]:
        codes = list(codes)
        return {area: _merge(counts.get((code, area == URBAN), Counter()) for code in codes) for area in AREAS}

    unit_counts = {code: by_area([code]) for code in order}
    province = by_area(order)
    sheets = []
    for index, sheet in enumerate(template.sheets):
        columns = sheet.columns
        unit_lines = [ReportLine("unit", Text(names[code], names[code]), _line_values(columns, unit_counts[code]),
                                 number=number, code=code)
                      for number, code in enumerate(order, start=1)]
        summary_lines = [
            ReportLine("summary", summary.label,
                       _line_values(columns, {area: province[area] if summary.area in (None, area) else Counter()
                                              for area in AREAS}),
                       area=summary.area)
            for summary in sheet.summary_rows]
        lines = summary_lines + unit_lines if sheet.summary_position == "top" else unit_lines + summary_lines
        title = tuple(_fill(line, context or {}, f"{template.id}: sheets[{index}].title[{i}]")
                      for i, line in enumerate(sheet.title))
        sheets.append(ReportSheet(sheet, title, tuple(lines)))
    return ReportTable(template, tuple(sheets))


# --- layout shared by the page and the workbook ---------------------------------------------------

@dataclass(frozen=True)
class HeaderCell:
    label: Text
    row: int  # 0-based, within the header
    col: int  # 0-based, among the data columns
    rowspan: int
    colspan: int


def header_depth(nodes: Sequence[Group | Column]) -> int:
    return max(1 if isinstance(node, Column) else 1 + header_depth(node.children) for node in nodes)


def header_cells(nodes: Sequence[Group | Column]) -> list[HeaderCell]:
    """The header as cells with spans: a group spans its columns; a column reaches the last header row."""
    depth = header_depth(nodes)
    cells: list[HeaderCell] = []

    def place(items: Sequence[Group | Column], row: int, col: int) -> int:
        for node in items:
            if isinstance(node, Column):
                cells.append(HeaderCell(node.label, row, col, depth - row, 1))
                col += 1
            else:
                width = sum(1 for _ in _leaves(node.children))
                cells.append(HeaderCell(node.label, row, col, 1, width))
                place(node.children, row + 1, col)
                col += width
        return col

    place(nodes, 0, 0)
    return cells


def format_value(value: int | Decimal | None, lang: str = "vi") -> str:
    """A count with grouped thousands, a rate with exactly 2 decimals, in the language's separators."""
    if value is None:
        return ""
    thousands, point = (".", ",") if lang == "vi" else (",", ".")
    text = f"{value:,.2f}" if isinstance(value, Decimal) else f"{value:,d}"
    return text.translate({ord(","): thousands, ord("."): point})


# --- workbook --------------------------------------------------------------------------------------

_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_SUMMARY_FILL = PatternFill("solid", fgColor="F2F2F2")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_COUNT_FORMAT = "#,##0"
_RATE_FORMAT = "0.00"
_FIXED_COLUMNS = 2  # STT and the unit
_NUMBER_LABEL = Text("STT", "No.")


def write_report_xlsx(table: ReportTable, path_or_file: str | Path | IO[bytes], lang: str = "vi") -> None:
    """The report as a formatted workbook, one worksheet per sheet, headers in ``lang``."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in table.sheets:
        _write_sheet(workbook, table.template, sheet, lang)
    workbook.save(path_or_file)


def _merge_write(ws: Any, row: int, col: int, value: str, rowspan: int = 1, colspan: int = 1) -> Any:
    if rowspan > 1 or colspan > 1:
        ws.merge_cells(start_row=row, start_column=col, end_row=row + rowspan - 1, end_column=col + colspan - 1)
    cell = ws.cell(row=row, column=col, value=value)
    for r in range(row, row + rowspan):
        for c in range(col, col + colspan):
            ws.cell(row=r, column=c).border = _BORDER
    return cell


def _write_sheet(workbook: Workbook, template: ReportTemplate, sheet: ReportSheet, lang: str) -> None:
    ws = workbook.create_sheet(title=sheet.template.name.get(lang))
    columns = sheet.template.columns
    width = _FIXED_COLUMNS + len(columns)
    row = 1
    for index, line in enumerate(sheet.title):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = ws.cell(row=row, column=1, value=line.get(lang))
        cell.font = Font(bold=True, size=13 if index == 0 else 12)
        cell.alignment = _CENTER
        row += 1
    if template.notice is not None:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = ws.cell(row=row, column=1, value=template.notice.get(lang))
        cell.font = Font(italic=True, color="C00000")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[row].height = 32
        row += 1
    row += 1  # a blank line before the table

    depth = header_depth(sheet.template.header)
    fixed = (_NUMBER_LABEL.get(lang), sheet.template.unit_label.get(lang))
    header_top = row
    for col, label in enumerate(fixed, start=1):
        _merge_write(ws, header_top, col, label, rowspan=depth)
    for hc in header_cells(sheet.template.header):
        _merge_write(ws, header_top + hc.row, _FIXED_COLUMNS + 1 + hc.col, hc.label.get(lang),
                     rowspan=hc.rowspan, colspan=hc.colspan)
    for r in range(header_top, header_top + depth):
        for c in range(1, width + 1):
            ws.cell(row=r, column=c).font = Font(bold=True)
            ws.cell(row=r, column=c).alignment = _CENTER
            ws.cell(row=r, column=c).fill = _HEADER_FILL
    row = header_top + depth

    # The column-number line of the official forms: A, B for the fixed columns, then 1, 2, 3…
    for col, label in enumerate(["A", "B", *(str(n) for n in range(1, len(columns) + 1))], start=1):
        cell = _merge_write(ws, row, col, label)
        cell.font = Font(italic=True)
        cell.alignment = _CENTER
    row += 1
    ws.freeze_panes = ws.cell(row=row, column=_FIXED_COLUMNS + 1)

    for line in sheet.lines:
        summary = line.kind == "summary"
        values: list[Any] = [line.number, line.label.get(lang), *line.values]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col, value=value)
            cell.border = _BORDER
            if summary:
                cell.font = Font(bold=True)
                cell.fill = _SUMMARY_FILL
            if col > _FIXED_COLUMNS:
                cell.number_format = _RATE_FORMAT if columns[col - _FIXED_COLUMNS - 1].measure.is_rate \
                    else _COUNT_FORMAT
            elif col == 1:
                cell.alignment = Alignment(horizontal="center")
        row += 1

    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 30
    for col in range(_FIXED_COLUMNS + 1, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = 12
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
