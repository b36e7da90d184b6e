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


def read_records(path: Path) -> Iterator[HouseholdRecord]:
    """Household records from a CSV, one at a time, strings in NFC."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        missing = set(FIELDS) - set(header)
        if missing:
            raise CsvFormatError(f"{path}: missing columns {', '.join(sorted(missing))}")
        (i_id, i_head, i_year, i_gender, i_nid, i_phone, i_village, i_address, i_lat, i_lon,
         i_members) = (header.index(name) for name in FIELDS)
        for row in reader:
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


def link_csv(
    registry_path: Path,
    incoming_path: Path,
    out_path: Path,
    progress: Progress | None = None,
    *,
    duplicates_path: Path | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> LinkSummary:
    """Links every submission of ``incoming_path`` against ``registry_path`` into ``out_path``.

    Within-batch duplicates (one household submitted twice) go to ``duplicates_path`` when given,
    as ``incoming_id,duplicate_of,score,decision`` (later row → earlier row). Name frequencies for the
    term-frequency weights come from the batch: it is a sample of the same population.
    """
    frequencies = NameFrequencies()
    incoming = []
    index = KeyIndex()
    for position, record in enumerate(read_records(incoming_path)):
        p = prepare(record)
        incoming.append(p)
        frequencies.add(p)
        index.add(position, probe_keys(p))
        if progress and (position + 1) % PROGRESS_EVERY == 0:
            progress("incoming", position + 1)

    candidates: list[list[tuple[str, Score]]] = [[] for _ in incoming]
    registry_count = 0
    for registry_count, record in enumerate(read_records(registry_path), start=1):
        hits = index.lookup(blocking_keys(record_p := prepare(record)))
        for i in hits:
            score = score_pair(incoming[i], record_p, frequencies, weights)
            if score.total >= thresholds.review:
                candidates[i].append((record.record_id, score))
        if progress and registry_count % PROGRESS_EVERY == 0:
            progress("registry", registry_count)

    counts = {Decision.MATCH: 0, Decision.REVIEW: 0, Decision.NEW: 0}
    pairs = 0
    with out_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PAIR_FIELDS)
        for p, scored in zip(incoming, candidates, strict=True):
            links = decide(p.record.record_id, scored, thresholds)
            counts[best_decision(links)] += 1
            pairs += _write_links(writer, links)

    duplicates = find_batch_duplicates(incoming, frequencies, weights, thresholds)
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
