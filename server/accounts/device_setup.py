"""The configuration QR codes of ODK Collect and KoboCollect (pure): settings JSON, zlib-compressed, base64.

KoboCollect is a rebrand of ODK Collect and reads the same document. Its code differs in two settings:
`protocol` is spelled out, because KoboCollect builds from before Collect's projects (still common on
older phones in the field) otherwise keep the protocol they had, and the project colour tells the
two apps' projects apart on a phone that has both.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any


def device_url(public_url: str, project_id: int, token: str) -> str:
    """The server URL a phone is given: ODK Central's token-in-path form, so no password is typed."""
    return f"{public_url.rstrip('/')}/v1/key/{token}/projects/{project_id}"


def collect_settings(server_url: str, project_name: str, username: str) -> dict[str, Any]:
    return {
        "general": {"server_url": server_url, "form_update_mode": "match_exactly",
                    "autosend": "wifi_and_cellular", "username": username},
        "admin": {"automatic_update": True},
        "project": {"name": project_name, "icon": "R", "color": "#b71c1c"},
    }


KOBO_COLOR = "#2095f3"


def kobo_settings(server_url: str, project_name: str, username: str) -> dict[str, Any]:
    settings = collect_settings(server_url, project_name, username)
    return {**settings, "general": {**settings["general"], "protocol": "odk_default"},
            "project": {**settings["project"], "color": KOBO_COLOR}}


def qr_payload(settings: dict[str, Any]) -> str:
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def read_qr_payload(payload: str) -> dict[str, Any]:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))
