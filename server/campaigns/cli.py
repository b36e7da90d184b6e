"""`flask campaigns …` and `flask standards …`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from server import standards
from server.campaigns import queries, services
from server.campaigns.models import Campaign
from server.collect.models import Submission, SubmissionDef
from server.errors import Problem
from server.extensions import db
from server.monitoring.services import refresh_facts


def _fail(problem: Problem) -> None:
    db.session.rollback()
    raise click.ClickException(f"{problem.message('vi')} / {problem.message('en')}")


def _campaign(project_id: int, year: int) -> Campaign:
    campaign = queries.campaign_by_year(project_id, year)
    if campaign is None:
        raise click.ClickException(f"Không có đợt rà soát / no campaign {year} in project {project_id}")
    return campaign


campaigns_group = AppGroup("campaigns", help="Review campaigns / Đợt rà soát")


@campaigns_group.command("create")
@click.option("--project", "project_id", type=int, default=1, show_default=True)
@click.option("--year", type=int, required=True)
@click.option("--start", "starts_on", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--end", "ends_on", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--commune", "communes", multiple=True, help="commune code (default: every commune)")
def campaigns_create(project_id: int, year: int, starts_on, ends_on, communes: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    try:
        campaign = services.create_campaign(project_id, year, starts_on.date(), ends_on.date(), list(communes), None)
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    click.echo(f"Đợt / campaign {campaign.year}: {campaign.starts_on} → {campaign.ends_on}, "
               f"{len(campaign.communes)} xã/phường / communes")


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: {error}") from error


@campaigns_group.command("set-score-table")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, default=1, show_default=True)
@click.option("--year", type=int, required=True)
def campaigns_set_score_table(path: Path, project_id: int, year: int) -> None:
    """Load the province's B1 score table (see server/standards/FORMAT.md)."""
    try:
        services.set_score_table(_campaign(project_id, year), _load_json(path), path.name, None)
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    click.echo("Đã nạp bảng điểm B1; chạy `flask standards recompute` / B1 table loaded; run recompute")


@campaigns_group.command("set-local-ruleset")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, default=1, show_default=True)
@click.option("--year", type=int, required=True)
def campaigns_set_local_ruleset(path: Path, project_id: int, year: int) -> None:
    try:
        services.set_local_ruleset(_campaign(project_id, year), _load_json(path), path.name, None)
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    click.echo("Đã nạp chuẩn địa phương / local rule set loaded")


standards_group = AppGroup("standards", help="Poverty standard / Chuẩn nghèo")


@standards_group.command("recompute")
@click.option("--year", type=int, required=True)
def standards_recompute(year: int) -> None:
    """Re-classify the year's household reviews and show what moved."""
    result = services.recompute(year, None)
    db.session.commit()
    for _ in refresh_facts():  # the dashboard's stored figures follow the new classes
        db.session.commit()
    click.echo(f"Đã tính lại / recomputed {result.reviews} hộ / households")
    _print_transitions("Chuẩn quốc gia / national standard", result.transitions)
    if result.local_transitions:
        _print_transitions("Chuẩn địa phương / local standard", result.local_transitions)


def _print_transitions(title: str, transitions: dict[tuple[str, str], int]) -> None:
    click.echo(title)
    for (before, after), count in sorted(transitions.items()):
        marker = "  " if before == after else "* "
        click.echo(f"{marker}{before:>16} → {after:<16} {count}")


@standards_group.command("explain")
@click.argument("submission")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi")
def standards_explain(submission: str, lang: str) -> None:
    """SUBMISSION is a submission id or an instanceID (uuid:…)."""
    query = select(SubmissionDef).join(Submission).where(SubmissionDef.current.is_(True))
    query = query.where(Submission.id == int(submission)) if submission.isdigit() else \
        query.where(Submission.instance_id == submission)
    submission_def = db.session.scalar(query)
    if submission_def is None:
        raise click.ClickException(f"Không tìm thấy / not found: {submission}")
    row = queries.classification_of(submission_def.id)
    if row is None:
        raise click.ClickException("Bản ghi này chưa được phân loại / this submission has not been classified "
                                   "(not a Phiếu B, or no campaign)")
    click.echo(standards.explain(standards.Classification.from_dict(row.result), lang))
