"""Placing GPS points in villages and communes, with the flags a reviewer needs.

Rules (the tests cite them):
GEO001 A point belongs to the village polygon that covers it, boundary included; its commune is
       the village's ``parent_code``, not a second spatial lookup.
GEO002 A point covered by several villages (on a shared edge) goes to the declared village if it is
       one of them, otherwise to the lowest village code; it is flagged ``on_boundary``.
GEO003 ``on_boundary``: another village lies within the point's accuracy radius. An unknown
       accuracy counts as 0 m (only a point exactly on a shared edge is on the boundary).
GEO004 Outside every village, the commune polygon that covers it gives the commune (no village).
       Outside every polygon, the nearest commune given only as a centroid is used if it is within
       ``centroid_max_distance_m``, flagged ``commune_from_centroid``; otherwise ``outside_province``.
GEO005 ``no_gps``: latitude or longitude missing or not a number. Nothing else is decided.
GEO006 ``poor_accuracy``: accuracy above ``poor_accuracy_m`` (configurable). The point is still placed.
GEO007 The declared village is never overwritten: both are reported. ``outside_declared_village``
       when the point is not placed in it, with the distance in metres to its polygon
       (``distance_to_declared_m``, 0 inside). A declared code that the boundaries do not know is
       flagged ``unknown_declared_village``.
GEO008 Geopoints are "lat lon altitude accuracy" (ODK order, latitude first); geometry is lon, lat.
GEO009 Distances are metres on a local equirectangular projection (scale error < 0.5 % across a
       province; no extra dependency).

Speed: `BoundaryIndex` lays a grid over the villages once (25 m cells, coarser if that would
exceed 8 M cells). A point in a cell that no edge touches takes that cell's village from an array;
if its accuracy circle may reach an edge, the village segments listed for the cells around it
decide ``on_boundary`` exactly. Only points in cells an edge touches go through the STRtree and
GEOS predicates. Both paths give the same answers (tested). The grid costs 5 bytes per cell plus
~50 bytes per polygon vertex (~90 MB for 10,000 villages of ~100 vertices over 4,700 km²);
``raster_cell_m=None`` turns it off.
"""

from __future__ import annotations

import csv
import gc
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
from shapely import STRtree

from server.geo.geojson import LEVEL_COMMUNE, LEVEL_VILLAGE, BoundaryFeature, parse_boundaries

EARTH_RADIUS_M = 6_371_008.8

FLAG_NO_GPS = "no_gps"
FLAG_POOR_ACCURACY = "poor_accuracy"
FLAG_OUTSIDE_DECLARED_VILLAGE = "outside_declared_village"
FLAG_ON_BOUNDARY = "on_boundary"
FLAG_OUTSIDE_PROVINCE = "outside_province"
FLAG_COMMUNE_FROM_CENTROID = "commune_from_centroid"
FLAG_UNKNOWN_DECLARED_VILLAGE = "unknown_declared_village"
# Bit i of a flag mask is FLAGS[i]; the order is also the order flags are listed in.
FLAGS = (FLAG_NO_GPS, FLAG_POOR_ACCURACY, FLAG_OUTSIDE_DECLARED_VILLAGE, FLAG_ON_BOUNDARY,
         FLAG_OUTSIDE_PROVINCE, FLAG_COMMUNE_FROM_CENTROID, FLAG_UNKNOWN_DECLARED_VILLAGE)
_BIT = {name: np.uint8(1 << bit) for bit, name in enumerate(FLAGS)}
_FLAG_TUPLES = [tuple(name for bit, name in enumerate(FLAGS) if mask >> bit & 1) for mask in range(1 << len(FLAGS))]

DEFAULT_POOR_ACCURACY_M = 50.0
DEFAULT_CENTROID_MAX_DISTANCE_M = 10_000.0
DEFAULT_RASTER_CELL_M = 25.0
DEFAULT_MAX_RASTER_CELLS = 8_000_000
NEAR_REACH = 2  # cells: accuracy radii up to this are checked against the grid's segment lists

