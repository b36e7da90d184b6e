"""Entity lists (ODK Central "datasets"), their entities with every version, and assignments.

How an entity maps to a registry household: the `households` dataset holds one entity per live
registry household, named by the household's registry code (`households.code`) and linked by
`entities.household_id`. A household first seen on a phone is created as an entity named by the
phone's UUID; once the match stage has tied its submission to a household (registry or provisional),
`household_id` is set. The registry stays the source of identity; the entity carries what phones
pre-fill and what their surveys changed, version by version (sync/entities.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.timeutil import utcnow


class Dataset(db.Model):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    properties: Mapped[list] = mapped_column(db.JSON, default=list)
    approval_required: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entity(db.Model):
    """The current state of one entity; `versions` keep its history."""

    __tablename__ = "entities"
    __table_args__ = (UniqueConstraint("dataset_id", "uuid"),
                      Index("ix_entities_dataset_village", "dataset_id", "village_code", "uuid"),
                      Index("ix_entities_dataset_household", "dataset_id", "household_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    uuid: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    village_code: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(db.JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    conflict: Mapped[str | None] = mapped_column(String(8))  # soft | hard
    conflict_detail: Mapped[dict | None] = mapped_column(db.JSON)
    held: Mapped[list | None] = mapped_column(db.JSON)  # offline updates waiting for their predecessor
    arrivals: Mapped[int] = mapped_column(default=0)
    registry_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class EntityVersion(db.Model):
    __tablename__ = "entity_versions"
    __table_args__ = (UniqueConstraint("entity_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    version: Mapped[int] = mapped_column()
    label: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(db.JSON)
    changed: Mapped[dict] = mapped_column(db.JSON)
    origin: Mapped[str] = mapped_column(String(16))
    base_version: Mapped[int | None] = mapped_column()
    branch_id: Mapped[str | None] = mapped_column(String(36))
    trunk_version: Mapped[int | None] = mapped_column()
    branch_base_version: Mapped[int | None] = mapped_column()
    arrival_order: Mapped[int | None] = mapped_column()
    source: Mapped[str | None] = mapped_column(String(200))  # the submission's instanceID
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntityResolution(db.Model):
    """A conflict closed by a person: the conflict as it was, the values chosen, the resulting version."""

    __tablename__ = "entity_resolutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    conflict: Mapped[dict] = mapped_column(db.JSON)
    choice: Mapped[dict] = mapped_column(db.JSON)
    version: Mapped[int] = mapped_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntityListCache(db.Model):
    """The last rendered list for one scope (dataset + villages/households), valid while `content_key`
    (counts and version sums of what it shows) is unchanged. In the database so servers stay stateless."""

    __tablename__ = "entity_list_cache"
    scope_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_key: Mapped[str] = mapped_column(String(64))
    registry_key: Mapped[str | None] = mapped_column(String(64))
    """What the registry households of the scope looked like when the list was built: unchanged means the
    registry need not be compared with the entities again."""
    md5: Mapped[str] = mapped_column(String(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(db.Model):
    """Who surveys what: an app user or enumerator ↔ a village (with the expected count) or one household."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("actor_id", "village_code", "household_id"),
        CheckConstraint("(village_code IS NULL) <> (household_id IS NULL)", name="one_target"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    expected_count: Mapped[int | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
