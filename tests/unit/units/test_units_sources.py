"""The offline administrative-units source (server/units/sources.py) against the real package data."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest
import shapely
import shapely.geometry

from server.geo.geojson import validate_boundaries
from server.geo.locate import LocalProjection
from server.units import sources
from server.units.sources import LEGACY_SCHEME, Province

BAC_NINH = "24"
OLD_DISTRICTS = {
    # old Bắc Giang (province 24)
    "213": "Thành phố Bắc Giang", "215": "Huyện Yên Thế", "216": "Huyện Tân Yên", "217": "Huyện Lạng Giang",
    "218": "Huyện Lục Nam", "219": "Huyện Lục Ngạn", "220": "Huyện Sơn Động", "222": "Thị xã Việt Yên",
    "223": "Huyện Hiệp Hòa", "224": "Thị xã Chũ",
    # old Bắc Ninh (province 27)
    "256": "Thành phố Bắc Ninh", "258": "Huyện Yên Phong", "259": "Thị xã Quế Võ", "260": "Huyện Tiên Du",
    "261": "Thành phố Từ Sơn", "262": "Thị xã Thuận Thành", "263": "Huyện Gia Bình", "264": "Huyện Lương Tài",
}


@pytest.fixture(scope="module")
def bac_ninh() -> Province:
    return sources.load_province(BAC_NINH)


@pytest.fixture(scope="module")
def demo(bac_ninh: Province) -> tuple[list[sources.Village], dict]:
    villages = sources.demo_villages(bac_ninh, per_commune=4, seed=7)
    return villages, sources.demo_boundaries(bac_ninh, villages, seed=7)


def test_load_province__bac_ninh__99_communes_66_xa_33_phuong(bac_ninh: Province) -> None:
    assert bac_ninh.name == "Tỉnh Bắc Ninh"
    assert len(bac_ninh.communes) == 99
    assert Counter(c.kind for c in bac_ninh.communes) == {"xã": 66, "phường": 33}


def test_load_province__phuong_and_xa__phuong_urban_xa_rural(bac_ninh: Province) -> None:
    assert all(c.urban == (c.kind == "phường") for c in bac_ninh.communes)


def test_load_province__urban_kinds_given__applied() -> None:
    province = sources.load_province(BAC_NINH, urban_kinds=frozenset({"phường", "xã"}))
    assert all(c.urban for c in province.communes)


def test_load_province__bac_ninh__centroids_and_areas_present(bac_ninh: Province) -> None:
    for commune in bac_ninh.communes:
        assert 20.9 < commune.lat < 21.7 and 105.8 < commune.lon < 107.0
        assert commune.area_km2 > 0
    assert sum(c.area_km2 for c in bac_ninh.communes) == pytest.approx(4718.6, abs=1)


def test_load_province__bac_ninh__every_commune_in_exactly_one_area(bac_ninh: Province) -> None:
    members = Counter(code for area in bac_ninh.areas for code in area.commune_codes)
    assert members == Counter(c.code for c in bac_ninh.communes)
    for commune in bac_ninh.communes:
        area = next(a for a in bac_ninh.areas if a.code == commune.area_code)
        assert commune.code in area.commune_codes


def test_load_province__bac_ninh__areas_are_the_old_districts(bac_ninh: Province) -> None:
    assert {a.code: a.name for a in bac_ninh.areas} == {f"AREA-{code}": name for code, name in OLD_DISTRICTS.items()}
    assert {a.legacy_province_code for a in bac_ninh.areas} == {"24", "27"}
    assert all(a.code == f"AREA-{a.legacy_district_code}" for a in bac_ninh.areas)


def test_load_province__commune_from_several_districts__largest_contributor_others_listed(bac_ninh: Province) -> None:
    # Phường Đa Mai: four old communes of TP Bắc Giang, one of Tân Yên.
    da_mai = bac_ninh.commune("07228")
    assert (da_mai.area_code, da_mai.other_area_codes) == ("AREA-213", ("AREA-216",))
    # Xã Nam Dương: one old commune each; Lục Ngạn's is the larger by bounding box.
    nam_duong = bac_ninh.commune("07603")
    assert (nam_duong.area_code, nam_duong.other_area_codes) == ("AREA-219", ("AREA-224",))
    assert sum(bool(c.other_area_codes) for c in bac_ninh.communes) == 2


def test_load_province__legacy_units__kept_with_their_scheme_and_successors(bac_ninh: Province) -> None:
    assert len(bac_ninh.legacy_units) == 313
    assert {u.scheme for u in bac_ninh.legacy_units} == {LEGACY_SCHEME}
    assert {u.province_code for u in bac_ninh.legacy_units} == {"24", "27"}
    tho_xuong = next(u for u in bac_ninh.legacy_units if u.code == "07201")
    assert (tho_xuong.name, tho_xuong.district_code, tho_xuong.new_commune_codes) == (
        "Phường Thọ Xương", "213", ("07210",))
    assert "07201" in bac_ninh.commune("07210").legacy_codes


def test_load_province__legacy_code_equal_to_a_new_code__kept_apart(bac_ninh: Province) -> None:
    # 07210 was Phường Hoàng Văn Thụ before 2025 and is Phường Bắc Giang (a merger of seven) now.
    assert bac_ninh.commune("07210").name == "Phường Bắc Giang"
    old = next(u for u in bac_ninh.legacy_units if u.code == "07210")
    assert old.name == "Phường Hoàng Văn Thụ"
    assert bac_ninh.communes_for_legacy("07210") == ("07210",)
    assert bac_ninh.communes_for_legacy("07201") == ("07210",)
    assert bac_ninh.communes_for_legacy("99999") == ()


def test_load_province__divided_old_commune__every_successor_default_first() -> None:
    hai_phong = sources.load_province("31")
    tran_phu = next(u for u in hai_phong.legacy_units if u.code == "10528")  # Hải Dương city, split in two
    assert tran_phu.new_commune_codes == ("10532", "10537")
    assert all(tran_phu.code in hai_phong.commune(code).legacy_codes for code in tran_phu.new_commune_codes)


def test_load_province__every_province__all_3321_communes_each_in_one_area() -> None:
    codes = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40",
             "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96"]
    provinces = [sources.load_province(code) for code in codes]
    assert sum(len(p.communes) for p in provinces) == 3321
    for province in provinces:
        members = sorted(code for area in province.areas for code in area.commune_codes)
        assert members == sorted(c.code for c in province.communes)


def test_load_province__names__nfc(bac_ninh: Province) -> None:
    names = [c.name for c in bac_ninh.communes] + [a.name for a in bac_ninh.areas]
    assert all(unicodedata.is_normalized("NFC", name) for name in names)


def test_load_province__unknown_code__key_error() -> None:
    with pytest.raises(KeyError):
        sources.load_province("99")


def test_demo_villages__per_commune__codes_commune_dash_number(bac_ninh: Province) -> None:
    villages = sources.demo_villages(bac_ninh, per_commune=12, seed=1)
    assert len(villages) == 99 * 12
    first = [v for v in villages if v.commune_code == "07210"]
    assert [v.code for v in first] == [f"07210-{n:02d}" for n in range(1, 13)]
    assert len({v.code for v in villages}) == len(villages)


def test_demo_villages__phuong_and_xa__to_dan_pho_or_thon_xom(bac_ninh: Province) -> None:
    villages = sources.demo_villages(bac_ninh, per_commune=20, seed=1)
    for village in villages:
        commune = bac_ninh.commune(village.commune_code)
        if commune.kind == "phường":
            assert village.name.startswith("Tổ dân phố ") and village.kind == "tổ dân phố"
        else:
            assert village.name.split()[0] in {"Thôn", "Làng", "Xóm"}
            assert village.kind == village.name.split()[0].lower()
    per_commune = Counter((v.commune_code, v.name) for v in villages)
    assert max(per_commune.values()) == 1


def test_demo_villages__same_seed__same_villages(bac_ninh: Province) -> None:
    assert sources.demo_villages(bac_ninh, per_commune=5, seed=3) == sources.demo_villages(bac_ninh, per_commune=5,
                                                                                           seed=3)


def test_demo_villages__fewer_than_one__rejected(bac_ninh: Province) -> None:
    with pytest.raises(ValueError):
        sources.demo_villages(bac_ninh, per_commune=0)


def test_demo_boundaries__whole_collection__valid_with_levels_and_parents(bac_ninh: Province, demo: tuple) -> None:
    villages, doc = demo
    assert validate_boundaries(doc) == []
    properties = [f["properties"] for f in doc["features"]]
    communes = {p["code"] for p in properties if p["level"] == "commune"}
    assert communes == {c.code for c in bac_ninh.communes}
    assert all(p["parent_code"] == BAC_NINH for p in properties if p["level"] == "commune")
    assert {(p["code"], p["parent_code"]) for p in properties if p["level"] == "village"} == {
        (v.code, v.commune_code) for v in villages}


def _shapes(doc: dict, level: str) -> dict[str, shapely.Geometry]:
    projection = LocalProjection.at(106.2, 21.2)
    return {f["properties"]["code"]: projection.geometry_to_metres(shapely.geometry.shape(f["geometry"]))
            for f in doc["features"] if f["properties"]["level"] == level}


def test_demo_boundaries__communes__hold_their_centroid_and_the_official_total_area(
        bac_ninh: Province, demo: tuple) -> None:
    communes = _shapes(demo[1], "commune")
    projection = LocalProjection.at(106.2, 21.2)
    for commune in bac_ninh.communes:
        centroid = projection.geometry_to_metres(shapely.Point(commune.lon, commune.lat))
        assert communes[commune.code].contains(centroid)
    total_km2 = sum(shape.area for shape in communes.values()) / 1e6
    assert total_km2 == pytest.approx(4718.6, rel=0.01)
    assert shapely.union_all(list(communes.values())).area / 1e6 == pytest.approx(total_km2, rel=1e-6)


def test_demo_boundaries__villages__tile_their_commune(demo: tuple) -> None:
    villages, doc = demo
    communes = _shapes(doc, "commune")
    shapes = _shapes(doc, "village")
    for code, commune in communes.items():
        members = [shapes[v.code] for v in villages if v.commune_code == code]
        # Coordinates are written to 1e-7 degree (~1 cm), so areas agree to about 1e-5.
        assert sum(m.area for m in members) == pytest.approx(commune.area, rel=1e-5)
        assert all(commune.buffer(0.01).contains(m) for m in members)
