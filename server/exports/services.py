"""Exports wired to the database: the provincial registry (CSV / XLSX / GeoJSON) and the summary report.
Never commits; every export writes one audit row (who, what filters, how many rows).

Two CSV paths give the same bytes (tests/api/test_exports.py checks it on PostgreSQL):
- Python: stream the rows of ``queries.registry_select`` → ``registry.registry_row`` → ``writers.csv_chunks``;
- PostgreSQL: ``COPY (SELECT <cells> FROM (<registry_select>) …) TO STDOUT (FORMAT csv, FORCE_QUOTE *)``,
  every cell already text made in SQL exactly as ``csv_chunks`` would write it — formula-injection
  neutralisation included, generated from ``writers.FORMULA_TRIGGERS`` / ``writers.NEUTRALISER`` — so
  Python only turns each row's LF into CRLF. A million households take seconds, not a minute.

Incremental exports: the cursor handed back is "everything changed from a little before this export
started" (``overlap``), so a write transaction still open during the export is never skipped; rows
changed inside the overlap are sent again next time, and the province upserts by ``record_id``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy.dialects import postgresql

from server.accounts.models import Actor
from server.accounts.services import audit
from server.errors import Problem
from server.exports import queries, registry, reports, writers
from server.exports.registry import (
    DEFAULT_STATES,
    INDICATOR_IDS,
    MEMBER_COLUMNS,
    REGISTRY_COLUMNS,
    STATUS_LETTERS,
    Cursor,
    HouseholdData,
    InvalidCursor,
    decode_indicators,
    member_rows,
    registry_feature,
    registry_header,
    registry_row,
)
from server.exports.writers import csv_chunks, geojson_chunks, xlsx_stream
from server.extensions import db
from server.standards.classify import NOT_CLASSIFIED
from server.standards.indicators import DEPRIVED
from server.timeutil import as_utc, utcnow

FORMATS = ("csv", "xlsx", "geojson")
STATE_CHOICES: dict[str, frozenset[str] | None] = {"decided": DEFAULT_STATES, "all": None}
DEFAULT_OVERLAP = timedelta(seconds=60)
GONE = ("moved", "dissolved", "merged")  # change types after which the household is no longer in the unit
ALL_TEMPLATES = DEFAULT_TEMPLATE = "all"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RegistryExport:
    rows: int
    members: int | None  # member rows written, when a members file was asked for
    cursor: str  # hand back as --since for the next incremental export
    path: str  # "sql" (COPY) or "python"


def parse_since(value: str | None) -> Cursor | None:
    """A cursor token printed by an earlier export, or an ISO 8601 time (UTC when it has no zone)."""
    if not value:
        return None
    try:
        return Cursor.decode(value)
    except InvalidCursor:
        pass
    try:
        return Cursor.since(as_utc(_fromiso(value)))
    except ValueError:
        raise Problem("invalid_input", detail=f"--since: không phải con trỏ hay thời điểm ISO / "
                                              f"neither a cursor nor an ISO time: {value!r}") from None


def _fromiso(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)


def _scope(unit: str | None) -> queries.UnitScope:
    scope = queries.unit_scope(unit)
    if scope is None:
        raise Problem("not_found", what=f"đơn vị / unit {unit}")
    return scope


# --- the registry export ---------------------------------------------------------------------------------

def _members(names: Any) -> list[dict[str, Any]]:
    return [{"full_name": name} for name in names] if isinstance(names, list) else []


def household_data(row: Mapping[str, Any]) -> HouseholdData:
    """One row of ``queries.registry_select`` as the export's household dict."""
    decided_on = row["decision_date"]
    data: dict[str, Any] = {
        key: row[key] for key in ("id", "record_id", "head_name", "birth_year", "gender", "national_id", "phone",
                                  "village_code", "village_name", "commune_code", "commune_name", "urban", "address",
                                  "lat", "lon", "campaign_year", "review_state", "household_class", "national_class",
                                  "local_class", "b1_score", "decision_number", "start_class", "end_class",
                                  "change_type", "changed_at")}
    data["members"] = _members(row["member_names"])
    data["indicators"] = decode_indicators(row["indicators"])
    data["income_per_person_month"] = row["income"]
    data["decision_date"] = date.fromisoformat(decided_on) if decided_on else None
    data["extra"] = row["extra"] if isinstance(row["extra"], dict) else {}
    return data  # type: ignore[return-value]


