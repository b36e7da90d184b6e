"""Registry export benchmark: the real `flask export registry` on PostgreSQL, and the pure writers alone.

    .venv/bin/python bench/export.py                          # 1,000,000 households seeded, then exported
    .venv/bin/python bench/export.py --households 100000      # quicker
    .venv/bin/python bench/export.py --small-communes 5       # XLSX / GeoJSON / Python-path CSV on ~5/99 of them
    .venv/bin/python bench/export.py --writer-only            # the old figure: synthetic dicts → registry_row → CSV

Database mode creates a fresh PostgreSQL database (bench/common.py), migrates it, and seeds it with SQL
(``INSERT … SELECT … FROM generate_series``): 99 communes × 30 villages, N households with 0–5 members, each
with a decided Phiếu B review of the campaign year — submission, current version, classification (a
realistic ~5.6 kB result JSON from a pool of 64 real ``classify`` results), review, decision event and the
year's history. Then it runs the command line itself (``flask export registry …`` as a child process) and
reports the child's wall time and peak RSS (``wait4`` rusage), plus the load average: the machine is shared.

Writer-only mode: households are generated lazily (never held in a list), with 1–6 members, Vietnamese names,
a location in one of 99 communes × 30 villages, 12 indicator statuses and a year's history; each row is a new
dict with its own id, record_id and changed_at, its other fields drawn from a pool of 4,096 generated
households. Targets (issue 7): 1,000,000 households in < 30 s and < 300 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.exports.registry import (  # noqa: E402
    CHANGE_TYPES,
    INDICATOR_IDS,
    REGISTRY_COLUMNS,
    HouseholdData,
    MemberData,
    encode_indicators,
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


def _writer_only(args: argparse.Namespace) -> None:
    if args.generate_only:
        started = time.perf_counter()
        for _ in synthetic_households(args.households):
            pass
        print(f"generator alone: {time.perf_counter() - started:.1f} s for {args.households:,} households")
        return
    target = Path(tempfile.mkstemp(prefix="registry-", suffix=".csv")[1])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    size = 0
    try:
        with target.open("wb") as out:
            for chunk in csv_chunks(REGISTRY_COLUMNS, map(registry_row, synthetic_households(args.households))):
                out.write(chunk)
                size += len(chunk)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    finally:
        os.unlink(target)
    print(f"writer only: {args.households:,} households, {size / 1e6:,.1f} MB CSV, wall {wall:.1f} s, "
          f"peak RSS {peak_mb:.0f} MB (before: {rss_before / 1024:.0f} MB)")


# --- database mode -------------------------------------------------------------------------------------------

YEAR = 2025
POOL = 64


def _result_pool() -> list[tuple[str, str, str | None, int | None]]:
    """(result JSON as SQLAlchemy stores it, class, the export's indicator letters, income) from real
    classifications."""
    import json

    from bench.common import classified_households

    pool = []
    for data in classified_households(POOL, YEAR):
        pool.append((json.dumps(data), data["class"] or "not_classified",
                     encode_indicators(data["national"]["indicators"]), data["national"]["income"]["value_vnd"]))
    return pool


def _arr(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join("'" + v + "'" for v in values) + "]"


def _seed(households: int) -> dict[str, object]:
    from sqlalchemy import text

    from server.extensions import db
    from server.units.services import UnitRecord, upsert_units

    started = time.perf_counter()
    units = [UnitRecord(PROVINCE_CODE, "province", "Tỉnh Bắc Ninh")]
    for c in range(COMMUNES):
        code = f"{PROVINCE_CODE}{c:03d}"
        units.append(UnitRecord(code, "commune", f"Xã {c + 1}", PROVINCE_CODE, "xã" if c % 3 else "phường", c % 3 == 0))
        units += [UnitRecord(f"{code}-{v:02d}", "village", f"Thôn {v + 1}", code) for v in range(VILLAGES_PER_COMMUNE)]
    upsert_units(units)
    units.clear()
    from bench.common import phieu_b_campaign

    form, form_def, campaign = phieu_b_campaign("Bench", YEAR)
    db.session.flush()
    db.session.execute(text("CREATE TEMP TABLE pool (n int PRIMARY KEY, result json, class text, letters text, "
                            "income bigint)"))
    db.session.execute(text("INSERT INTO pool VALUES (:n, CAST(:result AS json), :class, :letters, :income)"),
                       [{"n": n, "result": r, "class": k, "letters": letters, "income": income}
                        for n, (r, k, letters, income) in enumerate(_result_pool())])
    surnames, given = _arr(SURNAMES), _arr(GIVEN["M"] + GIVEN["F"])
    middle = _arr(MIDDLE["M"] + MIDDLE["F"])
    name = (f"({surnames})[1 + (g * {{a}}) % {len(SURNAMES)}] || ' ' || ({middle})[1 + (g * {{b}}) % 12] || ' ' || "
            f"({given})[1 + (g * {{c}}) % 20]")
    village = (f"'{PROVINCE_CODE}' || lpad(((g / 7) % {COMMUNES})::text, 3, '0') || '-' || "
               f"lpad((g % {VILLAGES_PER_COMMUNE})::text, 2, '0')")
    commune = f"'{PROVINCE_CODE}' || lpad(((g / 7) % {COMMUNES})::text, 3, '0')"
    at = "(timestamptz '2025-12-01 00:00:00+00' + g * interval '7919 microseconds')"
    ids = {"project": campaign.project_id, "form": form.id, "def": form_def.id, "campaign": campaign.id,
           "n": households}
    statements = [
        f"""INSERT INTO households (id, code, village_code, head_name, birth_year, gender, national_id, phone, address,
                lat, lon, member_names, extra, source, created_at, updated_at)
            SELECT g, 'BN' || lpad(g::text, 8, '0'), {village}, {name.format(a=7, b=3, c=11)}, 1935 + g % 67,
                   CASE WHEN g % 5 = 0 THEN 'F' ELSE 'M' END,
                   CASE WHEN g % 10 = 0 THEN NULL ELSE '027' || (g % 2)::text || lpad((g % 100)::text, 2, '0')
                        || lpad((g % 1000000)::text, 6, '0') END,
                   CASE WHEN g % 3 = 0 THEN NULL ELSE '09' || lpad((g * 7 % 100000000)::text, 8, '0') END,
                   'Thôn ' || (1 + g % 30) || ', xã ' || (1 + (g / 7) % 99),
                   21.0 + (g % 500000) / 1000000.0, 105.9 + (g % 600000) / 1000000.0,
                   to_json((ARRAY[{name.format(a=13, b=5, c=3)}, {name.format(a=17, b=7, c=9)},
                                  {name.format(a=19, b=11, c=13)}, {name.format(a=23, b=2, c=17)},
                                  {name.format(a=29, b=9, c=19)}])[1:(g % 6)]),
                   NULL, 'registry', {at} - interval '90 days', NULL
            FROM generate_series(1, :n) AS g""",
        f"""INSERT INTO submissions (id, form_id, instance_id, review_state, village_code, commune_code, campaign_id,
                household_id, created_at)
            SELECT g, :form, 'uuid:' || g, 'approved', {village}, {commune}, :campaign, g, {at} - interval '30 days'
            FROM generate_series(1, :n) AS g""",
        """INSERT INTO submission_defs (id, submission_id, form_id, form_def_id, instance_id, xml, current, created_at)
            SELECT g, g, :form, :def, 'uuid:' || g, convert_to('<data/>', 'UTF8'), true,
                   timestamptz '2025-11-01 00:00:00+00'
            FROM generate_series(1, :n) AS g""",
        f"""INSERT INTO classifications (id, submission_def_id, submission_id, campaign_id, status, household_class,
                ruleset, result, computed_at)
            SELECT g, g, g, :campaign, 'classified', p.class, 'vn-national-2022-2025@1', p.result,
                   {at} - interval '20 days'
            FROM generate_series(1, :n) AS g JOIN pool AS p ON p.n = g % {POOL}""",
        # What `flask export` reads out of each result once (server/exports/models.py); bench the
        # refresh itself with --refresh.
        f"""INSERT INTO export_classification_facts (classification_id, computed_at, indicators, income_vnd)
            SELECT g, {at} - interval '20 days', p.letters, p.income
            FROM generate_series(1, :n) AS g JOIN pool AS p ON p.n = g % {POOL}""",
        f"""INSERT INTO reviews (id, submission_id, campaign_id, village_code, commune_code, state, state_since,
                created_at)
            SELECT g, g, :campaign, {village}, {commune}, 'decided', {at}, {at} - interval '30 days'
            FROM generate_series(1, :n) AS g""",
        f"""INSERT INTO review_events (id, review_id, action, from_state, to_state, record, at)
            SELECT g, g, 'decide', 'awaiting_decision', 'decided',
                   json_build_object('action', 'decide', 'payload', json_build_object(
                       'decision_number', (g % 999 + 1) || '/QĐ-UBND', 'decision_date', '2025-12-10')), {at}
            FROM generate_series(1, :n) AS g""",
        f"""INSERT INTO household_years (id, household_id, year, start_class, end_class, change_type, updated_at)
            SELECT g, g, {YEAR}, CASE WHEN g % 4 = 0 THEN p.class END, p.class,
                   CASE WHEN g % 4 = 0 THEN 'unchanged' ELSE 'new' END, {at}
            FROM generate_series(1, :n) AS g JOIN pool AS p ON p.n = g % {POOL}""",
    ]
    for statement in statements:
        db.session.execute(text(statement), {k: v for k, v in ids.items() if f":{k}" in statement})
    db.session.commit()
    for table in ("households", "submissions", "submission_defs", "classifications", "reviews", "review_events",
                  "household_years"):
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return {"seconds": time.perf_counter() - started}


def _small_area(communes: int) -> str:
    from server.extensions import db
    from server.units.services import UnitRecord, set_area_members, upsert_units

    upsert_units([UnitRecord("BENCH-AREA", "area", "Bench area", PROVINCE_CODE)])
    set_area_members("BENCH-AREA", [f"{PROVINCE_CODE}{c:03d}" for c in range(communes)])
    db.session.commit()
    return "BENCH-AREA"


@contextmanager
def _bench_database(args: argparse.Namespace) -> Iterator[tuple[str, bool]]:
    """(URL, reused): ``--reuse NAME`` runs on a database a ``--keep`` run left seeded; else a fresh one,
    dropped at the end unless ``--keep``."""
    from bench.common import PG_ADMIN

    url = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"
    if args.reuse:
        yield url.format(args.reuse), True
        return
    database = f"bench_export_{os.getpid()}"
    subprocess.run(PG_ADMIN + [f"CREATE DATABASE {database}"], check=True)
    try:
        yield url.format(database), False
    finally:
        if args.keep:
            print(f"kept database {database}: rerun with --reuse {database}; drop it with "
                  f"psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE {database}'")
        else:
            subprocess.run(PG_ADMIN + [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)


def _run_cli(env: dict[str, str], args: list[str]) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB), stdout and CPU seconds (user + system) of one `flask …` child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([str(ROOT / ".venv/bin/flask"), *args], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed: {output}")
    return wall, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime


def _database(args: argparse.Namespace) -> None:
    from bench.common import bench_config, migrate
    from server import create_app

    with _bench_database(args) as (url, reused), tempfile.TemporaryDirectory() as work:
        config = bench_config(url, str(Path(work) / "blobs"))
        if not reused:
            migrate(config)
        app = create_app(config)
        with app.app_context():
            seeded = {"seconds": 0.0} if reused else _seed(args.households)
            area = "BENCH-AREA" if reused else _small_area(args.small_communes)
            if args.refresh:
                from sqlalchemy import text

                from server.exports import queries
                from server.extensions import db

                db.session.execute(text("DELETE FROM export_classification_facts"))
                started = time.perf_counter()
                done = queries.refresh_facts()
                db.session.commit()
                print(f"refresh of the classification facts (first export after classifying): {done:,} results "
                      f"in {time.perf_counter() - started:.1f} s (load average {os.getloadavg()[0]:.1f})")
        print(f"seeded {args.households:,} decided households in {seeded['seconds']:.0f} s "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        env = dict(os.environ, FLASK_APP="wsgi", **{k: str(v) for k, v in config.items()})
        runs = [("csv", "all households", [], "csv"),
                ("csv", f"{args.small_communes} communes", ["--unit", area], "csv"),
                ("xlsx", f"{args.small_communes} communes", ["--unit", area], "xlsx"),
                ("geojson", f"{args.small_communes} communes", ["--unit", area], "geojson")]
        if args.only_full:
            runs = runs[:1]
        for fmt, label, extra, suffix in runs:
            target = Path(work) / f"registry.{suffix}"
            load = os.getloadavg()[0]
            wall, peak, output, cpu = _run_cli(env, ["export", "registry", "--campaign", str(YEAR), "--format", fmt,
                                                "--out", str(target), *extra])
            rows = output.split("exported ", 1)[1].split(" ", 1)[0]
            print(f"{fmt:8} {label:18} {rows:>9} rows  {target.stat().st_size / 1e6:8.1f} MB  wall {wall:6.1f} s  "
                  f"(child CPU {cpu:5.1f} s)  peak RSS {peak:5.0f} MB  load average before {load:.1f}, "
                  f"after {os.getloadavg()[0]:.1f}")
            target.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--small-communes", type=int, default=5, help="communes in the XLSX/GeoJSON runs")
    parser.add_argument("--refresh", action="store_true", help="also time reading every result JSON once")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database (prints its name)")
    parser.add_argument("--reuse", metavar="DATABASE", help="export from a database a --keep run left, no seeding")
    parser.add_argument("--only-full", action="store_true", help="only the full CSV export (no small-area runs)")
    parser.add_argument("--writer-only", action="store_true", help="the pure writers on synthetic dicts, no database")
    parser.add_argument("--generate-only", action="store_true", help="with --writer-only: time the generator alone")
    args = parser.parse_args()
    if args.writer_only:
        _writer_only(args)
    else:
        _database(args)
    print(f"calibration: sum(range(100)) takes {_calibration_ns():.0f} ns now; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _calibration_ns() -> float:
    return min(timeit.repeat("sum(range(100))", number=20_000, repeat=5)) / 20_000 * 1e9


if __name__ == "__main__":
    main()
