"""Entity-list speed: one enumerator's phone with 5,000 households (5 assigned villages) on a fresh PostgreSQL.

The real Phiếu B is published; 5,000 registry households (with last year's class) are loaded; the app user is
assigned 5 villages. Through the application in process (WSGI, no network) the phone then asks for Phiếu B's
manifest and for households.csv: once cold (the households become entities, the list is rendered and cached),
then ``--requests`` times each (p50 / p95), checking that every answer is byte-identical with the same hash.
Then one household is updated through the API and the next manifest + list are timed (rebuild) and must
carry a new hash. Prints the figures and the load average.

    .venv/bin/python bench/entity_list.py [--households 5000] [--requests 30]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, bench_config, fresh_postgres, migrate
from sqlalchemy import text

OPENROSA = {"X-OpenRosa-Version": "1.0"}
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Lan", "Long", "Mai", "Minh", "Nam")
CLASSES = ("poor", "near_poor", "average_living", "not_classified")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seed(app, households: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    from server.accounts import services as accounts
    from server.collect import forms_service
    from server.collect.models import FormAssignment, Project
    from server.entities import services as entities
    from server.extensions import db
    from server.households.models import Household, HouseholdYear
    from server.units.services import UnitRecord, upsert_units

    rng = random.Random(6)
    with app.app_context():
        villages = [f"07210-{n:02d}" for n in range(1, 6)]
        upsert_units([UnitRecord("24", "province", "Tỉnh Bắc Ninh"),
                      UnitRecord("07210", "commune", "Phường Bắc Giang", "24", "phường", True, 21.28, 106.21),
                      *[UnitRecord(v, "village", f"Tổ dân phố {v[-2:]}", "07210") for v in villages]])
        project = Project(name="Bench")
        db.session.add(project)
        db.session.flush()
        media = {p.name: p.read_bytes() for p in (ROOT / "forms" / "media").glob("*.csv")}
        forms_service.publish(project, (ROOT / "forms" / "phieu_b.xlsx").read_bytes(), "application/octet-stream",
                              None, filename="phieu_b.xlsx", attachments=media)
        key = accounts.create_app_user(project.id, "Máy rà soát", [], by=None)
        for form in forms_service.queries.forms(project.id):
            db.session.add(FormAssignment(actor_id=key.actor_id, form_id=form.id))
        token = accounts.app_user_token(key)
        rows = []
        for number in range(households):
            head = f"{rng.choice(SURNAMES)} Văn {rng.choice(GIVEN)}"
            rows.append(Household(code=f"HH-{number:06d}", village_code=villages[number % len(villages)],
                                  head_name=head, address=f"Số {number}, ngõ {number % 50}",
                                  phone=f"09{rng.randrange(10**8):08d}", member_names=[head, "Trần Thị Lan"]))
        db.session.add_all(rows)
        db.session.flush()
        db.session.add_all(HouseholdYear(household_id=h.id, year=2025, end_class=rng.choice(CLASSES)) for h in rows)
        entities.set_assignments(project.id, key.actor_id, [entities.Target(village_code=v) for v in villages], None)
        db.session.commit()
        project_id = project.id
    with app.app_context(), db.engine.connect() as connection:  # planner statistics, as autovacuum would keep
        connection.execute(text("ANALYZE"))
    return token, project_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    from lxml import etree

    from server import create_app

    with fresh_postgres("bench_entities") as url, tempfile.TemporaryDirectory() as blobs:
        config = bench_config(url, blobs)
        migrate(config)
        app = create_app({**config, "PUBLIC_URL": "http://localhost"})
        started = time.perf_counter()
        token, project_id = seed(app, args.households)
        print(f"seeded {args.households} households in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        base = f"/v1/key/{token}/projects/{project_id}"
        mf = "{http://openrosa.org/xforms/xformsManifest}"

        def sync() -> tuple[float, float, str, bytes]:
            t0 = time.perf_counter()
            manifest = client.get(f"{base}/forms/phieu_b/manifest", headers=OPENROSA)
            t1 = time.perf_counter()
            assert manifest.status_code == 200, manifest.data[:300]
            item = next(f for f in etree.fromstring(manifest.data).findall(f"{mf}mediaFile")
                        if f.findtext(f"{mf}filename") == "households.csv")
            body = client.get(item.findtext(f"{mf}downloadUrl").replace("http://localhost", "")).data
            t2 = time.perf_counter()
            assert item.findtext(f"{mf}hash") == "md5:" + hashlib.md5(body).hexdigest()
            return t1 - t0, t2 - t1, item.findtext(f"{mf}hash"), body

        cold_manifest, cold_list, first_hash, first_body = sync()
        rows = first_body.count(b"\n") - 1
        print(f"cold (households become entities, list rendered): manifest {_ms(cold_manifest)}, "
              f"list {_ms(cold_list)}; {rows} rows, {len(first_body) / 1024:.0f} KiB")
        manifests, lists = [], []
        for _ in range(args.requests):
            manifest_s, list_s, digest, body = sync()
            assert (digest, body) == (first_hash, first_body), "the list changed although nothing did"
            manifests.append(manifest_s)
            lists.append(list_s)
        print(f"warm x{args.requests}, byte-identical, same hash: manifest p50 {_ms(statistics.median(manifests))} "
              f"p95 {_ms(_pct(manifests, 0.95))}; households.csv p50 {_ms(statistics.median(lists))} "
              f"p95 {_ms(_pct(lists, 0.95))}")
        both = [m + lst for m, lst in zip(manifests, lists, strict=True)]
        print(f"manifest + list together: p50 {_ms(statistics.median(both))} p95 {_ms(_pct(both, 0.95))}")

        from server.accounts import services as accounts
        from server.accounts.models import User
        from server.extensions import db

        with app.app_context():
            accounts.create_user("admin@bench.vn", "bench password 123", "admin", [], by=None)
            db.session.commit()
            db.session.query(User).count()
        import base64

        auth = {"Authorization": "Basic " + base64.b64encode(b"admin@bench.vn:bench password 123").decode()}
        patched = client.patch(f"/v1/projects/{project_id}/datasets/households/entities/HH-000007?baseVersion=1",
                               json={"data": {"latrine": "septic"}}, headers=auth)
        assert patched.status_code == 200, patched.data[:300]
        manifest_s, list_s, changed_hash, changed_body = sync()
        assert changed_hash != first_hash and changed_body != first_body
        print(f"after one household changed: new hash; manifest (re-render) {_ms(manifest_s)}, list {_ms(list_s)}")
        load1, load5, load15 = os.getloadavg()
        print(f"load average {load1:.2f} {load5:.2f} {load15:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent)
    main()
