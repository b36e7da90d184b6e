"""`flask export registry …` and `flask report summary …`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from server.accounts.models import Actor
from server.errors import Problem
from server.exports import queries, services
from server.extensions import db

export_group = AppGroup("export", help="Exports to the provincial registry / Xuất dữ liệu cho sổ hộ tỉnh")
report_group = AppGroup("report", help="Summary reports / Báo cáo tổng hợp")


def _fail(problem: Problem) -> None:
    db.session.rollback()
    raise click.ClickException(f"{problem.message('vi')} / {problem.message('en')}")


def _actor(email: str | None) -> Actor | None:
    if email is None:
        return None  # the command line itself (audited without a person)
    actor = queries.actor_by_email(email)
    if actor is None:
        raise click.ClickException(f"Không có người dùng / no user {email}")
    return actor


@export_group.command("registry")
@click.option("--campaign", "year", type=int, required=True, help="campaign year / năm rà soát")
@click.option("--format", "fmt", type=click.Choice(services.FORMATS), default="csv", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--since", default=None, help="cursor printed by the previous export, or an ISO time")
@click.option("--unit", default=None, help="province, area, commune or village code")
@click.option("--state", type=click.Choice(tuple(services.STATE_CHOICES)), default="decided", show_default=True,
              help="decided: decided (and exported) results only; all: every household")
@click.option("--members", "members_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write one row per person (csv/xlsx)")
@click.option("--as", "as_email", default=None, help="the user the export is made for (audit log)")
@click.option("--overlap", type=int, default=int(services.DEFAULT_OVERLAP.total_seconds()), show_default=True,
              help="seconds before this export that the next --since starts from")
def export_registry(year: int, fmt: str, out_path: Path, since: str | None, unit: str | None, state: str,
                    members_path: Path | None, as_email: str | None, overlap: int) -> None:
    """Households (and members) with class, indicators, location and history for one campaign year."""
    from datetime import timedelta

    actor = _actor(as_email)
    bar = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label="Xuất / exporting", file=sys.stderr)
        bar.__enter__()

    def progress(done: int) -> None:
        if bar is not None:
            bar.update(done)

    try:
        result = services.export_registry(year, fmt, out_path, state=state, unit=unit, since=since,
                                          members_out=members_path, by=actor, progress=progress,
                                          overlap=timedelta(seconds=overlap), on_total=on_total)
        db.session.commit()  # the audit row
    except Problem as problem:
        _fail(problem)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"Đã xuất / exported {result.rows} hộ / households → {out_path}")
    if result.members is not None:
        click.echo(f"Thành viên / members: {result.members} → {members_path}")
    click.echo(f"Lần sau dùng / next time use: --since {result.cursor}")


@report_group.command("summary")
@click.option("--campaign", "year", type=int, required=True)
@click.option("--unit", default=None, help="province or area (rows = communes), commune (rows = villages)")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--template", "template_id", default=services.DEFAULT_TEMPLATE, show_default=True)
@click.option("--lang", type=click.Choice(("vi", "en")), default="vi", show_default=True)
@click.option("--as", "as_email", default=None, help="the user the report is made for (audit log)")
def report_summary(year: int, unit: str | None, out_path: Path, template_id: str, lang: str,
                   as_email: str | None) -> None:
    """The campaign year's summary (modelled on Annex VII, Circular 07/2021) as a formatted XLSX."""
    actor = _actor(as_email)
    try:
        report = services.summary_report(year, unit, template_id=template_id, by=actor)
        services.write_summary(report, out_path, lang)
        db.session.commit()  # the audit row
    except Problem as problem:
        _fail(problem)
    click.echo(f"Đã lập báo cáo / report written: {out_path} ({report.households} hộ / households)")
    if report.unplaced:
        click.echo(f"Cảnh báo / warning: {report.unplaced} hộ không có thôn hợp lệ, không được tính / "
                   "households without a known village were left out", err=True)
