"""Flask CLI: accounts, app users, forms and the demo province."""

from __future__ import annotations

import secrets
import sys
import time
from datetime import date
from pathlib import Path

import click
import segno
from flask import Flask, current_app
from flask.cli import AppGroup

from server.accounts import queries as account_queries
from server.accounts import services as accounts
from server.accounts.device_setup import collect_settings, device_url, qr_payload
from server.accounts.models import ROLES
from server.campaigns import queries as campaign_queries
from server.campaigns import services as campaigns
from server.campaigns.cli import campaigns_group, standards_group
from server.collect import forms_service, projects_service, submissions_service
from server.collect import queries as collect_queries
from server.collect.models import Project
from server.errors import Problem
from server.exports.cli import export_group, report_group
from server.extensions import db
from server.households.cli import geo_group, households_group
from server.timeutil import local, utcnow
from server.units import services as units

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"


def _fail(problem: Problem) -> None:
    db.session.rollback()
    raise click.ClickException(f"{problem.message('vi')} / {problem.message('en')}")


def _read_password(password: str | None) -> str:
    if password:
        return password
    if sys.stdin.isatty():
        return click.prompt("Mật khẩu / Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


def print_device(project: Project, name: str, token: str) -> None:
    url = device_url(current_app.config["PUBLIC_URL"], project.id, token)
    click.echo(f"Địa chỉ máy chủ cho ODK Collect / Collect server URL:\n  {url}")
    payload = qr_payload(collect_settings(url, project.name, name))
    click.echo("Mã QR cấu hình ODK Collect / Collect configuration QR:")
    segno.make(payload, error="l").terminal(compact=True)


def register(app: Flask) -> None:
    app.cli.add_command(users_group)
    app.cli.add_command(app_users_group)
    app.cli.add_command(forms_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(campaigns_group)
    app.cli.add_command(standards_group)
    app.cli.add_command(households_group)
    app.cli.add_command(geo_group)
    app.cli.add_command(submissions_group)
    app.cli.add_command(export_group)
    app.cli.add_command(report_group)


@click.group("users", cls=AppGroup, help="Web users / Người dùng")
def users_group() -> None:
    pass


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--unit", "unit_codes", multiple=True, help="area, commune or village code (repeatable)")
@click.option("--password", default=None, help="read from standard input when omitted")
@click.option("--name", default=None)
def users_create(email: str, role: str, unit_codes: tuple[str, ...], password: str | None, name: str | None) -> None:
    try:
        user = accounts.create_user(email, _read_password(password), role, unit_codes, by=None, display_name=name)
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    click.echo(f"Đã tạo / created user {user.email} ({user.role}), id {user.actor_id}")


@click.group("app-users", cls=AppGroup, help="Device credentials / Tài khoản thiết bị")
def app_users_group() -> None:
    pass


@app_users_group.command("create")
@click.argument("name")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--unit", "unit_codes", multiple=True)
@click.option("--form", "form_ids", multiple=True, help="xmlFormId to assign (default: every form)")
def app_users_create(name: str, project_id: int, unit_codes: tuple[str, ...], form_ids: tuple[str, ...]) -> None:
    project = collect_queries.project(project_id)
    if project is None:
        raise click.ClickException(f"Không có dự án / no project {project_id}")
    try:
        key = projects_service.create_device(project, name, unit_codes, form_ids or None, by=None)
        actor_id, token = key.actor_id, accounts.app_user_token(key) or ""
        db.session.commit()
    except Problem as problem:
        _fail(problem)
    click.echo(f"App user {actor_id}: {name}\nToken: {token}")
    print_device(project, name, token)


@app_users_group.command("revoke")
@click.argument("actor_id", type=int)
def app_users_revoke(actor_id: int) -> None:
    key = account_queries.field_key(actor_id)
    if key is None:
        raise click.ClickException(f"Không có / no app user {actor_id}")
    accounts.revoke_app_user(key, by=None)
    db.session.commit()
    click.echo(f"Đã thu hồi / revoked app user {actor_id}")


@click.group("forms", cls=AppGroup, help="Survey forms / Biểu mẫu")
def forms_group() -> None:
    pass


def publish_file(project: Project, path: Path) -> str:
    media_dir = path.parent / "media"
    attachments = {p.name: p.read_bytes() for p in media_dir.glob("*")} if media_dir.is_dir() else {}
    generated = units.choice_lists
    form_def = forms_service.publish(project, path.read_bytes(), "application/octet-stream", None,
                                     filename=path.name, attachments=_without_generated(attachments),
                                     generate=generated)
    return f"{path.stem}: {form_def.version}"


def _without_generated(attachments: dict[str, bytes]) -> dict[str, bytes]:
    """Unit lists come from the database, not from the samples beside the forms."""
    return {name: data for name, data in attachments.items()
            if name not in {"provinces.csv", "communes.csv", "villages.csv"}}


@forms_group.command("publish")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
def forms_publish(paths: tuple[Path, ...], project_id: int) -> None:
    project = collect_queries.project(project_id)
    if project is None:
        raise click.ClickException(f"Không có dự án / no project {project_id}")
    for path in paths or tuple(sorted(FORMS_DIR.glob("*.xlsx"))):
        try:
            click.echo(publish_file(project, path))
            db.session.commit()
        except Problem as problem:
            _fail(problem)


@click.group("demo", cls=AppGroup, help="Demo province / Dữ liệu mẫu")
def demo_group() -> None:
    pass


DEMO_ADMIN = "admin@demo.bacninh.vn"
DEMO_PROJECT = "Rà soát hộ nghèo, hộ cận nghèo 2026"


@demo_group.command("setup")
@click.option("--password", default=None, help="admin password (a random one is printed when omitted)")
@click.option("--villages-per-commune", default=4, show_default=True)
def demo_setup(password: str | None, villages_per_commune: int) -> None:
    """Load Bắc Ninh (real communes, synthetic villages), users, the project and its forms. Idempotent."""
    try:
        count = units.load_demo_province(current_app.config["PROVINCE_CODE"], villages_per_commune)
        db.session.commit()
        click.echo(f"Đơn vị hành chính / units: {count}")
        project = collect_queries.project(1) or Project(name=DEMO_PROJECT)
        db.session.add(project)
        db.session.flush()
        for path in sorted(FORMS_DIR.glob("*.xlsx")):
            click.echo("Biểu mẫu / form " + publish_file(project, path))
        year = local(utcnow()).year
        if campaign_queries.campaign_by_year(project.id, year) is None:
            campaigns.create_campaign(project.id, year, date(year, 9, 1), date(year, 12, 15), [], by=None)
        click.echo(f"Đợt rà soát / campaign {year}")
        db.session.commit()
        if account_queries.user_by_email(DEMO_ADMIN) is None:
            password = password or secrets.token_urlsafe(9)
            accounts.create_user(DEMO_ADMIN, password, "admin", [], by=None, display_name="Quản trị demo")
            db.session.commit()
            click.echo(f"Đăng nhập / login: {DEMO_ADMIN}  mật khẩu / password: {password}")
        else:
            click.echo(f"Đăng nhập / login: {DEMO_ADMIN} (đã có / exists)")
        existing = account_queries.field_keys_of_project(project.id)
        if existing:
            key = existing[0]
            token = accounts.app_user_token(key) or ""
            name = key.actor.display_name
        else:
            village = units.first_village()
            name = "Máy rà soát viên 1"
            key = projects_service.create_device(project, name, [village] if village else [], None, by=None)
            token = accounts.app_user_token(key) or ""
            db.session.commit()
        print_device(project, name, token)
    except Problem as problem:
        _fail(problem)


@click.group("submissions", cls=AppGroup, help="Submissions / Bản ghi")
def submissions_group() -> None:
    pass


@submissions_group.command("process")
@click.option("--batch", default=100, show_default=True)
@click.option("--loop", is_flag=True, help="keep going, waiting for new submissions (a worker)")
@click.option("--idle-seconds", default=2.0, show_default=True)
def submissions_process(batch: int, loop: bool, idle_seconds: float) -> None:
    """Classify, match and place submissions stored with PROCESS_INLINE=false."""
    total = 0
    while True:
        done = submissions_service.process_pending(batch)
        db.session.commit()
        total += done
        if done:
            click.echo(f"Đã xử lý / processed {total}")
        elif not loop:
            break
        else:
            time.sleep(idle_seconds)
    click.echo(f"Xong / done: {total}")
