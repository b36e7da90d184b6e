"""Projects and form assignments through the REST API. Never commits."""

from __future__ import annotations

from server.accounts.models import Actor
from server.accounts.services import audit
from server.collect import queries
from server.collect.models import Form, FormAssignment, Project
from server.extensions import db

# ODK Central's fixed id of the "app-user" role; pyodk assigns forms with it.
APP_USER_ROLE = 2


def create_project(name: str, description: str | None, by: Actor | None) -> Project:
    project = Project(name=name, description=description)
    db.session.add(project)
    db.session.flush()
    audit("project.create", by, "project", project.id, {"name": name})
    return project


def assign_form(form: Form, actor_id: int, by: Actor | None) -> FormAssignment:
    """Idempotent: assigning twice keeps one assignment and audits once."""
    existing = queries.assignment(actor_id, form.id)
    if existing is not None:
        return existing
    assignment = FormAssignment(actor_id=actor_id, form_id=form.id)
    db.session.add(assignment)
    db.session.flush()
    audit("assignment.create", by, "form", form.id, {"actorId": actor_id, "roleId": APP_USER_ROLE})
    return assignment