def refresh() -> int:
    """Bring the classification facts up to date (the first export after a classification reads it)."""
    try:
        return queries.refresh_facts()
    except ValueError as error:
        raise Problem("invalid_input", detail=str(error)) from error


def _province_columns() -> list[str]:
    # A registry re-imported from one of our exports carries our columns as the province's: drop them.
    return [c for c in queries.extra_columns() if c not in REGISTRY_COLUMNS]


def _next_cursor(started: Any, since: Cursor | None, overlap: timedelta) -> Cursor:
    cursor = Cursor.since(started - overlap)
    return max(cursor, since) if since is not None else cursor


def export_registry(year: int, fmt: str, out: IO[bytes] | Path, *, state: str = "decided", unit: str | None = None,
                    since: str | None = None, members_out: IO[bytes] | Path | None = None,
                    by: Actor | None = None, progress: Progress | None = None,
                    overlap: timedelta = DEFAULT_OVERLAP, use_sql: bool | None = None,
                    on_total: Callable[[int], None] | None = None) -> RegistryExport:
    """Write the campaign year's registry to ``out`` (and its members to ``members_out``) and audit it.

    ``use_sql``: the PostgreSQL COPY path for CSV (default: whenever the database is PostgreSQL).
    ``on_total`` is told an upper bound of the rows before the first is written (for a progress bar).
    """
    if fmt not in FORMATS:
        raise Problem("invalid_input", detail=f"định dạng / format: {' | '.join(FORMATS)}")
    if state not in STATE_CHOICES:
        raise Problem("invalid_input", detail=f"--state: {' | '.join(STATE_CHOICES)}")
    if members_out is not None and fmt == "geojson":
        raise Problem("invalid_input", detail="--members: csv | xlsx")
    cursor = parse_since(since)
    scope = _scope(unit)
    started = utcnow()
    refresh()
    states = STATE_CHOICES[state]
    extra = _province_columns()
    query = queries.registry_select(year, sorted(states) if states else None, scope, after=cursor)
    if on_total is not None:
        on_total(queries.rough_count(year, sorted(states) if states else None))
    postgres = db.engine.dialect.name == "postgresql"
    sql = fmt == "csv" and (postgres if use_sql is None else use_sql)
    with _opened(out) as handle:
        if sql:
            rows = _copy_csv(year, states, scope, cursor, extra, handle, progress)
        else:
            rows = _write(fmt, query, extra, handle, progress)
    members = None
    if members_out is not None:
        with _opened(members_out) as handle:
            members = _write_members(fmt, query, handle)
    next_cursor = _next_cursor(started, cursor, overlap)
    audit("exports.registry", by, "campaign", year,
          {"format": fmt, "state": state, "unit": unit, "since": since, "rows": rows, "members": members,
           "cursor": next_cursor.encode(), "path": "sql" if sql else "python"})
    return RegistryExport(rows, members, next_cursor.encode(), "sql" if sql else "python")


class _opened:
    """A path opened for writing, or a file object passed through (left open)."""

    def __init__(self, target: IO[bytes] | Path) -> None:
        self.target = target
        self.handle: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if isinstance(self.target, Path | str):
            self.handle = Path(self.target).open("wb")
            return self.handle
        return self.target

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def _counted(items: Iterable[Any], progress: Progress | None, counter: list[int]) -> Iterator[Any]:
    for item in items:
        counter[0] += 1
        if progress is not None and counter[0] % 1000 == 0:
            progress(1000)
        yield item
    if progress is not None:
        progress(counter[0] % 1000)


def _write(fmt: str, query: Any, extra: list[str], handle: IO[bytes], progress: Progress | None) -> int:
    counter = [0]
    households = _counted(map(household_data, map(_mapping, queries.stream(query))), progress, counter)
    if fmt == "csv":
        header = registry_header(extra)
        for chunk in csv_chunks(header, (registry_row(h, extra) for h in households)):
            handle.write(chunk)
    elif fmt == "xlsx":
        xlsx_stream(registry_header(extra), (registry_row(h, extra) for h in households), handle,
                    sheet_title="ho_gia_dinh")
    else:
        for chunk in geojson_chunks(registry_feature(h, extra) for h in households):
            handle.write(chunk)
    return counter[0]


def _write_members(fmt: str, query: Any, handle: IO[bytes]) -> int:
    counter = [0]
    rows = _counted((row for h in map(household_data, map(_mapping, queries.stream(query))) for row in member_rows(h)),
                    None, counter)
    if fmt == "xlsx":
        xlsx_stream(MEMBER_COLUMNS, rows, handle, sheet_title="thanh_vien")
    else:
        for chunk in csv_chunks(MEMBER_COLUMNS, rows):
            handle.write(chunk)
    return counter[0]


