import csv
from collections import Counter
from dataclasses import replace
from functools import cache

from server.households import synthetic
from server.households.identity import fold, normalize_phone, parse_name, parse_national_id
from server.households.linking import FIELDS

SMALL = replace(synthetic.TUNING, registry_size=3000, incoming_size=600)


@cache
def small() -> synthetic.SyntheticData:
    return synthetic.generate(SMALL)


def _registry_by_id() -> dict:
    return {r.record_id: r for r in small().registry}


def test_generate__same_config__same_data():
    again = synthetic.generate(SMALL)
    assert again.registry == small().registry
    assert again.incoming == small().incoming
    assert again.truth == small().truth


def test_generate__other_seed__other_data():
    other = synthetic.generate(replace(SMALL, seed=SMALL.seed + 1))
    assert other.registry[:50] != small().registry[:50]


def test_generate__sizes__as_configured_plus_batch_duplicates():
    data = small()
    assert len(data.registry) == SMALL.registry_size
    assert len(data.incoming) == SMALL.incoming_size + len(data.batch_duplicates)


def test_generate__truth__every_submission_known_and_registry_ids_exist():
    data = small()
    registry_ids = set(_registry_by_id())
    assert set(data.truth) == {r.record_id for r in data.incoming}
    assert {rid for rid in data.truth.values() if rid} <= registry_ids
    for incoming_id, kind in data.kinds.items():
        assert (data.truth[incoming_id] is None) == (kind in ("split", "new", "namesake"))


def test_generate__surnames__realistic_shares():
    heads = Counter(parse_name(r.head_name).surname for r in small().registry)
    total = sum(heads.values())
    assert 0.30 < heads["nguyen"] / total < 0.42
    assert 0.05 < heads["tran"] / total < 0.15
    assert len(heads) > 20


def test_generate__unseen_config__other_surname_distribution():
    unseen = synthetic.generate(replace(synthetic.UNSEEN, registry_size=3000, incoming_size=10))
    heads = Counter(parse_name(r.head_name).surname for r in unseen.registry)
    assert heads["than"] + heads["giap"] > 50  # Thân, Giáp: common only in Bắc Giang / Bắc Ninh
    assert heads["nguyen"] / sum(heads.values()) < 0.36


def test_generate__namesakes__same_head_name_twice_in_one_village():
    by_village_name = Counter((r.village_code, parse_name(r.head_name).key) for r in small().registry)
    assert sum(1 for n in by_village_name.values() if n > 1) > 10
    data = small()
    assert "namesake" in data.kinds.values()


def test_generate__split_household__new_and_its_head_was_a_registry_member_at_the_same_address():
    data = small()
    registry = list(data.registry)
    splits = [r for r in data.incoming if data.kinds[r.record_id] == "split"]
    assert splits
    for record in splits:
        head = parse_name(record.head_name).key
        assert any(r.village_code == record.village_code and head in {parse_name(m).key for m in r.member_names}
                   for r in registry)


def test_generate__changed_head__new_head_was_a_member_of_the_registry_household():
    data = small()
    registry = _registry_by_id()
    changed = [r for r in data.incoming if data.kinds[r.record_id] == "changed_head"]
    assert changed
    found = sum(parse_name(r.head_name).key in {parse_name(m).key for m in registry[data.truth[r.record_id]]
                                                .member_names} for r in changed)
    assert found >= 0.8 * len(changed)  # a typo on either side may hide a few


def test_generate__re_reviews__noisy_but_recognisable():
    data = small()
    registry = _registry_by_id()
    same = [r for r in data.incoming if data.kinds[r.record_id] == "same_head"]
    names_differ = sum(r.head_name != registry[data.truth[r.record_id]].head_name for r in same)
    folded_differ = sum(fold(r.head_name) != fold(registry[data.truth[r.record_id]].head_name) for r in same)
    years_differ = sum(r.birth_year != registry[data.truth[r.record_id]].birth_year for r in same)
    assert names_differ > 0.2 * len(same)  # accents, tone placement, capitals, variants, typos
    assert 0 < folded_differ < 0.3 * len(same)
    assert 0 < years_differ < 0.2 * len(same)


def test_generate__gps__missing_and_jittered():
    data = small()
    registry = _registry_by_id()
    missing = sum(r.lat is None for r in data.incoming)
    assert 0.05 * len(data.incoming) < missing < 0.3 * len(data.incoming)
    pairs = [(r, registry[data.truth[r.record_id]]) for r in data.incoming
             if data.truth[r.record_id] and r.lat is not None and registry[data.truth[r.record_id]].lat is not None]
    moved = [abs(a.lat - b.lat) for a, b in pairs]
    assert all(m > 0 for m in moved[:20])


def test_generate__ids_and_phones__mostly_valid_with_old_formats_present():
    registry = small().registry
    ids = [parse_national_id(r.national_id) for r in registry if r.national_id]
    assert sum(i is not None and i.kind == "cmnd" for i in ids) > 0
    assert sum(i is not None and i.kind == "cccd" for i in ids) > 0.7 * len(ids)
    phones = [r.phone for r in registry if r.phone]
    assert any(p.startswith("01") and len(p) == 11 for p in phones)  # written before the 2018 renumbering
    assert all(normalize_phone(p) for p in phones)


def test_generate__batch_duplicates__two_submissions_with_one_truth():
    data = small()
    assert data.batch_duplicates
    for pair in data.batch_duplicates:
        a, b = sorted(pair)
        assert data.truth[a] == data.truth[b]


def test_write_files__csvs_with_documented_columns(tmp_path):
    files = synthetic.write_files(small(), tmp_path)
    with files.registry.open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(FIELDS)
    with files.truth.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["incoming_id", "registry_id"]
    assert sum(r["registry_id"] == "" for r in rows) == sum(v is None for v in small().truth.values())
    with files.batch_truth.open(encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(small().batch_duplicates)


def test_measure__links_against_truth__precision_recall_f1():
    truth = {"S1": "H1", "S2": "H2", "S3": None, "S4": "H4"}
    q = synthetic.measure([("S1", "H1"), ("S2", "H9"), ("S3", "H3")], truth)
    assert (q.true_positives, q.predicted, q.actual) == (1, 3, 3)
    assert q.precision == 1 / 3 and q.recall == 1 / 3 and q.f1 == 1 / 3
