"""ODK Collect's configuration QR code (pure): settings JSON, zlib-compressed, base64."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any


def collect_settings(server_url: str, project_name: str, username: str) -> dict[str, Any]:
    return {
        "general": {"server_url": server_url, "form_update_mode": "match_exactly",
                    "autosend": "wifi_and_cellular", "username": username},
        "admin": {"automatic_update": True},
        "project": {"name": project_name, "icon": "R", "color": "#b71c1c"},
    }


def qr_payload(settings: dict[str, Any]) -> str:
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def read_qr_payload(payload: str) -> dict[str, Any]:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))
