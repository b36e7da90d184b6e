"""Registry export benchmark: synthetic households → registry rows → CSV through the real writers.

    .venv/bin/python bench/export.py                        # 1,000,000 households to a temp file
    .venv/bin/python bench/export.py --households 100000    # quicker
    .venv/bin/python bench/export.py --out /tmp/registry.csv

Households are generated lazily (never held in a list), with 1–6 members, Vietnamese names, a
location in one of 99 communes × 30 villages, 12 indicator statuses and a year's history, so the
pipeline sees the same shapes as a province-wide export; each row is a new dict with its own id,
record_id and changed_at, its other fields drawn from a pool of 4,096 generated households
(``--generate-only`` times the generator by itself). Peak RSS is the process's maximum resident
set (resource.getrusage), imports included. Targets: < 30 s and < 300 MB. Prints figures only,
with a calibration of the machine's current Python speed: the machine is shared, and the same
calibration was seen to vary from 0.8 to 1.7 µs within minutes, so compare runs by it.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.exports.registry import (  # noqa: E402
    CHANGE_TYPES,
    INDICATOR_IDS,
    REGISTRY_COLUMNS,
    HouseholdData,
    MemberData,
    registry_row,
)
from server.exports.writers import csv_chunks  # noqa: E402
from server.standards.classify import CLASSES  # noqa: E402
from server.standards.indicators import STATUSES  # noqa: E402

SURNAMES = ("Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Ngô", "Bùi", "Đặng",
            "Dương", "Thân", "Giáp", "Đào", "Trịnh", "Nghiêm")
MIDDLE = {"M": ("Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Đình"), "F": ("Thị", "Thị", "Thu", "Ngọc", "Thanh")}
GIVEN = {"M": ("Hùng", "Nam", "Dũng", "Tuấn", "Long", "Cường", "Hải", "Sơn", "Thắng", "Toàn"),
         "F": ("Lan", "Hoa", "Hương", "Mai", "Hằng", "Thủy", "Hà", "Linh", "Nga", "Phương")}
RELATIONS = ("spouse", "child", "child", "child", "parent", "grandchild")
COMMUNES = 99
VILLAGES_PER_COMMUNE = 30
PROVINCE_CODE = "24"
START = datetime(2025, 9, 1, tzinfo=UTC)


def _name(rng: random.Random, gender: str) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[gender])} {rng.choice(GIVEN[gender])}"


def _indicator_sets(rng: random.Random, count: int) -> list[dict[str, str]]:
    # A pool shared by many households: the writer only reads them, and building 12-entry dicts per
    # household would measure the generator rather than the export.
    weights = (0.15, 0.75, 0.07, 0.03)
    return [{i: rng.choices(STATUSES, weights)[0] for i in INDICATOR_IDS} for _ in range(count)]


def _household(rng: random.Random, indicator_pool: list[dict[str, str]]) -> dict[str, object]:
    """Everything but the identity fields, which :func:`synthetic_households` sets per row."""
    commune = rng.randrange(COMMUNES)
    village = rng.randrange(VILLAGES_PER_COMMUNE)
    gender = "M" if rng.random() < 0.8 else "F"
    birth_year = rng.randrange(1935, 2002)
    klass = rng.choices(CLASSES, (0.01, 0.014, 0.01, 0.966))[0]
    members: list[MemberData] = [
        {"full_name": _name(rng, g), "birth_year": rng.randrange(1930, 2025), "gender": g,
         "relation": rng.choice(RELATIONS)}
        for g in rng.choices(("M", "F"), k=rng.randrange(0, 6))
    ]
    return {
        "head_name": _name(rng, gender),
        "birth_year": birth_year,
        "gender": gender,
        "national_id": f"0{rng.choice(('27', '24'))}{0 if gender == 'M' else 1}{birth_year % 100:02d}"
                       f"{rng.randrange(1_000_000):06d}" if rng.random() < 0.9 else None,
        "phone": f"09{rng.randrange(100_000_000):08d}" if rng.random() < 0.7 else None,
        "village_code": f"{PROVINCE_CODE}{commune:03d}{village:02d}",
        "commune_code": f"{PROVINCE_CODE}{commune:03d}",
        "urban": commune % 3 == 0,
        "address": f"Thôn {village + 1}, xã {commune + 1}",
        "lat": round(21.0 + rng.random() * 0.5, 6),
        "lon": round(105.9 + rng.random() * 0.6, 6),
        "members": members,
        "campaign_year": 2025,
        "household_class": klass,
        "national_class": klass,
        "indicators": rng.choice(indicator_pool),
        "income_per_person_month": rng.randrange(800_000, 6_000_000, 10_000),
        "b1_score": rng.randrange(80, 200) if rng.random() < 0.5 else None,
        "review_state": "decided",
        "decision_number": f"{rng.randrange(1, 999)}/QĐ-UBND",
        "decision_date": date(2025, 12, rng.randrange(1, 20)),
        "start_class": klass,
        "end_class": klass,
        "change_type": rng.choice(CHANGE_TYPES),
    }


def synthetic_households(count: int, seed: int = 2025, pool_size: int = 4096) -> Iterator[HouseholdData]:
    """``count`` households, one new dict at a time, with unique id, record_id and changed_at.

    The other fields come from a pool of ``pool_size`` generated households: drawing a dozen random
    numbers per row would make this loop, not the export, the thing being measured, and the
    writers' cost depends on the cells' types and lengths, not on names repeating.
    """
    rng = random.Random(seed)
    indicator_pool = _indicator_sets(rng, 512)
    pool = [_household(rng, indicator_pool) for _ in range(min(pool_size, count))]
    step = timedelta(microseconds=7919)
    changed_at = START
    for number in range(1, count + 1):
        changed_at += step
        yield {**pool[number % len(pool)], "id": number, "record_id": f"BN{number:08d}",  # type: ignore[misc]
               "changed_at": changed_at}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="CSV path (default: a temporary file, deleted afterwards)")
    parser.add_argument("--generate-only", action="store_true", help="time the generator alone, no export")
    args = parser.parse_args()
    if args.generate_only:
        started = time.perf_counter()
        for _ in synthetic_households(args.households):
            pass
        print(f"generator alone: {time.perf_counter() - started:.1f} s for {args.households:,} households")
        return

    target = args.out or Path(tempfile.mkstemp(prefix="registry-", suffix=".csv")[1])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    cpu_started = time.process_time()
    size = 0
    try:
        with target.open("wb") as out:
            for chunk in csv_chunks(REGISTRY_COLUMNS, map(registry_row, synthetic_households(args.households))):
                out.write(chunk)
                size += len(chunk)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    finally:
        if args.out is None:
            os.unlink(target)
    print(f"households: {args.households:,}")
    print(f"csv: {size / 1e6:,.1f} MB, {len(REGISTRY_COLUMNS)} columns")
    print(f"wall: {wall:.1f} s (target < 30 s); cpu: {cpu:.1f} s; {args.households / wall:,.0f} households/s")
    print(f"peak RSS: {peak_mb:.0f} MB (target < 300 MB); before the export: {rss_before / 1024:.0f} MB")
    print(f"calibration: sum(range(100)) takes {_calibration_ns():.0f} ns now; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _calibration_ns() -> float:
    return min(timeit.repeat("sum(range(100))", number=20_000, repeat=5)) / 20_000 * 1e9


if __name__ == "__main__":
    main()
