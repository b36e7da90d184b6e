"""The supervisors' monitoring dashboard: one scope's progress, bottlenecks, quality and the plan's targets.

Pages on the ``web`` blueprint (login, language, CSP and error pages are shared): ``/dashboard`` for the
caller's whole scope, ``/dashboard/<level>/<code>`` for an area, commune or village, and each table as
CSV (``…/<table>.csv``, written by server/exports/writers.py so formula injection is neutralised the
same way as every export). Every number links one level down, and at the last level to the household
list (the review queue with filters). Charts and the map are inline SVG drawn on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for

from server.accounts.permissions import PROVINCE_WIDE
from server.accounts.services import visible_units
from server.errors import Problem
from server.exports.writers import csv_chunks
from server.http import transaction
from server.monitoring import aggregate, charts, facts, services
from server.monitoring.aggregate import Tally
from server.monitoring.services import ChildRow, Dashboard
from server.review import machine
from server.standards.rulesets import RuleSetNotFound, load_ruleset
from server.web.texts import text
from server.web.views import PageError, _caller, _page, _text, bp, page_language

ROLES = frozenset({"admin", "province", "supervisor", "commune"})
TABLES = ("units", "enumerators", "days", "states", "classes", "deprivations", "targets")
STATUS_COLOURS = {"none": "#e4e7e2", "started": "#f2c46d", "surveyed": "#7fb3d5", "done": "#4f9a5b"}
STATE_GROUPS = {"submitted": "waiting", "checked": "waiting", "village_review": "waiting",
                "check_failed": "problem", "returned": "problem", "resurvey": "problem", "complaint": "problem",
                "village_agreed": "commune", "commune_confirmed": "commune", "posted": "commune",
                "awaiting_decision": "commune", "decided": "done", "exported": "done"}
GROUP_COLOURS = {"waiting": "#2f6b9a", "problem": "#c0392b", "commune": "#b7791f", "done": "#2f7a3a"}
ENDED_STATES = ("decided", "exported")


def _allowed() -> None:
    caller = _caller()
    caller.require("submission.read")
    if caller.role not in ROLES:
        raise PageError(403, _text("error.forbidden"))


def _year() -> int | None:
    value = request.args.get("year", "")
    return int(value) if value.isdigit() else None


def _load(level: str, code: str | None, table: str | None = None) -> Dashboard:
    """The page's numbers; only those of ``table`` (and no map) for a CSV download."""
    _allowed()
    try:
        return services.dashboard(visible_units(_caller()), level, code, _year(), with_map=table is None,
                                  table=table)
    except Problem as problem:
        if problem.status == 404:
            raise PageError(404, _text("error.not_found")) from problem
        raise


@bp.get("/dashboard")
def dashboard() -> Response:
    return _render(_load("province", None))


@bp.get("/dashboard/<level>/<code>")
def dashboard_unit(level: str, code: str) -> Response:
    if level == "province":
        return redirect(url_for("web.dashboard", **request.args))
    return _render(_load(level, code))


@bp.get("/dashboard/<table>.csv")
def dashboard_csv(table: str) -> Response:
    return _csv(_load("province", None, table), table)


@bp.get("/dashboard/<level>/<code>/<table>.csv")
def dashboard_unit_csv(level: str, code: str, table: str) -> Response:
    return _csv(_load(level, code, table), table)


@bp.post("/dashboard/targets")
def dashboard_targets() -> Response:
    caller = _caller()
    if caller.role not in PROVINCE_WIDE:
        raise PageError(403, _text("error.forbidden"))
    form = request.form
    try:
        year, target = int(form.get("year", "")), float(form.get("target", "").replace(",", "."))
        baseline = float(form["baseline"].replace(",", ".")) if form.get("baseline", "").strip() else None
    except ValueError as error:
        raise PageError(400, _text("dash.target_invalid")) from error
    indicator = form.get("indicator", "")
    transaction.run(lambda: services.set_target(year, indicator, target, baseline, caller.actor))
    flash(text("dash.target_saved", page_language()))
    return redirect(url_for("web.dashboard", year=year))


