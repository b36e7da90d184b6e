"""Streaming writers: CSV and GeoJSON as byte chunks, XLSX through openpyxl's write-only mode.

Every writer pulls one row (or feature) at a time from its iterable and hands bytes on as soon as a
chunk is full, so memory stays flat however long the export is: the caller can send the chunks to
an HTTP response or a file as they come.

Cell values: ``str``, ``int``, ``float``, ``Decimal``, ``date``, ``datetime`` and ``None`` (empty).
Datetimes are written in UTC (a naive datetime is taken to be UTC already, as the database stores
it). ``bool`` is refused: ``True``/``False`` in a registry column would be ambiguous, so callers map
flags to explicit codes. Non-finite numbers are refused: the formats have no agreed spelling for them.

Formula injection (CSV): a spreadsheet that opens the CSV runs any cell starting with ``=``, ``+``,
``-`` or ``@`` (and a leading tab or CR can hide such a cell), so a *text* cell starting with one of
those characters is written with a ``'`` in front. The ``'`` itself is also a trigger, which makes
the rule reversible: :func:`unneutralise` drops exactly one leading ``'`` and gives back the
original text. Decision on numbers: a cell is numeric when its Python value is a number, and
numbers are never prefixed, so a negative longitude stays ``-0.5``. A number sent as text ("-5") is
text and gets the prefix: the type, not the look of the string, says what the column holds.

XLSX does not need the prefix: a cell typed as a string is never evaluated, so every ``str`` is
written as a string cell, including ones that openpyxl would otherwise turn into a formula (``=…``)
or an error value (``#N/A``). XLSX cannot hold C0 control characters; they become U+FFFD there (the
CSV keeps them).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CHUNK_SIZE = 64 * 1024  # characters
BOM = "\ufeff"
# The leading characters that make a spreadsheet treat a CSV cell as a formula, plus the quote
# that marks a neutralised cell (see the module docstring).
FORMULA_TRIGGERS = frozenset("=+-@\t\r'")
NEUTRALISER = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")  # ASCII digits only, the whole cell (fullmatch)
XLSX_MAX_ROWS = 1_048_576  # rows per worksheet, header included (Excel's limit)
XLSX_REPLACEMENT = "\ufffd"


class UnsupportedCell(TypeError):
    """A value that the export formats cannot represent without guessing."""


def neutralise(text: str) -> str:
    """``text`` made safe to open in a spreadsheet; reversed by :func:`unneutralise`."""
    return NEUTRALISER + text if text[:1] in FORMULA_TRIGGERS else text


def neutralise_text(text: str) -> str:
    """:func:`neutralise` for producers whose every value is text (XForm answers, registry CSV cells): a
    cell that reads as a plain number (``-5``, ``-0.5``, ``+84912345678``) is left alone so that it stays
    a number, or a phone number, in the spreadsheet. Reversed by :func:`unneutralise` all the same."""
    return text if _PLAIN_NUMBER.fullmatch(text) else neutralise(text)


def unneutralise(text: str) -> str:
    """The original text of a CSV cell written by :func:`csv_chunks`."""
    return text[1:] if text[:1] == NEUTRALISER else text


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; microseconds kept, since incremental cursors compare them."""
    if value.tzinfo is None:
        return value.isoformat() + "Z"
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat()[:-6] + "Z"  # drop "+00:00"