def _mapping(row: Any) -> Mapping[str, Any]:
    return row._mapping


# --- the PostgreSQL COPY path --------------------------------------------------------------------------------

def _sql_char(char: str) -> str:
    return f"chr({ord(char)})" if not char.isprintable() else "'" + char.replace("'", "''") + "'"


def _text(expression: str) -> str:
    """A text cell as ``csv_chunks`` writes it: empty for NULL, neutralised when it starts with a trigger.
    ``ascii()`` (the first character's code, 0 for '') keeps the test to integer comparisons."""
    triggers = ", ".join(str(ord(c)) for c in sorted(writers.FORMULA_TRIGGERS))
    return (f"coalesce(CASE WHEN ascii({expression}) IN ({triggers}) "
            f"THEN {_sql_char(writers.NEUTRALISER)} || ({expression}) ELSE ({expression}) END, '')")


def _indicator(position: int) -> str:
    # The statuses are fixed words that start with no trigger: only NULL ("-", not listed) needs care.
    statuses = " ".join(f"WHEN {ord(letter)} THEN {_quoted(status)}" for status, letter in STATUS_LETTERS.items())
    return f"coalesce(CASE ascii(substr(b.indicators, {position}, 1)) {statuses} END, '')"


def _number(expression: str) -> str:
    return f"coalesce(({expression})::text, '')"


def _float(expression: str) -> str:
    # Python's str(float) and PostgreSQL's shortest float8 text agree, except that Python writes a
    # whole number with ".0".
    return (f"CASE WHEN ({expression}) IS NULL THEN '' WHEN ({expression}) = trunc({expression}) "
            f"AND abs({expression}) < 1e15 THEN trunc({expression})::bigint::text || '.0' "
            f"ELSE ({expression})::text END")


def _iso_utc(expression: str) -> str:
    # isoformat() leaves out a zero fraction.
    return (f"replace(to_char(({expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            "'.000000Z', 'Z')")


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def copy_sql(year: int, states: frozenset[str] | None, scope: queries.UnitScope, after: Cursor | None,
             extra: list[str]) -> str:
    """The COPY statement whose output is the CSV's data lines (LF-terminated) in ``csv_chunks`` form."""
    base = queries.registry_select(year, sorted(states) if states else None, scope, after=after)
    compiled = base.order_by(None).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    cells = [
        _text("b.record_id"), _text("b.head_name"), _number("b.birth_year"), _text("b.gender"),
        _text("b.national_id"), _text("b.phone"), _text("b.village_code"), _text("b.address"),
        _float("b.lat"), _float("b.lon"), _text("m.names"), _text("b.commune_code"),
        _text("CASE WHEN b.urban THEN 'urban' WHEN NOT b.urban THEN 'rural' END"),
        _number("b.campaign_year"), _text("b.household_class"), _text("b.national_class"), _text("b.local_class"),
        _number(f"length(b.indicators) - length(replace(b.indicators, {_quoted(STATUS_LETTERS[DEPRIVED])}, ''))"),
        *(_indicator(n) for n in range(1, len(INDICATOR_IDS) + 1)),
        _number("b.income"), _number("b.b1_score"),
        _text("b.review_state"), _text("b.decision_number"), _number("b.decision_date"),
        _text("b.start_class"), _text("b.end_class"), _text("b.change_type"), _iso_utc("b.changed_at"),
        *(_text(f"b.extra ->> {_quoted(column)}") for column in extra),
    ]
    if len(cells) != len(REGISTRY_COLUMNS) + len(extra):
        raise AssertionError("the SQL cells and REGISTRY_COLUMNS disagree")
    select_list = ",\n  ".join(cells)
    return (
        f"COPY (SELECT\n  {select_list}\n"
        f"FROM ({compiled}) AS b\n"
        # ARRAY(…) + array_to_string: a third cheaper than string_agg; both leave out JSON nulls.
        "CROSS JOIN LATERAL (SELECT array_to_string(ARRAY(SELECT t.name FROM json_array_elements_text("
        "CASE WHEN json_typeof(b.member_names) = 'array' THEN b.member_names ELSE '[]'::json END) "
        "WITH ORDINALITY AS t(name, n) ORDER BY t.n), '|') AS names) AS m\n"
        "ORDER BY b.id) TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
    )


