"""Administrative units of one province, read offline from the `vietnamadminunits` package data.

The package (MIT) ships an SQLite file with the post-reform units (``admin_units``, since
1 July 2025: province → commune) and the pre-reform ones (``admin_units_legacy``: province →
district → commune), plus ``converter_2025.json``, the official old → new commune conversion.
Its address converter may call an online geocoder, so this module never imports it: it reads the
two files directly.

Pre-2025 codes are another numbering scheme, not older values of the same field. 3,316 current
commune codes are also legacy codes, usually of one of the old communes merged into the new one,
which covered far less (07210 was Phường Hoàng Văn Thụ; it is now Phường Bắc Giang, seven old
communes); and old Bắc Giang was province 24, now the code of the merged Bắc Ninh. Every legacy
code therefore travels with ``LEGACY_SCHEME`` and is never stored in place of a current code.

Supervision areas: districts were abolished, but supervisors still follow the old districts. Each
new commune is put in the area of the old district that contributed most of it, measured by the
bounding-box area of the contributing old communes (the dataset has no legacy areas or polygons;
boxes overstate every unit alike, so they still rank contributions). Ties go to the district that
contributed more old communes, then to the lower district code. The other contributing districts
are kept on the commune (``other_area_codes``).

The demo helpers (`demo_villages`, `demo_boundaries`) fabricate what no public package has:
villages and polygons. Their output is synthetic, for demos, tests and benchmarks only.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sqlite3
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from server.geo.locate import LocalProjection

CURRENT_SCHEME = "gso-2025"
LEGACY_SCHEME = "gso-pre-2025"
AREA_PREFIX = "AREA-"
DEFAULT_URBAN_KINDS = frozenset({"phường"})

_DATASET_FILE = "dataset.db"
_CONVERTER_FILE = "converter_2025.json"
_KM_PER_DEGREE_LAT = 111.32


@dataclass(frozen=True, slots=True)
class LegacyUnit:
    """A pre-2025 commune-level unit (or a district without communes, such as an island)."""

    scheme: str
    province_code: str
    province_name: str
    district_code: str
    district_name: str
    code: str
    name: str
    approx_km2: float
    new_commune_codes: tuple[str, ...]  # the official default successor first


@dataclass(frozen=True, slots=True)
class Commune:
    code: str
    name: str
    kind: str  # "xã", "phường" or "đặc khu", lower-case as in the decree
    urban: bool
    lat: float | None
    lon: float | None
    area_km2: float | None
    area_code: str
    other_area_codes: tuple[str, ...]  # old districts that also contributed, largest share first
    legacy_codes: tuple[str, ...]  # LEGACY_SCHEME codes of the old units merged into it


@dataclass(frozen=True, slots=True)
class SupervisionArea:
    code: str
    name: str
    legacy_district_code: str
    legacy_province_code: str
    commune_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    communes: tuple[Commune, ...]
    areas: tuple[SupervisionArea, ...]
    legacy_units: tuple[LegacyUnit, ...]
    scheme: str = CURRENT_SCHEME
    legacy_scheme: str = LEGACY_SCHEME

    def commune(self, code: str) -> Commune:
        for commune in self.communes:
            if commune.code == code:
                return commune
        raise KeyError(code)

    def communes_for_legacy(self, legacy_code: str) -> tuple[str, ...]:
        """Current commune codes for a pre-2025 unit code (``LEGACY_SCHEME``); default first."""
        for unit in self.legacy_units:
            if unit.code == legacy_code:
                return unit.new_commune_codes
        return ()


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str
    kind: str
    commune_code: str


def dataset_dir() -> Path:
    """Where the installed `vietnamadminunits` keeps its data files."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or spec.origin is None:
        raise RuntimeError("vietnamadminunits is not installed")
    return Path(spec.origin).parent / "data"


