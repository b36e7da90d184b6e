"""Data migrations that repair rows, checked on a database migrated up to just before them (an SQLite file:
the repairs are plain SQL that both databases run)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask_migrate import upgrade

from server import create_app
from server.extensions import db


def test_migration_one_current_version__older_current_versions_retired(tmp_path: Path):
    path = tmp_path / "before.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x", "BLOB_DIR": str(tmp_path / "blobs")})
    with app.app_context():
        upgrade(revision="c7d10a0f0001")
        db.engine.dispose()
    with sqlite3.connect(path) as connection:  # two edits accepted at once, before the fix: both current
        connection.executemany(
            "INSERT INTO submission_defs (id, submission_id, form_id, form_def_id, instance_id, xml, current, "
            "created_at) VALUES (?, ?, 1, 1, ?, x'3c612f3e', ?, '2026-11-01 00:00:00')",
            [(1, 1, "uuid:base", 0), (2, 1, "uuid:edit1", 1), (3, 1, "uuid:edit2", 1), (4, 2, "uuid:other", 1)])
    with app.app_context():
        upgrade()
        db.engine.dispose()
    with sqlite3.connect(path) as connection:
        current = connection.execute("SELECT id, current FROM submission_defs ORDER BY id").fetchall()
    assert current == [(1, 0), (2, 0), (3, 1), (4, 1)]
