"""server/web/svgmap.py: SM001–SM004."""

from __future__ import annotations

import math
import re

import pytest

from server.web.svgmap import draw_map

LAT = 21.28
SQUARE = {"type": "Polygon", "coordinates": [[[106.20, 21.275], [106.21, 21.275], [106.21, 21.285],
                                              [106.20, 21.285], [106.20, 21.275]]]}


def _points(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", path)]


def test_draw_map__sm001__east_west_shrunk_by_cos_latitude_north_up():
    drawing = draw_map(SQUARE, None, width=1000, height=1000, margin=0)
    xs, ys = zip(*_points(drawing.path), strict=True)
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    assert width / height == pytest.approx(math.cos(math.radians(LAT)), abs=0.01)
    north = _points(drawing.path)[2]  # (106.21, 21.285)
    assert north[1] == min(ys)


def test_draw_map__sm002__fits_frame_with_margin_centred():
    drawing = draw_map(SQUARE, (106.205, 21.28), width=320, height=220, margin=14)
    xs, ys = zip(*_points(drawing.path), strict=True)
    assert min(ys) == pytest.approx(14, abs=0.1) and max(ys) == pytest.approx(206, abs=0.1)
    assert (min(xs) + max(xs)) / 2 == pytest.approx(160, abs=0.1)
    assert drawing.point == pytest.approx((160, 110), abs=0.1)


def test_draw_map__sm002__point_outside_boundary_still_in_frame():
    drawing = draw_map(SQUARE, (106.25, 21.30), width=320, height=220, margin=10)
    x, y = drawing.point
    assert 10 <= x <= 310 and 10 <= y <= 210
    assert all(10 - 0.1 <= px <= 310.1 and 10 - 0.1 <= py <= 210.1 for px, py in _points(drawing.path))


def test_draw_map__sm003__multipolygon_with_hole__one_path_every_ring():
    hole = [[106.202, 21.277], [106.204, 21.277], [106.204, 21.279], [106.202, 21.277]]
    second = [[[106.22, 21.275], [106.23, 21.275], [106.23, 21.285], [106.22, 21.275]]]
    geometry = {"type": "MultiPolygon", "coordinates": [[SQUARE["coordinates"][0], hole], second]}
    drawing = draw_map(geometry, None)
    assert drawing.path.count("M") == 3 and drawing.path.count("Z") == 3


def test_draw_map__sm003__other_geometry_ignored():
    drawing = draw_map({"type": "Point", "coordinates": [106.2, 21.2]}, (106.2, 21.2), width=100, height=80)
    assert drawing.path is None and drawing.point == (50.0, 40.0)


def test_draw_map__sm004__point_only_centred_nothing_none():
    assert draw_map(None, (106.2, 21.2), width=200, height=100).point == (100.0, 50.0)
    assert draw_map(None, None) is None
    assert draw_map({"type": "Polygon", "coordinates": []}, None) is None
