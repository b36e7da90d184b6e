"""CSV in and out for ``flask households link REGISTRY.csv INCOMING.csv --out PAIRS.csv``.

Input columns: ``record_id,head_name,birth_year,gender,national_id,phone,village_code,address,lat,lon,
member_names`` (empty cell = unknown; ``member_names`` holds the other members' full names joined by
``|``). Output columns: ``incoming_id,registry_id,score,decision`` with ``decision`` ``match`` or
``review``; submissions without a candidate are left out.

The incoming batch (tens of thousands) is held in memory and indexed by its probe keys; the registry
(up to a province's million households) is streamed through once, row by row, so memory grows with
the batch, not with the registry.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from server.households.identity import nfc
from server.households.matching import (
    DEFAULT_THRESHOLDS,
    DEFAULT_WEIGHTS,
    Decision,
    HouseholdRecord,
    KeyIndex,
    Link,
    NameFrequencies,
    Prepared,
    Score,
    Thresholds,
    Weights,
    best_decision,
    blocking_keys,
    decide,
    find_batch_duplicates,
    prepare,
    probe_keys,
    score_pair,
)

FIELDS = ("record_id", "head_name", "birth_year", "gender", "national_id", "phone", "village_code", "address",
          "lat", "lon", "member_names")
PAIR_FIELDS = ("incoming_id", "registry_id", "score", "decision")
DUPLICATE_FIELDS = ("incoming_id", "duplicate_of", "score", "decision")
MEMBER_SEPARATOR = "|"
PROGRESS_EVERY = 10_000

# Called with a stage name ("incoming", "registry", "batch") and the rows done so far.
Progress = Callable[[str, int], None]


class CsvFormatError(ValueError):
    """A household CSV that cannot be read; the message names the file and line."""


def _number(text: str, convert: type[int] | type[float], where: str) -> int | float | None:
    if not text.strip():
        return None
    try:
        return convert(text)
    except ValueError:
        raise CsvFormatError(f"{where}: not a number: {text!r}") from None


def read_records(path: Path, part: int = 0, parts: int = 1) -> Iterator[HouseholdRecord]:
    """Household records from a CSV, one at a time, strings in NFC; with ``parts`` > 1 only every
    ``parts``-th row starting at row ``part`` (so that workers can share one file)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        missing = set(FIELDS) - set(header)
        if missing:
            raise CsvFormatError(f"{path}: missing columns {', '.join(sorted(missing))}")
        (i_id, i_head, i_year, i_gender, i_nid, i_phone, i_village, i_address, i_lat, i_lon,
         i_members) = (header.index(name) for name in FIELDS)
        for number, row in enumerate(reader):
            if number % parts != part:
                continue
            where = f"{path}:{reader.line_num}"
            gender = row[i_gender].strip().upper() or None
            if gender not in (None, "M", "F"):
                raise CsvFormatError(f"{where}: gender must be M, F or empty, not {row[i_gender]!r}")
            members = row[i_members]
            yield HouseholdRecord(
                record_id=row[i_id].strip(),
                head_name=nfc(row[i_head]),
                birth_year=_number(row[i_year], int, where),  # type: ignore[arg-type]
                gender=gender,
                national_id=row[i_nid].strip() or None,
                phone=row[i_phone].strip() or None,
                village_code=row[i_village].strip() or None,
                address=nfc(row[i_address]) or None,
                lat=_number(row[i_lat], float, where),
                lon=_number(row[i_lon], float, where),
                member_names=tuple(nfc(n) for n in members.split(MEMBER_SEPARATOR) if n.strip()) if members else (),
            )


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def write_records(path: Path, records: Iterable[HouseholdRecord]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for r in records:
            writer.writerow([r.record_id, r.head_name, _cell(r.birth_year), _cell(r.gender), _cell(r.national_id),
                             _cell(r.phone), _cell(r.village_code), _cell(r.address), _cell(r.lat), _cell(r.lon),
                             MEMBER_SEPARATOR.join(r.member_names)])


@dataclass(frozen=True)
class LinkSummary:
    registry_records: int
    incoming_records: int
    matched: int  # submissions linked automatically
    review: int  # submissions whose best candidate needs a person
    new: int  # submissions with no candidate
    pairs_written: int
    batch_duplicates: int  # within-batch pairs (match or review)


def _write_links(writer: csv.writer, links: Iterable[Link]) -> int:  # type: ignore[valid-type]
    count = 0
    for link in links:
        writer.writerow([link.incoming_id, link.other_id, f"{link.score.total:.2f}", link.decision.value])
        count += 1
    return count


@dataclass
class _Batch:
    """The submissions held in memory, indexed by their probe keys, that the registry streams past."""

    incoming: list[Prepared]
    index: KeyIndex
    frequencies: NameFrequencies
    weights: Weights
    review: float


def _scan(batch: _Batch, registry_path: Path, part: int, parts: int,
          progress: Progress | None) -> tuple[int, list[tuple[int, str, Score]]]:
    """Scores the batch against one share of the registry: (rows read, [(submission, registry id, score)])."""
    found = []
    rows = 0
    for rows, record in enumerate(read_records(registry_path, part, parts), start=1):
        p = prepare(record)
        for i in batch.index.lookup(blocking_keys(p)):
            score = score_pair(batch.incoming[i], p, batch.frequencies, batch.weights)
            if score.total >= batch.review:
                found.append((i, record.record_id, score))
        if progress and rows % PROGRESS_EVERY == 0:
            progress("registry", rows)
    return rows, found


# The batch as forked workers inherit it: set only while a pool of them runs.
_FORKED_BATCH: _Batch | None = None


def _scan_forked(registry_path: Path, part: int, parts: int) -> tuple[int, list[tuple[int, str, Score]]]:
    assert _FORKED_BATCH is not None
    return _scan(_FORKED_BATCH, registry_path, part, parts, None)


def _scan_in_parallel(batch: _Batch, registry_path: Path, workers: int) -> list[tuple[int, list]]:
    global _FORKED_BATCH
    _FORKED_BATCH = batch
    try:
        # Forked workers share the batch index without copying or pickling it.
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.starmap(_scan_forked, [(registry_path, part, workers) for part in range(workers)])
    finally:
        _FORKED_BATCH = None


DEFAULT_WORKERS = min(2, os.cpu_count() or 1)


def link_csv(
    registry_path: Path,
    incoming_path: Path,
    out_path: Path,
    progress: Progress | None = None,
    *,
    duplicates_path: Path | None = None,
    workers: int = DEFAULT_WORKERS,
    weights: Weights = DEFAULT_WEIGHTS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> LinkSummary:
    """Links every submission of ``incoming_path`` against ``registry_path`` into ``out_path``.

    Within-batch duplicates (one household submitted twice) go to ``duplicates_path`` when given,
    as ``incoming_id,duplicate_of,score,decision`` (later row → earlier row). Name frequencies for the
    term-frequency weights come from the batch: it is a sample of the same population. With
    ``workers`` > 1 the registry is scanned by that many forked processes, each taking every
    ``workers``-th row; the result is the same.
    """
    batch = _Batch(incoming=[], index=KeyIndex(), frequencies=NameFrequencies(), weights=weights,
                   review=thresholds.review)
    for position, record in enumerate(read_records(incoming_path)):
        p = prepare(record)
        batch.incoming.append(p)
        batch.frequencies.add(p)
        batch.index.add(position, probe_keys(p))
        if progress and (position + 1) % PROGRESS_EVERY == 0:
            progress("incoming", position + 1)
    incoming = batch.incoming

    if workers > 1:
        shares = _scan_in_parallel(batch, registry_path, workers)
    else:
        shares = [_scan(batch, registry_path, 0, 1, progress)]
    registry_count = sum(rows for rows, _ in shares)
    if progress and workers > 1:
        progress("registry", registry_count)
    candidates: list[list[tuple[str, Score]]] = [[] for _ in incoming]
    for _, found in shares:
        for i, registry_id, score in found:
            candidates[i].append((registry_id, score))

    counts = {Decision.MATCH: 0, Decision.REVIEW: 0, Decision.NEW: 0}
    pairs = 0
    with out_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PAIR_FIELDS)
        for p, scored in zip(incoming, candidates, strict=True):
            links = decide(p.record.record_id, scored, thresholds)
            counts[best_decision(links)] += 1
            pairs += _write_links(writer, links)

    duplicates = find_batch_duplicates(incoming, batch.frequencies, weights, thresholds)
    if duplicates_path is not None:
        with duplicates_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(DUPLICATE_FIELDS)
            batch_pairs = _write_links(writer, duplicates)
    else:
        batch_pairs = sum(1 for _ in duplicates)
    if progress:
        progress("batch", len(incoming))
    return LinkSummary(
        registry_records=registry_count,
        incoming_records=len(incoming),
        matched=counts[Decision.MATCH],
        review=counts[Decision.REVIEW],
        new=counts[Decision.NEW],
        pairs_written=pairs,
        batch_duplicates=batch_pairs,
    )
