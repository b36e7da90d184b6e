from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import joinedload

from server.accounts.models import Actor, FieldKey, LoginFailure, ScopeGrant, Session, User
from server.extensions import db


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def user_by_actor(actor_id: int) -> User | None:
    return db.session.get(User, actor_id)


def session_by_token_hash(token_sha256: str) -> Session | None:
    return db.session.scalar(select(Session).where(Session.token_sha256 == token_sha256))


# Built once: every device request authenticates with it.
_FIELD_KEY_BY_TOKEN = (select(FieldKey).options(joinedload(FieldKey.actor))
                       .where(FieldKey.token_sha256 == bindparam("token_sha256")))


def field_key_by_token_hash(token_sha256: str) -> FieldKey | None:
    return db.session.scalar(_FIELD_KEY_BY_TOKEN, {"token_sha256": token_sha256})


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


def recent_login_failures(kind: str, key: str, since: datetime, limit: int) -> list[datetime]:
    """The ``limit`` latest failure times of one account or address after ``since``, newest first."""
    return list(db.session.scalars(
        select(LoginFailure.failed_at).where(LoginFailure.kind == kind, LoginFailure.key == key,
                                             LoginFailure.failed_at > since)
        .order_by(LoginFailure.failed_at.desc()).limit(limit)))


def add_login_failure(kind: str, key: str, at: datetime) -> None:
    db.session.add(LoginFailure(kind=kind, key=key, failed_at=at))


def delete_login_failures(kind: str, key: str) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.kind == kind, LoginFailure.key == key))


def delete_login_failures_before(before: datetime) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= before))
