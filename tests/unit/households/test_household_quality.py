"""Precision and recall of the ``link`` command on generated households with known truth.

Small runs (a few thousand households) so the suite stays fast; the benchmark (bench/dedup.py)
measures the same at 500,000 × 50,000.
"""

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from server.households import synthetic
from server.households.linking import link_csv
from server.households.matching import Linker, prepare, score_pair

pytestmark = pytest.mark.slow  # generates and links a few thousand households per configuration

SIZES = {"registry_size": 4000, "incoming_size": 800}


def run(name: str, directory: Path) -> tuple[synthetic.SyntheticData, list[dict], list[dict]]:
    data = synthetic.generate(replace(getattr(synthetic, name), **SIZES))
    files = synthetic.write_files(data, directory)
    link_csv(files.registry, files.incoming, directory / "pairs.csv", duplicates_path=directory / "dups.csv")
    with (directory / "pairs.csv").open() as pairs, (directory / "dups.csv").open() as dups:
        return data, list(csv.DictReader(pairs)), list(csv.DictReader(dups))


@pytest.fixture(scope="module", params=["TUNING", "UNSEEN"])
def linked(request, tmp_path_factory):
    return run(request.param, tmp_path_factory.mktemp(request.param))


def _matches(rows: list[dict]) -> list[tuple[str, str]]:
    return [(r["incoming_id"], r["registry_id"]) for r in rows if r["decision"] == "match"]


def test_link__generated_batch__precision_and_recall_of_matches(linked):
    data, rows, _ = linked
    quality = synthetic.measure(_matches(rows), data.truth)
    assert quality.precision >= 0.99
    assert quality.recall >= 0.96


def test_link__generated_batch__best_candidate_incl_review_finds_nearly_all(linked):
    data, rows, _ = linked
    best: dict[str, str] = {}
    for r in rows:
        best.setdefault(r["incoming_id"], r["registry_id"])
    assert synthetic.measure(best.items(), data.truth).recall >= 0.98


def test_link__split_off_households__never_linked_to_the_parents(linked):
    data, rows, _ = linked
    splits = {i for i, kind in data.kinds.items() if kind == "split"}
    assert splits
    assert not [pair for pair in _matches(rows) if pair[0] in splits]


def test_link__namesakes_in_the_village__never_linked(linked):
    data, rows, _ = linked
    namesakes = {i for i, kind in data.kinds.items() if kind == "namesake"}
    assert namesakes
    assert not [pair for pair in _matches(rows) if pair[0] in namesakes]


def test_link__changed_head_with_family_still_there__linked(linked):
    data, rows, _ = linked
    # A lone survivor is left for review on purpose: a son who split off looks the same.
    changed = {r.record_id for r in data.incoming if data.kinds[r.record_id] == "changed_head" and r.member_names}
    assert changed
    linked_right = {i for i, r in _matches(rows) if i in changed and data.truth[i] == r}
    assert len(linked_right) >= 0.75 * len(changed)


def test_link__two_enumerators_same_household__within_batch_duplicates_found(linked):
    data, _, dups = linked
    found = {frozenset((r["incoming_id"], r["duplicate_of"])) for r in dups if r["decision"] == "match"}
    assert len(found & data.batch_duplicates) >= 0.9 * len(data.batch_duplicates)
    assert len(found - data.batch_duplicates) <= 1


def test_score__every_pair_of_a_generated_batch__explains_itself_in_both_languages():
    data = synthetic.generate(replace(synthetic.UNSEEN, registry_size=1500, incoming_size=300))
    linker = Linker()
    linker.add_all(data.registry)
    levels = set()
    for record in data.incoming:
        incoming = prepare(record)
        for candidate in linker.candidates(incoming):
            s = score_pair(incoming, candidate, linker.frequencies)
            assert len(s.explain("vi")) == len(s.explain("en")) == len(s.contributions)
            levels.update((c.comparison, c.level) for c in s.contributions)
    assert len(levels) > 25