# ---- presenting ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    value: str
    href: str | None = None


@dataclass(frozen=True)
class Row:
    name: str
    href: str | None
    code: str
    cells: tuple[Cell, ...]


def _fmt(value: float | int | None, digits: int = 0, lang: str = "vi") -> str:
    if value is None:
        return "—"
    formatted = f"{value:,.{digits}f}"
    return formatted.replace(",", "\u202f").replace(".", ",") if lang == "vi" else formatted


def _unit_url(level: str, code: str, **extra: Any) -> str:
    args = {k: v for k, v in _kept_args().items()} | extra
    return url_for("web.dashboard_unit", level=level, code=code, **args)


def _kept_args() -> dict[str, str]:
    return {k: request.args[k] for k in ("year", "lang") if request.args.get(k)}


def _queue(**filters: Any) -> str:
    return url_for("web.queue", **{k: v for k, v in filters.items() if v is not None},
                   **({"lang": request.args["lang"]} if request.args.get("lang") else {}))


def _filters_of(level: str, code: str) -> dict[str, str] | None:
    """The queue filters showing a unit's households; None when the queue cannot filter by it (areas)."""
    if level == "commune":
        return {"commune": code}
    if level == "village":
        return {"village": code}
    if level == "unknown_village":
        return {"commune": code.removeprefix("~")}
    if level == "province":
        return {}
    return None


UNIT_COLUMNS = ("dash.col.expected", "dash.col.submitted", "dash.col.progress", "dash.col.done",
                "dash.col.returned", "dash.col.resurveyed", "dash.col.duplicates", "dash.col.gps",
                "class.poor", "class.near_poor")


def _tally_cells(tally: Tally, level: str, code: str, lang: str) -> tuple[Cell, ...]:
    filters = _filters_of(level, code)
    down = None if filters is not None else _unit_url(level, code)

    def link(**more: str) -> str | None:
        return down or _queue(**filters, **more)

    return (Cell(_fmt(tally.expected, lang=lang), down),
            Cell(_fmt(tally.submitted, lang=lang), link()),
            Cell(_fmt(tally.progress, 1, lang) + ("%" if tally.progress is not None else ""), down),
            Cell(_fmt(tally.done, lang=lang), down or _queue(**filters, state="decided")),
            Cell(_fmt(tally.returned, lang=lang), link(state="returned")),
            Cell(_fmt(tally.resurveyed, lang=lang), link(state="resurvey")),
            Cell(_fmt(tally.duplicates, lang=lang), link(flag="duplicate")),
            Cell(_fmt(tally.gps, lang=lang), link(flag="gps")),
            Cell(_fmt(tally.classes["poor"], lang=lang), link(**{"class": "poor"})),
            Cell(_fmt(tally.classes["near_poor"], lang=lang), link(**{"class": "near_poor"})))


def _child_href(row: ChildRow) -> str | None:
    if row.level == "unknown_village":
        return _queue(commune=row.code.removeprefix("~"))
    return _unit_url(row.level, row.code)


def _child_name(row: ChildRow, lang: str) -> str:
    return text("dash.unknown_village", lang) if row.level == "unknown_village" else row.name


def _unit_rows(dash: Dashboard, lang: str) -> list[Row]:
    return [Row(_child_name(row, lang), _child_href(row), row.code, _tally_cells(row.tally, row.level, row.code, lang))
            for row in dash.children]


def _node_filters(dash: Dashboard) -> dict[str, str]:
    return _filters_of(dash.node.level, dash.node.code) or {}


