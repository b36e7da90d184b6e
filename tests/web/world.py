"""A small review world for the page and browser tests: a Phiếu B with GPS and photo, this year's
campaign, village boundaries, and helpers to submit households and to log in through the login page."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient

from server.campaigns import services as campaigns
from server.extensions import db
from server.households.services import load_boundaries
from tests.factories import ADULT, GOOD_HOUSE, PASSWORD, PHIEU_B, World, build_world, device_post

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real one-colour PNG, so that a browser can show the photo (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PHOTO = _png(64, 48, (150, 120, 90))

FORM = PHIEU_B
HOUSE = GOOD_HOUSE

# Distinct names so that the duplicate matcher keeps the households apart.
HEADS = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thị Dung", "Vũ Đức Giang", "Đỗ Thị Hạnh")


def _square(lon: float, lat: float, size: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                [lon, lat + size], [lon, lat]]]}


BOUNDARIES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": _square(106.18, 21.26, 0.06),
     "properties": {"code": "07210", "name": "Phường Bắc Giang", "level": "commune", "parent_code": "24"}},
    {"type": "Feature", "geometry": _square(106.20, 21.275, 0.01),
     "properties": {"code": "07210-01", "name": "Tổ dân phố 1", "level": "village", "parent_code": "07210"}},
    {"type": "Feature", "geometry": _square(106.21, 21.275, 0.01),
     "properties": {"code": "07210-02", "name": "Tổ dân phố 2", "level": "village", "parent_code": "07210"}},
    {"type": "Feature", "geometry": _square(106.10, 21.28, 0.06),
     "properties": {"code": "07228", "name": "Xã Mẫu", "level": "commune", "parent_code": "24"}},
    {"type": "Feature", "geometry": _square(106.12, 21.30, 0.01),
     "properties": {"code": "07228-01", "name": "Thôn Đông", "level": "village", "parent_code": "07228"}},
]}


def build_review_world(app: Flask, year: int | None = None) -> World:
    world = build_world(app, forms={"phieu_b": FORM})
    year = year or date.today().year
    with app.app_context():
        campaigns.create_campaign(world.project_id, year, date(year, 1, 1), date(year, 12, 31), [], by=None)
        load_boundaries(BOUNDARIES)
        db.session.commit()
    return world


def household_xml(instance_id: str, *, head: str = HEADS[0], village: str = "07210-01", commune: str = "07210",
                  gps: str = "21.28 106.205 10 5", photo: str | None = "house.png", income: str = "1200000",
                  deprecated_id: str | None = None, **house: str) -> bytes:
    fields = {"head_name": head, "commune": commune, "village": village, "gps": gps, "house_photo": photo or "",
              **HOUSE, **house, "income_per_person_month": income}
    member = dict(ADULT, m_name=head)
    roster = "<member>" + "".join(f"<{k}>{v}</{k}>" for k, v in member.items()) + "</member>"
    body = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items() if k not in ("head_name", "commune", "village"))
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (f'<data id="phieu_b" version="1"><head_name>{head}</head_name><commune>{commune}</commune>'
            f"<village>{village}</village>{roster}{body}"
            f"<meta><instanceID>{instance_id}</instanceID>{deprecated}</meta></data>").encode()


def submit(client: FlaskClient, world: World, instance_id: str, *, device: str = "device_07210_01",
           with_photo: bool = True, **kwargs: str) -> None:
    xml = household_xml(instance_id, photo="house.png" if with_photo else None, **kwargs)
    response = device_post(client, world, xml, files={"house.png": PHOTO} if with_photo else None, device=device)
    assert response.status_code == 201, response.data


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def login(client: FlaskClient, world: World, persona: str) -> str:
    """Log in through the login page; returns the session's CSRF token for later forms."""
    page = client.get("/login")
    response = client.post("/login", data={"email": world.users[persona], "password": PASSWORD,
                                           "csrf_token": csrf_in(page.get_data(as_text=True))})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_in(client.get("/returned").get_data(as_text=True))
