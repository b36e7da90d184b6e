"""The registry: import/export, matching submissions to households, the duplicate queue, geolocation.
Never commits."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update

from server.accounts.models import Actor
from server.accounts.services import audit
from server.collect.models import Submission, SubmissionDef
from server.errors import Problem
from server.exports.registry import OWN_COLUMNS as EXPORT_OWN_COLUMNS
from server.exports.writers import neutralise_text, unneutralise
from server.extensions import db
from server.geo.geojson import BoundaryError, parse_boundaries
from server.geo.locate import BoundaryIndex, parse_geopoint
from server.households import queries
from server.households.identity import nfc
from server.households.linking import FIELDS, MEMBER_SEPARATOR
from server.households.matching import (
    Decision,
    HouseholdRecord,
    Link,
    NameFrequencies,
    blocking_keys,
    decide,
    prepare,
    probe_keys,
    score_pair,
)
from server.households.models import Boundary, DuplicatePair, Household, HouseholdYear
from server.timeutil import utcnow
from server.units import queries as unit_queries

Progress = Callable[[int], None]


# --- records ---------------------------------------------------------------------------------------

def record_of(household: Household) -> HouseholdRecord:
    return HouseholdRecord(record_id=str(household.id), head_name=household.head_name,
                           birth_year=household.birth_year, gender=household.gender,
                           national_id=household.national_id, phone=household.phone,
                           village_code=household.village_code, address=household.address,
                           lat=household.lat, lon=household.lon,
                           member_names=tuple(household.member_names or ()))


def record_from_answers(record_id: str, answers: dict[str, Any]) -> HouseholdRecord | None:
    """The identity part of a survey (forms/FIELDS.md); None when there is no head name."""
    fields = answers.get("fields", {})
    members = answers.get("repeats", {}).get("member", [])
    head_name = nfc(fields.get("head_name") or "")
    if not head_name:
        return None
    head = next((m for m in members if m.get("m_relation") == "head"), members[0] if members else {})
    others = [nfc(m.get("m_name", "")) for m in members if m is not head and m.get("m_name")]
    point = parse_geopoint(fields.get("gps"))
    birth_year = head.get("m_birth_year")
    return HouseholdRecord(
        record_id=record_id, head_name=head_name,
        birth_year=int(birth_year) if birth_year and birth_year.isdigit() else None,
        gender={"male": "M", "female": "F"}.get(head.get("m_sex", "")),
        national_id=fields.get("head_national_id") or head.get("m_national_id") or None,
        phone=fields.get("phone") or None, village_code=fields.get("village") or None,
        address=nfc(fields.get("address") or "") or None,
        lat=point.lat if point else None, lon=point.lon if point else None, member_names=tuple(others))


def _apply(household: Household, record: HouseholdRecord) -> bool:
    """Copy a record's identity onto a household; True when anything changed."""
    values = {"head_name": record.head_name, "birth_year": record.birth_year, "gender": record.gender,
              "national_id": record.national_id, "phone": record.phone, "village_code": record.village_code,
              "address": record.address, "lat": record.lat, "lon": record.lon,
              "member_names": list(record.member_names)}
    changed = any(getattr(household, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(household, key, value)
    return changed


# --- import / export ---------------------------------------------------------------------------------

@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def _row_record(row: dict[str, str]) -> HouseholdRecord:
    def number(name: str, kind: type) -> Any:
        text = (row.get(name) or "").strip()
        if not text:
            return None
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"{name}: không phải số / not a number: {text!r}") from None

    for name, value in row.items():
        if isinstance(value, str) and "\x00" in value:  # no database column can hold NUL
            raise ValueError(f"{name}: có ký tự NUL / contains a NUL character")
    code = (row.get("record_id") or "").strip()
    if not code:
        raise ValueError("record_id trống / empty record_id")
    head = nfc(row.get("head_name") or "").strip()
    if not head:
        raise ValueError("head_name trống / empty head_name")
    gender = (row.get("gender") or "").strip().upper() or None
    if gender not in (None, "M", "F"):
        raise ValueError(f"gender phải là M/F / must be M or F: {gender!r}")
    lat, lon = number("lat", float), number("lon", float)
    if (lat is None) != (lon is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        raise ValueError("toạ độ không hợp lệ / invalid lat/lon")
    birth_year = number("birth_year", int)
    if birth_year is not None and not 1850 <= birth_year <= 2200:
        raise ValueError(f"birth_year ngoài khoảng / out of range: {birth_year}")
    for name, text in (("record_id", code), ("head_name", head), *((n, row.get(n)) for n in _LIMITED)):
        limit = _WIDTH[name]
        if text and len(text.strip()) > limit:
            raise ValueError(f"{name} dài quá {limit} ký tự / longer than {limit} characters")
    return HouseholdRecord(
        record_id=code, head_name=head, birth_year=birth_year, gender=gender,
        national_id=(row.get("national_id") or "").strip() or None, phone=(row.get("phone") or "").strip() or None,
        village_code=(row.get("village_code") or "").strip() or None,
        address=nfc(row.get("address") or "").strip() or None, lat=lat, lon=lon,
        member_names=tuple(nfc(n).strip() for n in (row.get("member_names") or "").split(MEMBER_SEPARATOR)
                           if n.strip()))


# The registry columns' widths (households table): a longer cell is a rejected row, not a database error.
_LIMITED = ("national_id", "phone", "village_code")
_WIDTH = {"record_id": Household.__table__.c.code.type.length,
          **{name: Household.__table__.c[name].type.length for name in ("head_name", *_LIMITED)}}


def import_registry(lines: Iterable[str], progress: Progress | None = None, by: Actor | None = None) -> ImportReport:
    """Insert or update households by ``record_id``; importing the same file twice changes nothing.

    Cells written by our exports come back as they were: the quote that neutralised a formula-like
    cell (server/exports/writers.py) is dropped. A file the csv reader cannot read on (a field past its
    size limit) is refused whole, naming the line."""
    try:
        return _import_rows(csv.DictReader(lines), progress, by)
    except csv.Error as error:
        raise Problem("invalid_input", detail=f"CSV hỏng / broken CSV: {error}") from error


def _import_rows(reader: csv.DictReader, progress: Progress | None, by: Actor | None) -> ImportReport:
    if reader.fieldnames:
        reader.fieldnames = [unneutralise(name) for name in reader.fieldnames]
    missing = set(FIELDS) - set(reader.fieldnames or ())
    if missing:
        raise Problem("invalid_input", detail=f"thiếu cột / missing columns: {', '.join(sorted(missing))}")
    # The registry export's own columns (class, indicators, history) are results, not province data:
    # re-importing an export must not turn them into province columns.
    extra_columns = [c for c in reader.fieldnames or () if c not in FIELDS and c not in EXPORT_OWN_COLUMNS]
    report = ImportReport()
    for row in reader:
        row = {name: unneutralise(value) if isinstance(value, str) else value for name, value in row.items()}
        try:
            record = _row_record(row)
        except ValueError as error:
            report.rejected.append((reader.line_num, str(error)))
            continue
        extra = {c: row[c] for c in extra_columns if row.get(c)} or None
        household = queries.household_by_code(record.record_id)
        if household is None:
            household = Household(code=record.record_id, extra=extra)
            _apply(household, record)
            db.session.add(household)
            db.session.flush()
            report.inserted += 1
        elif _apply(household, record) or household.extra != extra:
            household.extra = extra
            household.updated_at = utcnow()
            report.updated += 1
        else:
            report.unchanged += 1
            if progress:
                progress(1)
            continue
        queries.replace_keys(household.id, blocking_keys(record))
        if progress:
            progress(1)
    audit("registry.import", by, "registry", None,
          {"inserted": report.inserted, "updated": report.updated, "rejected": len(report.rejected)})
    return report


def export_registry(by: Actor | None = None, details: dict | None = None) -> Iterator[str]:
    """The registry as CSV text chunks, in the import format (+ the province's columns); the export is
    audited with ``details`` (who ran it, where it went)."""
    audit("registry.export", by, "registry", None, {"units": "*", "filters": {}, **(details or {})})
    # The province's own columns are whatever its files had: one pass to learn them, one to write.
    extra_columns = sorted({key for extra in queries.all_extras() for key in (extra or {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise_text(name) for name in (*FIELDS, *extra_columns)])
    for household in queries.all_households():
        extra = household.extra or {}
        cells = [household.code, household.head_name, _cell(household.birth_year), _cell(household.gender),
                 _cell(household.national_id), _cell(household.phone), _cell(household.village_code),
                 _cell(household.address), _cell(household.lat), _cell(household.lon),
                 MEMBER_SEPARATOR.join(household.member_names or ()), *(_cell(extra.get(c)) for c in extra_columns)]
        writer.writerow([neutralise_text(cell) for cell in cells])  # no cell runs as a spreadsheet formula
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def import_file(path: Path, progress: Progress | None = None) -> ImportReport:
    with path.open("rb") as handle:
        return import_registry(_utf8_lines(handle), progress)


def _utf8_lines(handle: Iterable[bytes]) -> Iterator[str]:
    """The file's lines as text; a byte-order mark (even repeated) is dropped, and a line that is not
    UTF-8 (a file saved as ANSI or UTF-16) stops the import naming the line, before anything is kept."""
    for number, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Problem("invalid_input", detail=f"dòng {number} không phải UTF-8, hãy lưu tệp dạng CSV UTF-8 / "
                                                  f"line {number} is not UTF-8 (byte {error.start + 1}); "
                                                  "save the file as CSV UTF-8") from error
        yield line.lstrip("\ufeff") if number == 1 else line


# --- matching at ingest ------------------------------------------------------------------------------

_PRIOR_FREQUENCIES = NameFrequencies()


def match_submission(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The ingest stage: link the review to its registry household, queue doubtful pairs, or start a
    new (provisional) household that later submissions can match — two enumerators' copies included."""
    record = record_from_answers(f"submission:{submission.id}", answers)
    if record is None:
        return
    excluded = queries.rejected_pairs(submission.id) | ({submission.household_id} if submission.household_id else set())
    links = find_links(record, excluded)
    submission.match = {"decision": links[0].decision.value if links else Decision.NEW.value,
                        "candidates": [{"household_id": int(link.other_id), "score": round(link.score.total, 2),
                                        "decision": link.decision.value} for link in links[:5]]}
    if links and links[0].decision is Decision.MATCH:
        submission.household_id = int(links[0].other_id)
        return
    if submission.household_id is None:
        household = Household(code=f"S{submission.id:09d}", source="submission")
        _apply(household, record)
        db.session.add(household)
        db.session.flush()
        queries.replace_keys(household.id, blocking_keys(record))
        submission.household_id = household.id
    for link in links:
        db.session.add(DuplicatePair(submission_id=submission.id, household_id=int(link.other_id),
                                     village_code=submission.village_code, score=round(link.score.total, 2),
                                     reasons=[c.reason("vi") for c in link.score.contributions]))


def find_links(record: HouseholdRecord, excluded: set[int] = frozenset()) -> list[Link]:  # type: ignore[assignment]
    """Registry candidates for one household, scored and decided (one indexed query)."""
    incoming = prepare(record)
    pool = [h for h in queries.candidates(probe_keys(incoming)) if h.id not in excluded]
    scored = [(str(h.id), score_pair(incoming, prepare(record_of(h)), _PRIOR_FREQUENCIES)) for h in pool]
    return decide(record.record_id, scored)


DECISION_WORDS = {"same": ("cùng một hộ", "same household"), "not_same": ("khác hộ", "different households")}


def decide_pair(pair: DuplicatePair, decision: str, by: Actor | None) -> DuplicatePair:
    """`same`: the submission belongs to the registry household (its provisional household, if any, is
    merged into it with its history); `not_same`: remembered, never proposed again."""
    if decision not in ("same", "not_same"):
        raise Problem("invalid_input", detail="decision: same | not_same")
    # Compare-and-set: two people deciding the same pair at once cannot both succeed.
    moved = db.session.execute(update(DuplicatePair).where(DuplicatePair.id == pair.id, DuplicatePair.status == "open")
                               .values(status=decision, decided_by=by.id if by else None, decided_at=utcnow()))
    if moved.rowcount != 1:
        db.session.refresh(pair)
        raise Problem("duplicate_decided", decision_vi=DECISION_WORDS.get(pair.status, ("?", "?"))[0],
                      decision_en=DECISION_WORDS.get(pair.status, ("?", "?"))[1])
    db.session.refresh(pair)
    if decision == "same":
        submission = db.session.get(Submission, pair.submission_id)
        provisional = queries.household(submission.household_id) if submission.household_id else None
        if provisional is not None and provisional.source == "submission" and provisional.id != pair.household_id:
            merge(provisional, queries.household(pair.household_id), by)
        submission.household_id = pair.household_id
    audit("duplicate.decide", by, "duplicate_pair", pair.id,
          {"decision": decision, "submission": pair.submission_id, "household": pair.household_id})
    return pair


def merge(source: Household, target: Household, by: Actor | None) -> None:
    """Fold ``source`` into ``target``: submissions and history move, the source row stays as a pointer."""
    for submission in db.session.query(Submission).filter(Submission.household_id == source.id):
        submission.household_id = target.id
    target_years = {y.year for y in db.session.query(HouseholdYear).filter(HouseholdYear.household_id == target.id)}
    for year in db.session.query(HouseholdYear).filter(HouseholdYear.household_id == source.id):
        if year.year not in target_years:
            year.household_id = target.id
    source.merged_into_id = target.id
    queries.replace_keys(source.id, [])
    audit("household.merge", by, "household", target.id, {"merged": source.id})


# --- geolocation ---------------------------------------------------------------------------------------

_INDEX: dict[str, Any] = {}


def load_boundaries(doc: dict[str, Any], by: Actor | None = None) -> int:
    """Replace the boundaries with a validated GeoJSON FeatureCollection; returns the feature count."""
    try:
        features = parse_boundaries(doc)
    except BoundaryError as error:
        raise Problem("invalid_input", detail=str(error)) from error
    db.session.query(Boundary).delete()
    raw = {f.get("properties", {}).get("code"): f for f in doc.get("features", [])}
    for feature in features:
        geometry = raw[feature.code]["geometry"]  # validated; only its two members are kept (no stray keys)
        db.session.add(Boundary(code=feature.code, level=feature.level, name=feature.name,
                                parent_code=feature.parent_code,
                                geometry={"type": geometry["type"], "coordinates": geometry["coordinates"]}))
    db.session.flush()
    audit("geo.boundaries.load", by, "boundaries", None, {"features": len(features)})
    return len(features)


def boundary_index() -> BoundaryIndex | None:
    """The loaded boundaries as an index, rebuilt only when they change. Communes without a polygon
    take part by their centroid (from the administrative-units package), flagged when used."""
    stamp = queries.geo_stamp()
    if stamp[0] == 0 and stamp[2] == 0:
        return None
    if _INDEX.get("stamp") != stamp:
        features = [_feature(b.code, b.name, b.level, b.parent_code, b.geometry) for b in queries.boundaries()]
        with_polygon = {f["properties"]["code"] for f in features}
        features += [_feature(u.code, u.name, "commune", u.parent_code,
                              {"type": "Point", "coordinates": [u.lon, u.lat]})
                     for u in unit_queries.units_at("commune")
                     if u.code not in with_polygon and u.lat is not None and u.lon is not None]
        _INDEX["index"] = BoundaryIndex.from_geojson({"type": "FeatureCollection", "features": features}) \
            if features else None
        _INDEX["stamp"] = stamp
    return _INDEX["index"]


def _feature(code: str, name: str, level: str, parent_code: str | None, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"code": code, "name": name, "level": level, "parent_code": parent_code}}


def locate_submission(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The ingest stage: place the GPS point; the declared village is kept, mismatches are flagged."""
    fields = answers.get("fields", {})
    if "gps" not in fields:
        return
    point = parse_geopoint(fields.get("gps"))
    index = boundary_index()
    if index is None:
        submission.geo = {"flags": ["no_gps"] if point is None else [], "village_code": None,
                          "commune_code": None, "distance_to_declared_m": None, "boundaries": False}
        return
    located = index.locate(point.lat if point else None, point.lon if point else None,
                           point.accuracy if point else None, fields.get("village") or None)
    submission.geo = {"village_code": located.village_code, "commune_code": located.commune_code,
                      "flags": list(located.flags), "boundaries": True,
                      "distance_to_declared_m": None if located.distance_to_declared_m is None
                      else round(located.distance_to_declared_m, 1)}
