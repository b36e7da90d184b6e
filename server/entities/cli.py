"""`flask assignments …`: who surveys which villages or households."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from server.entities import queries, services
from server.errors import Problem
from server.extensions import db

assignments_group = AppGroup("assignments", help="Survey assignments / Giao việc rà soát")


@assignments_group.command("set")
@click.argument("actor_id", type=int)
@click.option("--project", "project_id", type=int, required=True)
@click.option("--village", "villages", multiple=True, help="village code, optionally CODE:EXPECTED_COUNT (repeatable)")
@click.option("--household", "households", multiple=True, help="registry household code (repeatable)")
def assignments_set(actor_id: int, project_id: int, villages: tuple[str, ...], households: tuple[str, ...]) -> None:
    """Replace the assignments of an app user or enumerator (no --village/--household: clear them)."""
    targets = []
    for item in villages:
        code, _, count = item.partition(":")
        if count and not count.isdigit():
            raise click.BadParameter(f"expected count must be a whole number: {item}", param_hint="--village")
        targets.append(services.Target(village_code=code, expected_count=int(count) if count else None))
    targets += [services.Target(household_code=code) for code in households]
    try:
        rows = services.set_assignments(project_id, actor_id, targets, None)
        db.session.commit()
    except Problem as problem:
        db.session.rollback()
        raise click.ClickException(f"{problem.message('vi')} / {problem.message('en')}") from problem
    for row in rows:
        target = row.village_code or f"household #{row.household_id}"
        count = f" ({row.expected_count})" if row.expected_count is not None else ""
        click.echo(f"{actor_id}\t{target}{count}")
    if not rows:
        click.echo(f"{actor_id}: không còn việc được giao / no assignments")


@assignments_group.command("list")
@click.option("--project", "project_id", type=int, required=True)
def assignments_list(project_id: int) -> None:
    for row in queries.project_assignments(project_id):
        target = row.village_code or f"household #{row.household_id}"
        click.echo(f"{row.actor_id}\t{target}\t{'' if row.expected_count is None else row.expected_count}")
