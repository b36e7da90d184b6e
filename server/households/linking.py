"""CSV in and out for ``flask households link REGISTRY.csv INCOMING.csv --out PAIRS.csv``.

Input columns: ``record_id,head_name,birth_year,gender,national_id,phone,village_code,address,lat,lon,
member_names`` (empty cell = unknown; ``member_names`` holds the other members' full names joined by
``|``). Output columns: ``incoming_id,registry_id,score,decision`` with ``decision`` ``match`` or
``review``; submissions without a candidate are left out.

The incoming batch (tens of thousands) is held in memory and indexed by its probe keys; the registry
(up to a province's million households) is streamed through once, share by share of the file, so
memory grows with the batch, not with the registry. Most registry rows are no submission's
candidate: their blocking keys are computed straight from the cells, and only the rows whose keys
meet the batch's are read in full and scored.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import math
import mmap
import multiprocessing
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from server.households.identity import nfc, normalize_phone, parse_name, parse_national_id
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
    decide,
    find_batch_duplicates,
    grid_cell,
    household_keys,
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


class _CellError(ValueError):
    """A cell that cannot be read; ``_format_error`` adds the file and line."""


# --- Rows ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Columns:
    """Where each field is in the rows of one file."""

    record_id: int
    head_name: int
    birth_year: int
    gender: int
    national_id: int
    phone: int
    village_code: int
    address: int
    lat: int
    lon: int
    member_names: int

    @classmethod
    def of(cls, header: list[str], path: Path) -> _Columns:
        missing = set(FIELDS) - set(header)
        if missing:
            raise CsvFormatError(f"{path}: missing columns {', '.join(sorted(missing))}")
        return cls(*(header.index(name) for name in FIELDS))


def _read_columns(path: Path) -> _Columns:
    with closing(_streamed_rows(path)) as rows:
        return _Columns.of(next(rows, []), path)


def _line_ends(text: bytes) -> int:
    """Line ends as a CSV reader counts them (``\\n``, ``\\r`` and ``\\r\\n``)."""
    return text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")


def _format_error(path: Path, start: int, row: int, error: _CellError) -> CsvFormatError:
    """``error`` of the ``row``-th row (from 0) read from byte ``start`` on, with the file and the line
    where that row ends; found again only now, so that reading needs no line count."""
    with path.open("rb") as f:
        lines = _line_ends(f.read(start))
        reader = csv.reader(io.TextIOWrapper(f, encoding="utf-8-sig" if start == 0 else "utf-8", newline=""))
        for _ in range(row + 1):
            next(reader)
    return CsvFormatError(f"{path}:{lines + reader.line_num}: {error}")


def _number(text: str, convert: type[int] | type[float]) -> int | float | None:
    if not text.strip():
        return None
    try:
        return convert(text)
    except ValueError:
        raise _CellError(f"not a number: {text!r}") from None


def _checked(row: list[str], c: _Columns) -> tuple[str | None, int | None, float | None, float | None]:
    """Gender, birth year, latitude and longitude of a row, checked in that order."""
    gender = row[c.gender].strip().upper() or None
    if gender not in (None, "M", "F"):
        raise _CellError(f"gender must be M, F or empty, not {row[c.gender]!r}")
    return (gender, _number(row[c.birth_year], int), _number(row[c.lat], float),  # type: ignore[return-value]
            _number(row[c.lon], float))


def _optional(text: str) -> str | None:
    return text.strip() or None


# Names repeat across a province (a few hundred thousand distinct spellings among millions of
# persons), so each distinct cell is normalised once.
_nfc_name = lru_cache(maxsize=1 << 20)(nfc)


def _record(row: list[str], c: _Columns) -> HouseholdRecord:
    """The household of one CSV row, strings in NFC."""
    gender, birth_year, lat, lon = _checked(row, c)
    members = row[c.member_names]
    return HouseholdRecord(
        record_id=row[c.record_id].strip(),
        head_name=_nfc_name(row[c.head_name]),
        birth_year=birth_year,
        gender=gender,
        national_id=_optional(row[c.national_id]),
        phone=_optional(row[c.phone]),
        village_code=_optional(row[c.village_code]),
        address=nfc(row[c.address]) or None,
        lat=lat,
        lon=lon,
        member_names=tuple(_nfc_name(n) for n in members.split(MEMBER_SEPARATOR) if n.strip()) if members else (),
    )


def _row_keys(row: list[str], c: _Columns) -> set[str]:
    """``blocking_keys(prepare(_record(row, c)))`` from the cells alone: only the parts that the keys
    are made of, but checked as ``_record`` checks them, so a bad row fails either way."""
    _, birth_year, lat, lon = _checked(row, c)
    # Names are parsed from their folded form, the same for a cell and its NFC form; a blank member
    # cell parses to None like a name without letters, so blanks need not be dropped first.
    head = parse_name(row[c.head_name])
    members = map(parse_name, row[c.member_names].split(MEMBER_SEPARATOR))
    cell = grid_cell(lat, lon)
    return household_keys(
        _optional(row[c.village_code]) or "",
        filter(None, (head, *members)),
        head,
        birth_year,
        parse_national_id(_optional(row[c.national_id])),
        normalize_phone(_optional(row[c.phone])),
        (cell,) if cell is not None else (),
    )


def read_records(path: Path) -> Iterator[HouseholdRecord]:
    """Household records from a CSV, one at a time, strings in NFC."""
    rows = _streamed_rows(path)
    columns = _Columns.of(next(rows, []), path)
    for number, row in enumerate(rows, start=1):  # the header is row 0
        try:
            record = _record(row, columns)
        except _CellError as error:
            raise _format_error(path, 0, number, error) from None
        yield record


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


# --- Shares of the registry file -----------------------------------------------------------------

@dataclass(frozen=True)
class _Share:
    """A run of whole rows of the registry file: bytes ``start`` to ``end``."""

    start: int
    end: int
    last: bool  # ends with the file


# Shares of about this size keep a worker's memory small and the workers evenly loaded.
SHARE_BYTES = 4 << 20


def _row_ends(data: mmap.mmap, count: int) -> list[int]:
    """About ``count`` evenly spaced offsets just after a line end with an even number of quote
    characters before it, which is a row end in any well-formed CSV; the last is the end of the data."""
    size = len(data)
    ends = []
    position = quotes = 0  # quote characters in data[:position]
    for k in range(1, count):
        newline = data.find(b"\n", max(position, size * k // count))
        while newline >= 0:
            quotes += data[position:newline].count(b'"')
            position = newline + 1
            if quotes % 2 == 0:
                break
            newline = data.find(b"\n", position)
        if newline < 0 or position == size:
            break
        ends.append(position)
    return [*ends, size]


def _split(path: Path, workers: int) -> list[_Share]:
    """The registry in shares of whole rows, a multiple of ``workers`` of them."""
    size = path.stat().st_size
    count = workers * max(1, math.ceil(size / (workers * SHARE_BYTES)))
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        ends = _row_ends(data, count)
    return [_Share(start, end, end == size) for start, end in zip([0, *ends[:-1]], ends, strict=True)]


def _whole(path: Path) -> _Share:
    return _Share(0, path.stat().st_size, last=True)


def _read_share(path: Path, share: _Share) -> list[list[str]]:
    """The rows of ``share`` (the header too, in the first share)."""
    with path.open("rb") as f:
        f.seek(share.start)
        text = f.read(share.end - share.start).decode("utf-8-sig" if share.start == 0 else "utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def _streamed_rows(path: Path) -> Generator[list[str], None, None]:
    """Every row of the file (the header too), one at a time: a whole registry is never held."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        yield from csv.reader(f)