def _finite(value: float | Decimal) -> float | Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnsupportedCell(f"not a finite number: {value!r}")
    elif not math.isfinite(value):
        raise UnsupportedCell(f"not a finite number: {value!r}")
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return neutralise(str(value))
    if isinstance(value, bool):
        raise UnsupportedCell(f"cannot export a bool cell: {value!r}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        return _finite(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise UnsupportedCell(f"cannot export a {type(value).__name__} cell: {value!r}")


# Types whose str() is already the cell's text (str(date) is its ISO form), so a row made only of
# them can be joined in C and checked afterwards, instead of looked at cell by cell in Python.
_PLAIN_TYPES = frozenset({str, int, float, type(None), date})
# In a joined line whose cells hold no quote, every quote opens or closes a cell and a closing one is
# followed by a comma or the line end (searched without its CRLF), so a quote followed by a trigger
# opens a cell that needs the prefix, and "nan"/"inf" between quotes is a whole cell. A negative
# number is a false alarm (the slow path writes it unchanged); nothing is missed.
_SUSPECT = re.compile('"(?:[=+\\-@\t\r\']|nan"|inf")')  # "-inf" starts with a trigger


class _Lines:
    """The csv writer's "file": each written line goes to a list, to be joined into a chunk."""

    __slots__ = ("write",)

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], *, chunk_size: int = CHUNK_SIZE
               ) -> Iterator[bytes]:
    """The CSV (UTF-8 with BOM, CRLF line ends, every cell quoted) of ``header`` and ``rows``, in chunks.

    The BOM makes Excel read the file as UTF-8 (Vietnamese names otherwise come out garbled);
    readers that open the file as ``utf-8-sig`` (the registry import does) skip it. Every cell is
    quoted because that lets a whole row be written by a few string operations in C (a
    province-wide export is a million rows); quoting changes no value for a CSV reader. A chunk is
    yielded as soon as it holds about ``chunk_size`` characters, so rows are pulled only as fast as
    the chunks are taken.
    """
    lines: list[str] = [BOM]
    writer = csv.writer(_Lines(lines), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([neutralise(name) for name in header])
    width = len(header)
    quotes = 2 * width
    size = 0
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(f"row {number} has {len(row)} cells, the header {width}")
        line = None
        # Fast path: every cell's str() is its text except None's ("None", replaced below, which is
        # why a text cell reading "None" is left to the slow path), and no cell holds a quote.
        if _PLAIN_TYPES.issuperset(map(type, row)) and "None" not in row:
            joined = '"' + '","'.join(map(str, row)) + '"\r\n'
            if joined.count('"') == quotes and not _SUSPECT.search(joined, 0, len(joined) - 2):
                line = joined.replace('"None"', '""')
        if line is None:
            writer.writerow([_csv_cell(value) for value in row])
        else:
            lines.append(line)
        size += len(lines[-1])
        if size >= chunk_size:
            yield "".join(lines).encode("utf-8")
            lines.clear()
            size = 0
    yield "".join(lines).encode("utf-8")


def _xlsx_text(sheet: WriteOnlyWorksheet, text: str) -> str | Cell:
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub(XLSX_REPLACEMENT, text)
    if text[:1] == "=" or text in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"  # keep it text: openpyxl would store a formula or an error value
        return cell
    return text


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _xlsx_text(sheet, str(value))
    if isinstance(value, bool):
        raise UnsupportedCell(f"cannot export a bool cell: {value!r}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        return _finite(value)
    if isinstance(value, datetime):
        # Excel has no time zones: the column's documentation says the times are UTC.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, date):
        return value
    raise UnsupportedCell(f"cannot export a {type(value).__name__} cell: {value!r}")


def xlsx_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], path_or_file: str | Path | IO[bytes], *,
                sheet_title: str = "data", max_rows_per_sheet: int = XLSX_MAX_ROWS) -> int:
    """Write ``header`` and ``rows`` as an XLSX workbook; return the number of data rows.

    openpyxl's write-only mode streams each sheet to a temporary file and writes strings inline
    (no shared-string table), so memory does not grow with the row count. A sheet holds at most
    ``max_rows_per_sheet`` rows (header included); the rest continue on ``<title> (2)``, ``(3)``…,
    each with the header repeated, since a province's members do not fit on one sheet.
    """
    if max_rows_per_sheet < 2:
        raise ValueError("a sheet needs room for the header and at least one row")
    workbook = Workbook(write_only=True)
    count = 0
    try:
        sheet = _new_sheet(workbook, header, sheet_title)
        width = len(header)
        in_sheet = 1
        for count, row in enumerate(rows, start=1):
            if len(row) != width:
                raise ValueError(f"row {count} has {len(row)} cells, the header {width}")
            if in_sheet == max_rows_per_sheet:
                sheet = _new_sheet(workbook, header, f"{sheet_title} ({len(workbook.worksheets) + 1})")
                in_sheet = 1
            sheet.append([_xlsx_cell(sheet, value) for value in row])
            in_sheet += 1
    except BaseException:
        _discard(workbook)
        raise
    workbook.save(path_or_file)
    return count


def _discard(workbook: Workbook) -> None:
    # openpyxl (pinned 3.1.5) has no public way to abandon a write-only workbook: close each sheet's
    # stream and delete its temporary file, or both linger until the process exits.
    for sheet in workbook.worksheets:
        sheet.close()
        sheet._writer.cleanup()


def _new_sheet(workbook: Workbook, header: Sequence[str], title: str) -> WriteOnlyWorksheet:
    sheet = workbook.create_sheet(title=title)
    sheet.append([_xlsx_text(sheet, name) for name in header])
    return sheet


def point_feature(lon: float | None, lat: float | None, properties: Mapping[str, Any],
                  feature_id: str | int | None = None) -> dict[str, Any]:
    """A GeoJSON Feature with a Point in GeoJSON order (longitude first) or no geometry.

    Phones report ``lat lon``; taking the arguments by name here is where the order is fixed once.
    A household without a location keeps its feature with a null geometry (RFC 7946 §3.2), so the
    GeoJSON export lists the same households as the CSV.
    """
    if (lon is None) != (lat is None):
        raise ValueError(f"a point needs both coordinates, got lon={lon!r} lat={lat!r}")
    geometry = None
    if lon is not None and lat is not None:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"coordinates out of range: lon={lon!r} lat={lat!r}")
        geometry = {"type": "Point", "coordinates": [lon, lat]}
    feature: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": dict(properties)}
    if feature_id is not None:
        feature["id"] = feature_id
    return feature


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        _finite(value)
        return int(value) if value == value.to_integral_value() else float(value)
    raise UnsupportedCell(f"cannot export a {type(value).__name__} value: {value!r}")


def geojson_chunks(features: Iterable[Mapping[str, Any]], *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """A GeoJSON FeatureCollection (UTF-8, no BOM: RFC 7946 forbids it) streamed feature by feature."""
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)
    parts = ['{"type":"FeatureCollection","features":[\n']
    size = len(parts[0])
    separator = ""
    for number, feature in enumerate(features, start=1):
        if feature.get("type") != "Feature":
            raise ValueError(f"item {number} is not a GeoJSON Feature")
        text = separator + encoder.encode(feature)
        separator = ",\n"
        parts.append(text)
        size += len(text)
        if size >= chunk_size:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("\n]}\n")
    yield "".join(parts).encode("utf-8")
