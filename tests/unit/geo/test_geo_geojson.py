"""Boundary GeoJSON validation (server/geo/geojson.py): each rule, its code and its feature index."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from server.geo.geojson import BoundaryError, parse_boundaries, validate_boundaries


def _square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _feature(code: str, level: str, parent: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": f"Tên {code}", "level": level,
                                              "parent_code": parent}, "geometry": geometry}


@pytest.fixture()
def doc() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        _feature("C1", "commune", "24", _square(106.0, 21.0, 0.02)),
        _feature("C1-01", "village", "C1", _square(106.0, 21.0)),
        _feature("C1-02", "village", "C1", _square(106.01, 21.0)),
        _feature("C2", "commune", "24", {"type": "Point", "coordinates": [106.1, 21.1]}),
    ]}


def _codes(doc: Any, **options: Any) -> list[tuple[int | None, str]]:
    return [(issue.feature_index, issue.code) for issue in validate_boundaries(doc, **options)]


def test_parse_boundaries__valid_collection__every_feature_with_properties(doc: dict[str, Any]) -> None:
    features = parse_boundaries(doc)
    assert [(f.index, f.code, f.level, f.parent_code) for f in features] == [
        (0, "C1", "commune", "24"), (1, "C1-01", "village", "C1"), (2, "C1-02", "village", "C1"),
        (3, "C2", "commune", "24")]
    assert features[1].geometry.bounds == pytest.approx((106.0, 21.0, 106.01, 21.01))


def test_validate_boundaries__valid_collection__no_issue(doc: dict[str, Any]) -> None:
    assert validate_boundaries(doc) == []


@pytest.mark.parametrize("bad", [[], "text", {"type": "Feature"}, None])
def test_validate_boundaries__not_a_feature_collection__collection_type(bad: Any) -> None:
    assert _codes(bad) == [(None, "collection.type")]


def test_validate_boundaries__no_features__collection_features() -> None:
    assert _codes({"type": "FeatureCollection", "features": []}) == [(None, "collection.features")]


def test_validate_boundaries__not_a_feature__feature_type(doc: dict[str, Any]) -> None:
    doc["features"][2] = {"type": "Polygon"}
    assert _codes(doc) == [(2, "feature.type")]


@pytest.mark.parametrize("name", ["code", "name", "level", "parent_code"])
def test_validate_boundaries__property_missing_or_blank__property_missing(doc: dict[str, Any], name: str) -> None:
    blank = copy.deepcopy(doc)
    del doc["features"][1]["properties"][name]
    blank["features"][1]["properties"][name] = "  "
    assert (1, "property.missing") in _codes(doc)
    assert (1, "property.missing") in _codes(blank)


def test_validate_boundaries__numeric_code__property_type_mentions_leading_zeros(doc: dict[str, Any]) -> None:
    doc["features"][0]["properties"]["code"] = 7210
    issues = validate_boundaries(doc)
    assert [(i.feature_index, i.code) for i in issues][0] == (0, "property.type")
    assert "leading zeros" in issues[0].message_en and "số 0 ở đầu" in issues[0].message_vi


def test_validate_boundaries__unknown_level__property_level(doc: dict[str, Any]) -> None:
    doc["features"][1]["properties"]["level"] = "district"
    assert _codes(doc) == [(1, "property.level")]


def test_validate_boundaries__missing_geometry__geometry_missing(doc: dict[str, Any]) -> None:
    doc["features"][1]["geometry"] = None
    assert _codes(doc) == [(1, "geometry.missing")]


def test_validate_boundaries__village_as_point__geometry_type(doc: dict[str, Any]) -> None:
    doc["features"][1]["geometry"] = {"type": "Point", "coordinates": [106.0, 21.0]}
    assert _codes(doc) == [(1, "geometry.type")]


def test_validate_boundaries__line__geometry_type(doc: dict[str, Any]) -> None:
    doc["features"][0]["geometry"] = {"type": "LineString", "coordinates": [[106.0, 21.0], [106.1, 21.1]]}
    assert _codes(doc) == [(0, "geometry.type")]


def test_validate_boundaries__multipolygon__accepted(doc: dict[str, Any]) -> None:
    doc["features"][1]["geometry"] = {"type": "MultiPolygon", "coordinates": [
        _square(106.0, 21.0, 0.004)["coordinates"], _square(106.005, 21.005, 0.004)["coordinates"]]}
    assert _codes(doc) == []


@pytest.mark.parametrize("coordinates", [
    [[[106.0, 21.0], [106.01, 21.0], [106.01, 21.01], [106.0, 21.01]]],  # not closed
    [[[106.0, 21.0], [106.01, 21.0], [106.0, 21.0]]],  # too short
    [[[106.0, "21"], [106.01, 21.0], [106.01, 21.01], [106.0, 21.0]]],  # text
    [[[106.0], [106.01], [106.02], [106.0]]],  # one number per position
    [],  # no ring
])
def test_validate_boundaries__malformed_coordinates__geometry_coordinates(doc: dict[str, Any],
                                                                         coordinates: Any) -> None:
    doc["features"][1]["geometry"] = {"type": "Polygon", "coordinates": coordinates}
    assert _codes(doc) == [(1, "geometry.coordinates")]


def test_validate_boundaries__latitude_first__out_of_range_with_swap_hint(doc: dict[str, Any]) -> None:
    ring = [[lat, lon] for lon, lat in _square(106.0, 21.0)["coordinates"][0]]
    doc["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    issues = validate_boundaries(doc)
    assert [(i.feature_index, i.code) for i in issues] == [(1, "geometry.coordinates")]
    assert "longitude first" in issues[0].message_en and "kinh độ trước" in issues[0].message_vi


def test_validate_boundaries__self_intersecting_ring__geometry_invalid(doc: dict[str, Any]) -> None:
    bowtie = [[106.0, 21.0], [106.01, 21.01], [106.01, 21.0], [106.0, 21.01], [106.0, 21.0]]
    doc["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}
    issues = validate_boundaries(doc)
    assert [(i.feature_index, i.code) for i in issues] == [(1, "geometry.invalid")]
    assert "Self-intersection" in issues[0].message_en


def test_validate_boundaries__duplicate_code_same_level__names_first_feature(doc: dict[str, Any]) -> None:
    doc["features"][2]["properties"]["code"] = "C1-01"
    issues = validate_boundaries(doc)
    assert [(i.feature_index, i.code) for i in issues] == [(2, "code.duplicate")]
    assert "#1" in issues[0].message_en


def test_validate_boundaries__village_of_unknown_commune__parent_unknown(doc: dict[str, Any]) -> None:
    doc["features"][2]["properties"]["parent_code"] = "C9"
    assert _codes(doc) == [(2, "parent.unknown")]
    assert _codes(doc, known_commune_codes={"C9"}) == []


def test_validate_boundaries__several_problems__all_reported_in_order(doc: dict[str, Any]) -> None:
    doc["features"][0]["properties"]["level"] = "tỉnh"
    doc["features"][2]["geometry"] = None
    doc["features"][3]["properties"]["code"] = ""
    assert _codes(doc) == [(0, "property.level"), (2, "geometry.missing"), (3, "property.missing"),
                           (1, "parent.unknown")]


def test_issue_text__vietnamese_first_then_english_with_feature_index(doc: dict[str, Any]) -> None:
    doc["features"][3]["geometry"] = None
    (issue,) = validate_boundaries(doc)
    assert str(issue) == "Đối tượng #3: không có hình học (geometry). / Feature #3: has no geometry."


def test_parse_boundaries__invalid__boundary_error_lists_issues(doc: dict[str, Any]) -> None:
    doc["features"][1]["geometry"] = None
    doc["features"][2]["properties"]["level"] = "x"
    with pytest.raises(BoundaryError) as error:
        parse_boundaries(doc)
    assert [(i.feature_index, i.code) for i in error.value.issues] == [(1, "geometry.missing"), (2, "property.level")]
    assert "Feature #1" in str(error.value)
