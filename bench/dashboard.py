"""Dashboard speed (issue 7, Done-when): a province of 1,000,000 households on a fresh PostgreSQL database.

Seeds, with server-side INSERT … SELECT generate_series (seconds, not hours): 99 communes × 30 villages in
9 supervision areas with square boundaries, 1,000,000 registry households, and for the year's review
``--share`` of them (8% by default: the domain's 5–10%) as surveys with a current version, a real
classification (a pool of results from the engine), a review spread over the procedure's states with its
events (≈3–4 per review, some returned and re-surveyed), open potential duplicates (2%), GPS exceptions (5%)
and the dashboard's facts (what the ingest stage ``monitoring`` writes). Then a logged-in province user asks
for GET /dashboard ``--requests`` times after 2 warm-ups (in process, WSGI, no network), and likewise an
area, a commune and a village; prints p50 / p95 / max, the SQL statements per page and the load average.

    .venv/bin/python bench/dashboard.py [--households 1000000] [--share 0.08] [--requests 10] [--keep NAME]

``--keep NAME`` seeds the database NAME once and reuses it on later runs (migrating it to the head first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from common import PG_ADMIN, bench_config, classified_households, fresh_postgres, migrate, phieu_b_campaign

COMMUNES, VILLAGES_PER_COMMUNE, AREAS, ENUMERATORS_PER_COMMUNE = 99, 30, 9, 10
PROVINCE_CODE = "24"
PASSWORD = "bench password 123"
POOL = 64
YEAR = date.today().year
# Review states of the year's surveys (‰), roughly half-way through a campaign.
STATES = (("decided", 400), ("village_review", 200), ("village_agreed", 100), ("commune_confirmed", 80),
          ("posted", 70), ("awaiting_decision", 50), ("returned", 50), ("resurvey", 30), ("check_failed", 20))


def _pool() -> list[tuple[str, str, int, int]]:
    """(result JSON, class, deprived bit set, deprivation count) of real classifications."""
    from server.monitoring.facts import deprivations

    pool = []
    for result in classified_households(POOL, YEAR):
        mask, count = deprivations(result)
        pool.append((json.dumps(result), result["class"] or "not_classified", mask, count or 0))
    return pool


def _square(lon: float, lat: float, size: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                [lon, lat + size], [lon, lat]]]}


def seed(households: int, share: float) -> dict[str, object]:
    from sqlalchemy import text

    from server.accounts import services as accounts
    from server.extensions import db
    from server.households.models import Boundary
    from server.monitoring.services import rebuild_transitions
    from server.units.services import UnitRecord, set_area_members, upsert_units

    started = time.perf_counter()
    units = [UnitRecord(PROVINCE_CODE, "province", "Tỉnh Bắc Ninh")]
    boundaries = []
    for c in range(COMMUNES):
        code = f"{PROVINCE_CODE}{c:03d}"
        lon, lat = 105.9 + (c % 10) * 0.05, 21.0 + (c // 10) * 0.05
        units.append(UnitRecord(code, "commune", f"Xã {c + 1}", PROVINCE_CODE, "xã" if c % 3 else "phường", c % 3 == 0))
        boundaries.append(Boundary(code=code, level="commune", name=f"Xã {c + 1}", parent_code=PROVINCE_CODE,
                                   geometry=_square(lon, lat, 0.05)))
        for v in range(VILLAGES_PER_COMMUNE):
            units.append(UnitRecord(f"{code}-{v:02d}", "village", f"Thôn {v + 1}", code))
            boundaries.append(Boundary(code=f"{code}-{v:02d}", level="village", name=f"Thôn {v + 1}", parent_code=code,
                                       geometry=_square(lon + (v % 6) * 0.008, lat + (v // 6) * 0.01, 0.008)))
    units += [UnitRecord(f"AREA-{a + 1}", "area", f"Khu vực {a + 1}", PROVINCE_CODE) for a in range(AREAS)]
    upsert_units(units)
    for a in range(AREAS):
        set_area_members(f"AREA-{a + 1}", [f"{PROVINCE_CODE}{c:03d}" for c in range(COMMUNES) if c % AREAS == a])
    db.session.add_all(boundaries)
    form, form_def, campaign = phieu_b_campaign("Bench dashboard", YEAR)
    accounts.create_user("province@bench.vn", PASSWORD, "province", [], by=None)
    accounts.create_user("supervisor@bench.vn", PASSWORD, "supervisor", ["AREA-1"], by=None)
    db.session.flush()
    first_actor = db.session.execute(text("SELECT coalesce(max(id), 0) + 1 FROM actors")).scalar()
    enumerators = COMMUNES * ENUMERATORS_PER_COMMUNE
    db.session.execute(text("INSERT INTO actors (id, kind, display_name, created_at) SELECT :first + g, 'field_key', "
                            "'Rà soát viên ' || g, now() FROM generate_series(0, :n - 1) AS g"),
                       {"first": first_actor, "n": enumerators})
    db.session.execute(text("SELECT setval(pg_get_serial_sequence('actors', 'id'), (SELECT max(id) FROM actors))"))
    db.session.execute(text("CREATE TEMP TABLE pool (n int PRIMARY KEY, result json, class text, mask int, cnt int)"))
    db.session.execute(text("INSERT INTO pool VALUES (:n, CAST(:result AS json), :class, :mask, :cnt)"),
                       [{"n": n, "result": r, "class": k, "mask": m, "cnt": d}
                        for n, (r, k, m, d) in enumerate(_pool())])
    cumulative, bounds = 0, []
    for state, per_mille in STATES:
        bounds.append(f"WHEN g % 1000 < {cumulative + per_mille} THEN '{state}'")
        cumulative += per_mille
    state = "CASE " + " ".join(bounds) + " END"
    step = max(1, round(1 / share))
    surveys = households // step
    # Household h lives in commune (h / 7) % 99, village h % 30; survey g is household g * step.
    h = f"(g * {step})"
    village = (f"'{PROVINCE_CODE}' || lpad((({{h}} / 7) % {COMMUNES})::text, 3, '0') || '-' || "
               f"lpad(({{h}} % {VILLAGES_PER_COMMUNE})::text, 2, '0')")
    commune = f"'{PROVINCE_CODE}' || lpad((({{h}} / 7) % {COMMUNES})::text, 3, '0')"
    sv, sc = village.format(h=h), commune.format(h=h)
    submitter = f"(:first + (({h} / 7) % {COMMUNES}) * {ENUMERATORS_PER_COMMUNE} + g % {ENUMERATORS_PER_COMMUNE})"
    day = (f"(timestamptz '{YEAR}-09-01 01:00:00+00' + (g * 60 / :s) * interval '1 day'"
           " + (g % 600) * interval '1 minute')")
    ids = {"form": form.id, "def": form_def.id, "campaign": campaign.id, "n": households, "s": surveys,
           "first": first_actor}
    statements = [
        f"""INSERT INTO households (id, code, village_code, head_name, source, created_at)
            SELECT g, 'BN' || lpad(g::text, 8, '0'), {village.format(h='g')}, 'Chủ hộ ' || g, 'registry',
                   timestamptz '{YEAR - 1}-12-01 00:00:00+00'
            FROM generate_series(1, :n) AS g""",
        f"""INSERT INTO submissions (id, form_id, instance_id, submitter_id, review_state, village_code, commune_code,
                campaign_id, household_id, geo, created_at)
            SELECT g, :form, 'uuid:' || g, {submitter}, NULL, {sv}, {sc}, :campaign, {h},
                   CASE WHEN g % 20 = 0 THEN CAST('{{"flags": ["outside_declared_village"]}}' AS json)
                        ELSE CAST('{{"flags": []}}' AS json) END, {day}
            FROM generate_series(1, :s) AS g""",
        f"""INSERT INTO submission_defs (id, submission_id, form_id, form_def_id, instance_id, xml, current, created_at,
                processed_at)
            SELECT g, g, :form, :def, 'uuid:' || g, convert_to('<data/>', 'UTF8'), true, {day}, {day}
            FROM generate_series(1, :s) AS g""",
        f"""INSERT INTO classifications (id, submission_def_id, submission_id, campaign_id, status, household_class,
                ruleset, result, computed_at)
            SELECT g, g, g, :campaign, 'classified', p.class, 'vn-national-2022-2025@1', p.result, {day}
            FROM generate_series(1, :s) AS g JOIN pool AS p ON p.n = g % {POOL}""",
        f"""INSERT INTO reviews (id, submission_id, campaign_id, village_code, commune_code, state, state_since,
                created_at)
            SELECT g, g, :campaign, {sv}, {sc}, {state}, {day} + interval '3 days', {day}
            FROM generate_series(1, :s) AS g""",
        # Every review: submitted → checked → village_review; then on to its state (returned ones come back once
        # in four, re-surveyed ones are re-sent, so some reviews have 5–6 events).
        f"""INSERT INTO review_events (review_id, action, from_state, to_state, record, at)
            SELECT g, e.action, e.from_state, e.to_state, CAST('{{}}' AS json), {day} + e.after
            FROM generate_series(1, :s) AS g
            CROSS JOIN (VALUES ('check', 'submitted', 'checked', interval '1 minute'),
                               ('send_to_village', 'checked', 'village_review', interval '2 minutes')) AS e
                (action, from_state, to_state, after)""",
        """INSERT INTO review_events (review_id, action, from_state, to_state, record, at)
            SELECT r.id, 'step', 'village_review', r.state, CAST('{}' AS json), r.state_since
            FROM reviews r WHERE r.state NOT IN ('village_review', 'check_failed')""",
        """INSERT INTO review_events (review_id, action, from_state, to_state, record, at)
            SELECT r.id, 'return_to_enumerator', 'village_review', 'returned', CAST('{}' AS json),
                   r.created_at + interval '1 day'
            FROM reviews r WHERE r.state = 'decided' AND r.id % 8 = 0""",
        f"""INSERT INTO duplicate_pairs (submission_id, household_id, village_code, score, reasons, status, created_at)
            SELECT g, {h} + 1, {sv}, 0.8, CAST('["name"]' AS json), 'open', {day}
            FROM generate_series(1, :s) AS g WHERE g % 50 = 0""",
        f"""INSERT INTO monitoring_facts (submission_id, campaign_id, village_code, commune_code, submitter_id,
                household_class, deprived, deprivation_count, gps_flags, lat, lon, income, duration_s, submitted_on,
                stamp)
            SELECT g, :campaign, {sv}, {sc}, {submitter}, p.class, p.mask, p.cnt,
                   CASE WHEN g % 20 = 0 THEN 8 ELSE 0 END, 21.0 + (g % 500) / 1000.0, 105.9 + (g % 450) / 1000.0,
                   800000 + (g * 7919 % 2200000), 900 + (g * 31 % 2400), ({day} AT TIME ZONE 'Asia/Ho_Chi_Minh')::date,
                   now()
            FROM generate_series(1, :s) AS g JOIN pool AS p ON p.n = g % {POOL}""",
    ]
    for statement in statements:
        db.session.execute(text(statement), {k: v for k, v in ids.items() if f":{k}" in statement})
    # The events summed per village and transition, as the review service keeps them (`flask monitoring refresh`).
    rebuild_transitions()
    db.session.commit()
    for table in ("households", "submissions", "submission_defs", "classifications", "reviews", "review_events",
                  "duplicate_pairs"):
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    counts = {table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
              for table in ("households", "submissions", "reviews", "review_events", "duplicate_pairs",
                            "monitoring_facts", "monitoring_transitions")}
    return {"seconds": time.perf_counter() - started, **counts}


def timed(client, path: str, requests: int) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    from server.extensions import db

    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    statements = []

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(1)

    with client.application.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    client.get(path)
    event.remove(engine, "before_cursor_execute", count)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200 and body
    return times, len(statements)


def report(name: str, times: list[float], statements: int) -> None:
    quantiles = statistics.quantiles(times, n=100, method="inclusive")
    print(f"{name:<38} p50={quantiles[49] * 1000:7.1f} ms  p95={quantiles[94] * 1000:7.1f} ms  "
          f"max={max(times) * 1000:7.1f} ms  ({len(times)} requests, {statements} SQL statements)")


def login(app, email: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf}).status_code == 302
    return client


@contextmanager
def kept_postgres(name: str) -> Iterator[str]:
    """The database ``name``, created when missing and never dropped (--keep)."""
    import subprocess

    found = subprocess.run(PG_ADMIN[:-1] + ["-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                           check=True, capture_output=True, text=True).stdout.strip()
    if not found:
        subprocess.run(PG_ADMIN + [f"CREATE DATABASE {name}"], check=True)
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.08, help="share of households surveyed this year")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--keep", metavar="NAME", default=None,
                        help="use (and keep) the database NAME: seeded on first use, reused (migrated, not re-seeded) "
                             "after; drop it with `psql -c 'DROP DATABASE NAME'` when done")
    args = parser.parse_args()

    from sqlalchemy import text

    from server import create_app
    from server.extensions import db

    database = kept_postgres(args.keep) if args.keep else fresh_postgres("bench_dashboard")
    with database as url, tempfile.TemporaryDirectory() as blobs:
        config = {**bench_config(url, blobs), "BLOB_FSYNC": False}
        migrate(config)
        app = create_app(config)
        with app.app_context():
            if db.session.execute(text("SELECT count(*) FROM households")).scalar():
                print(f"reusing the seeded database {args.keep}")
            else:
                seeded = seed(args.households, args.share)
                print("seeded:", ", ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in seeded.items()))
        print(f"load average before timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
              f"({os.cpu_count()} CPUs)")
        province = login(app, "province@bench.vn")
        supervisor = login(app, "supervisor@bench.vn")
        pages = [(province, "/dashboard"), (province, "/dashboard/area/AREA-1"),
                 (province, f"/dashboard/commune/{PROVINCE_CODE}000"),
                 (province, f"/dashboard/village/{PROVINCE_CODE}000-00"), (supervisor, "/dashboard"),
                 (province, "/dashboard/units.csv")]
        for client, path in pages:
            who = "province" if client is province else "supervisor"
            times, statements = timed(client, path, args.requests)
            report(f"{who} GET {path}", times, statements)
        print(f"load average after timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
