"""Users, sessions, app users (device credentials) and scope. Never commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import insert

from server.accounts import queries, tokens
from server.accounts.models import ROLE_SCOPE_LEVEL, ROLES, Actor, Audit, FieldKey, ScopeGrant, Session, User
from server.accounts.permissions import PROVINCE_WIDE, can
from server.errors import Problem
from server.extensions import db
from server.timeutil import as_utc, utcnow
from server.units import queries as unit_queries


@dataclass(frozen=True)
class Caller:
    """Who is making a request: the actor and the role that decides what it may do."""

    actor: Actor
    role: str

    def can(self, verb: str) -> bool:
        return can(self.role, verb)

    def require(self, verb: str) -> None:
        if not self.can(verb):
            raise Problem("forbidden")


_INSERT_AUDIT = insert(Audit.__table__)


def audit_row(action: str, actor: Actor | None, actee_type: str | None = None, actee_id: Any = None,
              details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The audits row for an action, for callers that write it together with other rows."""
    return {"actor_id": actor.id if actor else None, "action": action, "actee_type": actee_type,
            "actee_id": None if actee_id is None else str(actee_id), "details": details, "logged_at": utcnow()}


def audit(action: str, actor: Actor | None, actee_type: str | None = None, actee_id: Any = None,
          details: dict[str, Any] | None = None) -> None:
    # A plain insert on the table, written at once: every write request logs, and the ORM's unit of
    # work costs more than the row itself on the busiest paths.
    db.session.execute(_INSERT_AUDIT, audit_row(action, actor, actee_type, actee_id, details))


def _check_units(role: str, unit_codes: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(unit_codes))
    level = ROLE_SCOPE_LEVEL.get(role)
    if level is None:
        return []
    if not codes:
        raise Problem("invalid_input", detail=f"vai trò {role} cần ít nhất một đơn vị (--unit) / "
                                              f"role {role} needs at least one {level}")
    for code in codes:
        unit = unit_queries.unit(code)
        if unit is None or unit.level != level:
            raise Problem("invalid_input", detail=f"'{code}' không phải {level} / is not a {level}")
    return codes


def create_user(email: str, password: str, role: str, unit_codes: Iterable[str], by: Actor | None,
                display_name: str | None = None) -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise Problem("invalid_input", detail=f"vai trò không hợp lệ / unknown role '{role}'")
    if "@" not in email:
        raise Problem("invalid_input", detail="email không hợp lệ / invalid email")
    weak = tokens.password_problem(password, email)
    if weak:
        raise Problem("invalid_input", detail=weak)
    if queries.user_by_email(email) is not None:
        raise Problem("already_exists", what=email)
    codes = _check_units(role, unit_codes)
    actor = Actor(kind="user", display_name=display_name or email)
    actor.scopes = [ScopeGrant(unit_code=c) for c in codes]
    password_hash = tokens.hash_password(password, current_app.config["PASSWORD_KDF"])
    user = User(email=email, password_hash=password_hash, role=role, actor=actor)
    db.session.add(user)
    db.session.flush()
    audit("user.create", by, "actor", actor.id, {"email": email, "role": role, "units": codes})
    return user


def authenticate(email: str, password: str) -> User:
    user = queries.user_by_email(email or "")
    if user is None or user.actor.deleted_at is not None \
            or not tokens.verify_password(user.password_hash, password or ""):
        raise Problem("auth_failed")
    return user


def open_session(user: User) -> tuple[Session, str]:
    token = tokens.session_token()
    session = Session(token_sha256=tokens.sha256_hex(token), actor_id=user.actor_id,
                      csrf=tokens.new_nonce(),
                      expires_at=utcnow() + timedelta(hours=current_app.config["SESSION_HOURS"]))
    db.session.add(session)
    db.session.flush()
    audit("user.session.create", user.actor, "actor", user.actor_id)
    return session, token


def session_caller(token: str) -> Caller | None:
    session = queries.session_by_token_hash(tokens.sha256_hex(token))
    if session is None or as_utc(session.expires_at) <= utcnow():
        return None
    user = queries.user_by_actor(session.actor_id)
    if user is None or user.actor.deleted_at is not None:
        return None
    return Caller(user.actor, user.role)


def close_session(token: str) -> None:
    session = queries.session_by_token_hash(tokens.sha256_hex(token))
    if session is not None:
        db.session.delete(session)


def device_caller(token: str) -> tuple[Caller, FieldKey] | None:
    key = queries.field_key_by_token_hash(tokens.sha256_hex(token))
    if key is None or key.actor.deleted_at is not None:
        return None
    return Caller(key.actor, "field_key"), key


def create_app_user(project_id: int, display_name: str, unit_codes: Iterable[str], by: Actor | None) -> FieldKey:
    codes = list(dict.fromkeys(unit_codes))
    for code in codes:
        if unit_queries.unit(code) is None:
            raise Problem("invalid_input", detail=f"không có đơn vị / no unit '{code}'")
    actor = Actor(kind="field_key", display_name=display_name.strip() or "app user")
    actor.scopes = [ScopeGrant(unit_code=c) for c in codes]
    key = FieldKey(project_id=project_id, actor=actor, token_nonce=tokens.new_nonce(),
                   created_by=by.id if by else None)
    db.session.add(key)
    db.session.flush()
    key.token_sha256 = tokens.sha256_hex(app_user_token(key))
    audit("field_key.create", by, "actor", actor.id, {"project": project_id, "units": codes})
    return key


def app_user_token(key: FieldKey) -> str | None:
    if key.token_nonce is None:
        return None
    return tokens.device_token(current_app.config["SECRET_KEY"], key.actor_id, key.token_nonce)


def revoke_app_user(key: FieldKey, by: Actor | None) -> None:
    key.token_nonce = None
    key.token_sha256 = None
    key.actor.updated_at = utcnow()
    audit("field_key.revoke", by, "actor", key.actor_id)


def visible_units(caller: Caller) -> tuple[frozenset[str], frozenset[str]] | None:
    """(village codes, commune codes) the caller may see household data for; None = all."""
    if caller.role in PROVINCE_WIDE:
        return None
    grants = queries.scope_codes(caller.actor.id)
    return unit_queries.expand_scope(grants)


def units_within(unit_codes: Iterable[str], scope: tuple[frozenset[str], frozenset[str]] | None) -> bool:
    """True when every code is a village or commune of ``scope`` (None = the whole province)."""
    codes = list(unit_codes)
    if scope is None:
        return True
    villages, communes = scope
    return bool(codes) and all(code in villages or code in communes for code in codes)


def manages(caller: Caller, key: FieldKey) -> bool:
    """A scoped manager (area supervisor) sees only devices whose units all lie within their own."""
    return units_within([grant.unit_code for grant in key.actor.scopes], visible_units(caller))
