"""Models → ODK Central's JSON shapes (every nullable key present, as pyodk requires)."""

from __future__ import annotations

from typing import Any

from server.accounts.models import Session, User
from server.collect.models import Project
from server.timeutil import iso


def session(session: Session, token: str) -> dict[str, Any]:
    return {"token": token, "csrf": session.csrf, "createdAt": iso(session.created_at),
            "expiresAt": iso(session.expires_at)}


def user(user: User) -> dict[str, Any]:
    actor = user.actor
    return {"id": actor.id, "type": "user", "displayName": actor.display_name, "email": user.email,
            "role": user.role, "createdAt": iso(actor.created_at), "updatedAt": iso(actor.updated_at),
            "deletedAt": iso(actor.deleted_at)}


def project(project: Project) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "description": project.description,
            "archived": project.archived, "keyId": None, "createdAt": iso(project.created_at),
            "updatedAt": iso(project.updated_at), "deletedAt": None}
