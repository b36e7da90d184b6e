"""The registry export row model: columns, round trips (our parser and the registry import), members,
GeoJSON features, validation, the incremental cursor and the export filter."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.exports.registry import (
    CHANGE_TYPES,
    DECIDED,
    DEFAULT_STATES,
    EXPORTED,
    INDICATOR_COLUMNS,
    MEMBER_COLUMNS,
    REGISTRY_COLUMNS,
    Cursor,
    ExportDataError,
    ExportFilter,
    HouseholdData,
    InvalidCursor,
    member_rows,
    parse_registry_row,
    registry_feature,
    registry_header,
    registry_row,
)
from server.exports.writers import csv_chunks, geojson_chunks
from server.households.linking import FIELDS, read_records

CHANGED = datetime(2025, 12, 10, 8, 30, 15, 123456, tzinfo=UTC)


def household(**changes: Any) -> HouseholdData:
    data: dict[str, Any] = {
        "id": 7, "record_id": "BN0000007", "head_name": "Nguyễn Văn Hùng", "birth_year": 1970, "gender": "M",
        "national_id": "027070123456", "phone": "0912345678", "village_code": "2400101", "village_name": "Thôn Đông",
        "commune_code": "24001", "commune_name": "Xã Tân Chi", "urban": False,
        "address": "Thôn Đông, xã Tân Chi", "lat": 21.123456, "lon": 106.123456,
        "members": [{"full_name": "Trần Thị Lan", "birth_year": 1972, "gender": "F", "relation": "spouse",
                     "national_id": "027172654321"},
                    {"full_name": "Nguyễn Văn Nam", "birth_year": 2001, "gender": "M", "relation": "child"}],
        "campaign_year": 2025, "household_class": "poor", "national_class": "poor", "local_class": "poor",
        "indicators": {"1.1": "deprived", "1.2": "not_deprived", "2.2": "deprived", "3.2": "not_applicable",
                       "4.1": "deprived", "6.1": "unknown"},
        "income_per_person_month": 1_200_000, "b1_score": 118, "review_state": "decided",
        "decision_number": "125/QĐ-UBND", "decision_date": date(2025, 12, 12),
        "start_class": "near_poor", "end_class": "poor", "change_type": "new", "changed_at": CHANGED,
    }
    data.update(changes)
    return data  # type: ignore[return-value]


def export_csv(households: list[HouseholdData], extra: tuple[str, ...] = ()) -> str:
    rows = (registry_row(h, extra) for h in households)
    return b"".join(csv_chunks(registry_header(extra), rows)).decode("utf-8")


def read_back(text: str) -> list[dict[str, Any]]:
    return [parse_registry_row(row) for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))]


# --- columns --------------------------------------------------------------------------------------------

def test_registry_columns__start_with_the_registry_import_columns() -> None:
    assert REGISTRY_COLUMNS[:len(FIELDS)] == FIELDS == (
        "record_id", "head_name", "birth_year", "gender", "national_id", "phone", "village_code", "address",
        "lat", "lon", "member_names")


def test_registry_columns__hold_class_indicators_history_and_change_time() -> None:
    assert INDICATOR_COLUMNS == ("i_1_1", "i_1_2", "i_2_1", "i_2_2", "i_3_1", "i_3_2", "i_4_1", "i_4_2",
                                 "i_5_1", "i_5_2", "i_6_1", "i_6_2")
    for column in ("class", "national_class", "local_class", "deprivation_count", *INDICATOR_COLUMNS,
                   "income_per_person_month", "campaign_year", "review_state", "decision_number",
                   "decision_date", "start_class", "end_class", "change_type", "changed_at"):
        assert column in REGISTRY_COLUMNS


def test_registry_header__province_columns__follow_ours() -> None:
    assert registry_header(("ma_ho_tinh", "ghi_chu"))[-2:] == ("ma_ho_tinh", "ghi_chu")


@pytest.mark.parametrize("extra", [("class",), ("record_id",), ("x", "x")])
def test_registry_header__province_column_clashing_or_repeated__raises(extra: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        registry_header(extra)


def test_change_types__match_the_household_history_model() -> None:
    from server.households.models import CHANGE_TYPES as MODEL_CHANGE_TYPES

    assert CHANGE_TYPES == MODEL_CHANGE_TYPES


def test_default_states__are_review_states_of_decided_results() -> None:
    from server.review.machine import State

    assert DEFAULT_STATES == {DECIDED, EXPORTED} == {State.DECIDED.value, State.EXPORTED.value}


# --- row content ----------------------------------------------------------------------------------------

def test_registry_row__household__gives_each_column_its_value() -> None:
    row = dict(zip(REGISTRY_COLUMNS, registry_row(household()), strict=True))
    assert row["member_names"] == "Trần Thị Lan|Nguyễn Văn Nam"
    assert (row["area"], row["class"], row["deprivation_count"]) == ("rural", "poor", 3)
    assert (row["i_1_1"], row["i_3_2"], row["i_6_1"], row["i_5_1"]) == ("deprived", "not_applicable", "unknown", None)
    assert (row["start_class"], row["end_class"], row["change_type"]) == ("near_poor", "poor", "new")
    assert row["changed_at"] == "2025-12-10T08:30:15.123456Z"


def test_registry_row__no_indicators__leaves_the_deprivation_count_unknown() -> None:
    row = dict(zip(REGISTRY_COLUMNS, registry_row(household(indicators={})), strict=True))
    assert row["deprivation_count"] is None
    assert all(row[c] is None for c in INDICATOR_COLUMNS)


def test_registry_row__urban_household__has_area_urban() -> None:
    assert dict(zip(REGISTRY_COLUMNS, registry_row(household(urban=True)), strict=True))["area"] == "urban"


@pytest.mark.parametrize("changes", [
    {"household_class": "rich"}, {"end_class": "unclassifiable"}, {"gender": "X"}, {"change_type": "vanished"},
    {"indicators": {"7.1": "deprived"}}, {"indicators": {"1.1": "yes"}},
    {"members": [{"full_name": "A|B"}]}, {"record_id": ""}, {"head_name": None},
])
def test_registry_row__invalid_household__raises_naming_it(changes: dict[str, Any]) -> None:
    with pytest.raises(ExportDataError) as error:
        registry_row(household(**changes))
    assert error.value.text.vi.startswith("Hộ ") and error.value.text.en.startswith("Household ")


# --- round trips ------------------------------------------------------------------------------------------

def test_registry_csv__parsed_back__gives_every_cell_unchanged() -> None:
    households = [household(), household(id=8, record_id="BN0000008", head_name="=cmd|' /C calc'!A0",
                                         address="-Ngõ 5, +84", members=[], indicators={}, lat=None, lon=None,
                                         decision_date=None, urban=None,
                                         changed_at=datetime(2025, 12, 10, 15, 0, tzinfo=timezone(timedelta(hours=7))))]
    expected = [dict(zip(REGISTRY_COLUMNS, registry_row(h), strict=True)) for h in households]
    for row in expected:
        row["changed_at"] = datetime.fromisoformat(row["changed_at"])
        row["member_names"] = row["member_names"] or None
    assert read_back(export_csv(households)) == expected
    assert expected[1]["changed_at"] == datetime(2025, 12, 10, 8, 0, tzinfo=UTC)


def test_registry_csv__read_by_the_registry_import__keeps_identity_and_members(tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(export_csv([household(), household(record_id="BN9", phone=None, lat=None, lon=None,
                                                       gender=None, members=[])]), encoding="utf-8", newline="")
    first, second = read_records(path)
    assert (first.record_id, first.head_name, first.birth_year, first.gender, first.national_id, first.phone,
            first.village_code, first.address, first.lat, first.lon, first.member_names) == (
        "BN0000007", "Nguyễn Văn Hùng", 1970, "M", "027070123456", "0912345678", "2400101",
        "Thôn Đông, xã Tân Chi", 21.123456, 106.123456, ("Trần Thị Lan", "Nguyễn Văn Nam"))
    assert (second.record_id, second.phone, second.lat, second.lon, second.gender, second.member_names) == (
        "BN9", None, None, None, None, ())


def test_registry_csv__province_columns__come_back_unchanged() -> None:
    text = export_csv([household(extra={"ma_ho_tinh": "BN-77", "ghi_chu": "+ghi chú"})], ("ma_ho_tinh", "ghi_chu"))
    assert {k: read_back(text)[0][k] for k in ("ma_ho_tinh", "ghi_chu")} == {"ma_ho_tinh": "BN-77",
                                                                          "ghi_chu": "+ghi chú"}


_names = st.text(alphabet=st.sampled_from("aăâđêôơưĐÝ =+-@'\t,\"|"), min_size=1, max_size=12)


@given(head=_names, address=st.one_of(st.none(), _names), members=st.lists(_names, max_size=3),
       lat=st.one_of(st.none(), st.floats(min_value=-90, max_value=90)))
@settings(max_examples=150, deadline=None)
def test_registry_csv__any_names_and_coordinates__round_trip(head: str, address: str | None, members: list[str],
                                                           lat: float | None) -> None:
    members = [m for m in members if "|" not in m]
    h = household(head_name=head, address=address, members=[{"full_name": m} for m in members], lat=lat,
                  lon=None if lat is None else -lat)
    back = read_back(export_csv([h]))[0]
    assert (back["head_name"], back["address"], back["lat"], back["lon"]) == (head, address, h["lat"], h["lon"])
    assert (back["member_names"] or "") == "|".join(members)


# --- members -----------------------------------------------------------------------------------------------

def test_member_rows__household__lists_head_first_then_members() -> None:
    rows = [dict(zip(MEMBER_COLUMNS, row, strict=True)) for row in member_rows(household())]
    assert [(r["member_no"], r["full_name"], r["relation"], r["gender"]) for r in rows] == [
        (1, "Nguyễn Văn Hùng", "head", "M"), (2, "Trần Thị Lan", "spouse", "F"), (3, "Nguyễn Văn Nam", "child", "M")]
    assert {r["record_id"] for r in rows} == {"BN0000007"}
    assert rows[1]["national_id"] == "027172654321" and rows[2]["national_id"] is None


def test_member_rows__through_csv__parse_back_typed() -> None:
    text = b"".join(csv_chunks(MEMBER_COLUMNS, member_rows(household()))).decode()
    back = read_back(text)
    assert [(r["member_no"], r["birth_year"]) for r in back] == [(1, 1970), (2, 1972), (3, 2001)]
    assert back[0]["changed_at"] == CHANGED


def test_member_rows__member_with_bad_gender__raises() -> None:
    with pytest.raises(ExportDataError):
        list(member_rows(household(members=[{"full_name": "A", "gender": "female"}])))


# --- GeoJSON --------------------------------------------------------------------------------------------

def test_registry_feature__household__is_a_point_longitude_first_with_registry_properties() -> None:
    feature = json.loads(b"".join(geojson_chunks([registry_feature(household())])))["features"][0]
    assert feature["id"] == "BN0000007"
    assert feature["geometry"] == {"type": "Point", "coordinates": [106.123456, 21.123456]}
    assert feature["properties"]["head_name"] == "Nguyễn Văn Hùng"
    assert feature["properties"]["decision_date"] == "2025-12-12"
    assert set(feature["properties"]) == set(REGISTRY_COLUMNS) - {"lat", "lon"}


def test_registry_feature__household_without_location__keeps_a_null_geometry() -> None:
    assert registry_feature(household(lat=None, lon=None))["geometry"] is None


# --- cursor -----------------------------------------------------------------------------------------------

def test_cursor__encoded__is_opaque_and_decodes_to_the_same_position() -> None:
    cursor = Cursor(CHANGED, 42)
    token = cursor.encode()
    assert "2025" not in token and "|" not in token and "=" not in token
    assert Cursor.decode(token) == cursor


def test_cursor__naive_and_aware_times__are_the_same_instant() -> None:
    hanoi = timezone(timedelta(hours=7))
    assert Cursor(datetime(2025, 1, 1, 7), 1) == Cursor(datetime(2025, 1, 1, 14, tzinfo=hanoi), 1)


@pytest.mark.parametrize("token", ["", "garbage!", "MXwyMDI1", Cursor(CHANGED, 1).encode()[:-3] + "zzz",
                                   "Mnx4fDE", "MXwyMDI1LTAxLTAxVDAwOjAwOjAwWnwtMQ"])
def test_cursor__malformed_token__raises_invalid_cursor(token: str) -> None:
    with pytest.raises(InvalidCursor) as error:
        Cursor.decode(token)
    assert error.value.text.vi.startswith("Con trỏ")


def test_cursor__rows_ordered_by_change__resume_strictly_after_the_cursor() -> None:
    rows = [{"changed_at": CHANGED, "id": 1}, {"changed_at": CHANGED, "id": 2},
            {"changed_at": CHANGED + timedelta(microseconds=1), "id": 1}]
    cursor = Cursor.of(rows[1])
    assert [cursor.precedes(r) for r in rows] == [False, False, True]


def test_cursor__since_a_moment__includes_rows_changed_exactly_then() -> None:
    since = Cursor.since(CHANGED)
    assert since.precedes({"changed_at": CHANGED, "id": 1})
    assert not since.precedes({"changed_at": CHANGED - timedelta(microseconds=1), "id": 99})


def test_cursor__negative_id__raises() -> None:
    with pytest.raises(ValueError):
        Cursor(CHANGED, -1)


@given(st.datetimes(timezones=st.just(UTC)), st.integers(min_value=0, max_value=2**63))
@settings(max_examples=100, deadline=None)
def test_cursor__any_position__round_trips_through_its_token(moment: datetime, number: int) -> None:
    assert Cursor.decode(Cursor(moment, number).encode()) == Cursor(moment, number)


# --- filter ----------------------------------------------------------------------------------------------

def test_export_filter__default__keeps_decided_and_exported_results_only() -> None:
    default = ExportFilter()
    assert [default.matches(household(review_state=s)) for s in ("decided", "exported", "posted", None)] == [
        True, True, False, False]


def test_export_filter__states_none__keeps_every_state() -> None:
    assert ExportFilter(states=None).matches(household(review_state="village_review"))


@pytest.mark.parametrize(("export_filter", "expected"), [
    (ExportFilter(campaign_year=2025), True), (ExportFilter(campaign_year=2024), False),
    (ExportFilter(unit_codes=frozenset({"24001"})), True), (ExportFilter(unit_codes=frozenset({"2400101"})), True),
    (ExportFilter(unit_codes=frozenset({"24002"})), False),
    (ExportFilter(decided_from=date(2025, 12, 12), decided_until=date(2025, 12, 12)), True),
    (ExportFilter(decided_from=date(2025, 12, 13)), False), (ExportFilter(decided_until=date(2025, 12, 11)), False),
    (ExportFilter(after=Cursor(CHANGED, 6)), True), (ExportFilter(after=Cursor(CHANGED, 7)), False),
])
def test_export_filter__each_criterion__keeps_or_drops_the_household(export_filter: ExportFilter,
                                                                   expected: bool) -> None:
    assert export_filter.matches(household()) is expected


def test_export_filter__date_range_and_undecided_household__drops_it() -> None:
    assert not ExportFilter(decided_from=date(2025, 1, 1)).matches(household(decision_date=None))


# --- indicator letters (the export's facts of a classification) ------------------------------------------

def test_encode_indicators__verdict_list__letters_in_column_order_and_back() -> None:
    from server.exports.registry import decode_indicators, encode_indicators

    verdict = [{"id": "2.1", "status": "not_applicable"}, {"id": "1.1", "status": "deprived"},
               {"id": "6.2", "status": "unknown"}, {"id": "1.2", "status": "not_deprived"}]
    letters = encode_indicators(verdict)
    assert letters == "dna--------u"
    assert decode_indicators(letters) == {"1.1": "deprived", "1.2": "not_deprived", "2.1": "not_applicable",
                                          "6.2": "unknown"}


@pytest.mark.parametrize("indicators", [None, []])
def test_encode_indicators__none_listed__none_and_empty_back(indicators: list | None) -> None:
    from server.exports.registry import decode_indicators, encode_indicators

    assert encode_indicators(indicators) is None
    assert decode_indicators(None) == {}


@pytest.mark.parametrize("item", [{"id": "7.1", "status": "deprived"}, {"id": "1.1", "status": "very_poor"}])
def test_encode_indicators__unknown_id_or_status__raises(item: dict) -> None:
    from server.exports.registry import encode_indicators

    with pytest.raises(ValueError):
        encode_indicators([item])