def _enumerator_rows(dash: Dashboard, lang: str) -> list[Row]:
    filters = _node_filters(dash)
    rows = []
    for row in dash.enumerators:
        href = _queue(enumerator=row.actor_id, **filters) if row.actor_id is not None else None
        rows.append(Row(row.name or text("dash.unknown_enumerator", lang), href, str(row.actor_id or ""), (
            Cell(_fmt(row.surveys, lang=lang), href),
            Cell(_fmt(row.mean_duration_s / 60 if row.mean_duration_s is not None else None, 0, lang)),
            Cell(_fmt(aggregate.share(row.gps, row.surveys), 0, lang) + "%",
                 _queue(enumerator=row.actor_id, flag="gps", **filters) if href else None),
            Cell(_fmt(aggregate.share(row.returned, row.surveys), 0, lang) + "%",
                 _queue(enumerator=row.actor_id, state="returned", **filters) if href else None),
            Cell(_fmt(row.outliers, lang=lang)))))
    return rows


def _indicator_names(year: int | None, lang: str) -> dict[str, str]:
    try:
        ruleset = load_ruleset(year or 2025)
    except RuleSetNotFound:
        return {}
    return {spec.id: spec.name.get(lang) for spec in ruleset.indicators}


def _series(dash: Dashboard) -> list[tuple[str, int]]:
    """Submissions per day, with the days between the first and the last filled with zeros."""
    if not dash.days:
        return []
    from datetime import timedelta

    counts = dict(dash.days)
    first, last = dash.days[0][0], dash.days[-1][0]
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [(day.strftime("%d/%m"), counts.get(day, 0)) for day in days]


def _context(dash: Dashboard) -> dict[str, Any]:
    lang = page_language()
    filters = _node_filters(dash)
    states = [s for s in dash.state_times if s.state not in ENDED_STATES]
    state_height, state_bars = charts.hbar_chart(
        [(machine.State(s.state).label.get(lang), s.mean_days) for s in states])
    names = _indicator_names(dash.year, lang)
    whole = dash.total
    profile = [(indicator, names.get(indicator, indicator), whole.deprived[indicator],
                aggregate.share(whole.deprived[indicator], whole.poor_near)) for indicator in facts.INDICATORS]
    profile_height, profile_bars = charts.hbar_chart([(name, pct) for _, name, _, pct in profile])
    unit_map = charts.unit_map(dash.shapes, [(lat, lon, STATE_GROUPS.get(state, "waiting"))
                                             for lat, lon, state in dash.points])
    csv_base = (url_for("web.dashboard_csv", table="TABLE", **_kept_args()) if dash.node.level == "province" else
                url_for("web.dashboard_unit_csv", level=dash.node.level, code=dash.node.code, table="TABLE",
                        **_kept_args()))
    return {
        "dash": dash, "node": dash.node, "lang": lang,
        "trail": [(node, url_for("web.dashboard", **_kept_args()) if node.level == "province"
                   else _unit_url(node.level, node.code)) for node in dash.trail],
        "child_level": services.CHILD_LEVEL[dash.node.level],
        "unit_columns": UNIT_COLUMNS, "unit_rows": _unit_rows(dash, lang),
        "total_cells": _tally_cells(whole, dash.node.level, dash.node.code, lang),
        "enumerator_rows": _enumerator_rows(dash, lang),
        "chart": charts.bar_chart(_series(dash)),
        "states": list(zip(states, state_bars, strict=True)), "state_height": state_height,
        "state_href": lambda state: _queue(state=state, **filters),
        "class_rows": [(name, whole.classes[name], _queue(**{"class": name}, **filters))
                       for name in aggregate.CLASS_NAMES],
        "profile": list(zip(profile, profile_bars, strict=True)), "profile_height": profile_height,
        "targets": dash.targets, "can_set_targets": _caller().role in PROVINCE_WIDE,
        "plan_indicators": aggregate.PLAN_INDICATORS,
        "map": unit_map, "status_colours": STATUS_COLOURS, "group_colours": GROUP_COLOURS,
        "map_href": lambda code: _unit_url(services.CHILD_LEVEL[dash.node.level] if dash.node.level != "province"
                                           else "commune", code),
        "csv_url": lambda table: csv_base.replace("TABLE", table),
        "fmt": lambda value, digits=0: _fmt(value, digits, lang),
    }


