"""Projects and form assignments through the REST API. Never commits."""

from __future__ import annotations

from collections.abc import Iterable

from server.accounts import services as accounts
from server.accounts.models import Actor, FieldKey
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


def create_device(project: Project, name: str, unit_codes: Iterable[str], form_ids: Iterable[str] | None,
                  by: Actor | None) -> FieldKey:
    """An app user ready for a phone: the credential plus the forms it may fetch (every form by default)."""
    key = accounts.create_app_user(project.id, name, unit_codes, by)
    wanted = None if form_ids is None else set(form_ids)
    for form in queries.forms(project.id):
        if wanted is None or form.xml_form_id in wanted:
            assign_form(form, key.actor_id, by)
    return key
