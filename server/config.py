"""Every setting, declared once with its type, default and meaning.

Only this module reads the environment. Tests pass a mapping to ``create_app`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'server.sqlite3'}"


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    meaning: str


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", str, None, "SQLAlchemy URL; SQLite under instance/ when unset, "
            "postgresql+psycopg://… in production"),
    Setting("SECRET_KEY", str, None, "signs sessions and derives app-user tokens; required in production"),
    Setting("PUBLIC_URL", str, "http://127.0.0.1:5000", "external base URL printed for devices (QR, Collect)"),
    Setting("BLOB_DIR", str, str(INSTANCE_DIR / "blobs"), "where attachment files are stored"),
    Setting("BLOB_FSYNC", _bool, True, "fsync attachment files before acknowledging a submission"),
    Setting("MAX_SUBMISSION_BYTES", int, 100 * 1024 * 1024,
            "largest submission POST accepted; announced in X-OpenRosa-Accept-Content-Length"),
    Setting("PASSWORD_KDF", str, "scrypt", "werkzeug password-hash method (scrypt[:n:r:p]); tests lower the cost"),
    Setting("PROCESS_INLINE", _bool, True, "run classification, matching and GPS placement inside the "
            "submission request; false: leave them to `flask submissions process --loop` workers"),
    Setting("SESSION_HOURS", int, 24, "lifetime of a web or API session"),
    Setting("PROVINCE_CODE", str, "24", "GSO code of the province this server serves (24 = Bắc Ninh)"),
    Setting("DEFAULT_LANGUAGE", str, "vi", "language of the user interface when the user chose none"),
)


@dataclass(frozen=True)
class Config:
    values: dict[str, Any] = field(default_factory=dict)

    def as_flask(self) -> dict[str, Any]:
        flask_values = dict(self.values)
        flask_values["SQLALCHEMY_DATABASE_URI"] = self.values["DATABASE_URL"]
        flask_values["MAX_CONTENT_LENGTH"] = self.values["MAX_SUBMISSION_BYTES"]
        return flask_values


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the environment, then explicit overrides (tests)."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            values[setting.name] = overrides[setting.name]
        elif setting.name in environ:
            values[setting.name] = setting.parse(environ[setting.name])
        else:
            values[setting.name] = setting.default
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = _default_database_url()
    extra = {k: v for k, v in overrides.items() if k not in {s.name for s in SETTINGS}}
    values.update(extra)
    return Config(values)
