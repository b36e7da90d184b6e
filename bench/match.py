"""Matching one submission inside the request, against a registry of 1,000,000 households on PostgreSQL.

Seeds a fresh database with synthetic Bắc Ninh households (server/households/synthetic.py) and their
blocking keys (COPY), then times the request-path matcher (`find_links`: one indexed candidate query,
scoring, decision) for a few hundred incoming households. Target: under 20 ms each.

    .venv/bin/python bench/match.py [--registry 1000000] [--incoming 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from common import bench_config, fresh_postgres, migrate


def seed(url: str, registry: list) -> float:  # type: ignore[type-arg]
    import psycopg

    from server.households.matching import blocking_keys

    started = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        with connection.cursor() as cursor:
            with cursor.copy("COPY households (id, code, village_code, head_name, birth_year, gender, national_id, "
                             "phone, address, lat, lon, member_names, source, created_at) FROM STDIN") as copy:
                for number, r in enumerate(registry, start=1):
                    copy.write_row((number, r.record_id, r.village_code, r.head_name, r.birth_year, r.gender,
                                    r.national_id, r.phone, r.address, r.lat, r.lon,
                                    json.dumps(list(r.member_names), ensure_ascii=False), "registry", "now()"))
            cursor.execute("DROP INDEX IF EXISTS ix_household_keys_key")
            cursor.execute("ALTER TABLE household_keys DROP CONSTRAINT pk_household_keys")
            with cursor.copy("COPY household_keys (household_id, key) FROM STDIN") as copy:
                for number, r in enumerate(registry, start=1):
                    for key in blocking_keys(r):
                        copy.write_row((number, key[:160]))
            cursor.execute("ALTER TABLE household_keys ADD CONSTRAINT pk_household_keys "
                           "PRIMARY KEY (household_id, key)")
            cursor.execute("CREATE INDEX ix_household_keys_key ON household_keys (key)")
            cursor.execute("SELECT setval(pg_get_serial_sequence('households', 'id'), %s)", (len(registry),))
            cursor.execute("ANALYZE households")
            cursor.execute("ANALYZE household_keys")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--incoming", type=int, default=300)
    args = parser.parse_args()
    from server.households.synthetic import UNSEEN, generate

    started = time.perf_counter()
    data = generate(UNSEEN.__class__(**{**UNSEEN.__dict__, "registry_size": args.registry,
                                        "incoming_size": args.incoming}))
    print(f"generated {len(data.registry):,} registry and {len(data.incoming):,} incoming households "
          f"in {time.perf_counter() - started:.0f} s")
    with fresh_postgres("bench_match") as url, tempfile.TemporaryDirectory() as blobs:
        config = bench_config(url, blobs)
        migrate(config)
        print(f"seeded PostgreSQL (COPY + keys index) in {seed(url, data.registry):.0f} s")
        from server import create_app
        from server.extensions import db
        from server.households.services import find_links

        app = create_app(config)
        with app.app_context():
            for record in data.incoming[:20]:  # warm the connection and caches
                find_links(record)
            timings, decisions = [], {"match": 0, "review": 0, "new": 0}
            for record in data.incoming:
                began = time.perf_counter()
                links = find_links(record)
                timings.append((time.perf_counter() - began) * 1000)
                decisions[links[0].decision.value if links else "new"] += 1
                db.session.rollback()
            db.engine.dispose()
    q = statistics.quantiles(timings, n=100)
    print(f"find_links against {args.registry:,} households: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
          f"max {max(timings):.1f} ms over {len(timings)} submissions; decisions {decisions}")


if __name__ == "__main__":
    main()