_BORDER_SLACK = 1e-6  # in cells: far above float rounding, far below any real distance
_NO_DECLARED = -1
_UNKNOWN_DECLARED = -2


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular metres east/north of (lon0, lat0). It is affine, so a vertex shared by two
    polygons stays shared, and a point given with a vertex's coordinates lands exactly on it."""

    lon0: float
    lat0: float
    kx: float
    ky: float

    @classmethod
    def at(cls, lon0: float, lat0: float) -> LocalProjection:
        metres_per_degree = EARTH_RADIUS_M * math.pi / 180
        return cls(lon0, lat0, metres_per_degree * math.cos(math.radians(lat0)), metres_per_degree)

    @classmethod
    def around(cls, lons: Any, lats: Any) -> LocalProjection:
        """Centred on the bounding box of the given coordinates."""
        return cls.at((float(np.min(lons)) + float(np.max(lons))) / 2, (float(np.min(lats)) + float(np.max(lats))) / 2)

    def to_metres(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def geometry_to_metres(self, geometry: Any) -> Any:
        return shapely.transform(geometry, lambda c: (c - (self.lon0, self.lat0)) * (self.kx, self.ky))

    def geometry_to_lonlat(self, geometry: Any) -> Any:
        return shapely.transform(geometry, lambda c: c / (self.kx, self.ky) + (self.lon0, self.lat0))


class GeoPoint(NamedTuple):
    lat: float
    lon: float
    altitude: float | None
    accuracy: float | None


def parse_geopoint(text: str | None) -> GeoPoint | None:
    """An ODK geopoint "lat lon [altitude [accuracy]]"; None when empty or not a position."""
    if not text:
        return None
    parts = text.split()
    if len(parts) < 2 or len(parts) > 4:
        return None
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    if not all(math.isfinite(n) for n in numbers):
        return None
    lat, lon = numbers[0], numbers[1]
    if abs(lat) > 90 or abs(lon) > 180:
        return None
    altitude = numbers[2] if len(numbers) > 2 else None
    accuracy = numbers[3] if len(numbers) > 3 and numbers[3] >= 0 else None
    return GeoPoint(lat, lon, altitude, accuracy)


class Location(NamedTuple):
    village_code: str | None
    commune_code: str | None
    flags: tuple[str, ...]
    distance_to_declared_m: float | None
    declared_village_code: str | None


@dataclass(frozen=True, slots=True)
class LocatedArrays:
    """Columnar result of `BoundaryIndex.locate_arrays`, for batches that never need objects."""

    village: np.ndarray  # int32 index into BoundaryIndex.village_codes, -1 for none
    commune: np.ndarray  # int32 index into BoundaryIndex.commune_codes, -1 for none
    flags: np.ndarray  # uint8 bit mask over FLAGS
    distance_to_declared_m: np.ndarray  # float64, NaN when there is nothing to measure


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Grow a boolean grid by one cell in all eight directions (3×3 square, done as two 1-D passes)."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    grown = rows.copy()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    return grown


@dataclass(frozen=True, slots=True)
class _Edges:
    """Polygon edges as segments, each with the cells it touches."""

    start: np.ndarray  # (segments, 2)
    end: np.ndarray  # (segments, 2)
    owner: np.ndarray  # polygon index of each segment
    cells: np.ndarray  # flat cell index of each (cell, segment) pair; a pair may repeat
    segments: np.ndarray  # segment index of each pair


def _edges(polygons: np.ndarray, x0: float, y0: float, cell: float, shape: tuple[int, int]) -> _Edges:
    """Segments of every ring and the cells each touches (a few more, never fewer). Segments are
    sampled every half cell, so consecutive samples are in the same or neighbouring cells; when they
    are diagonal neighbours the segment may also cross either of the two other cells, and both are
    taken. A sample within rounding distance of a cell border takes the cells on both sides."""
    parts, part_owner = shapely.get_parts(polygons, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring[1:] == ring[:-1]
    start, end = coords[:-1][same_ring], coords[1:][same_ring]
    owner = part_owner[ring_part[ring[:-1][same_ring]]].astype(np.int32)
    steps = np.maximum(np.ceil(np.hypot(*(end - start).T) / (cell / 2)), 1).astype(np.int64)
    per_segment = steps + 1  # both ends, so consecutive samples of one segment cover all of it
    segment = np.repeat(np.arange(len(steps)), per_segment)
    t = (np.arange(per_segment.sum()) - np.repeat(np.cumsum(per_segment) - per_segment, per_segment)) / steps[segment]
    fx = (start[segment, 0] + t * (end - start)[segment, 0] - x0) / cell
    fy = (start[segment, 1] + t * (end - start)[segment, 1] - y0) / cell
    ny, nx = shape
    col, row = _cell_index(fx, nx), _cell_index(fy, ny)
    cell = row * nx + col
    # Consecutive samples of a segment mostly share a cell: keep one pair per run.
    first = np.ones(len(cell), bool)
    first[1:] = (cell[1:] != cell[:-1]) | (segment[1:] != segment[:-1])
    cells, segments = [cell[first]], [segment[first]]
    col_low, col_high = _cell_index(fx - _BORDER_SLACK, nx), _cell_index(fx + _BORDER_SLACK, nx)
    row_low, row_high = _cell_index(fy - _BORDER_SLACK, ny), _cell_index(fy + _BORDER_SLACK, ny)
    border = np.flatnonzero((col_low != col_high) | (row_low != row_high))
    for rows, cols in ((row_low, col_low), (row_low, col_high), (row_high, col_low), (row_high, col_high)):
        cells.append(rows[border] * nx + cols[border])
        segments.append(segment[border])
    diagonal = np.flatnonzero((segment[1:] == segment[:-1]) & (col[1:] != col[:-1]) & (row[1:] != row[:-1]))
    cells += [row[diagonal] * nx + col[diagonal + 1], row[diagonal + 1] * nx + col[diagonal]]
    segments += [segment[diagonal]] * 2
    return _Edges(start, end, owner, np.concatenate(cells), np.concatenate(segments))


def _cell_index(position: np.ndarray, size: int) -> np.ndarray:
    return np.clip(np.floor(position), 0, size - 1).astype(np.intp)


def _point_to_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """`_segment_distance` for one segment, with the same operations in the same order."""
    dx, dy = bx - ax, by - ay
    length2 = dx**2 + dy**2
    along = (px - ax) * dx + (py - ay) * dy
    t = min(max(along / (length2 if length2 > 0 else 1.0), 0.0), 1.0)
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _segment_distance(px: np.ndarray, py: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    direction = end - start
    length2 = direction[:, 0] ** 2 + direction[:, 1] ** 2
    along = (px - start[:, 0]) * direction[:, 0] + (py - start[:, 1]) * direction[:, 1]
    t = np.clip(along / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return np.hypot(px - (start[:, 0] + t * direction[:, 0]), py - (start[:, 1] + t * direction[:, 1]))


@dataclass(frozen=True, slots=True)
class _Raster:
    """A grid over the villages. ``labels`` per cell: the one village that covers a cell no edge
    touches (-1 when none or several do); for a cell an edge touches, ``-2 - k`` where k is its row
    in ``edge_offsets``, which lists the village segments through it. ``clearance``: whole cells
    between a cell and the nearest edge, so a point there is at least clearance × cell from any edge."""

    x0: float
    y0: float
    cell: float
    labels: np.ndarray
    clearance: np.ndarray
    edge_offsets: np.ndarray
    edge_segments: np.ndarray
    start: np.ndarray
    end: np.ndarray
    owner: np.ndarray

    @classmethod
    def build(cls, villages: np.ndarray, village_tree: STRtree, cell_m: float, max_cells: int,
              clearance_m: float) -> _Raster:
        minx, miny, maxx, maxy = shapely.total_bounds(villages)
        cell = max(cell_m, math.sqrt((maxx - minx) * (maxy - miny) / max_cells))
        shape = (int((maxy - miny) // cell) + 1, int((maxx - minx) // cell) + 1)
        village_edges = _edges(villages, minx, miny, cell, shape)
        touched = np.zeros(shape, bool)
        touched.ravel()[village_edges.cells] = True
        labels = _label_runs(touched, villages, village_tree, minx, miny, cell)

        edge_cells = np.flatnonzero(touched)
        labels.ravel()[edge_cells] = -2 - np.arange(len(edge_cells), dtype=np.int32)
        count = len(village_edges.start)
        pairs = np.sort(village_edges.cells.astype(np.int64) * count + village_edges.segments)
        pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
        per_cell = np.bincount(np.searchsorted(edge_cells, pairs // count), minlength=len(edge_cells))
        offsets = np.concatenate([[0], np.cumsum(per_cell)])

        clearance = np.zeros(shape, np.uint8)
        reached = touched
        for _ in range(min(255, math.ceil(clearance_m / cell) + 1)):
            reached = _dilate(reached)
            clearance += ~reached
        return cls(minx, miny, cell, labels, clearance, offsets, (pairs % count).astype(np.int32),
                   village_edges.start, village_edges.end, village_edges.owner)

    def cells_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inside the grid, row, column) of each point; row and column are 0 outside."""
        ny, nx = self.labels.shape
        fx, fy = (x - self.x0) / self.cell, (y - self.y0) / self.cell
        inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        return inside, np.where(inside, fy, 0).astype(np.intp), np.where(inside, fx, 0).astype(np.intp)

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, column) of one point, None outside the grid; the same cell as `cells_of`."""
        ny, nx = self.labels.shape
        row, col = math.floor((y - self.y0) / self.cell), math.floor((x - self.x0) / self.cell)
        return (row, col) if 0 <= row < ny and 0 <= col < nx else None

    def segments_around(self, row: int, col: int, reach: int) -> np.ndarray:
        """Village segments through the cells within `reach` cells of (row, col)."""
        block = self.labels[max(row - reach, 0):row + reach + 1, max(col - reach, 0):col + reach + 1].ravel()
        offsets = self.edge_offsets
        pieces = [self.edge_segments[offsets[k]:offsets[k + 1]] for k in (-2 - block[block <= -2]).tolist()]
        return np.concatenate(pieces) if pieces else np.empty(0, np.int32)

    def lookup(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(village from the grid or -1, whether that settles the point: its accuracy circle clears
        every edge)."""
        inside, row, col = self.cells_of(x, y)
        label = np.where(inside, self.labels[row, col], -1)
        clear = (radius == 0) | (radius < self.clearance[row, col] * self.cell)
        return np.maximum(label, -1), (label >= 0) & clear

    def near_other_village(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray,
                           village: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(answerable, near): for points inside the grid with a radius of at most `NEAR_REACH`
        cells, whether a segment of another village lies within the radius. Such a segment touches
        a cell within ceil(radius / cell) cells of the point's, so only that block is searched."""
        inside, row, col = self.cells_of(x, y)
        reach = np.ceil(radius / self.cell)
        answerable = inside & (reach <= NEAR_REACH)
        near = np.zeros(len(x), bool)
        ny, nx = self.labels.shape
        for cells in range(1, NEAR_REACH + 1):
            point = np.flatnonzero(answerable & (reach <= cells) & (reach > cells - 1))
            steps = np.arange(-cells, cells + 1)
            rows = np.clip(row[point, None] + np.repeat(steps, len(steps))[None, :], 0, ny - 1)
            cols = np.clip(col[point, None] + np.tile(steps, len(steps))[None, :], 0, nx - 1)
            edge = -2 - self.labels[rows, cols]
            which, slot = np.nonzero(edge >= 0)
            edge = edge[which, slot]
            first, counts = self.edge_offsets[edge], self.edge_offsets[edge + 1] - self.edge_offsets[edge]
            pair_point = point[np.repeat(which, counts)]
            segment = self.edge_segments[np.repeat(first - np.cumsum(counts) + counts, counts)
                                         + np.arange(counts.sum())]
            other = self.owner[segment] != village[pair_point]
            pair_point, segment = pair_point[other], segment[other]
            distance = _segment_distance(x[pair_point], y[pair_point], self.start[segment], self.end[segment])
            near[pair_point[distance <= radius[pair_point]]] = True
        return answerable, near


def _label_runs(edges: np.ndarray, villages: np.ndarray, village_tree: STRtree, x0: float, y0: float,
                cell: float) -> np.ndarray:
    """Label each cell no edge touches with its village. A run of such cells along a row crosses no
    edge, so one exact test of the run's first cell decides the whole run."""
    free = ~edges
    starts = free.copy()
    starts[:, 1:] &= edges[:, :-1]
    labels = np.full(edges.shape, -1, np.int32)
    if not starts.any():
        return labels
    rows, cols = np.nonzero(starts)
    probe, village = _covering(village_tree, villages, shapely.points(x0 + (cols + 0.5) * cell,
                                                                      y0 + (rows + 0.5) * cell))
    # Overlapping villages (bad data) cover a run twice: leave such runs to the exact path.
    single = np.bincount(probe, minlength=len(rows))[probe] == 1
    run_label = np.full(len(rows), -1, np.int32)
    run_label[probe[single]] = village[single]
    run_of_cell = np.cumsum(starts.ravel(), dtype=np.int32) - 1
    labels.ravel()[free.ravel()] = run_label[run_of_cell[free.ravel()]]
    return labels


class BoundaryIndex:
    """Village and commune boundaries, ready to place points (see the module's rules)."""

    def __init__(self, features: Sequence[BoundaryFeature], *, poor_accuracy_m: float = DEFAULT_POOR_ACCURACY_M,
                 centroid_max_distance_m: float = DEFAULT_CENTROID_MAX_DISTANCE_M,
                 raster_cell_m: float | None = DEFAULT_RASTER_CELL_M,
                 max_raster_cells: int = DEFAULT_MAX_RASTER_CELLS) -> None:
        self.poor_accuracy_m = poor_accuracy_m
        self.centroid_max_distance_m = centroid_max_distance_m
        villages = sorted((f for f in features if f.level == LEVEL_VILLAGE), key=lambda f: f.code)
        communes = {f.code: f for f in features if f.level == LEVEL_COMMUNE}
        self.village_codes = np.array([v.code for v in villages], dtype=object)
        self.commune_codes = np.array(sorted(set(communes) | {v.parent_code for v in villages}), dtype=object)
        commune_position = {code: i for i, code in enumerate(self.commune_codes)}
        self._village_position = {code: i for i, code in enumerate(self.village_codes)}
        self._village_commune = np.array([commune_position[v.parent_code] for v in villages], dtype=np.int32)

        bounds = shapely.total_bounds([f.geometry for f in features])
        self.projection = LocalProjection.around(bounds[[0, 2]], bounds[[1, 3]])
        self._villages = self._to_metres([v.geometry for v in villages])
        self._village_tree = STRtree(self._villages)

        by_code = [communes[code] for code in sorted(communes)]
        polygon_communes = [f for f in by_code if f.geometry.geom_type != "Point"]
        centroid_communes = [f for f in by_code if f.geometry.geom_type == "Point"]
        self._commune_polygons = self._to_metres([f.geometry for f in polygon_communes])
        self._commune_polygon_ids = np.array([commune_position[f.code] for f in polygon_communes], dtype=np.int32)
        self._commune_tree = STRtree(self._commune_polygons)
        self._centroid_ids = np.array([commune_position[f.code] for f in centroid_communes], dtype=np.int32)
        self._centroid_tree = STRtree(self._to_metres([f.geometry for f in centroid_communes]))

        self._raster = None
        if raster_cell_m and len(villages):
            self._raster = _Raster.build(self._villages, self._village_tree, raster_cell_m, max_raster_cells,
                                         poor_accuracy_m)
        self._village_list: list[str] = self.village_codes.tolist()
        self._commune_list: list[str] = self.commune_codes.tolist()
        self._village_commune_list: list[int] = self._village_commune.tolist()

    def _to_metres(self, geometries: list[shapely.Geometry]) -> np.ndarray:
        projected = self.projection.geometry_to_metres(np.array(geometries, dtype=object))
        shapely.prepare(projected)
        return projected

    @classmethod
    def from_geojson(cls, doc: Any, *, known_commune_codes: Iterable[str] = (), **options: Any) -> BoundaryIndex:
        """Validate a boundary FeatureCollection (see `server.geo.geojson`) and index it."""
        return cls(parse_boundaries(doc, known_commune_codes=frozenset(known_commune_codes)), **options)

    def locate(self, lat: float | None, lon: float | None, accuracy_m: float | None = None,
               declared_village: str | None = None) -> Location:
        """One point, for a request. Same rules as `locate_many`, without its array set-up: for a
        single point ~60 numpy calls would cost more than the geometry itself."""
        declared = declared_village or None
        declared_index = self._village_position.get(declared, _UNKNOWN_DECLARED) if declared else _NO_DECLARED
        accuracy = _as_float(accuracy_m)
        mask = 0
        if accuracy is not None and accuracy > self.poor_accuracy_m:
            mask |= _BIT[FLAG_POOR_ACCURACY]
        if declared_index == _UNKNOWN_DECLARED:
            mask |= _BIT[FLAG_UNKNOWN_DECLARED_VILLAGE]
        lat, lon = _as_float(lat), _as_float(lon)
        if lat is None or lon is None:
            return Location(None, None, _FLAG_TUPLES[mask | _BIT[FLAG_NO_GPS]], None, declared)
        x, y = self.projection.to_metres(lon, lat)
        village, commune, placed = self._place_one(x, y, accuracy if accuracy and accuracy > 0 else 0.0,
                                                   declared_index)
        mask |= placed
        if commune < 0:
            mask |= _BIT[FLAG_OUTSIDE_PROVINCE]
        distance = None
        if declared_index >= 0:
            distance = 0.0
            if village != declared_index:
                distance = float(shapely.distance(self._villages[declared_index], shapely.Point(x, y)))
                mask |= _BIT[FLAG_OUTSIDE_DECLARED_VILLAGE]
        return Location(self._village_list[village] if village >= 0 else None,
                        self._commune_list[commune] if commune >= 0 else None, _FLAG_TUPLES[mask], distance, declared)

    def _place_one(self, x: float, y: float, radius: float, declared_index: int) -> tuple[int, int, int]:
        """(village, commune, flag mask) of one point: `locate_arrays`'s steps for a single point."""
        raster = self._raster
        cell = raster.cell_of(x, y) if raster is not None else None
        if raster is not None and cell is not None:
            label = int(raster.labels[cell])
            if label >= 0:
                settled = radius == 0 or radius < int(raster.clearance[cell]) * raster.cell
                near = not settled and self._near_other_one(x, y, radius, label, cell)
                return label, self._village_commune_list[label], _BIT[FLAG_ON_BOUNDARY] if near else 0
        point = shapely.Point(x, y)
        candidates = self._village_tree.query(point)
        hits = candidates[shapely.intersects(self._villages[candidates], point)].tolist()
        if hits:
            village = declared_index if declared_index in hits else min(hits)
            near = len(hits) > 1 or (radius > 0 and self._near_other_one(x, y, radius, village, cell))
            return village, self._village_commune_list[village], _BIT[FLAG_ON_BOUNDARY] if near else 0
        candidates = self._commune_tree.query(point)
        hits = candidates[shapely.intersects(self._commune_polygons[candidates], point)].tolist()
        if hits:
            return -1, int(self._commune_polygon_ids[min(hits)]), 0
        if len(self._centroid_ids):
            nearest, distance = self._centroid_tree.query_nearest(point, return_distance=True, all_matches=False)
            if distance[0] <= self.centroid_max_distance_m:
                return -1, int(self._centroid_ids[nearest[0]]), _BIT[FLAG_COMMUNE_FROM_CENTROID]
        return -1, -1, 0

    def _near_other_one(self, x: float, y: float, radius: float, village: int, cell: tuple[int, int] | None) -> bool:
        raster = self._raster
        reach = math.ceil(radius / raster.cell) if raster is not None else 0
        if raster is not None and cell is not None and reach <= NEAR_REACH:
            segments = raster.segments_around(*cell, reach)
            segments = segments[raster.owner[segments] != village]
            # A handful of segments: plain floats beat a dozen numpy calls on tiny arrays.
            starts, ends = raster.start[segments].tolist(), raster.end[segments].tolist()
            return any(_point_to_segment(x, y, *a, *b) <= radius for a, b in zip(starts, ends, strict=True))
        near = self._village_tree.query(shapely.Point(x, y), predicate="dwithin", distance=radius)
        return bool((near != village).any())

    def locate_many(self, lats: Sequence[float | None], lons: Sequence[float | None],
                    accs: Sequence[float | None] | None = None,
                    declared_villages: Sequence[str | None] | None = None) -> list[Location]:
        """Many points at once (bulk tree queries); one `Location` per point, in order."""
        located = self.locate_arrays(lats, lons, accs, declared_villages)
        villages = np.append(self.village_codes, None)[located.village].tolist()
        communes = np.append(self.commune_codes, None)[located.commune].tolist()
        flags = [_FLAG_TUPLES[mask] for mask in located.flags.tolist()]
        distances = [None if d != d else d for d in located.distance_to_declared_m.tolist()]
        declared = [code or None for code in declared_villages] if declared_villages is not None \
            else [None] * len(villages)
        with _collector_paused():
            return list(map(Location._make, zip(villages, communes, flags, distances, declared, strict=True)))

    def locate_arrays(self, lats: Any, lons: Any, accs: Any = None, declared_villages: Any = None) -> LocatedArrays:
        """`locate_many` as arrays (village/commune indices, flag masks, distances)."""
        lat = np.asarray(lats, dtype=float)
        lon = np.asarray(lons, dtype=float)
        count = len(lat)
        accuracy = np.full(count, np.nan) if accs is None else np.asarray(accs, dtype=float)
        declared = self._declared_indices(declared_villages, count)
        valid = np.isfinite(lat) & np.isfinite(lon)
        x, y = self.projection.to_metres(lon, lat)
        radius = np.where(np.isfinite(accuracy) & (accuracy > 0), accuracy, 0.0)
        result = _Result(count)

        undecided = np.flatnonzero(valid)
        if self._raster is not None:
            label, settled = self._raster.lookup(x[undecided], y[undecided], radius[undecided])
            result.village[undecided] = label
            self._flag_near_boundary(undecided[(label >= 0) & ~settled], x, y, radius, result)
            undecided = undecided[label < 0]
        if undecided.size:
            self._place_exactly(undecided, x, y, radius, declared, result)

        placed = result.village >= 0
        result.commune[placed] = self._village_commune[result.village[placed]]
        result.flags[~valid] |= _BIT[FLAG_NO_GPS]
        result.flags[accuracy > self.poor_accuracy_m] |= _BIT[FLAG_POOR_ACCURACY]
        result.flags[valid & (result.commune < 0)] |= _BIT[FLAG_OUTSIDE_PROVINCE]
        result.flags[declared == _UNKNOWN_DECLARED] |= _BIT[FLAG_UNKNOWN_DECLARED_VILLAGE]
        self._measure_declared(valid, x, y, declared, result)
        return LocatedArrays(result.village, result.commune, result.flags, result.distance)

    def _declared_indices(self, declared_villages: Any, count: int) -> np.ndarray:
        if declared_villages is None:
            return np.full(count, _NO_DECLARED, np.int32)
        position = self._village_position
        return np.array([position.get(code, _UNKNOWN_DECLARED) if code else _NO_DECLARED
                         for code in declared_villages], dtype=np.int32)

    def _place_exactly(self, which: np.ndarray, x: np.ndarray, y: np.ndarray, radius: np.ndarray,
                       declared: np.ndarray, result: _Result) -> None:
        points = shapely.points(x[which], y[which])
        hit_point, hit_village = _covering(self._village_tree, self._villages, points)
        village = _choose(hit_point, hit_village, len(which), declared[which])
        result.village[which] = village
        on_edge = np.bincount(hit_point, minlength=len(which)) > 1
        result.flags[which[on_edge]] |= _BIT[FLAG_ON_BOUNDARY]
        self._flag_near_boundary(which[(village >= 0) & ~on_edge], x, y, radius, result)
        self._place_in_communes(which[village < 0], points[village < 0], result)

    def _flag_near_boundary(self, which: np.ndarray, x: np.ndarray, y: np.ndarray, radius: np.ndarray,
                            result: _Result) -> None:
        """on_boundary for points placed in a village: another village within their radius. The
        grid's segment lists answer for radii up to NEAR_REACH cells; the tree answers the rest."""
        which = which[radius[which] > 0]
        if self._raster is not None and which.size:
            answered, near = self._raster.near_other_village(x[which], y[which], radius[which],
                                                             result.village[which])
            result.flags[which[near]] |= _BIT[FLAG_ON_BOUNDARY]
            which = which[~answered]
        if not which.size:
            return
        near_point, near_village = self._village_tree.query(shapely.points(x[which], y[which]), predicate="dwithin",
                                                            distance=radius[which])
        other = near_village != result.village[which][near_point]
        result.flags[which[near_point[other]]] |= _BIT[FLAG_ON_BOUNDARY]

    def _place_in_communes(self, which: np.ndarray, points: np.ndarray, result: _Result) -> None:
        if not which.size:
            return
        hit_point, hit_commune = _covering(self._commune_tree, self._commune_polygons, points)
        commune = _choose(hit_point, hit_commune, len(which), np.full(len(which), _NO_DECLARED, np.int32))
        covered = commune >= 0
        result.commune[which[covered]] = self._commune_polygon_ids[commune[covered]]
        rest = np.flatnonzero(~covered)
        if not rest.size or not len(self._centroid_ids):
            return
        (point, nearest), distance = self._centroid_tree.query_nearest(points[rest], return_distance=True,
                                                                       all_matches=False)
        close = distance <= self.centroid_max_distance_m
        chosen = which[rest[point[close]]]
        result.commune[chosen] = self._centroid_ids[nearest[close]]
        result.flags[chosen] |= _BIT[FLAG_COMMUNE_FROM_CENTROID]

    def _measure_declared(self, valid: np.ndarray, x: np.ndarray, y: np.ndarray, declared: np.ndarray,
                          result: _Result) -> None:
        known = valid & (declared >= 0)
        result.distance[known] = 0.0
        away = np.flatnonzero(known & (result.village != declared))
        if not away.size:
            return
        result.distance[away] = shapely.distance(self._villages[declared[away]], shapely.points(x[away], y[away]))
        result.flags[away] |= _BIT[FLAG_OUTSIDE_DECLARED_VILLAGE]


@dataclass(slots=True)
class _Result:
    count: int
    village: np.ndarray = field(init=False)
    commune: np.ndarray = field(init=False)
    flags: np.ndarray = field(init=False)
    distance: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.village = np.full(self.count, -1, np.int32)
        self.commune = np.full(self.count, -1, np.int32)
        self.flags = np.zeros(self.count, np.uint8)
        self.distance = np.full(self.count, np.nan)


def _covering(tree: STRtree, polygons: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, polygon) index pairs where the polygon covers the point. The tree only matches
    envelopes: testing the candidates against the prepared polygons is ~3× faster than the tree's
    own predicate query."""
    point, candidate = tree.query(points)
    hit = shapely.intersects(polygons[candidate], points[point])
    return point[hit], candidate[hit]


def _choose(hit_point: np.ndarray, hit_tree: np.ndarray, count: int, preferred: np.ndarray) -> np.ndarray:
    """Per point, the preferred hit if it is among its hits, else the lowest tree index (-1: none).
    Tree indices follow code order, so the lowest index is the lowest code."""
    chosen = np.full(count, np.iinfo(np.int32).max, np.int64)
    np.minimum.at(chosen, hit_point, hit_tree)
    match = hit_tree == preferred[hit_point]
    chosen[hit_point[match]] = hit_tree[match]
    chosen[chosen == np.iinfo(np.int32).max] = -1
    return chosen.astype(np.int32)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Creating a million result tuples sets off full garbage collections over and over, though
    none of them can be garbage; pausing the collector meanwhile makes it ~5× faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _as_float(value: Any) -> float | None:
    """A finite number, or None (missing, not a number, NaN or infinite), like NaN in the arrays."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- Batch: CSV in, CSV out ----------------------------------------------------------------------

INPUT_COLUMNS = ("id", "lat", "lon")
OUTPUT_COLUMNS = ("id", "village_code", "commune_code", "flag")


@dataclass(frozen=True, slots=True)
class LocateSummary:
    rows: int
    in_village: int
    commune_only: int  # in a commune (polygon or centroid) but no village polygon
    unplaced: int  # no GPS or outside the province
    unreadable: int  # lat/lon/acc present but not a number; such a row is treated as having no GPS
    flags: dict[str, int]


def locate_csv(points_path: str | Path, boundaries_path: str | Path, out_path: str | Path, *,
               chunk_rows: int = 100_000, **options: Any) -> LocateSummary:
    """Place every row of a CSV ``id,lat,lon[,acc]`` and write ``id,village_code,commune_code,flag``
    (flags joined by ';', empty if none), `chunk_rows` rows at a time so memory stays flat."""
    index = BoundaryIndex.from_geojson(json.loads(Path(boundaries_path).read_text(encoding="utf-8")), **options)
    totals = {"rows": 0, "in_village": 0, "commune_only": 0, "unplaced": 0, "unreadable": 0}
    flag_counts = np.zeros(len(FLAGS), np.int64)
    villages = np.append(index.village_codes, "")
    communes = np.append(index.commune_codes, "")
    flag_text = [";".join(names) for names in _FLAG_TUPLES]
    with open(points_path, newline="", encoding="utf-8-sig") as source, \
            open(out_path, "w", newline="", encoding="utf-8") as target:
        reader = csv.reader(source)
        columns = _input_columns(next(reader, []))
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(OUTPUT_COLUMNS)
        for ids, numbers, unreadable in _chunks(reader, columns, chunk_rows):
            located = index.locate_arrays(numbers[:, 0], numbers[:, 1], numbers[:, 2])
            writer.writerows(zip(ids, villages[located.village], communes[located.commune],
                                 [flag_text[m] for m in located.flags.tolist()], strict=True))
            in_village = located.village >= 0
            totals["rows"] += len(ids)
            totals["in_village"] += int(in_village.sum())
            totals["commune_only"] += int((~in_village & (located.commune >= 0)).sum())
            totals["unplaced"] += int((located.commune < 0).sum())
            totals["unreadable"] += unreadable
            flag_counts += [int((located.flags & _BIT[name]).astype(bool).sum()) for name in FLAGS]
    return LocateSummary(**totals, flags={name: int(n) for name, n in zip(FLAGS, flag_counts, strict=True) if n})


def _input_columns(header: list[str]) -> list[int]:
    """Positions of id, lat, lon and (optional, -1) acc in the header."""
    names = [name.strip().lower() for name in header]
    missing = [name for name in INPUT_COLUMNS if name not in names]
    if missing:
        raise ValueError(f"CSV thiếu cột {missing} / CSV lacks columns {missing} (needs id,lat,lon[,acc])")
    return [names.index(name) for name in INPUT_COLUMNS] + [names.index("acc") if "acc" in names else -1]


def _chunks(reader: Iterator[list[str]], columns: list[int],
            size: int) -> Iterator[tuple[list[str], np.ndarray, int]]:
    """(ids, float array lat/lon/acc with NaN for blanks and garbage, count of garbage rows)."""
    id_col, lat_col, lon_col, acc_col = columns
    ids: list[str] = []
    numbers: list[tuple[float, float, float]] = []
    unreadable = 0
    for row in reader:
        if not row:
            continue
        cells = [row[c] if 0 <= c < len(row) else "" for c in (lat_col, lon_col, acc_col)]
        values = [_to_float(cell) for cell in cells]
        unreadable += any(v is None for v in values)
        ids.append(row[id_col] if id_col < len(row) else "")
        numbers.append(tuple(math.nan if v is None else v for v in values))
        if len(ids) == size:
            yield ids, np.array(numbers, dtype=float), unreadable
            ids, numbers, unreadable = [], [], 0
    if ids:
        yield ids, np.array(numbers, dtype=float), unreadable


def _to_float(text: str) -> float | None:
    """The number in a cell; NaN for a blank cell, None for text that is not a number."""
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return None