def _ends_inside_quotes(rows: list[list[str]]) -> bool:
    """Whether the text of ``rows`` ended inside a quoted cell: its line end then went into the cell.
    (A last cell that is quoted and ends with a line break looks the same: such a registry is then
    merely scanned again in one piece.)"""
    return bool(rows) and bool(rows[-1]) and rows[-1][-1].endswith("\n")


# --- Linking ---------------------------------------------------------------------------------------

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
    thresholds: Thresholds


def _load_batch(path: Path, weights: Weights, thresholds: Thresholds, progress: Progress | None) -> _Batch:
    batch = _Batch(incoming=[], index=KeyIndex(), frequencies=NameFrequencies(), weights=weights,
                   thresholds=thresholds)
    for position, record in enumerate(read_records(path)):
        p = prepare(record)
        batch.incoming.append(p)
        batch.frequencies.add(p)
        batch.index.add(position, probe_keys(p))
        if progress and (position + 1) % PROGRESS_EVERY == 0:
            progress("incoming", position + 1)
    return batch


@dataclass
class _Scanned:
    rows: int
    # (submission, registry id, score total): the pairs file needs no more, and the comparisons of
    # each score would only add to what a worker pickles and the parent unpickles.
    found: list[tuple[int, str, float]]
    # The share's text ended inside a quoted cell: the split cut a row in two, and the share was left
    # unscanned (a quote character outside a quoted cell misleads the split).
    cut: bool = False


def _scan(batch: _Batch, path: Path, columns: _Columns, share: _Share, progress: Progress | None) -> _Scanned:
    """Scores the batch against one share of the registry (a share that is the whole file is streamed)."""
    rows: Iterable[list[str]]
    if share.start == 0 and share.last:
        rows = _streamed_rows(path)
    else:
        rows = _read_share(path, share)
        if not share.last and _ends_inside_quotes(rows):
            return _Scanned(0, [], cut=True)
    skip = 1 if share.start == 0 else 0  # the header
    found: list[tuple[int, str, float]] = []
    number = skip - 1
    try:
        for number, row in enumerate(itertools.islice(rows, skip, None), start=skip):
            _score_row(batch, row, columns, found)
            if progress and (number + 1 - skip) % PROGRESS_EVERY == 0:
                progress("registry", number + 1 - skip)
    except _CellError as error:
        raise _format_error(path, share.start, number, error) from None
    return _Scanned(number + 1 - skip, found)


