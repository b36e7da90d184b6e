"""Device setup pages: an area supervisor creates phone accounts (app users), prints their ODK Collect and
KoboCollect configuration QR codes for a whole commune, and revokes a lost phone's token.

The codes carry the device token, so the pages are for the roles that manage app users, within their own
units only, exactly as the Central-compatible API decides (``accounts.manages``).
"""

from __future__ import annotations

from dataclasses import dataclass

import segno
from flask import Response, current_app, flash, redirect, request, url_for

from server.accounts import queries as account_queries
from server.accounts import services as accounts
from server.accounts.device_setup import collect_settings, device_url, kobo_settings, qr_payload
from server.accounts.models import FieldKey
from server.collect import projects_service
from server.collect import queries as collect_queries
from server.collect.models import Project
from server.errors import Problem
from server.http import transaction
from server.review import queries as review_queries
from server.standards.text import Text
from server.units import queries as unit_queries
from server.web.texts import text
from server.web.views import PageError, _caller, _not_found, _page, _text, bp, page_language

MANAGE = "app_user.manage"


@dataclass(frozen=True)
class DeviceCard:
    actor_id: int
    name: str
    project: str
    units: list[str]
    server_url: str | None
    collect_qr: str | None
    kobo_qr: str | None


def _qr_image(payload: str) -> str:
    """A data: URI (the pages' CSP allows data: images and no scripts), sharp when printed."""
    return segno.make(payload, error="l").svg_data_uri(scale=4, border=2)


def _card(key: FieldKey, project: Project, unit_names: dict[str, str]) -> DeviceCard:
    token = accounts.app_user_token(key)
    name = key.actor.display_name
    units = [unit_names.get(g.unit_code, g.unit_code) for g in key.actor.scopes]
    if token is None:
        return DeviceCard(key.actor_id, name, project.name, units, None, None, None)
    url = device_url(current_app.config["PUBLIC_URL"], project.id, token)
    return DeviceCard(key.actor_id, name, project.name, units, url,
                      _qr_image(qr_payload(collect_settings(url, project.name, name))),
                      _qr_image(qr_payload(kobo_settings(url, project.name, name))))


def _require_manager() -> None:
    if not _caller().can(MANAGE):
        raise PageError(403, _text("error.forbidden"))


def _communes_in_scope() -> list[tuple[str, str]]:
    scope = accounts.visible_units(_caller())
    return [(u.code, u.name) for u in unit_queries.units_at("commune") if scope is None or u.code in scope[1]]


def _in_commune(key: FieldKey, villages: frozenset[str], commune: str) -> bool:
    codes = [g.unit_code for g in key.actor.scopes]
    return bool(codes) and all(code in villages or code == commune for code in codes)


def _cards(commune: str | None) -> list[DeviceCard]:
    caller = _caller()
    villages = unit_queries.expand_scope([commune])[0] if commune else frozenset()
    names = {code: name for code, name in review_queries.villages_in_scope(None)}
    names.update(_communes_in_scope())
    cards = []
    for project in collect_queries.projects():
        for key in account_queries.field_keys_of_project(project.id):
            if accounts.manages(caller, key) and (commune is None or _in_commune(key, villages, commune)):
                cards.append(_card(key, project, names))
    return cards


@bp.get("/devices")
def devices() -> Response:
    _require_manager()
    communes = _communes_in_scope()
    commune = request.args.get("commune") or None
    if commune is not None and commune not in dict(communes):
        raise _not_found()
    return _devices_page(200, commune, communes)


def _devices_page(status: int, commune: str | None, communes: list[tuple[str, str]],
                  error: Text | None = None) -> Response:
    return _page("devices.html", status, cards=_cards(commune), communes=communes, commune=commune,
                 commune_name=dict(communes).get(commune or ""), projects=collect_queries.projects(),
                 villages=review_queries.villages_in_scope(accounts.visible_units(_caller())), error=error,
                 form=request.form)


@bp.post("/devices")
def device_create() -> Response:
    _require_manager()
    caller = _caller()
    name = request.form.get("name", "").strip()
    village = request.form.get("village", "")
    project = collect_queries.project(request.form.get("project", type=int) or 0)
    if project is None or not name:
        return _devices_page(400, None, _communes_in_scope(),
                             _text("devices.error.project" if project is None else "devices.error.name"))

    def work() -> None:
        if not accounts.units_within([village], accounts.visible_units(caller)):
            raise Problem("forbidden")
        projects_service.create_device(project, name, [village], None, caller.actor)

    try:
        transaction.run(work)
    except Problem as problem:
        return _devices_page(problem.status, None, _communes_in_scope(),
                             Text(problem.message("vi"), problem.message("en")))
    flash(text("devices.done.create", page_language(), name=name))
    return redirect(url_for("web.devices"))


@bp.post("/devices/<int:actor_id>/revoke")
def device_revoke(actor_id: int) -> Response:
    _require_manager()
    caller = _caller()

    def work() -> str:
        key = account_queries.field_key(actor_id)
        if key is None or not accounts.manages(caller, key):
            raise _not_found()
        accounts.revoke_app_user(key, caller.actor)
        return key.actor.display_name

    name = transaction.run(work)
    flash(text("devices.done.revoke", page_language(), name=name))
    return redirect(url_for("web.devices", commune=request.form.get("commune") or None))
