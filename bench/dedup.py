"""Household matching benchmark: our ``link`` against Splink 5 (DuckDB) on the same synthetic files.

For each generator configuration (``tuning``: the one the weights were tuned on; ``unseen``: another
seed, other noise rates and surname shares, never tuned on) it generates a registry and a batch of
submissions with known truth, then

- runs ``link_csv`` (what ``flask households link`` runs) and measures precision, recall, F1 of the
  ``match`` decisions, plus the best candidate including ``review`` and the within-batch duplicates;
- runs Splink 5 with a standard model (its library comparisons for names, numbers, IDs, distance and
  member arrays; four blocking rules; u by random sampling, m by EM) on the same CSVs, cleaned the
  usual way in DuckDB (lower case, accents stripped, digits only), and measures the best candidate
  per submission above several match-probability thresholds;
- prints wall times (data generation excluded, CSV reading included for both).

Then it times ``score_pair`` per pair and single-submission matching against an in-memory index.

Splink is not a dependency of the server; install it for this benchmark only::

    .venv/bin/pip install splink==5.0.0        # brings duckdb, pyarrow, sqlglot

Usage::

    .venv/bin/python bench/dedup.py                      # 500,000 × 50,000, both configs, 1M index
    .venv/bin/python bench/dedup.py --registry 20000 --incoming 2000 --index-size 100000 --no-splink
"""

from __future__ import annotations

import argparse
import csv
import gc
import random
import resource
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.households import synthetic  # noqa: E402
from server.households.linking import link_csv, read_records  # noqa: E402
from server.households.matching import Linker, prepare, score_pair  # noqa: E402

CONFIGS = {"tuning": synthetic.TUNING, "unseen": synthetic.UNSEEN}
SPLINK_THRESHOLDS = (0.5, 0.9, 0.99)


def dataset(name: str, registry: int, incoming: int, out: Path) -> tuple[synthetic.SyntheticFiles, dict]:
    config = replace(CONFIGS[name], registry_size=registry, incoming_size=incoming)
    directory = out / f"{name}-{config.seed}-{registry}-{incoming}"
    files = synthetic.SyntheticFiles(*(directory / f"{n}.csv" for n in ("registry", "incoming", "truth",
                                                                         "batch_truth", "kinds")))
    if not files.kinds.exists():
        started = time.perf_counter()
        files = synthetic.write_files(synthetic.generate(config), directory)
        print(f"  generated {name}: {time.perf_counter() - started:.0f} s", flush=True)
    truth = {row["incoming_id"]: row["registry_id"] or None for row in csv.DictReader(files.truth.open())}
    return files, truth


def batch_truth(files: synthetic.SyntheticFiles) -> set[frozenset[str]]:
    return {frozenset((r["incoming_id"], r["duplicate_of"])) for r in csv.DictReader(files.batch_truth.open())}


def quality_line(label: str, q: synthetic.Quality) -> str:
    return f"{label:<34} precision {q.precision:.4f}  recall {q.recall:.4f}  F1 {q.f1:.4f}  (links {q.predicted})"


