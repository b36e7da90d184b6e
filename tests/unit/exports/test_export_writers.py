"""Streaming writers: CSV (BOM, CRLF, formula injection, types), XLSX (write-only), GeoJSON, laziness."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from server.exports.writers import (
    BOM,
    FORMULA_TRIGGERS,
    UnsupportedCell,
    csv_chunks,
    geojson_chunks,
    iso_utc,
    neutralise,
    point_feature,
    unneutralise,
    xlsx_stream,
)

HEADER = ("name", "value")


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]], **kwargs: Any) -> str:
    return b"".join(csv_chunks(header, rows, **kwargs)).decode("utf-8")


def parse(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM):], newline="")))


def cells(rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    """The data cells (header dropped) as a CSV reader gives them back."""
    return parse(csv_text(["c"] * len(rows[0]), rows))[1:]


class ReadAhead(AssertionError):
    pass


def guarded_rows(received: list[bytes], count: int, make: Any) -> Iterator[Any]:
    """Yields item i only once the consumer holds i - 1 chunks: raises when read too early."""
    for i in range(1, count + 1):
        if i > len(received) + 1:
            raise ReadAhead(f"item {i} pulled while only {len(received)} chunks were taken")
        yield make(i)


# --- CSV: encoding and layout ------------------------------------------------------------------------

def test_csv__any_export__starts_with_bom_and_uses_crlf() -> None:
    raw = b"".join(csv_chunks(HEADER, [["Nguyễn Văn Hùng", 1]]))
    assert raw.startswith("\ufeff".encode())
    assert raw.decode("utf-8") == '\ufeff"name","value"\r\n"Nguyễn Văn Hùng","1"\r\n'


def test_csv__utf8_sig_reader__gets_vietnamese_text_back() -> None:
    raw = b"".join(csv_chunks(HEADER, [["Đặng Thị Thuỷ", "Thôn Đông, xã Tân Chi"]]))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [["name", "value"], ["Đặng Thị Thuỷ", "Thôn Đông, xã Tân Chi"]]


def test_csv__commas_quotes_and_newlines_in_text__survive_the_round_trip() -> None:
    text = 'Xóm "Mới", thôn 3\r\nngõ 2\nhẻm'
    assert cells([[text, "a\x00b"]]) == [[text, "a\x00b"]]


def test_csv__no_rows__gives_only_bom_and_header() -> None:
    assert csv_text(HEADER, []) == '\ufeff"name","value"\r\n'


def test_csv__row_width_differs_from_header__raises() -> None:
    with pytest.raises(ValueError, match="row 2 has 1 cells"):
        csv_text(HEADER, [["a", 1], ["b"]])


# --- CSV: formula injection ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "+84912345678", "-5", "@SUM(A1)", "\t=1", "\r=1", "'quoted"])
def test_csv__text_starting_with_trigger__is_prefixed_with_quote(text: str) -> None:
    assert cells([[text]]) == [["'" + text]]


@pytest.mark.parametrize("text", ["Nguyễn", "", "1=1", " =1", "0912345678", "027070123456", "a-b"])
def test_csv__text_without_leading_trigger__is_unchanged(text: str) -> None:
    assert cells([[text]]) == [[text]]


@pytest.mark.parametrize(("value", "expected"), [(-5, "-5"), (-0.5, "-0.5"), (Decimal("-12.50"), "-12.50"),
                                                 (-105.25, "-105.25")])
def test_csv__negative_number__is_kept_plain(value: Any, expected: str) -> None:
    assert cells([[value]]) == [[expected]]


def test_csv__header_with_trigger__is_neutralised_too() -> None:
    assert parse(csv_text(["=cmd", "ok"], []))[0] == ["'=cmd", "ok"]


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_neutralise__any_text__is_reversed_by_unneutralise(text: str) -> None:
    safe = neutralise(text)
    assert unneutralise(safe) == text
    assert safe[:1] not in FORMULA_TRIGGERS - {"'"}


_cell_values = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from("aĐ ,\"'=+-@\t\r\nNone0x\x00é"), max_size=8),
    st.sampled_from(["None", "nan", "inf", "-inf", "=", "-"]),
    st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
)


def _expected_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value[:1] in FORMULA_TRIGGERS else value
    if isinstance(value, date):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


@given(st.lists(st.lists(_cell_values, min_size=3, max_size=3), min_size=1, max_size=5))
@settings(max_examples=300, deadline=None)
def test_csv__mixed_cells__read_back_as_their_documented_text(rows: list[list[Any]]) -> None:
    assert cells(rows) == [[_expected_text(value) for value in row] for row in rows]


# --- CSV: types -------------------------------------------------------------------------------------

def test_csv__datetimes__are_written_in_utc_with_z() -> None:
    hanoi = timezone(timedelta(hours=7))
    row = [datetime(2025, 12, 10, 15, 30, tzinfo=hanoi), datetime(2025, 12, 10, 8, 30, 0, 120, tzinfo=UTC),
           datetime(2025, 12, 10, 8, 30)]
    assert cells([row]) == [["2025-12-10T08:30:00Z", "2025-12-10T08:30:00.000120Z", "2025-12-10T08:30:00Z"]]


def test_csv__date_decimal_none__are_written_plainly() -> None:
    assert cells([[date(2025, 12, 1), Decimal("1500000"), None]]) == [["2025-12-01", "1500000", ""]]


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), Decimal("NaN"), object(), b"bytes"])
def test_csv__unsupported_or_non_finite_value__raises(value: Any) -> None:
    with pytest.raises(UnsupportedCell):
        cells([["x", value]])


def test_iso_utc__aware_and_naive__agree_on_the_instant() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert iso_utc(moment) == iso_utc(moment.replace(tzinfo=None)) == "2026-01-02T03:04:05.000006Z"
    assert datetime.fromisoformat(iso_utc(moment)) == moment


# --- CSV: streaming -----------------------------------------------------------------------------------

def test_csv__rows_from_a_generator__are_pulled_only_as_chunks_are_taken() -> None:
    received: list[bytes] = []
    for chunk in csv_chunks(HEADER, guarded_rows(received, 50, lambda i: [f"row {i}", i]), chunk_size=1):
        received.append(chunk)
    assert len(received) == 51  # one per row, then the (empty) tail
    assert parse(b"".join(received).decode())[-1] == ["row 50", "50"]


def test_csv__calling_the_writer__reads_nothing_yet() -> None:
    def exploding() -> Iterator[list[str]]:
        raise ReadAhead("pulled before the first chunk was asked for")
        yield []

    chunks = csv_chunks(HEADER, exploding())
    with pytest.raises(ReadAhead):
        next(chunks)


def test_csv__large_export__comes_in_bounded_chunks() -> None:
    chunks = list(csv_chunks(HEADER, ([f"household {i}", i] for i in range(20_000)), chunk_size=4096))
    assert len(chunks) > 50
    assert max(len(c) for c in chunks) < 4096 + 200  # a chunk ends at the row that fills it


# --- XLSX ---------------------------------------------------------------------------------------------

def test_xlsx__rows__are_readable_by_openpyxl_with_types(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = [["Nguyễn Văn Hùng", 1970, 21.18, date(2025, 12, 10), None],
            ["Trần Thị Lan", -3, Decimal("2.5"), datetime(2025, 12, 10, 8, tzinfo=UTC), "x"]]
    assert xlsx_stream(["name", "year", "lat", "when", "note"], rows, path) == 2
    sheet = openpyxl.load_workbook(path).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("name", "year", "lat", "when", "note")
    assert values[1] == ("Nguyễn Văn Hùng", 1970, 21.18, datetime(2025, 12, 10), None)
    assert values[2] == ("Trần Thị Lan", -3, 2.5, datetime(2025, 12, 10, 8), "x")


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "#N/A", "+1", "-1", "@x"])
def test_xlsx__formula_like_text__is_stored_as_text_unchanged(tmp_path: Path, text: str) -> None:
    path = tmp_path / "out.xlsx"
    xlsx_stream(["c"], [[text]], path)
    cell = openpyxl.load_workbook(path).worksheets[0]["A2"]
    assert (cell.value, cell.data_type) == (text, "s")


def test_xlsx__control_characters__become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    xlsx_stream(["c"], [["a\x01b\x1fc"]], path)
    assert openpyxl.load_workbook(path).worksheets[0]["A2"].value == "a\ufffdb\ufffdc"


def test_xlsx__more_rows_than_a_sheet_holds__continue_on_new_sheets_with_header(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    count = xlsx_stream(HEADER, ([f"r{i}", i] for i in range(7)), path, sheet_title="members", max_rows_per_sheet=4)
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert count == 7
    assert workbook.sheetnames == ["members", "members (2)", "members (3)"]
    sheets = [list(ws.iter_rows(values_only=True)) for ws in workbook.worksheets]
    assert [len(rows) for rows in sheets] == [4, 4, 2]
    assert all(rows[0] == HEADER for rows in sheets)
    assert [row[1] for rows in sheets for row in rows[1:]] == list(range(7))


def test_xlsx__bad_cell_midway__raises_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    before = list(ALL_TEMP_FILES)  # this process's openpyxl temporary files
    with pytest.raises(UnsupportedCell):
        xlsx_stream(["c"], [["ok"], [True]], tmp_path / "out.xlsx")
    assert ALL_TEMP_FILES == before
    assert not (tmp_path / "out.xlsx").exists()


def test_xlsx__file_object__receives_the_workbook() -> None:
    buffer = io.BytesIO()
    xlsx_stream(HEADER, [["a", 1]], buffer)
    buffer.seek(0)
    assert openpyxl.load_workbook(buffer).worksheets[0]["A2"].value == "a"


# --- GeoJSON ------------------------------------------------------------------------------------------

def test_geojson__features__join_into_a_valid_feature_collection() -> None:
    features = [point_feature(106.07, 21.18, {"name": "Nguyễn Văn Hùng", "decided": date(2025, 12, 10),
                                               "income": Decimal("1500000"), "at": datetime(2025, 1, 1, tzinfo=UTC)},
                              feature_id="H1"),
                point_feature(None, None, {"name": "Trần Thị Lan"}, feature_id="H2")]
    text = b"".join(geojson_chunks(features)).decode("utf-8")
    collection = json.loads(text)
    assert collection["type"] == "FeatureCollection"
    first, second = collection["features"]
    assert first == {"type": "Feature", "id": "H1", "geometry": {"type": "Point", "coordinates": [106.07, 21.18]},
                     "properties": {"name": "Nguyễn Văn Hùng", "decided": "2025-12-10", "income": 1500000,
                                    "at": "2025-01-01T00:00:00Z"}}
    assert second["geometry"] is None
    assert "Nguyễn" in text  # UTF-8, not \u escapes


def test_geojson__no_features__is_an_empty_collection() -> None:
    assert json.loads(b"".join(geojson_chunks([]))) == {"type": "FeatureCollection", "features": []}


def test_point_feature__lon_and_lat__come_out_longitude_first() -> None:
    assert point_feature(lon=106.1, lat=21.2, properties={})["geometry"]["coordinates"] == [106.1, 21.2]


@pytest.mark.parametrize(("lon", "lat"), [(106.1, None), (None, 21.2), (200.0, 21.2), (106.1, 95.0)])
def test_point_feature__half_or_out_of_range_coordinates__raise(lon: float | None, lat: float | None) -> None:
    with pytest.raises(ValueError):
        point_feature(lon, lat, {})


def test_geojson__non_feature_item__raises() -> None:
    with pytest.raises(ValueError, match="item 1"):
        b"".join(geojson_chunks([{"type": "Point", "coordinates": [1, 2]}]))


@pytest.mark.parametrize("value", [math.nan, Decimal("NaN"), Decimal("Infinity"), {1, 2}])
def test_geojson__non_finite_or_unsupported_property__raises(value: Any) -> None:
    with pytest.raises((ValueError, UnsupportedCell)):
        b"".join(geojson_chunks([point_feature(None, None, {"x": value})]))


def test_geojson__features_from_a_generator__are_pulled_only_as_chunks_are_taken() -> None:
    received: list[bytes] = []
    make = lambda i: point_feature(106.0, 21.0, {"n": i})  # noqa: E731
    for chunk in geojson_chunks(guarded_rows(received, 30, make), chunk_size=1):
        received.append(chunk)
    assert len(json.loads(b"".join(received))["features"]) == 30