def _score_row(batch: _Batch, row: list[str], columns: _Columns, found: list[tuple[int, str, float]]) -> None:
    """Adds the submissions that a registry row is a candidate for, and their scores worth a review,
    to ``found``. Few rows are anyone's candidate: only those are read in full."""
    positions = batch.index.lookup(_row_keys(row, columns))
    if not positions:
        return
    candidate = prepare(_record(row, columns))
    for i in positions:
        score = score_pair(batch.incoming[i], candidate, batch.frequencies, batch.weights)
        if score.total >= batch.thresholds.review:
            found.append((i, candidate.record.record_id, score.total))


def _duplicates(batch: _Batch) -> list[Link]:
    return list(find_batch_duplicates(batch.incoming, batch.frequencies, batch.weights, batch.thresholds,
                                      batch.index))


# What forked workers inherit: set only while a pool of them runs.
_FORKED: tuple[_Batch, Path, _Columns] | None = None


def _scan_forked(share: _Share) -> _Scanned:
    assert _FORKED is not None
    return _scan(*_FORKED, share, None)


def _duplicates_forked() -> list[Link]:
    assert _FORKED is not None
    return _duplicates(_FORKED[0])


def _in_parallel(batch: _Batch, path: Path, columns: _Columns, workers: int) -> tuple[list[_Scanned] | None,
                                                                                     list[Link]]:
    """The registry scanned share by share, and the batch's own duplicates found, by forked workers.
    The scan is None when a share was cut."""
    global _FORKED
    shares = _split(path, workers)
    _FORKED = (batch, path, columns)
    try:
        # Forked workers share the batch index without copying or pickling it.
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            duplicates = pool.apply_async(_duplicates_forked)
            scanned = _until_cut(pool.imap(_scan_forked, shares))
            return scanned, duplicates.get()
    finally:
        _FORKED = None


def _until_cut(results: Iterator[_Scanned]) -> list[_Scanned] | None:
    """The shares' results in file order; None at the first share that was cut. Taken in order, an
    error of a share is raised only when no share before it was cut, so that it started at a row:
    the error is then the file's first, as one scan of the whole file finds it."""
    scanned = []
    for result in results:
        if result.cut:
            return None
        scanned.append(result)
    return scanned


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
    ``workers`` > 1 the registry is scanned by that many forked processes, share by share of the
    file; the result is the same.
    """
    # Returning from ``_link`` frees the batch before the collector runs again.
    with _gc_paused():
        return _link(registry_path, incoming_path, out_path, progress, duplicates_path, workers, weights, thresholds)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Linking builds millions of small objects and no reference cycles: the cyclic garbage collector
    would only walk the growing heap again and again (and make forked workers copy its pages)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _link(registry_path: Path, incoming_path: Path, out_path: Path, progress: Progress | None,
          duplicates_path: Path | None, workers: int, weights: Weights, thresholds: Thresholds) -> LinkSummary:
    batch = _load_batch(incoming_path, weights, thresholds, progress)
    columns = _read_columns(registry_path)
    scanned, duplicates = _in_parallel(batch, registry_path, columns, workers) if workers > 1 else (None, None)
    if scanned is None:
        scanned = [_scan(batch, registry_path, columns, _whole(registry_path), None if workers > 1 else progress)]
    if duplicates is None:
        duplicates = _duplicates(batch)
    registry_count = sum(share.rows for share in scanned)
    if progress and workers > 1:
        progress("registry", registry_count)
    counts, pairs = _write_pairs(out_path, batch, scanned)
    if duplicates_path is not None:
        with duplicates_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(DUPLICATE_FIELDS)
            _write_links(writer, duplicates)
    if progress:
        progress("batch", len(batch.incoming))
    return LinkSummary(
        registry_records=registry_count,
        incoming_records=len(batch.incoming),
        matched=counts[Decision.MATCH],
        review=counts[Decision.REVIEW],
        new=counts[Decision.NEW],
        pairs_written=pairs,
        batch_duplicates=len(duplicates),
    )


def _write_pairs(path: Path, batch: _Batch, scanned: list[_Scanned]) -> tuple[dict[Decision, int], int]:
    """Writes each submission's decided candidates; returns the count of each best decision and of pairs."""
    candidates: list[list[tuple[str, Score]]] = [[] for _ in batch.incoming]
    for share in scanned:
        for i, registry_id, total in share.found:
            candidates[i].append((registry_id, Score(total, contributions=())))
    counts = {Decision.MATCH: 0, Decision.REVIEW: 0, Decision.NEW: 0}
    pairs = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PAIR_FIELDS)
        for p, scored in zip(batch.incoming, candidates, strict=True):
            links = decide(p.record.record_id, scored, batch.thresholds)
            counts[best_decision(links)] += 1
            pairs += _write_links(writer, links)
    return counts, pairs
