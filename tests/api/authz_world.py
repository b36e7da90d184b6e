"""The small world of the authorisation matrix, built once per database and restored cheaply per test.

The world: the test province (tests/factories.py: area A = commune 07210, area B = commune 07228), the
personas of every role with a live session each (bearer for /v1, cookie + CSRF for the pages), two devices
(07210-01 and 07228-01), a published Phiếu B and a published demo form with a pending draft, and for each
side of the scope line (IN = village 07210-01, OUT = village 07228-01):

- a household in village review (``review``), with its house photo, and a duplicate pair against a
  registry household (``pair``);
- a household the village meeting has agreed (``agreed``), for the commune's bulk actions.

Building it goes through the real services and the device protocol (a second or so); every later test
gets the same rows re-inserted in one transaction (and the blob files written back), so that each
parametrised case may really mutate its own copy.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from server.accounts import queries as account_queries
from server.accounts import services as accounts
from server.campaigns import services as campaigns
from server.collect import forms_service
from server.collect import queries as collect_queries
from server.collect.models import Project, Submission
from server.entities import services as entity_lists
from server.extensions import db
from server.households.models import DuplicatePair, Household
from server.households.services import load_boundaries
from server.review import services as review_services
from server.review.models import Review
from tests.factories import DEMO_FORM, PHIEU_B, build_world
from tests.web.world import BOUNDARIES, HEADS, PHOTO, YESTERDAY, submit

IN, OUT = "in", "out"
VILLAGE = {IN: "07210-01", OUT: "07228-01"}
COMMUNE = {IN: "07210", OUT: "07228"}
GPS = {IN: "21.28 106.205 10 5", OUT: "21.305 106.125 10 5"}
DEVICE = {IN: "device_07210_01", OUT: "device_07228_01"}
# The persona of each role the matrix calls (scoped ones all cover village 07210-01 and nothing of 07228).
PERSONA = {"admin": "admin", "province": "province", "supervisor": "supervisor_a", "commune": "commune_07210",
           "verifier": "verifier_07210_01", "enumerator": "enumerator_07210_01"}
DEMO_V2 = DEMO_FORM.replace("| | demo | 1 |", "| | demo | 2 |")


@dataclass
class Seed:
    """Ids and secrets of the world, by side of the scope line."""

    project_id: int
    other_project_id: int
    instance: dict[str, str] = field(default_factory=dict)
    review: dict[str, int] = field(default_factory=dict)
    agreed: dict[str, int] = field(default_factory=dict)
    pair: dict[str, int] = field(default_factory=dict)
    device_actor: dict[str, int] = field(default_factory=dict)
    minutes: dict[str, int] = field(default_factory=dict)
    entity: dict[str, str] = field(default_factory=dict)    # uuid, in the "households" entity list
    device_token: dict[str, str] = field(default_factory=dict)
    email: dict[str, str] = field(default_factory=dict)     # role → email
    session: dict[str, str] = field(default_factory=dict)   # role → session token
    csrf: dict[str, str] = field(default_factory=dict)      # role → that session's CSRF token


@dataclass
class Snapshot:
    seed: Seed
    rows: dict[str, list[dict[str, Any]]]
    blobs: dict[str, bytes]


_SNAPSHOTS: dict[str, Snapshot] = {}


def world(app: Flask, client: FlaskClient) -> Seed:
    """The world: built the first time (in a clean database), afterwards put back in one transaction."""
    url = app.config["DATABASE_URL"]
    snapshot = _SNAPSHOTS.get(url)
    if snapshot is None:
        seed = _build(app, client)
        _SNAPSHOTS[url] = _take(app, seed)
        return seed
    _restore(app, snapshot)
    return snapshot.seed


def cached(app: Flask) -> Seed:
    """The ids of the world already in the database (for a read after reads)."""
    return _SNAPSHOTS[app.config["DATABASE_URL"]].seed


def _build(app: Flask, client: FlaskClient) -> Seed:
    made = build_world(app, forms={"phieu_b": PHIEU_B, "demo": DEMO_FORM})
    year = date.today().year
    with app.app_context():
        campaigns.create_campaign(made.project_id, year, date(year, 1, 1), date(year, 12, 31), [], by=None)
        load_boundaries(BOUNDARIES)
        other = Project(name="Dự án khác")
        db.session.add(other)
        project = db.session.get(Project, made.project_id)
        forms_service.create_draft(project, DEMO_V2.encode(), "text/markdown", None, filename="form.md")
        db.session.commit()
        seed = Seed(made.project_id, other.id)
    for number, side in enumerate((IN, OUT)):
        for kind in ("review", "agreed"):
            instance = f"uuid:{kind}-{side}"
            submit(client, made, instance, device=DEVICE[side], head=HEADS[2 * number + (kind == "agreed")],
                   village=VILLAGE[side], commune=COMMUNE[side], gps=GPS[side])
    with app.app_context():
        ids = dict(db.session.execute(select(Submission.instance_id, Review.id)
                                      .join(Review, Review.submission_id == Submission.id)).all())
        admin = accounts.authenticate(made.users["admin"], "correct horse battery")
        caller = accounts.Caller(admin.actor, admin.role)
        meeting = {"held_on": YESTERDAY, "chair": "Trưởng thôn", "attendees": 40, "minutes_ref": "BB-01"}
        for number, side in enumerate((IN, OUT), start=1):
            seed.instance[side] = f"uuid:review-{side}"
            seed.review[side] = ids[f"uuid:review-{side}"]
            seed.agreed[side] = ids[f"uuid:agreed-{side}"]
            agreed = db.session.get(Review, seed.agreed[side])
            assert db.session.get(Review, seed.review[side]).state == agreed.state == "village_review"
            review_services.act(agreed, "record_meeting_vote", caller, {"meeting": meeting, "votes_in_favour": 30},
                                "village_review")
            household = Household(code=f"HH-REG-{side}", head_name=HEADS[4], village_code=VILLAGE[side])
            db.session.add(household)
            db.session.flush()
            submission_id = db.session.get(Review, seed.review[side]).submission_id
            pair = DuplicatePair(submission_id=submission_id, household_id=household.id, village_code=VILLAGE[side],
                                 score=7.5, reasons=["cùng năm sinh"], status="open")
            db.session.add(pair)
            db.session.flush()
            seed.pair[side] = pair.id
            key = next(k for k in account_queries.field_keys_of_project(made.project_id)
                       if k.actor.display_name == DEVICE[side])
            seed.device_actor[side] = key.actor_id
            seed.device_token[side] = made.tokens[DEVICE[side]]
            seed.minutes[side] = review_services.store_minutes(PHOTO, "bien-ban.png", VILLAGE[side], caller).id
            dataset = entity_lists.ensure_dataset(made.project_id, entity_lists.HOUSEHOLDS)
            seed.entity[side] = f"{number}0000000-0000-4000-8000-000000000000"
            entity_lists.create_entity(dataset, seed.entity[side], f"Hộ {side}",
                                       {"village": VILLAGE[side], "commune": COMMUNE[side]}, caller)
        for role, persona in PERSONA.items():
            user = account_queries.user_by_email(made.users[persona])
            session, token = accounts.open_session(user)
            seed.email[role], seed.session[role], seed.csrf[role] = user.email, token, session.csrf
        db.session.commit()
        assert collect_queries.form(made.project_id, "demo").draft_def is not None
    return seed


def _take(app: Flask, seed: Seed) -> Snapshot:
    rows: dict[str, list[dict[str, Any]]] = {}
    with app.app_context():
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                query = select(table).order_by(*table.primary_key.columns)
                rows[table.name] = [dict(row._mapping) for row in connection.execute(query)]
        db.engine.dispose()
    root = Path(app.config["BLOB_DIR"])
    blobs = {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}
    return Snapshot(seed, rows, blobs)


def _restore(app: Flask, snapshot: Snapshot) -> None:
    with app.app_context():
        with db.engine.begin() as connection:
            # Foreign keys off while the rows go back (forms and their definitions refer to each other).
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                connection.execute(text("PRAGMA foreign_keys=OFF"))
            # Whatever the last case left, gone (DELETE: on these few rows far cheaper than TRUNCATE).
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            for table in db.metadata.sorted_tables:
                found = snapshot.rows.get(table.name)
                if found:
                    connection.execute(table.insert(), found)
            if connection.dialect.name == "postgresql":
                # Rows came with their ids: move each id sequence past them.
                for table in db.metadata.sorted_tables:
                    if "id" in table.c and snapshot.rows.get(table.name) and table.c.id.primary_key:
                        top = connection.scalar(select(func.max(table.c.id)))
                        connection.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                                           {"t": table.name, "v": top})
        db.engine.dispose()
    root = Path(app.config["BLOB_DIR"])
    if root.exists():
        shutil.rmtree(root)
    for name, data in snapshot.blobs.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
