"""Fixtures: the app on a migrated database (SQLite by default, PostgreSQL when DATABASE_URL says so),
a clean database per test, and named personas for every role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from server import create_app
from server.extensions import db

SECRET = "test-secret-key-not-for-production"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    return url


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET,
                      "BLOB_DIR": str(tmp_path_factory.mktemp("blobs"))})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def _clean(app: Flask) -> None:
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                connection.execute(text("PRAGMA foreign_keys=OFF"))
                for table in tables:
                    connection.execute(text(f"DELETE FROM {table}"))
        db.engine.dispose()


@pytest.fixture
def app(migrated: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": migrated, "SECRET_KEY": SECRET, "BLOB_DIR": str(tmp_path / "blobs"),
                      "BLOB_FSYNC": False, "TESTING": True, "PASSWORD_KDF": "scrypt:1024:8:1", "PUBLIC_URL": "http://localhost"})
    yield app
    _clean(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


