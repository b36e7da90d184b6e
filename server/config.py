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
    Setting("LOGIN_MAX_FAILURES", int, 5, "failed password logins of one account (e-mail) within "
            "LOGIN_WINDOW_MINUTES after which it is locked (counted in the database, across app servers)"),
    Setting("LOGIN_MAX_FAILURES_PER_IP", int, 50, "failed password logins from one client address within "
            "LOGIN_WINDOW_MINUTES after which that address is locked (commune offices share one address)"),
    Setting("LOGIN_WINDOW_MINUTES", int, 15, "the window failures are counted in, and so the longest lockout"),
    Setting("TRUSTED_PROXY_HOPS", int, 0, "reverse proxies in front of the app (nginx: 1) whose "
            "X-Forwarded-For names the client address; 0: the socket's address"),
    Setting("BLOB_STORE", str, "local", "where attachments live: local (BLOB_DIR) or s3 (S3_BUCKET)"),
    Setting("S3_ENDPOINT_URL", str, None, "S3-compatible endpoint (MinIO, Ceph, a cloud); unset: AWS"),
    Setting("S3_BUCKET", str, None, "bucket for attachments when BLOB_STORE=s3; credentials come only from "
            "boto3's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, instance role)"),
    Setting("S3_REGION", str, None, "region of the bucket (some S3-compatible servers ignore it)"),
    Setting("S3_PREFIX", str, "blobs/", "key prefix of attachment objects in the bucket"),
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