def _copy_csv(year: int, states: frozenset[str] | None, scope: queries.UnitScope, after: Cursor | None,
              extra: list[str], handle: IO[bytes], progress: Progress | None) -> int:
    handle.write(b"".join(csv_chunks(registry_header(extra), ())))
    connection = db.session.connection().connection.dbapi_connection
    rows = 0
    pending: list[bytes] = []
    size = 0
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL extra_float_digits = 1")
        # Parallel workers each redo the plan's non-parallel parts (the latest-review sort, the decision
        # aggregate): on a small server that is the same work two or three times over, not faster.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        with cursor.copy(copy_sql(year, states, scope, after, extra)) as copy:
            for data in copy:
                # libpq hands COPY data over one row at a time, each ending in LF; the CSV's lines end in
                # CRLF, and a LF inside a quoted cell stays as it is, as csv_chunks leaves it.
                pending.append(bytes(data[:-1]))
                size += len(data)
                rows += 1
                if size >= writers.CHUNK_SIZE:
                    pending.append(b"")
                    handle.write(b"\r\n".join(pending))
                    if progress is not None:
                        progress(len(pending) - 1)
                    pending.clear()
                    size = 0
    if pending:
        pending.append(b"")
        handle.write(b"\r\n".join(pending))
        if progress is not None:
            progress(len(pending) - 1)
    return rows


# --- the summary report ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SummaryReport:
    table: reports.ReportTable
    households: int
    unplaced: int  # households without a known village, left out of every report


def report_rows(year: int, scope: queries.UnitScope, unit_level: str) -> Iterator[reports.ReportRow]:
    """Each household of the scope as the report counts it (see ``queries.report_select``)."""
    for row in queries.stream(queries.report_select(year, scope, unit_level)):
        start = row.start_class or row.previous_class or NOT_CLASSIFIED
        if row.change_type in GONE:
            end = None
        elif row.end_class is not None:
            end = row.end_class
        else:
            end = start
        indicators = decode_indicators(row.indicators) if row.end_class is not None else {}
        yield reports.ReportRow(
            unit_code=row.unit_code, unit_name=row.unit_name or row.unit_code, urban=bool(row.urban),
            start_class=start, end_class=end, fell_back=row.change_type == "fell_back",
            deprived=frozenset(i for i, status in indicators.items() if status == DEPRIVED))


def report_template(template_id: str) -> reports.ReportTemplate:
    """A bundled template by id, or ``all``: every bundled template's sheets in one workbook."""
    templates = reports.bundled_templates()
    if template_id == ALL_TEMPLATES:
        chosen = [templates[key] for key in sorted(templates)]
        return reports.ReportTemplate(id=ALL_TEMPLATES, version="+".join(t.version for t in chosen),
                                      modelled=any(t.modelled for t in chosen),
                                      notice=next((t.notice for t in chosen if t.notice), None),
                                      sheets=tuple(sheet for t in chosen for sheet in t.sheets))
    if template_id not in templates:
        raise Problem("not_found", what=f"mẫu báo cáo / report template {template_id}")
    return templates[template_id]


def summary_report(year: int, unit: str | None, *, template_id: str = DEFAULT_TEMPLATE,
                   by: Actor | None = None) -> SummaryReport:
    """The campaign year's summary of ``unit`` (province or area: by commune; commune: by village)."""
    template = report_template(template_id)
    scope = _scope(unit)
    refresh()
    unit_level, units = queries.units_for_report(scope)
    counted = [0]

    def rows() -> Iterator[reports.ReportRow]:
        for row in report_rows(year, scope, unit_level):
            counted[0] += 1
            yield row

    label = scope.name or "Toàn tỉnh / whole province"
    table = reports.compute_report(template, rows(), context={"year": year, "scope": label},
                                   units=units)
    unplaced = queries.households_outside_units()
    audit("exports.report", by, "campaign", year,
          {"template": template_id, "unit": unit, "households": counted[0], "unplaced": unplaced})
    return SummaryReport(table, counted[0], unplaced)


def write_summary(report: SummaryReport, out: IO[bytes] | Path, lang: str = "vi") -> None:
    reports.write_report_xlsx(report.table, out, lang)


def report_json(report: SummaryReport, lang: str = "vi") -> str:
    return json.dumps(report.table.to_dict(lang), ensure_ascii=False)


__all__ = ["FORMATS", "RegistryExport", "SummaryReport", "copy_sql", "export_registry", "household_data",
           "parse_since", "registry", "summary_report", "write_summary"]
