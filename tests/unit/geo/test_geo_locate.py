"""Geolocation (server/geo/locate.py). Rules GEO001–GEO009 are in the module's docstring.

Every rule runs twice, with the grid (fast path) and without it (STRtree and exact predicates only),
and every answer is checked to be the same from `locate` and from `locate_many`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from server.geo.geojson import BoundaryError
from server.geo.locate import (
    BoundaryIndex,
    GeoPoint,
    Location,
    _edges,
    locate_csv,
    parse_geopoint,
)

# Commune C1 (two villages side by side, sharing the edge lon = 106.01), commune C3 east of it with
# no village, and commune C2 known only by its centroid.
EDGE_LON = 106.01
MID_LAT = 21.005


def _square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _feature(code: str, level: str, parent: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": code, "level": level, "parent_code": parent},
            "geometry": geometry}


def _doc() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        _feature("C1", "commune", "24", _square(106.00, 21.00, 106.02, 21.01)),
        _feature("C3", "commune", "24", _square(106.02, 21.00, 106.03, 21.01)),
        _feature("C2", "commune", "24", {"type": "Point", "coordinates": [106.10, MID_LAT]}),
        _feature("C1-02", "village", "C1", _square(106.01, 21.00, 106.02, 21.01)),
        _feature("C1-01", "village", "C1", _square(106.00, 21.00, 106.01, 21.01)),
    ]}


@pytest.fixture(params=[25.0, None], ids=["grid", "exact"])
def index(request: pytest.FixtureRequest) -> BoundaryIndex:
    return BoundaryIndex.from_geojson(_doc(), raster_cell_m=request.param)


def _east(index: BoundaryIndex, lon: float, metres: float) -> float:
    return lon + metres / index.projection.kx


def place(index: BoundaryIndex, lat: float | None, lon: float | None, acc: float | None = None,
          declared: str | None = None) -> Location:
    one = index.locate(lat, lon, acc, declared)
    assert index.locate_many([lat], [lon], [acc], [declared]) == [one]
    return one


# GEO008 -----------------------------------------------------------------------------------------

def test_parse_geopoint__odk_order__latitude_first() -> None:
    assert parse_geopoint("21.005 106.005 12.5 4.0") == GeoPoint(21.005, 106.005, 12.5, 4.0)


def test_parse_geopoint__without_altitude_or_accuracy__none_for_them() -> None:
    assert parse_geopoint("21.005 106.005") == GeoPoint(21.005, 106.005, None, None)
    assert parse_geopoint("21.005 106.005 12") == GeoPoint(21.005, 106.005, 12.0, None)


@pytest.mark.parametrize("text", [None, "", "   ", "21.0", "21.0 abc 0 5", "21 106 0 5 9", "nan 106 0 5",
                                  "106.005 21.005 0 5"])
def test_parse_geopoint__not_a_position__none(text: str | None) -> None:
    assert parse_geopoint(text) is None


def test_parse_geopoint__negative_accuracy__accuracy_unknown() -> None:
    assert parse_geopoint("21.005 106.005 0 -1") == GeoPoint(21.005, 106.005, 0.0, None)


def test_locate__geopoint_in_odk_order__placed(index: BoundaryIndex) -> None:
    point = parse_geopoint("21.005 106.005 12.0 4.5")
    assert place(index, point.lat, point.lon, point.accuracy).village_code == "C1-01"


def test_locate__latitude_and_longitude_swapped__outside_province(index: BoundaryIndex) -> None:
    assert place(index, 106.005, 21.005, 5.0) == Location(None, None, ("outside_province",), None, None)


# GEO001 -----------------------------------------------------------------------------------------

def test_locate__inside_a_village__village_and_its_parent_commune(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.005, 5.0) == Location("C1-01", "C1", (), None, None)
    assert place(index, MID_LAT, 106.015, 5.0) == Location("C1-02", "C1", (), None, None)


# GEO002 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("acc", [None, 0.0, 5.0])
def test_locate__exactly_on_shared_edge__declared_village_wins_and_on_boundary(index: BoundaryIndex,
                                                                              acc: float | None) -> None:
    assert place(index, MID_LAT, EDGE_LON, acc, "C1-02") == Location("C1-02", "C1", ("on_boundary",), 0.0, "C1-02")
    assert place(index, MID_LAT, EDGE_LON, acc, "C1-01") == Location("C1-01", "C1", ("on_boundary",), 0.0, "C1-01")


def test_locate__exactly_on_shared_edge_nothing_declared__lowest_code_and_on_boundary(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, EDGE_LON) == Location("C1-01", "C1", ("on_boundary",), None, None)


def test_locate__on_shared_vertex__lowest_code_and_on_boundary(index: BoundaryIndex) -> None:
    assert place(index, 21.0, EDGE_LON) == Location("C1-01", "C1", ("on_boundary",), None, None)


def test_locate__overlapping_villages__lowest_code_or_declared_and_on_boundary() -> None:
    doc = _doc()
    doc["features"][3]["geometry"] = _square(106.005, 21.00, 106.02, 21.01)  # C1-02 spills into C1-01
    for cell in (25.0, None):
        overlapping = BoundaryIndex.from_geojson(doc, raster_cell_m=cell)
        assert place(overlapping, MID_LAT, 106.0075).village_code == "C1-01"
        assert place(overlapping, MID_LAT, 106.0075, None, "C1-02").village_code == "C1-02"
        assert place(overlapping, MID_LAT, 106.0075).flags == ("on_boundary",)


# GEO003 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("metres_west", "acc", "on_boundary"), [
    (5.0, 10.0, True), (5.0, 5.1, True), (5.0, 4.9, False), (5.0, None, False), (5.0, 0.0, False),
    (30.0, 31.0, True), (45.0, 48.0, True), (47.0, 49.5, True), (45.0, 44.0, False),
    (60.0, 80.0, True), (60.0, 45.0, False), (300.0, 250.0, False),
])
def test_locate__accuracy_circle_reaches_neighbour__on_boundary(index: BoundaryIndex, metres_west: float,
                                                               acc: float | None, on_boundary: bool) -> None:
    located = place(index, MID_LAT, _east(index, EDGE_LON, -metres_west), acc)
    assert located.village_code == "C1-01"
    assert ("on_boundary" in located.flags) is on_boundary


@pytest.mark.parametrize("lon", [106.0, 106.02], ids=["province edge", "commune without villages"])
def test_locate__accuracy_circle_reaches_no_other_village__not_on_boundary(index: BoundaryIndex, lon: float) -> None:
    inward = 5.0 if lon == 106.0 else -5.0
    located = place(index, MID_LAT, _east(index, lon, inward), 20.0)
    assert located.village_code is not None and located.flags == ()


# GEO004 -----------------------------------------------------------------------------------------

def test_locate__in_commune_polygon_without_villages__commune_only(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.025, 5.0) == Location(None, "C3", (), None, None)


def test_locate__outside_polygons_near_centroid_only_commune__commune_from_centroid(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.09, 5.0) == Location(None, "C2", ("commune_from_centroid",), None, None)


def test_locate__outside_polygons_beyond_centroid_distance__outside_province() -> None:
    strict = BoundaryIndex.from_geojson(_doc(), centroid_max_distance_m=500.0)
    assert place(strict, MID_LAT, 106.09, 5.0) == Location(None, None, ("outside_province",), None, None)


def test_locate__far_from_everything__outside_province(index: BoundaryIndex) -> None:
    assert place(index, 20.0, 105.0, 5.0) == Location(None, None, ("outside_province",), None, None)
    assert place(index, 0.0, 0.0, 5.0).flags == ("outside_province",)


# GEO005 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lat", "lon"), [(None, None), (None, 106.005), (math.nan, 106.005), (MID_LAT, math.inf)])
def test_locate__no_position__no_gps_only(index: BoundaryIndex, lat: float | None, lon: float | None) -> None:
    assert place(index, lat, lon, 5.0, "C1-01") == Location(None, None, ("no_gps",), None, "C1-01")


# GEO006 -----------------------------------------------------------------------------------------

def test_locate__accuracy_above_threshold__poor_accuracy_and_still_placed(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.005, 80.0) == Location("C1-01", "C1", ("poor_accuracy",), None, None)
    assert place(index, MID_LAT, 106.005, 50.0).flags == ()


def test_locate__threshold_configured__applied() -> None:
    strict = BoundaryIndex.from_geojson(_doc(), poor_accuracy_m=5.0)
    assert place(strict, MID_LAT, 106.005, 8.0).flags == ("poor_accuracy",)


# GEO007 -----------------------------------------------------------------------------------------

def test_locate__outside_declared_village__both_kept_with_distance(index: BoundaryIndex) -> None:
    located = place(index, MID_LAT, _east(index, EDGE_LON, -200.0), 5.0, "C1-02")
    assert located._replace(distance_to_declared_m=None) == Location(
        "C1-01", "C1", ("outside_declared_village",), None, "C1-02")
    assert located.distance_to_declared_m == pytest.approx(200.0, abs=1e-6)


def test_locate__inside_declared_village__distance_zero_no_flag(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.005, 5.0, "C1-01") == Location("C1-01", "C1", (), 0.0, "C1-01")


def test_locate__outside_province_with_declared__distance_to_declared(index: BoundaryIndex) -> None:
    located = place(index, 21.02, 106.005, 5.0, "C1-01")
    assert located.flags == ("outside_declared_village", "outside_province")
    assert located.village_code is None and located.declared_village_code == "C1-01"


def test_locate__declared_code_unknown__flagged(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.005, 5.0, "ZZ-99") == Location(
        "C1-01", "C1", ("unknown_declared_village",), None, "ZZ-99")


def test_locate__declared_blank__treated_as_none(index: BoundaryIndex) -> None:
    assert place(index, MID_LAT, 106.005, 5.0, "") == Location("C1-01", "C1", (), None, None)


# GEO009 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lat", "lon", "metres"), [
    (21.02, 106.005, 6_371_008.8 * math.radians(0.01)),  # 0.01° north of the top edge
    (MID_LAT, 105.99, 6_371_008.8 * math.radians(0.01) * math.cos(math.radians(MID_LAT))),  # 0.01° west
])
def test_locate__distances__metres_within_half_a_percent(index: BoundaryIndex, lat: float, lon: float,
                                                         metres: float) -> None:
    assert place(index, lat, lon, None, "C1-01").distance_to_declared_m == pytest.approx(metres, rel=0.005)


# Both paths, many points ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_doc() -> dict[str, Any]:
    from server.units import sources

    province = sources.load_province("24")
    return sources.demo_boundaries(province, sources.demo_villages(province, per_commune=3, seed=5), seed=5)


def _random_points(index: BoundaryIndex, doc: dict[str, Any], count: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(11)
    lat = rng.uniform(20.95, 21.55, count)
    lon = rng.uniform(105.85, 106.85, count)
    # Vertices are exactly on edges shared by two or three villages: the hardest case for the grid.
    vertices = np.array([xy for f in doc["features"] if f["properties"]["level"] == "village"
                         for xy in f["geometry"]["coordinates"][0]])
    picked = vertices[rng.choice(len(vertices), count // 10)]
    lon[: len(picked)], lat[: len(picked)] = picked[:, 0], picked[:, 1]
    acc = rng.choice([np.nan, 0.0, 3.0, 8.0, 20.0, 45.0, 120.0], count)
    declared = rng.choice(np.append(index.village_codes, ["", "ZZ"]), count).astype(object)
    declared[rng.random(count) < 0.3] = None
    return lat, lon, acc, declared


@pytest.mark.parametrize("cell", [9.0, 40.0])
def test_locate_arrays__grid_and_exact_paths__same_answers(demo_doc: dict[str, Any], cell: float) -> None:
    grid = BoundaryIndex.from_geojson(demo_doc, raster_cell_m=cell, max_raster_cells=3_000_000)
    exact = BoundaryIndex.from_geojson(demo_doc, raster_cell_m=None)
    lat, lon, acc, declared = _random_points(grid, demo_doc, 20_000)
    fast, slow = grid.locate_arrays(lat, lon, acc, declared), exact.locate_arrays(lat, lon, acc, declared)
    np.testing.assert_array_equal(fast.village, slow.village)
    np.testing.assert_array_equal(fast.commune, slow.commune)
    np.testing.assert_array_equal(fast.flags, slow.flags)
    np.testing.assert_allclose(fast.distance_to_declared_m, slow.distance_to_declared_m, atol=1e-6)
    on_boundary = np.count_nonzero(fast.flags & 8)
    assert 2_000 <= on_boundary < 20_000  # the vertices and more: the comparison covered the hard cases


def test_locate__one_point_at_a_time__same_as_locate_many(demo_doc: dict[str, Any]) -> None:
    index = BoundaryIndex.from_geojson(demo_doc)
    lat, lon, acc, declared = (values[:3_000] for values in _random_points(index, demo_doc, 30_000))
    many = index.locate_many(lat.tolist(), lon.tolist(), acc.tolist(), declared.tolist())
    assert [index.locate(*point) for point in zip(lat.tolist(), lon.tolist(), acc.tolist(), declared.tolist(),
                                                  strict=True)] == many


def test_locate__communes_only_no_villages__polygon_or_nearest_centroid() -> None:
    doc = _doc()
    doc["features"] = doc["features"][:3]
    communes_only = BoundaryIndex.from_geojson(doc)
    assert place(communes_only, MID_LAT, 106.005) == Location(None, "C1", (), None, None)
    assert place(communes_only, MID_LAT, 106.09) == Location(None, "C2", ("commune_from_centroid",), None, None)


def test_from_geojson__invalid_file__boundary_error() -> None:
    doc = _doc()
    doc["features"][4]["geometry"] = None
    with pytest.raises(BoundaryError):
        BoundaryIndex.from_geojson(doc)


# locate_csv ---------------------------------------------------------------------------------------

def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture()
def boundaries_file(tmp_path: Path) -> Path:
    path = tmp_path / "boundaries.geojson"
    path.write_text(json.dumps(_doc()), encoding="utf-8")
    return path


POINTS = [
    ["id", "lat", "lon", "acc"],
    ["a", "21.005", "106.005", "5"],
    ["b", "21.005", "106.01", ""],
    ["c", "", "", ""],
    ["d", "21.005", "106.025", "80"],
    ["e", "abc", "106.0", "5"],
    ["f", "20.0", "105.0", "5"],
    ["g", "21.005", "106.09", "5"],
]
EXPECTED = [
    ["id", "village_code", "commune_code", "flag"],
    ["a", "C1-01", "C1", ""],
    ["b", "C1-01", "C1", "on_boundary"],
    ["c", "", "", "no_gps"],
    ["d", "", "C3", "poor_accuracy"],
    ["e", "", "", "no_gps"],
    ["f", "", "", "outside_province"],
    ["g", "", "C2", "commune_from_centroid"],
]


@pytest.mark.parametrize("chunk_rows", [2, 100_000])
def test_locate_csv__points__one_row_each_with_joined_flags(tmp_path: Path, boundaries_file: Path,
                                                            chunk_rows: int) -> None:
    out = tmp_path / "out.csv"
    summary = locate_csv(_write(tmp_path / "points.csv", POINTS), boundaries_file, out, chunk_rows=chunk_rows)
    assert _read(out) == EXPECTED
    assert (summary.rows, summary.in_village, summary.commune_only, summary.unplaced, summary.unreadable) == (
        7, 2, 2, 3, 1)
    assert summary.flags == {"no_gps": 2, "poor_accuracy": 1, "on_boundary": 1, "outside_province": 1,
                             "commune_from_centroid": 1}


def test_locate_csv__several_flags__joined_with_semicolons(tmp_path: Path, boundaries_file: Path) -> None:
    rows = [["lat", "lon", "id", "acc"], [str(MID_LAT), "106.01", "x", "90"]]
    out = tmp_path / "out.csv"
    locate_csv(_write(tmp_path / "points.csv", rows), boundaries_file, out)
    assert _read(out)[1] == ["x", "C1-01", "C1", "poor_accuracy;on_boundary"]


def test_locate_csv__without_accuracy_column__accuracy_unknown(tmp_path: Path, boundaries_file: Path) -> None:
    rows = [["id", "lat", "lon"], ["a", str(MID_LAT), "106.005"], ["b", str(MID_LAT), "106.01"]]
    out = tmp_path / "out.csv"
    locate_csv(_write(tmp_path / "points.csv", rows), boundaries_file, out)
    assert _read(out)[1:] == [["a", "C1-01", "C1", ""],
                                                                ["b", "C1-01", "C1", "on_boundary"]]


def test_locate_csv__required_column_missing__value_error(tmp_path: Path, boundaries_file: Path) -> None:
    with pytest.raises(ValueError, match="lon"):
        locate_csv(_write(tmp_path / "points.csv", [["id", "lat", "acc"], ["a", "21", "5"]]), boundaries_file,
                   tmp_path / "out.csv")


# The grid's invariant --------------------------------------------------------------------------------

@pytest.mark.parametrize("snap", [False, True], ids=["anywhere", "on cell borders"])
def test_edge_cells__random_triangles__every_cell_an_edge_touches_is_listed(snap: bool) -> None:
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 40, (300, 3, 2))
    if snap:
        corners = np.round(corners)  # vertices and axis-parallel edges exactly on cell borders
    triangles = shapely.polygons(corners)
    triangles = triangles[shapely.area(triangles) > 0]
    edges = _edges(triangles, 0.0, 0.0, 1.0, (41, 41))
    low = np.stack(np.meshgrid(np.arange(41.0), np.arange(41.0)), -1).reshape(-1, 2)  # flat index = row * 41 + col
    cells = shapely.box(low[:, 0], low[:, 1], low[:, 0] + 1, low[:, 1] + 1)
    touched_cell, touched_segment = shapely.STRtree(shapely.linestrings(
        np.stack([edges.start, edges.end], axis=1))).query(cells, predicate="intersects")
    listed = set(zip(edges.cells.tolist(), edges.segments.tolist(), strict=True))
    missing = set(zip(touched_cell.tolist(), touched_segment.tolist(), strict=True)) - listed
    assert not missing
