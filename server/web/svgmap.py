"""A small map of a household's GPS point and its village boundary, as inline SVG (pure).

No tile server is reachable from a commune office's phone reliably, and none may be called at run
time, so the page draws the boundary itself from the stored GeoJSON geometry.

Rules (the tests cite them):
SM001 Longitude/latitude are projected equirectangularly around the drawing's mean latitude (x scaled
      by cos(latitude)), so a village keeps its shape at Vietnam's latitudes; north is up.
SM002 The drawing fits the boundary and the point together inside the frame with a margin, keeping the
      aspect ratio, centred.
SM003 A Polygon or MultiPolygon becomes one path (every ring, holes included, drawn with even-odd fill);
      any other geometry is ignored.
SM004 With only a point the point is drawn in the centre; with neither there is no map (None).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Position = tuple[float, float]  # (longitude, latitude), GeoJSON order


@dataclass(frozen=True)
class MapDrawing:
    width: int
    height: int
    path: str | None                   # SVG path data of the boundary, None without one
    point: tuple[float, float] | None  # (x, y) in the drawing, None without a GPS point


def draw_map(geometry: Mapping[str, Any] | None, point: Position | None, *, width: int = 320,
             height: int = 220, margin: int = 14) -> MapDrawing | None:
    """The drawing of ``geometry`` (GeoJSON) and ``point`` (lon, lat) in a width × height frame (SM001–SM004)."""
    unit_rings = rings(geometry)
    positions = [p for ring in unit_rings for p in ring] + ([point] if point is not None else [])
    if not positions:
        return None
    project = fit(positions, width, height, margin)
    path = " ".join(ring_path([project(p) for p in ring]) for ring in unit_rings) or None
    return MapDrawing(width, height, path, project(point) if point is not None else None)


def fit(positions: list[Position], width: int, height: int, margin: int) -> Callable[[Position], tuple[float, float]]:
    """The projection of (lon, lat) into a width × height frame that fits ``positions`` centred within ``margin``:
    longitudes shrunk by the cosine of the mean latitude, so that shapes keep their proportions; y grows down."""
    mean_lat = sum(lat for _, lat in positions) / len(positions)
    shrink = math.cos(math.radians(mean_lat))
    xs = [lon * shrink for lon, _ in positions]
    ys = [lat for _, lat in positions]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    inner_w, inner_h = width - 2 * margin, height - 2 * margin
    scale = min(inner_w / span_x if span_x else math.inf, inner_h / span_y if span_y else math.inf)
    if math.isinf(scale):  # a single position: nothing to scale
        scale = 1.0
    offset_x = margin + (inner_w - span_x * scale) / 2
    offset_y = margin + (inner_h - span_y * scale) / 2
    left, top = min(xs), max(ys)

    def project(position: Position) -> tuple[float, float]:
        lon, lat = position
        return (round(offset_x + (lon * shrink - left) * scale, 1), round(offset_y + (top - lat) * scale, 1))

    return project


def rings(geometry: Mapping[str, Any] | None) -> list[list[Position]]:
    if not geometry:
        return []
    kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
    polygons: Iterable[Sequence[Any]] = [coordinates] if kind == "Polygon" else \
        coordinates if kind == "MultiPolygon" else []
    return [[(float(p[0]), float(p[1])) for p in ring] for polygon in polygons for ring in polygon if ring]


def ring_path(points: list[tuple[float, float]]) -> str:
    head, *rest = points
    return f"M{head[0]},{head[1]} " + " ".join(f"L{x},{y}" for x, y in rest) + " Z"