def _render(dash: Dashboard) -> Response:
    return _page("dashboard.html", **_context(dash))


# ---- CSV ----------------------------------------------------------------------------------------------

def _csv(dash: Dashboard, table: str) -> Response:
    if table not in TABLES:
        abort(404)
    lang = page_language()
    header, rows = _TABLES[table](dash, lang)
    name = f"dashboard-{dash.node.level}-{dash.node.code}-{table}-{dash.year or ''}.csv"
    # The tables are small (one row per unit, enumerator, day or state): written whole, not streamed.
    return Response(b"".join(csv_chunks(header, rows)), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _h(lang: str, *keys: str) -> list[str]:
    return [text(key, lang) for key in keys]


def _units_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    header = ["code", *_h(lang, "dash.col.name", *UNIT_COLUMNS[:2]), text("dash.col.progress", lang),
              *_h(lang, *UNIT_COLUMNS[3:])]

    def values(code: str, name: str, tally: Tally) -> list[Any]:
        progress = round(tally.progress, 1) if tally.progress is not None else None
        return [code, name, tally.expected, tally.submitted, progress, tally.done, tally.returned, tally.resurveyed,
                tally.duplicates, tally.gps, tally.classes["poor"], tally.classes["near_poor"]]

    rows = [values(row.code, _child_name(row, lang), row.tally) for row in dash.children]
    rows.append(values(dash.node.code, dash.node.name, dash.total))
    return header, rows


def _enumerators_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    header = ["actor_id", *_h(lang, "dash.col.enumerator", "dash.col.surveys", "dash.col.duration",
                              "dash.col.gps_share", "dash.col.returned_share", "dash.col.outliers")]
    return header, [[row.actor_id, row.name, row.surveys,
                     round(row.mean_duration_s / 60, 1) if row.mean_duration_s is not None else None,
                     _round(aggregate.share(row.gps, row.surveys)), _round(aggregate.share(row.returned, row.surveys)),
                     row.outliers] for row in dash.enumerators]


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _days_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    return _h(lang, "dash.col.day", "dash.col.surveys"), [[day, count] for day, count in dash.days]


def _states_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    header = ["state", *_h(lang, "dash.col.state", "dash.col.now", "dash.col.entries", "dash.col.mean_days")]
    return header, [[s.state, machine.State(s.state).label.get(lang), s.current, s.entries, _round(s.mean_days)]
                    for s in dash.state_times]


def _classes_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    return ["class", *_h(lang, "dash.col.class", "dash.col.surveys")], \
        [[name, text(f"class.{name}", lang), dash.total.classes[name]] for name in aggregate.CLASS_NAMES]


def _deprivations_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    names = _indicator_names(dash.year, lang)
    whole = dash.total
    return ["indicator", *_h(lang, "dash.col.indicator", "dash.col.deprived", "dash.col.share")], \
        [[i, names.get(i, i), whole.deprived[i], _round(aggregate.share(whole.deprived[i], whole.poor_near))]
         for i in facts.INDICATORS]


def _targets_table(dash: Dashboard, lang: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
    header = ["indicator", *_h(lang, "dash.col.indicator", "dash.col.baseline", "dash.col.target", "dash.col.actual",
                               "dash.col.met")]
    return header, [[t.indicator, text(f"plan.{t.indicator}", lang), t.baseline, t.target, _round(t.actual),
                     "" if t.met is None else ("yes" if t.met else "no")] for t in dash.targets]


_TABLES: dict[str, Callable[[Dashboard, str], tuple[list[str], Iterable[Sequence[Any]]]]] = {
    "units": _units_table, "enumerators": _enumerators_table, "days": _days_table, "states": _states_table,
    "classes": _classes_table, "deprivations": _deprivations_table, "targets": _targets_table}