def load_province(code: str, *, urban_kinds: frozenset[str] = DEFAULT_URBAN_KINDS,
                  data_dir: Path | None = None) -> Province:
    """Current communes, their supervision areas and the legacy units of province `code` (GSO 2025)."""
    directory = data_dir or dataset_dir()
    connection = sqlite3.connect(f"file:{directory / _DATASET_FILE}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        new_rows = connection.execute(
            "SELECT * FROM admin_units WHERE provinceCode = ? ORDER BY wardCode", (code,)).fetchall()
        if not new_rows:
            raise KeyError(f"no province with code {code!r} in {CURRENT_SCHEME}")
        converter = json.loads((directory / _CONVERTER_FILE).read_text(encoding="utf-8"))
        province_key = new_rows[0]["provinceKey"]
        old_province_keys = converter["DICT_PROVINCE"][province_key]
        placeholders = ",".join("?" * len(old_province_keys))
        old_rows = connection.execute(
            f"SELECT * FROM admin_units_legacy WHERE provinceKey IN ({placeholders})", old_province_keys).fetchall()
    finally:
        connection.close()

    new_code_by_key = {row["wardKey"]: row["wardCode"] for row in new_rows}
    successors = _successors(converter, province_key, new_code_by_key)
    legacy_units = tuple(_legacy_unit(row, successors.get(_legacy_key(row), ())) for row in old_rows)
    shares = _district_shares(legacy_units)
    names = {(u.province_code, u.district_code): u.district_name for u in legacy_units}

    communes = tuple(_commune(row, shares.get(row["wardCode"], []), legacy_units, urban_kinds) for row in new_rows)
    areas = _areas(communes, names)
    return Province(code=code, name=_nfc(new_rows[0]["province"]), communes=communes, areas=areas,
                    legacy_units=legacy_units)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _legacy_key(row: sqlite3.Row) -> str:
    # The converter names old units "<province>_<district>_<ward>"; island districts have no ward.
    return f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey'] or ''}"


