"""Unbound extensions; ``create_app`` binds them."""

from __future__ import annotations

from datetime import datetime

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase, registry

# Named constraints so that migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Times are UTC; keep the zone so PostgreSQL never applies its session time zone.
    registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                        type_annotation_map={datetime: DateTime(timezone=True)})


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True)
