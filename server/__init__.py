"""The Flask application factory: the only place that wires things together."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from server.config import INSTANCE_DIR, load_config
from server.extensions import db, migrate
from server.http.converters import CONVERTERS


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.url_map.converters.update(CONVERTERS)  # ids past the columns' range, NUL in names: 404s, not 500s
    app.config.update(settings.as_flask())
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    else:
        # A pooled connection that died with a database restart is replaced before use, not failed on.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    _import_models()

    from server.http import errors, guards

    errors.register(app)
    guards.register(app)

    from server.collect.api import bp as central_api
    from server.collect.openrosa_api import bp as openrosa

    app.register_blueprint(openrosa)
    app.register_blueprint(central_api)

    from server.households.api import bp as duplicates
    from server.review.api import bp as reviews

    app.register_blueprint(duplicates)
    app.register_blueprint(reviews)

    from server.entities.api import bp as entities

    app.register_blueprint(entities)

    import server.web.dashboard  # noqa: F401  (adds the monitoring dashboard to the web blueprint)
    from server.web import devices  # noqa: F401  (adds the device-setup pages to the web blueprint)
    from server.web.views import bp as web

    app.register_blueprint(web)

    from server.http import openapi

    @app.get("/v1/openapi.json")
    def openapi_document():  # type: ignore[no-untyped-def]
        """The OpenAPI document of this server (built from its routes)."""
        return openapi.build(app)

    from server.campaigns.services import assign_and_classify
    from server.collect.submissions_service import STAGES
    from server.entities.cli import assignments_group
    from server.entities.services import apply_submission, link_entity_household
    from server.households.services import locate_submission, match_submission
    from server.monitoring.cli import monitoring_group
    from server.monitoring.services import record_facts
    from server.review.services import open_review

    app.cli.add_command(monitoring_group)
    app.cli.add_command(assignments_group)
    for stage in (("geo", locate_submission), ("campaign", assign_and_classify), ("entities", apply_submission),
                  ("match", match_submission), ("entity_link", link_entity_household),
                  ("review", open_review), ("monitoring", record_facts)):
        if stage not in STAGES:
            STAGES.append(stage)

    from server import cli

    cli.register(app)
    return app


def _import_models() -> None:
    # Every model module, so that Alembic and relationships see the whole schema.
    import server.accounts.models  # noqa: F401
    import server.campaigns.models  # noqa: F401
    import server.collect.models  # noqa: F401
    import server.entities.models  # noqa: F401
    import server.exports.models  # noqa: F401
    import server.households.models  # noqa: F401
    import server.monitoring.models  # noqa: F401
    import server.review.models  # noqa: F401
    import server.units.models  # noqa: F401


def _instance_secret() -> str:
    """A per-installation secret kept under instance/ when SECRET_KEY is not set (embedded mode)."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    """SQLite: enforce foreign keys and let readers work during writes."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
