"""Chart and map geometry for the dashboard, drawn as inline SVG by the templates (pure).

Nothing is fetched from the internet: no chart library, no tile server. The functions return numbers
(rounded to 0.1 px) and the template writes the SVG elements.

Rules (the tests cite them):
MC001 Bars share one scale: the tallest bar fills the plot height; a zero value has no height; with no
      value above zero every bar is flat. Bars are laid out left to right in the series' order, with
      equal widths and a gap of a fifth of the slot.
MC002 The value axis has "nice" ticks (1, 2 or 5 × 10ⁿ steps) from 0 to at least the maximum.
MC003 At most ``max_labels`` category labels are shown, evenly spaced, always including the first.
MC004 Horizontal bars: one row per item, the longest fills the width; None draws no bar.
MC005 The map projects longitude/latitude equirectangularly around the mean latitude (x scaled by
      cos latitude), north up, fitting every shape and point inside the frame with a margin, keeping the
      aspect ratio, centred. Polygons and MultiPolygons become one path each (even-odd fill); other
      geometries are ignored; with nothing to draw there is no map (None).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.web import svgmap


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    top: int
    bottom: float          # y of the baseline
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, float], ...]       # (y, value)
    labels: tuple[tuple[float, str], ...]        # (x centre, label)


def nice_step(maximum: float, count: int = 4) -> float:
    """MC002: a tick step of 1, 2 or 5 × 10ⁿ giving about ``count`` ticks up to ``maximum``."""
    if maximum <= 0:
        return 1.0
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def bar_chart(series: Sequence[tuple[str, float]], *, width: int = 640, height: int = 180, left: int = 40,
              top: int = 8, bottom_space: int = 22, max_labels: int = 8) -> BarChart:
    """MC001–MC003."""
    plot_w, plot_h = width - left - 4, height - top - bottom_space
    base = top + plot_h
    maximum = max((value for _, value in series), default=0)
    step = nice_step(maximum)
    scale_max = step * math.ceil(maximum / step) if maximum > 0 else step
    slot = plot_w / len(series) if series else plot_w
    bars = []
    for index, (label, value) in enumerate(series):
        bar_h = plot_h * value / scale_max if value > 0 else 0.0
        bars.append(Bar(round(left + index * slot + slot * 0.1, 1), round(base - bar_h, 1), round(slot * 0.8, 1),
                        round(bar_h, 1), label, value))
    ticks = tuple((round(base - plot_h * (i * step) / scale_max, 1), i * step)
                  for i in range(int(round(scale_max / step)) + 1))
    every = max(1, math.ceil(len(series) / max_labels)) if series else 1
    labels = tuple((round(left + index * slot + slot / 2, 1), label)
                   for index, (label, _) in enumerate(series) if index % every == 0)
    return BarChart(width, height, left, top, base, tuple(bars), ticks, labels)


@dataclass(frozen=True)
class HBar:
    y: float
    width: float
    label: str
    value: float | None


def hbar_chart(items: Sequence[tuple[str, float | None]], *, width: int = 260,
               row: int = 22) -> tuple[int, tuple[HBar, ...]]:
    """MC004: (height, bars) for labelled values drawn as horizontal bars ``width`` px at the longest."""
    maximum = max((value for _, value in items if value), default=0)
    bars = tuple(HBar(index * row, round(width * value / maximum, 1) if value and maximum else 0.0, label, value)
                 for index, (label, value) in enumerate(items))
    return len(items) * row, bars


Position = tuple[float, float]  # (longitude, latitude)


@dataclass(frozen=True)
class Shape:
    code: str
    path: str
    status: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    group: str


@dataclass(frozen=True)
class UnitMap:
    width: int
    height: int
    shapes: tuple[Shape, ...]
    dots: tuple[Dot, ...]


def unit_map(units: Iterable[tuple[str, Mapping[str, Any] | None, str]], points: Iterable[tuple[float, float, str]],
             *, width: int = 640, height: int = 420, margin: int = 10) -> UnitMap | None:
    """MC005. ``units``: (code, GeoJSON geometry, status); ``points``: (lat, lon, group)."""
    shapes = [(code, rings, status) for code, geometry, status in units if (rings := svgmap.rings(geometry))]
    dots = [((lon, lat), group) for lat, lon, group in points]
    positions = [p for _, rings, _ in shapes for ring in rings for p in ring] + [p for p, _ in dots]
    if not positions:
        return None
    project = svgmap.fit(positions, width, height, margin)
    drawn = tuple(Shape(code, " ".join(svgmap.ring_path([project(p) for p in ring]) for ring in rings), status)
                  for code, rings, status in shapes)
    return UnitMap(width, height, drawn, tuple(Dot(*project(p), group) for p, group in dots))


