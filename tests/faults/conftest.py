"""Fault tests run a real gunicorn against a PostgreSQL database of their own (created and dropped here, on
the server DATABASE_URL names; the database DATABASE_URL itself names is left alone). Under SQLite (no
DATABASE_URL) they skip: CI runs them once, in its PostgreSQL pass."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from server import create_app
from server.extensions import db
from tests.conftest import SECRET, _clean
from tests.faults.harness import Gunicorn, libpq


@pytest.fixture(scope="session")
def fault_database() -> Iterator[str]:
    """One database for the fault tests (created, migrated once, emptied after each test, dropped at the end:
    dropping a database makes the server checkpoint, which is slow on a busy machine)."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgresql"):
        pytest.skip("runs in the PostgreSQL pass (set DATABASE_URL=postgresql+psycopg://…)")
    name = f"faults_{os.getpid()}"
    url = create_database(server, name)
    try:
        migrated_app(settings_for(url, Path("/nonexistent")))
        yield url
    finally:
        drop_database(server, name)


def create_database(server: str, name: str) -> str:
    with psycopg.connect(libpq(server, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(libpq(server, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def settings_for(url: str, blob_dir: Path) -> dict[str, object]:
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET, "BLOB_DIR": str(blob_dir), "BLOB_FSYNC": False,
            "PASSWORD_KDF": "scrypt:1024:8:1", "PUBLIC_URL": "http://localhost"}


def migrated_app(settings: dict[str, object]) -> Flask:
    app = create_app(settings)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return app


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    path = tmp_path / "blobs"
    path.mkdir()
    return path


@pytest.fixture
def settings(fault_database: str, blob_dir: Path) -> dict[str, object]:
    return settings_for(fault_database, blob_dir)


@pytest.fixture
def fault_app(settings: dict[str, object]) -> Iterator[Flask]:
    """The app (in this process) on the fault database: to seed it and to look at it afterwards."""
    app = create_app(settings)
    yield app
    _clean(app)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """``start_server(settings, workers=…, threads=…)`` → a running Gunicorn, stopped after the test."""
    servers: list[Gunicorn] = []

    def start(settings: dict[str, object], workers: int = 2, threads: int = 4) -> Gunicorn:
        server = Gunicorn(settings, tmp_path / f"gunicorn-{len(servers)}.log", workers, threads)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
