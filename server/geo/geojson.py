"""Validation of a boundary GeoJSON file (communes and villages) before it is loaded.

Accepted: a FeatureCollection whose features carry the properties ``code``, ``name``, ``level``
(``commune`` or ``village``) and ``parent_code`` (the commune of a village; the province of a
commune), with a Polygon or MultiPolygon geometry in GeoJSON order (longitude, latitude). A commune
whose polygon is not available may be given as a Point (its centroid). Every problem found is
reported, each with the index of its feature, a stable code, and a message in Vietnamese then English.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from shapely.validation import explain_validity

LEVEL_COMMUNE = "commune"
LEVEL_VILLAGE = "village"
LEVELS = (LEVEL_COMMUNE, LEVEL_VILLAGE)
REQUIRED_PROPERTIES = ("code", "name", "level", "parent_code")
MAX_LENGTH = {"code": 32, "name": 200, "level": 16, "parent_code": 32}  # the boundaries table's columns
_AREA_TYPES = ("Polygon", "MultiPolygon")
_GEOMETRY_TYPES = {LEVEL_VILLAGE: _AREA_TYPES, LEVEL_COMMUNE: (*_AREA_TYPES, "Point")}


@dataclass(frozen=True, slots=True)
class BoundaryIssue:
    feature_index: int | None  # None: the problem is with the whole file
    code: str
    message_vi: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.message_vi} / {self.message_en}"


class BoundaryError(ValueError):
    """The file was rejected; `issues` lists every problem found."""

    def __init__(self, issues: list[BoundaryIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = tuple(issues)


@dataclass(frozen=True, slots=True)
class BoundaryFeature:
    index: int
    code: str
    name: str
    level: str
    parent_code: str
    geometry: shapely.Geometry  # longitude, latitude


def parse_boundaries(doc: Any, *, known_commune_codes: Collection[str] = ()) -> list[BoundaryFeature]:
    """The features of a valid boundary file; raises `BoundaryError` listing every problem otherwise.

    A village's ``parent_code`` must name a commune of the file or of `known_commune_codes` (those
    already loaded)."""
    features, issues = _check(doc, known_commune_codes)
    if issues:
        raise BoundaryError(issues)
    return features


def validate_boundaries(doc: Any, *, known_commune_codes: Collection[str] = ()) -> list[BoundaryIssue]:
    """Every problem of a boundary file; empty when it can be loaded."""
    return _check(doc, known_commune_codes)[1]


def _issue(index: int | None, code: str, vi: str, en: str) -> BoundaryIssue:
    if index is None:
        return BoundaryIssue(None, code, vi, en)
    return BoundaryIssue(index, code, f"Đối tượng #{index}: {vi}", f"Feature #{index}: {en}")


def _check(doc: Any, known_commune_codes: Collection[str]) -> tuple[list[BoundaryFeature], list[BoundaryIssue]]:
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        return [], [_issue(None, "collection.type", "Tệp không phải là một GeoJSON FeatureCollection.",
                           "The file is not a GeoJSON FeatureCollection.")]
    raw_features = doc.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        return [], [_issue(None, "collection.features", "FeatureCollection không có danh sách 'features' nào.",
                           "The FeatureCollection has no 'features' list, or it is empty.")]
    features: list[BoundaryFeature] = []
    issues: list[BoundaryIssue] = []
    for index, raw in enumerate(raw_features):
        feature, problems = _check_feature(index, raw)
        issues += problems
        if feature is not None:
            features.append(feature)
    issues += _check_codes(features, _commune_codes(raw_features) | set(known_commune_codes))
    return features, issues


def _commune_codes(raw_features: list[Any]) -> set[str]:
    """Codes of every feature that says it is a commune, even one rejected for another reason, so
    that its villages are not reported as orphans as well."""
    codes = set()
    for raw in raw_features:
        properties = raw.get("properties") if isinstance(raw, Mapping) else None
        if isinstance(properties, Mapping) and properties.get("level") == LEVEL_COMMUNE \
                and isinstance(properties.get("code"), str):  # a list or object code cannot be a key
            codes.add(properties["code"])
    return codes


def _check_feature(index: int, raw: Any) -> tuple[BoundaryFeature | None, list[BoundaryIssue]]:
    if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
        return None, [_issue(index, "feature.type", "không phải là một Feature.", "is not a Feature.")]
    properties = raw.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    issues = [issue for name in REQUIRED_PROPERTIES if (issue := _check_property(index, properties, name))]
    level = properties.get("level")
    if isinstance(level, str) and level not in LEVELS:
        issues.append(_issue(index, "property.level",
                             f"'level' phải là 'commune' hoặc 'village', không phải {level!r}.",
                             f"'level' must be 'commune' or 'village', not {level!r}."))
    geometry, geometry_issues = _check_geometry(index, raw.get("geometry"), level if level in LEVELS else None)
    issues += geometry_issues
    if issues or geometry is None:
        return None, issues
    feature = BoundaryFeature(index=index, code=properties["code"], name=properties["name"], level=level,
                              parent_code=properties["parent_code"], geometry=geometry)
    return feature, []


def _check_property(index: int, properties: Mapping[str, Any], name: str) -> BoundaryIssue | None:
    value = properties.get(name)
    if isinstance(value, str) and value.strip():
        limit = MAX_LENGTH[name]
        if len(value) > limit or "\x00" in value:
            return _issue(index, "property.length",
                          f"thuộc tính '{name}' dài quá {limit} ký tự hoặc có ký tự NUL.",
                          f"property '{name}' is longer than {limit} characters or holds a NUL character.")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Spreadsheet and GIS exports turn codes into numbers and drop their leading zeros.
        return _issue(index, "property.type",
                      f"thuộc tính '{name}' phải là chuỗi ký tự, không phải số {value!r} (số làm mất số 0 ở đầu).",
                      f"property '{name}' must be a string, not the number {value!r} (numbers lose leading zeros).")
    return _issue(index, "property.missing", f"thiếu thuộc tính '{name}' hoặc thuộc tính rỗng.",
                  f"property '{name}' is missing or empty.")


def _check_geometry(index: int, geometry: Any,
                    level: str | None) -> tuple[shapely.Geometry | None, list[BoundaryIssue]]:
    if not isinstance(geometry, Mapping) or "type" not in geometry:
        return None, [_issue(index, "geometry.missing", "không có hình học (geometry).", "has no geometry.")]
    allowed = _GEOMETRY_TYPES[level] if level else (*_AREA_TYPES, "Point")
    kind = geometry["type"]
    if kind not in allowed:
        return None, [_issue(index, "geometry.type",
                             f"kiểu hình học {kind!r} không được chấp nhận; cần {' hoặc '.join(allowed)}.",
                             f"geometry type {kind!r} is not accepted; expected {' or '.join(allowed)}.")]
    problem = _coordinates_problem(kind, geometry.get("coordinates"))
    if problem:
        return None, [_issue(index, "geometry.coordinates", *problem)]
    shape = shapely.geometry.shape(geometry)
    if not shape.is_valid:
        reason = explain_validity(shape)
        return None, [_issue(index, "geometry.invalid", f"hình học không hợp lệ ({reason}).",
                             f"the geometry is invalid ({reason}).")]
    return shape, []


def _coordinates_problem(kind: str, coordinates: Any) -> tuple[str, str] | None:
    """(vi, en) messages for malformed or out-of-range coordinates, None when they are sound."""
    if kind == "Point":
        return _positions_problem([coordinates], ring=False)
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        return "toạ độ không đúng cấu trúc.", "the coordinates are not nested as the geometry type requires."
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return "toạ độ không đúng cấu trúc.", "the coordinates are not nested as the geometry type requires."
        for ring in polygon:
            problem = _positions_problem(ring, ring=True)
            if problem:
                return problem
    return None


def _positions_problem(positions: Any, *, ring: bool) -> tuple[str, str] | None:
    try:
        array = np.asarray(positions)
    except (TypeError, ValueError):
        return "toạ độ phải là các cặp số.", "coordinates must be pairs of numbers."
    # Integer or float arrays only: numpy would happily turn "21" or true into numbers.
    if array.dtype.kind not in "iuf" or array.ndim != 2 or array.shape[1] not in (2, 3) \
            or not np.isfinite(array).all():
        return "toạ độ phải là các cặp số.", "coordinates must be pairs of numbers."
    if ring and (len(array) < 4 or not np.array_equal(array[0], array[-1])):
        return ("mỗi vòng phải có ít nhất 4 điểm và điểm cuối trùng điểm đầu.",
                "each ring needs at least 4 positions and must end where it starts.")
    lon, lat = array[:, 0], array[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        hint_vi, hint_en = "", ""
        if (np.abs(lon) <= 90).all() and (np.abs(lat) <= 180).all():
            hint_vi = " Có thể vĩ độ và kinh độ bị đảo: GeoJSON ghi kinh độ trước."
            hint_en = " Latitude and longitude may be swapped: GeoJSON puts longitude first."
        return (f"toạ độ nằm ngoài phạm vi (kinh độ ±180, vĩ độ ±90).{hint_vi}",
                f"coordinates out of range (longitude ±180, latitude ±90).{hint_en}")
    return None


def _check_codes(features: list[BoundaryFeature], communes: set[str]) -> list[BoundaryIssue]:
    issues = []
    first_index: dict[tuple[str, str], int] = {}
    for feature in features:
        key = (feature.level, feature.code)
        if key in first_index:
            issues.append(_issue(feature.index, "code.duplicate",
                                 f"mã {feature.code!r} đã dùng ở đối tượng #{first_index[key]}.",
                                 f"code {feature.code!r} is already used by feature #{first_index[key]}."))
        else:
            first_index[key] = feature.index
    for feature in features:
        if feature.level == LEVEL_VILLAGE and feature.parent_code not in communes:
            issues.append(_issue(
                feature.index, "parent.unknown",
                f"thôn/tổ {feature.code!r} thuộc xã/phường {feature.parent_code!r} không có trong tệp.",
                f"village {feature.code!r} names commune {feature.parent_code!r}, which is unknown."))
    return issues
