from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.timeutil import utcnow

ROLES = ("admin", "province", "supervisor", "commune", "verifier", "enumerator")
# The unit level each role's scope is expressed in; admin and province see the whole province.
ROLE_SCOPE_LEVEL = {"supervisor": "area", "commune": "commune", "verifier": "village", "enumerator": "village"}


class Actor(db.Model):
    """Anyone who acts: a web user or a device (app user / field key), as in ODK Central."""

    __tablename__ = "actors"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # user | field_key
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User | None] = relationship(back_populates="actor", uselist=False)
    field_key: Mapped[FieldKey | None] = relationship(back_populates="actor", uselist=False,
                                                     foreign_keys="FieldKey.actor_id")
    scopes: Mapped[list[ScopeGrant]] = relationship(back_populates="actor", cascade="all, delete-orphan")


class User(db.Model):
    __tablename__ = "users"
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8), default=None)

    actor: Mapped[Actor] = relationship(back_populates="user")


class FieldKey(db.Model):
    """A device credential. The token is derived from the server secret and a nonce, never stored;
    only its SHA-256 is kept for look-up. Revoking clears both."""

    __tablename__ = "field_keys"
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_nonce: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))

    actor: Mapped[Actor] = relationship(back_populates="field_key", foreign_keys=[actor_id])


class ScopeGrant(db.Model):
    """One administrative unit an actor may see and act on."""

    __tablename__ = "scope_grants"
    __table_args__ = (UniqueConstraint("actor_id", "unit_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"))
    unit_code: Mapped[str] = mapped_column(String(32))

    actor: Mapped[Actor] = relationship(back_populates="scopes")


class Session(db.Model):
    """A bearer/web session; kept in the database so that app servers stay stateless."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    actor: Mapped[Actor] = relationship()


class Audit(db.Model):
    """Append-only log of every state change (and every export of personal data)."""

    __tablename__ = "audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    action: Mapped[str] = mapped_column(String(64))
    actee_type: Mapped[str | None] = mapped_column(String(32))
    actee_id: Mapped[str | None] = mapped_column(String(128), index=True)
    details: Mapped[dict | None] = mapped_column(db.JSON)
    logged_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LoginFailure(db.Model):
    """One failed password login, counted per account (e-mail) and per client address.

    Kept in the database, not in a process, so that every app server sees the same count; rows older
    than the lockout window are deleted as new failures arrive, and a successful login deletes the
    account's rows.
    """

    __tablename__ = "login_failures"
    __table_args__ = (db.Index("ix_login_failures_kind_key_failed_at", "kind", "key", "failed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # account | ip
    key: Mapped[str] = mapped_column(String(320))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
