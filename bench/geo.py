"""Geolocation benchmark: bulk and single-point `BoundaryIndex` against synthetic villages.

    .venv/bin/python bench/geo.py                      # 1,000,000 points, 10,000 villages
    .venv/bin/python bench/geo.py --edge-points 35     # ~215 vertices per village
    .venv/bin/python bench/geo.py --points 200000      # quicker

Villages are Voronoi cells of random seeds over a square of Bắc Ninh's size per village (0.47 km²
each), placed at Bắc Ninh's latitude; every edge gets `--edge-points` extra vertices on a smooth
random wiggle, the same on both sides, so neighbours still share their boundary exactly (16 gives
~100 vertices per village). Communes group ~100 villages each and are given as centroids.
Points are uniform over the square with a log-normal accuracy (median 8 m).
Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.geo.locate import BoundaryIndex, LocalProjection  # noqa: E402

VILLAGE_KM2 = 0.47  # ~4,700 km² / ~10,000 villages
CENTRE = (106.1, 21.2)  # lon, lat


def village_cells(count: int, edge_points: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """(polygons in metres, Voronoi seeds, side of the square)."""
    side = math.sqrt(count * VILLAGE_KM2 * 1e6)
    seeds = rng.uniform(0, side, (count, 2))
    square = shapely.box(0, 0, side, side)
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=square, ordered=True)
    cells = shapely.intersection(shapely.get_parts(diagram), square)
    return wiggle_edges(cells, edge_points, rng), seeds, side


def wiggle_edges(cells: np.ndarray, extra: int, rng: np.random.Generator) -> np.ndarray:
    """Give every edge `extra` intermediate vertices on a smooth random curve, identical for the two
    cells that share the edge; edges of a cell that comes out invalid are kept straight instead."""
    if extra == 0:
        return cells
    coords, ring = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    same = ring[1:] == ring[:-1]
    start, end, owner = coords[:-1][same], coords[1:][same], ring[:-1][same]
    a, b = np.round(start, 3), np.round(end, 3)
    flip = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    low, high = np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)
    edges, edge_of_segment = np.unique(np.hstack([low, high]), axis=0, return_inverse=True)
    edge_of_segment = edge_of_segment.ravel()
    t = np.arange(1, extra + 1) / (extra + 1)
    harmonics = np.sin(np.outer(np.arange(1, 4), np.pi * t))  # zero at both ends of the edge
    amplitude = rng.normal(0, 0.03, (len(edges), 3))
    straight = np.zeros(len(edges), bool)
    for _ in range(5):
        polygons = _rebuild(start, end, owner, flip, edges, edge_of_segment, amplitude * ~straight[:, None],
                            harmonics, t, len(cells))
        invalid = np.flatnonzero(~shapely.is_valid(polygons))
        if not invalid.size:
            return polygons
        straight[edge_of_segment[np.isin(owner, invalid)]] = True
    raise RuntimeError("could not make every village valid")


def _rebuild(start: np.ndarray, end: np.ndarray, owner: np.ndarray, flip: np.ndarray, edges: np.ndarray,
             edge_of_segment: np.ndarray, amplitude: np.ndarray, harmonics: np.ndarray, t: np.ndarray,
             count: int) -> np.ndarray:
    low, high = edges[:, :2], edges[:, 2:]
    direction = high - low
    length = np.hypot(direction[:, 0], direction[:, 1])
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1) / np.maximum(length, 1e-9)[:, None]
    offset = (amplitude @ harmonics) * length[:, None]  # (edges, extra)
    middle = low[:, None, :] + t[None, :, None] * direction[:, None, :] + offset[..., None] * normal[:, None, :]
    middle = middle[edge_of_segment]
    middle[flip] = middle[flip, ::-1]
    vertices = np.concatenate([start[:, None, :], middle], axis=1).reshape(-1, 2)
    ring_of_vertex = np.repeat(owner, middle.shape[1] + 1)
    rings = shapely.linearrings(vertices, indices=ring_of_vertex)
    return shapely.polygons(rings)


def boundary_geojson(polygons: np.ndarray, seeds: np.ndarray, side: float, projection: LocalProjection) -> dict:
    blocks = 10
    block = np.minimum((seeds // (side / blocks)).astype(int), blocks - 1)
    commune_of = [f"C{bx:02d}{by:02d}" for bx, by in block]
    features: list[dict[str, Any]] = []
    for code in sorted(set(commune_of)):
        members = seeds[[c == code for c in commune_of]]
        lon, lat = projection.geometry_to_lonlat(shapely.points(members.mean(axis=0))).coords[0]
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {"code": code, "name": code, "level": "commune", "parent_code": "24"}})
    shapes = shapely.to_geojson(projection.geometry_to_lonlat(polygons))
    for number, (shape, commune) in enumerate(zip(shapes, commune_of, strict=True)):
        features.append({"type": "Feature", "geometry": json.loads(shape),
                         "properties": {"code": f"{commune}-{number:05d}", "name": f"Thôn {number}",
                                        "level": "village", "parent_code": commune}})
    return {"type": "FeatureCollection", "features": features}


def _best(repeat: int, run: Any) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of `repeat` runs, fastest first. On a shared machine the CPU time
    shows what an idle core would do; the wall time is what this run got."""
    seconds = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
    return sorted(seconds)