def _cpu_seconds() -> float:
    """CPU time of this process, its threads and its finished child processes (link's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_ours(files: synthetic.SyntheticFiles, truth: dict, directory: Path) -> dict:
    pairs_path, duplicates_path = directory / "pairs.csv", directory / "duplicates.csv"
    started, cpu = time.perf_counter(), _cpu_seconds()
    summary = link_csv(files.registry, files.incoming, pairs_path, duplicates_path=duplicates_path)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    rows = list(csv.DictReader(pairs_path.open()))
    matches = synthetic.measure(((r["incoming_id"], r["registry_id"]) for r in rows if r["decision"] == "match"),
                                truth)
    best_rows: dict[str, dict] = {}
    for r in rows:
        best_rows.setdefault(r["incoming_id"], r)
    with_review = synthetic.measure(((i, r["registry_id"]) for i, r in best_rows.items()), truth)
    found = {frozenset((r["incoming_id"], r["duplicate_of"])) for r in csv.DictReader(duplicates_path.open())
             if r["decision"] == "match"}
    expected = batch_truth(files)
    kinds = {r["incoming_id"]: r["kind"] for r in csv.DictReader(files.kinds.open())}
    outcomes: Counter[tuple[str, str]] = Counter()
    for incoming_id, kind in kinds.items():
        top = best_rows.get(incoming_id)
        if top is None:
            outcome = "new"
        else:
            right = "right" if truth[incoming_id] == top["registry_id"] else "wrong"
            outcome = f"{top['decision']}-{right}"
        outcomes[kind, outcome] += 1
    return {"seconds": seconds, "cpu": cpu, "summary": summary, "match": matches, "with_review": with_review,
            "batch": (len(found & expected), len(found), len(expected)), "outcomes": outcomes}


def _fold_sql(column: str) -> str:
    return f"lower(strip_accents(replace(replace({column}, 'đ', 'd'), 'Đ', 'D')))"


def _splink_input_sql(table: str, path: Path) -> str:
    name = f"string_split(trim(regexp_replace({_fold_sql('head_name')}, '[^a-z0-9]+', ' ', 'g')), ' ')"
    phone = "regexp_replace(phone, '[^0-9]', '', 'g')"
    return f"""
        CREATE TABLE {table} AS
        SELECT record_id AS unique_id,
               parts[1] AS surname,
               nullif(array_to_string(parts[2:len(parts) - 1], ' '), '') AS middle_name,
               parts[len(parts)] AS given_name,
               TRY_CAST(birth_year AS INTEGER) AS birth_year,
               nullif(gender, '') AS gender,
               nullif(regexp_replace(national_id, '[^0-9]', '', 'g'), '') AS national_id,
               nullif(CASE WHEN {phone} LIKE '84%' THEN '0' || {phone}[3:] ELSE {phone} END, '') AS phone,
               village_code,
               TRY_CAST(lat AS DOUBLE) AS lat,
               TRY_CAST(lon AS DOUBLE) AS lon,
               CASE WHEN member_names = '' THEN NULL ELSE
                    list_transform(string_split(member_names, '|'), lambda x: {_fold_sql('x')}) END AS members
        FROM (SELECT *, {name} AS parts
              FROM read_csv('{path}', all_varchar = true, header = true))
    """


def run_splink(files: synthetic.SyntheticFiles, truth: dict, directory: Path) -> dict:
    import duckdb
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started, cpu = time.perf_counter(), time.process_time()
    connection = duckdb.connect()
    connection.execute(_splink_input_sql("registry", files.registry))
    connection.execute(_splink_input_sql("incoming", files.incoming))
    db_api = DuckDBAPI(connection)
    birth_year = cl.CustomComparison(
        output_column_name="birth_year",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("birth_year"),
            cll.AbsoluteDifferenceLevel("birth_year", 1),
            cll.ElseLevel(),
        ],
    )
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.ExactMatch("middle_name"),
            birth_year,
            cl.ExactMatch("gender"),
            cl.LevenshteinAtThresholds("national_id", [1, 2]),
            cl.ExactMatch("phone"),
            cl.DistanceInKMAtThresholds("lat", "lon", [0.025, 0.1, 1.0]),
            cl.ArrayIntersectAtSizes("members", [2, 1]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("village_code", "surname", "given_name"),
            block_on("village_code", "given_name", "birth_year"),
            block_on("national_id"),
            block_on("phone"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(
        [db_api.register("incoming", dataset_display_name="incoming_ds"),
         db_api.register("registry", dataset_display_name="registry_ds")],
        settings,
        log_level=None,
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("national_id", "given_name"), block_on("phone", "given_name", "surname")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("village_code", "surname", "given_name"), record_sample_proportion=1.0
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("national_id"), record_sample_proportion=1.0
    )
    predictions = linker.inference.predict(threshold_match_probability=min(SPLINK_THRESHOLDS))
    # One registry household per submission: the most probable one (ids on either side of the pair).
    best_sql = f"""
        SELECT incoming_id, registry_id, match_probability FROM (
            SELECT CASE WHEN source_dataset_l = 'incoming_ds' THEN unique_id_l ELSE unique_id_r END AS incoming_id,
                   CASE WHEN source_dataset_l = 'incoming_ds' THEN unique_id_r ELSE unique_id_l END AS registry_id,
                   match_probability,
                   row_number() OVER (PARTITION BY incoming_id ORDER BY match_probability DESC) AS rank
            FROM {predictions.physical_name})
        WHERE rank = 1
    """
    best = connection.execute(best_sql).fetchall()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with (directory / "splink_best.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("incoming_id", "registry_id", "match_probability"), *best])
    by_threshold = {
        threshold: synthetic.measure(((i, r) for i, r, p in best if p >= threshold), truth)
        for threshold in SPLINK_THRESHOLDS
    }
    connection.close()
    return {"seconds": seconds, "cpu": cpu, "by_threshold": by_threshold}


def pair_timing(files: synthetic.SyntheticFiles, samples: int = 20_000) -> tuple[float, float]:
    """Microseconds per ``score_pair`` (wall, cpu) over real candidate pairs of the run."""
    linker = Linker()
    for n, record in enumerate(read_records(files.registry)):
        if n >= 100_000:
            break
        linker.add(record)
    pairs = []
    for record in read_records(files.incoming):
        p = prepare(record)
        pairs.extend((p, c) for c in linker.candidates(p))
        if len(pairs) >= samples:
            break
    started, cpu = time.perf_counter(), time.process_time()
    for a, b in pairs:
        score_pair(a, b, linker.frequencies)
    return ((time.perf_counter() - started) / len(pairs) * 1e6, (time.process_time() - cpu) / len(pairs) * 1e6)


def single_record_timing(index_size: int, probes: int = 2_000) -> dict:
    config = replace(synthetic.TUNING, seed=4242, registry_size=index_size, incoming_size=probes)
    started = time.perf_counter()
    data = synthetic.generate(config)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    linker = Linker()
    linker.add_all(data.registry)
    built = time.perf_counter() - started
    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    del data.registry
    gc.collect()
    timings, cpu_timings, candidates = [], [], []
    for record in random.Random(1).sample(data.incoming, min(probes, len(data.incoming))):
        started, cpu = time.perf_counter(), time.process_time()
        linker.match(record)
        timings.append((time.perf_counter() - started) * 1000)
        cpu_timings.append((time.process_time() - cpu) * 1000)
        candidates.append(len(linker.candidates(record)))
    timings.sort()
    return {"generated": generated, "built": built, "peak_rss_gb": peak_rss_gb, "median_ms": statistics.median(timings),
            "cpu_median_ms": statistics.median(cpu_timings), "cpu_mean_ms": statistics.mean(cpu_timings),
            "p95_ms": timings[int(len(timings) * 0.95)], "p99_ms": timings[int(len(timings) * 0.99)],
            "max_ms": timings[-1], "mean_candidates": statistics.mean(candidates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", type=int, default=500_000)
    parser.add_argument("--incoming", type=int, default=50_000)
    parser.add_argument("--configs", default="tuning,unseen", help='comma-separated; "" skips the link runs')
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--index-size", type=int, default=1_000_000, help="0 skips the single-record timing")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "dedup")
    args = parser.parse_args()

    for name in [c for c in args.configs.split(",") if c]:
        print(f"== {name}: registry {args.registry:,} households, incoming {args.incoming:,} submissions", flush=True)
        files, truth = dataset(name, args.registry, args.incoming, args.out)
        directory = files.registry.parent
        ours = run_ours(files, truth, directory)
        s = ours["summary"]
        print(f"  ours   wall {ours['seconds']:.1f} s, cpu {ours['cpu']:.1f} s  (match {s.matched}, review {s.review}, "
              f"new {s.new}, pairs written {s.pairs_written})")
        print("  " + quality_line("ours: match decisions", ours["match"]))
        print("  " + quality_line("ours: best candidate incl. review", ours["with_review"]))
        tp, found, expected = ours["batch"]
        print(f"  ours: within-batch duplicates     found {found}, true {expected}, correct {tp}")
        print("  ours by kind of submission (best candidate's decision):")
        for kind in synthetic.KINDS:
            row = {o: n for (k, o), n in ours["outcomes"].items() if k == kind}
            print(f"    {kind:<13} " + ", ".join(f"{o} {n}" for o, n in sorted(row.items())))
        if not args.no_splink:
            gc.collect()
            theirs = run_splink(files, truth, directory)
            print(f"  splink wall {theirs['seconds']:.1f} s, cpu {theirs['cpu']:.1f} s  → wall ratio splink/ours "
                  f"{theirs['seconds'] / ours['seconds']:.2f}")
            for threshold, quality in theirs["by_threshold"].items():
                print("  " + quality_line(f"splink: best ≥ p {threshold}", quality))
        wall, cpu = pair_timing(files)
        print(f"  score_pair: {wall:.1f} µs per pair wall, {cpu:.1f} µs cpu", flush=True)
    if args.index_size:
        t = single_record_timing(args.index_size)
        print(f"== single submission against an in-memory index of {args.index_size:,} households")
        print(f"  generated {t['generated']:.0f} s, index built {t['built']:.0f} s, peak memory "
              f"{t['peak_rss_gb']:.1f} GB (generator included); {t['mean_candidates']:.1f} candidates on average")
        print(f"  match() wall: median {t['median_ms']:.2f} ms, p95 {t['p95_ms']:.2f} ms, p99 {t['p99_ms']:.2f} ms, "
              f"max {t['max_ms']:.2f} ms; cpu: median {t['cpu_median_ms']:.2f} ms, mean {t['cpu_mean_ms']:.2f} ms")


if __name__ == "__main__":
    main()