def _successors(converter: dict[str, Any], province_key: str,
                new_code_by_key: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Old unit key → new commune codes, the official default first."""
    result: dict[str, list[str]] = defaultdict(list)
    for new_key, old_keys in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].get(province_key, {}).items():
        for old_key in old_keys:
            result[old_key].append(new_code_by_key[new_key])
    for old_key, targets in converter["DICT_PROVINCE_WARD_DIVIDED"].get(province_key, {}).items():
        ordered = sorted(targets, key=lambda target: not target["isDefaultNewWard"])
        for target in ordered:
            code = new_code_by_key.get(target["newWardKey"])
            if code is not None and code not in result[old_key]:
                result[old_key].append(code)
    return {key: tuple(codes) for key, codes in result.items()}


def _bbox_km2(bounds: str | None, lat: float | None) -> float:
    """Area of the dataset's "lat,lon – lat,lon" box; 0 when the unit has none."""
    if not bounds:
        return 0.0
    (lat1, lon1), (lat2, lon2) = (map(float, corner.split(",")) for corner in bounds.split("–"))
    mid_lat = lat if lat is not None else (lat1 + lat2) / 2
    height = abs(lat2 - lat1) * _KM_PER_DEGREE_LAT
    width = abs(lon2 - lon1) * _KM_PER_DEGREE_LAT * math.cos(math.radians(mid_lat))
    return height * width


def _district_name(row: sqlite3.Row) -> str:
    """The district's name, with the type written as the decree writes it: the dataset has a few
    such as "Thị Xã Việt Yên" where "Thị xã" is meant."""
    name = _nfc(row["district"])
    if row["districtType"] and row["districtShort"]:
        regular = _nfc(f"{row['districtType']} {row['districtShort']}")
        if regular.lower() == name.lower():
            return regular
    return name


def _legacy_unit(row: sqlite3.Row, successors: tuple[str, ...]) -> LegacyUnit:
    has_ward = row["wardCode"] is not None
    return LegacyUnit(
        scheme=LEGACY_SCHEME,
        province_code=row["provinceCode"],
        province_name=_nfc(row["province"]),
        district_code=row["districtCode"],
        district_name=_district_name(row),
        code=row["wardCode"] if has_ward else row["districtCode"],
        name=_nfc(row["ward"] if has_ward else row["district"]),
        approx_km2=_bbox_km2(row["wardBounds"] if has_ward else row["districtBounds"],
                             row["wardLat"] if has_ward else row["districtLat"]),
        new_commune_codes=successors,
    )


def _district_shares(units: Sequence[LegacyUnit]) -> dict[str, list[tuple[str, str]]]:
    """New commune code → contributing (province, district) pairs, the assigned one first."""
    weight: dict[str, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
    count: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for unit in units:
        district = (unit.province_code, unit.district_code)
        for new_code in unit.new_commune_codes:
            # A divided old commune's parts are unknown: it counts equally towards each successor.
            weight[new_code][district] += unit.approx_km2 / len(unit.new_commune_codes)
            count[new_code][district] += 1
    return {
        new_code: sorted(districts, key=lambda d: (-districts[d], -count[new_code][d], d[1]))
        for new_code, districts in weight.items()
    }


def area_code(legacy_district_code: str) -> str:
    return f"{AREA_PREFIX}{legacy_district_code}"


def _commune(row: sqlite3.Row, districts: list[tuple[str, str]], legacy_units: Sequence[LegacyUnit],
             urban_kinds: frozenset[str]) -> Commune:
    if not districts:
        raise ValueError(f"commune {row['wardCode']} has no old unit in the conversion table")
    kind = _nfc(row["wardType"]).lower()
    return Commune(
        code=row["wardCode"],
        name=_nfc(row["ward"]),
        kind=kind,
        urban=kind in urban_kinds,
        lat=row["wardLat"],
        lon=row["wardLon"],
        area_km2=row["wardAreaKm2"],
        area_code=area_code(districts[0][1]),
        other_area_codes=tuple(area_code(district) for _, district in districts[1:]),
        legacy_codes=tuple(u.code for u in legacy_units if row["wardCode"] in u.new_commune_codes),
    )


def _areas(communes: Sequence[Commune], names: dict[tuple[str, str], str]) -> tuple[SupervisionArea, ...]:
    members: dict[str, list[str]] = defaultdict(list)
    for commune in communes:
        members[commune.area_code].append(commune.code)
    by_district = {area_code(district): (province, district) for province, district in names}
    return tuple(
        SupervisionArea(code=code, name=names[by_district[code]], legacy_district_code=by_district[code][1],
                        legacy_province_code=by_district[code][0], commune_codes=tuple(members[code]))
        for code in sorted(members)
    )


# --- Demo data: villages and polygons that no public package provides ---------------------------

_RURAL_VILLAGE_NAMES = (
    "Thôn Đông", "Thôn Tây", "Thôn Nam", "Thôn Bắc", "Thôn Trung", "Thôn Thượng", "Thôn Hạ", "Thôn Đình",
    "Thôn Chùa", "Thôn Mới", "Thôn Ngoài", "Thôn Trong", "Làng Hạ", "Làng Thượng", "Làng Giữa",
)


def demo_villages(province: Province, *, per_commune: int = 20, seed: int = 0) -> list[Village]:
    """`per_commune` synthetic villages in every commune: named thôn/làng then numbered xóm in a xã,
    numbered tổ dân phố in a phường. Codes are ``<commune>-<NN>``; the seed only shuffles names."""
    if per_commune < 1:
        raise ValueError("per_commune must be at least 1")
    rng = random.Random(seed)
    width = max(2, len(str(per_commune)))
    villages: list[Village] = []
    for commune in province.communes:
        for number, (name, kind) in enumerate(_village_names(commune, per_commune, rng), start=1):
            villages.append(Village(code=f"{commune.code}-{number:0{width}d}", name=name, kind=kind,
                                    commune_code=commune.code))
    return villages


def _village_names(commune: Commune, count: int, rng: random.Random) -> list[tuple[str, str]]:
    if commune.urban:
        return [(f"Tổ dân phố {n}", "tổ dân phố") for n in range(1, count + 1)]
    named = rng.sample(_RURAL_VILLAGE_NAMES, min(count, len(_RURAL_VILLAGE_NAMES)))
    names = [(name, name.split()[0].lower()) for name in named]
    return names + [(f"Xóm {n}", "xóm") for n in range(1, count - len(names) + 1)]


def demo_boundaries(province: Province, villages: Sequence[Village], *, seed: int = 0) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of synthetic commune and village polygons.

    Communes are the Voronoi cells of the real commune centroids, clipped to the centroids' concave
    hull grown until the total area equals the official one; each commune is cut into Voronoi cells
    of random points, one per village. Neighbouring cells share their edges exactly.
    """
    located = [c for c in province.communes if c.lat is not None and c.lon is not None]
    lons = np.array([c.lon for c in located])
    lats = np.array([c.lat for c in located])
    projection = LocalProjection.around(lons, lats)
    x, y = projection.to_metres(lons, lats)
    sites = shapely.points(x, y)
    official_m2 = sum(c.area_km2 or 0.0 for c in located) * 1e6
    # The convex hull of Bắc Ninh's centroids is already 8 % larger than the province: a concave
    # hull, grown back to the official area, leaves border communes a plausible size.
    region = _region_of_area(shapely.concave_hull(shapely.multipoints(sites), ratio=0.3), official_m2)
    commune_cells = _voronoi_cells(sites, region)

    by_commune: dict[str, list[Village]] = defaultdict(list)
    for village in villages:
        by_commune[village.commune_code].append(village)
    rng = np.random.default_rng(seed)
    features = []
    for commune, cell in zip(located, commune_cells, strict=True):
        features.append(_feature(projection, cell, commune.code, commune.name, "commune", province.code))
        members = by_commune.get(commune.code, [])
        for village, village_cell in zip(members, _subdivide(cell, len(members), rng), strict=True):
            features.append(_feature(projection, village_cell, village.code, village.name, "village", commune.code))
    return {"type": "FeatureCollection", "features": features}


def _region_of_area(hull: shapely.Geometry, target_m2: float) -> shapely.Geometry:
    """The hull buffered by the distance that makes its area `target_m2` (bisection; area grows
    monotonically with the distance)."""
    if hull.area >= target_m2:
        return hull
    low, high = 0.0, math.sqrt(target_m2)
    for _ in range(40):
        middle = (low + high) / 2
        if shapely.buffer(hull, middle).area < target_m2:
            low = middle
        else:
            high = middle
    return shapely.buffer(hull, high)


def _voronoi_cells(sites: np.ndarray, region: shapely.Geometry) -> np.ndarray:
    """One cell per site, in the order of `sites`, clipped to `region`."""
    diagram = shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=region, ordered=True)
    return shapely.intersection(shapely.get_parts(diagram), region)


def _subdivide(cell: shapely.Geometry, parts: int, rng: np.random.Generator) -> list[shapely.Geometry]:
    if parts <= 1:
        return [cell] * parts
    minx, miny, maxx, maxy = cell.bounds
    shapely.prepare(cell)
    seeds = np.empty((0, 2))
    while len(seeds) < parts:
        candidates = rng.uniform((minx, miny), (maxx, maxy), size=(parts * 4, 2))
        inside = shapely.contains_xy(cell, candidates[:, 0], candidates[:, 1])
        seeds = np.vstack([seeds, candidates[inside]])
    return list(_voronoi_cells(shapely.points(seeds[:parts]), cell))


def _feature(projection: LocalProjection, geometry: shapely.Geometry, code: str, name: str, level: str,
             parent_code: str) -> dict[str, Any]:
    lonlat = projection.geometry_to_lonlat(geometry)
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent_code},
        "geometry": json.loads(shapely.to_geojson(shapely.set_precision(lonlat, 1e-7))),
    }
