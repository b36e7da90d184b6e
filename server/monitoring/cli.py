"""`flask monitoring …`: the plan's targets and the dashboard's facts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from server.errors import Problem
from server.extensions import db
from server.monitoring import aggregate, queries, services

monitoring_group = AppGroup("monitoring", help="Supervisors' dashboard / Giám sát")


@monitoring_group.command("set-target")
@click.option("--year", type=int, required=True)
@click.option("--indicator", type=click.Choice(aggregate.PLAN_INDICATORS), required=True)
@click.option("--target", "value", type=float, required=True,
              help="% of poor/near-poor households, or percentage points of reduction for poverty_rate_reduction")
@click.option("--baseline", type=float, default=None, help="poverty_rate_reduction: the 2022 poverty rate (%)")
@click.option("--note", default=None)
def set_target(year: int, indicator: str, value: float, baseline: float | None, note: str | None) -> None:
    """Set one of the plan's targets for a year / Đặt chỉ tiêu kế hoạch cho một năm."""
    try:
        services.set_target(year, indicator, value, baseline, by=None, note=note)
    except Problem as problem:
        db.session.rollback()
        raise click.ClickException(f"{problem.message('vi')} / {problem.message('en')}") from problem
    db.session.commit()
    click.echo(f"{year} {indicator}: {value}" + (f" (baseline {baseline})" if baseline is not None else ""))


@monitoring_group.command("targets")
@click.option("--year", type=int, required=True)
def list_targets(year: int) -> None:
    """Print a year's targets."""
    found = queries.targets(year)
    for name in aggregate.PLAN_INDICATORS:
        row = found.get(name)
        click.echo(f"{name}\t{row.target if row else '-'}\t{row.baseline if row and row.baseline is not None else '-'}")


@monitoring_group.command("refresh")
@click.option("--batch", type=int, default=500)
def refresh(batch: int) -> None:
    """Re-read the dashboard's facts of surveys changed since (e.g. after `standards recompute`) and rebuild
    the summed review transitions (time in each state) from the review events."""
    total = 0
    for total in services.refresh_facts(batch):  # noqa: B007 - the last count is the total
        db.session.commit()
    click.echo(f"{total} surveys refreshed")
    rows = services.rebuild_transitions()
    db.session.commit()
    click.echo(f"{rows} transition sums rebuilt")