def _rates(points: int, seconds: list[tuple[float, float]]) -> str:
    wall = [points / w for w, _ in seconds]
    cpu = max(points / c for _, c in seconds)
    return (f"{wall[0]:,.0f} points/s best of {len(wall)} (median {wall[len(wall) // 2]:,.0f}; "
            f"{cpu:,.0f} per CPU-second; {points:,} points)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--villages", type=int, default=10_000)
    parser.add_argument("--edge-points", type=int, default=16)
    parser.add_argument("--single", type=int, default=20_000, help="points for the single-call latency")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each bulk figure (the machine is shared)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    projection = LocalProjection.at(*CENTRE)

    started = time.perf_counter()
    polygons, seeds, side = village_cells(args.villages, args.edge_points, rng)
    doc = boundary_geojson(polygons, seeds, side, projection)
    print(f"villages: {len(polygons):,}, vertices per village: mean "
          f"{shapely.get_num_coordinates(polygons).mean():.0f}, max {shapely.get_num_coordinates(polygons).max()}"
          f" (generated in {time.perf_counter() - started:.1f} s)")

    started = time.perf_counter()
    index = BoundaryIndex.from_geojson(doc)
    print(f"index built (validation + tree + grid): {time.perf_counter() - started:.1f} s")
    plain = BoundaryIndex.from_geojson(doc, raster_cell_m=None)

    x, y = rng.uniform(0, side, (2, args.points))
    lon, lat = x / projection.kx + projection.lon0, y / projection.ky + projection.lat0
    accuracy = rng.lognormal(math.log(8), 0.7, args.points)

    located = index.locate_arrays(lat, lon, accuracy)
    seconds = _best(args.repeat, lambda: index.locate_arrays(lat, lon, accuracy))
    print(f"bulk locate_arrays: {_rates(args.points, seconds)}")

    declared = np.append(index.village_codes, None)[located.village]
    wrong = rng.random(args.points) < 0.05
    declared[wrong] = rng.choice(index.village_codes, int(wrong.sum()))
    declared = declared.tolist()
    seconds = _best(args.repeat, lambda: index.locate_many(lat, lon, accuracy, declared))
    print(f"bulk locate_many (Location objects, declared villages, 5 % wrong): {_rates(args.points, seconds)}")

    subset = min(args.points, 200_000)
    seconds = _best(args.repeat, lambda: plain.locate_arrays(lat[:subset], lon[:subset], accuracy[:subset]))
    print(f"bulk without the grid (STRtree + exact predicates only): {_rates(subset, seconds)}")

    # A request carries plain floats, not numpy scalars.
    requests = list(zip(lat[:args.single].tolist(), lon[:args.single].tolist(), accuracy[:args.single].tolist(),
                        declared[:args.single], strict=True))
    timings = np.empty(len(requests))
    cpu = time.process_time()
    for i, request in enumerate(requests):
        began = time.perf_counter_ns()
        index.locate(*request)
        timings[i] = time.perf_counter_ns() - began
    cpu_micro = (time.process_time() - cpu) / len(requests) * 1e6
    micro = timings / 1000
    print(f"single locate: mean {micro.mean():.1f} µs, p50 {np.percentile(micro, 50):.1f} µs, "
          f"p95 {np.percentile(micro, 95):.1f} µs, p99 {np.percentile(micro, 99):.1f} µs over {len(requests):,} calls "
          f"({cpu_micro:.1f} CPU-µs per call)")


if __name__ == "__main__":
    main()
