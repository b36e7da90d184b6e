from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from server.accounts.models import Actor, FieldKey, ScopeGrant, Session, User
from server.extensions import db


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def user_by_actor(actor_id: int) -> User | None:
    return db.session.get(User, actor_id)


def session_by_token_hash(token_sha256: str) -> Session | None:
    return db.session.scalar(select(Session).where(Session.token_sha256 == token_sha256))


def field_key_by_token_hash(token_sha256: str) -> FieldKey | None:
    return db.session.scalar(select(FieldKey).options(joinedload(FieldKey.actor))
                             .where(FieldKey.token_sha256 == token_sha256))


def field_keys_of_project(project_id: int) -> list[FieldKey]:
    return list(db.session.scalars(
        select(FieldKey).join(Actor, Actor.id == FieldKey.actor_id)
        .where(FieldKey.project_id == project_id, Actor.deleted_at.is_(None)).order_by(FieldKey.actor_id)))


def field_key(actor_id: int) -> FieldKey | None:
    return db.session.get(FieldKey, actor_id)


def scope_codes(actor_id: int) -> list[str]:
    return list(db.session.scalars(select(ScopeGrant.unit_code).where(ScopeGrant.actor_id == actor_id)))


def actor(actor_id: int) -> Actor | None:
    return db.session.get(Actor, actor_id)
