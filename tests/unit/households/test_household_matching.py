from dataclasses import replace

import pytest

from server.households import synthetic
from server.households.matching import (
    CANDIDATE_STRENGTH,
    DEFAULT_THRESHOLDS,
    Decision,
    HouseholdRecord,
    KeyIndex,
    Linker,
    NameFrequencies,
    Score,
    blocking_keys,
    decide,
    distance_m,
    find_batch_duplicates,
    key_strength,
    prepare,
    probe_keys,
    score_pair,
)

LAT, LON = 21.186, 106.076  # a village near Bắc Ninh city

REGISTRY = HouseholdRecord(
    record_id="H1",
    head_name="Nguyễn Văn Hùng",
    birth_year=1970,
    gender="M",
    national_id="027070123456",
    phone="0912345678",
    village_code="07000-01",
    address="Số 12, Thôn Đông",
    lat=LAT,
    lon=LON,
    member_names=("Trần Thị Lan", "Nguyễn Văn Nam", "Nguyễn Thị Hoa"),
)


def score(incoming: HouseholdRecord, candidate: HouseholdRecord = REGISTRY) -> Score:
    return score_pair(prepare(incoming), prepare(candidate), NameFrequencies())


def levels(s: Score) -> dict[str, str]:
    return {c.comparison: c.level for c in s.contributions}


def weight(s: Score, comparison: str) -> float:
    return sum(c.weight for c in s.contributions if c.comparison == comparison)


def bare(record: HouseholdRecord, **changes) -> HouseholdRecord:
    """Only the head's name and village, plus ``changes``: isolates one comparison."""
    empty = HouseholdRecord(record_id=record.record_id + "b", head_name=record.head_name,
                            village_code=record.village_code)
    return replace(empty, **changes)


# --- blocking -------------------------------------------------------------------------------------

def test_blocking_keys__every_person__name_key_within_village():
    keys = blocking_keys(REGISTRY)
    for key in ("n|07000-01|nguyen hung", "n|07000-01|chan nan", "n|07000-01|nguyen nam", "n|07000-01|nguyen hoa"):
        assert key in keys


def test_blocking_keys__head_given_name_and_birth_year__key_within_village():
    assert "y|07000-01|hung|1970" in blocking_keys(REGISTRY)


def test_blocking_keys__citizen_id_and_phone__keys_without_village():
    keys = blocking_keys(REGISTRY)
    assert "i|027070123456" in keys
    assert "t|0912345678" in keys


def test_blocking_keys__same_name_other_village__no_name_key_shared_but_id_key_shared():
    moved = replace(REGISTRY, record_id="S1", village_code="07003-09", phone=None, lat=None, lon=None)
    shared = probe_keys(moved) & blocking_keys(REGISTRY)
    assert shared == {"i|027070123456"}


def test_blocking_keys__phone_written_with_country_code__same_key():
    assert "t|0912345678" in blocking_keys(replace(REGISTRY, phone="+84 912 345 678"))


def test_probe_keys__point_near_cell_edge__meets_neighbour_in_next_cell():
    near = bare(REGISTRY, head_name="Nguyễn Thị Hoa", village_code=None, lat=LAT + 0.0003, lon=LON)
    assert probe_keys(near) & blocking_keys(bare(REGISTRY, lat=LAT, lon=LON))


def test_probe_keys__point_far_away__no_proximity_key_shared():
    far = bare(REGISTRY, village_code=None, lat=LAT + 0.01, lon=LON)
    assert not probe_keys(far) & blocking_keys(bare(REGISTRY, village_code=None, lat=LAT, lon=LON))


def test_blocking_keys__record_without_anything__empty():
    assert blocking_keys(HouseholdRecord(record_id="x", head_name="")) == set()


# --- names ----------------------------------------------------------------------------------------

def test_score__accents_dropped_and_old_tone_placement__head_name_exact():
    s = score(bare(REGISTRY, head_name="NGUYEN VAN HUNG"), bare(REGISTRY))
    assert levels(s)["head_name"] == "exact"
    assert levels(score(bare(REGISTRY, head_name="Lê Thị Hoà"), bare(REGISTRY, head_name="Lê Thị Hòa")))[
        "head_name"] == "exact"


@pytest.mark.parametrize(("written", "registered"), [("Huỳnh Văn Hùng", "Hoàng Văn Hùng"),
                                                     ("Võ Văn Hùng", "Vũ Văn Hùng")])
def test_score__regional_surname_variant__head_name_exact(written, registered):
    s = score(bare(REGISTRY, head_name=written), bare(REGISTRY, head_name=registered))
    assert levels(s)["head_name"] == "exact"


def test_score__common_surname__weighs_less_than_rare_surname():
    common = score(bare(REGISTRY, head_name="Nguyễn Hùng"), bare(REGISTRY, head_name="Nguyễn Hùng"))
    rare = score(bare(REGISTRY, head_name="Khổng Hùng"), bare(REGISTRY, head_name="Khổng Hùng"))
    assert weight(rare, "head_name") > weight(common, "head_name") + 3


def test_score__name_frequencies_learned_from_data__frequent_given_name_weighs_less():
    frequencies = NameFrequencies()
    for n in range(3000):
        frequencies.add(prepare(HouseholdRecord(record_id=str(n), head_name="Lê Văn Hùng" if n % 5 else "Lê Văn Tú")))
    a, b = prepare(bare(REGISTRY, head_name="Lê Hùng")), prepare(bare(REGISTRY, head_name="Lê Tú"))
    assert weight(score_pair(b, b, frequencies), "head_name") > weight(score_pair(a, a, frequencies), "head_name")


def test_score__van_thi_middle_name__agreement_weighs_little():
    weak = score(bare(REGISTRY, head_name="Lê Văn Hùng"), bare(REGISTRY, head_name="Lê Văn Hùng"))
    strong = score(bare(REGISTRY, head_name="Lê Khắc Hùng"), bare(REGISTRY, head_name="Lê Khắc Hùng"))
    assert levels(weak)["middle_name"] == "agree_weak"
    assert weight(strong, "middle_name") > weight(weak, "middle_name") + 1


def test_score__conflicting_middle_names__penalised():
    s = score(bare(REGISTRY, head_name="Lê Đức Hùng"), bare(REGISTRY, head_name="Lê Khắc Hùng"))
    assert levels(s)["middle_name"] == "disagree"
    assert weight(s, "middle_name") < 0


def test_score__middle_name_left_out__no_penalty():
    s = score(bare(REGISTRY, head_name="Lê Hùng"), bare(REGISTRY, head_name="Lê Khắc Hùng"))
    assert "middle_name" not in levels(s)


def test_score__one_typing_slip_in_given_name__fuzzy_below_exact():
    fuzzy = score(bare(REGISTRY, head_name="Lê Văn Hùnng"), bare(REGISTRY, head_name="Lê Văn Hùng"))
    exact = score(bare(REGISTRY, head_name="Lê Văn Hùng"), bare(REGISTRY, head_name="Lê Văn Hùng"))
    assert levels(fuzzy)["head_name"] == "fuzzy"
    assert 0 < weight(fuzzy, "head_name") < weight(exact, "head_name")


def test_score__misheard_initial_consonant__fuzzy():
    s = score(bare(REGISTRY, head_name="Chần Văn Nam"), bare(REGISTRY, head_name="Trần Văn Nam"))
    assert levels(s)["head_name"] == "fuzzy"


def test_score__different_head_names__strongly_negative():
    s = score(bare(REGISTRY, head_name="Phạm Văn Tú"), bare(REGISTRY))
    assert levels(s)["head_name"] == "different"
    assert s.total < -3


# --- person facts, IDs, phones --------------------------------------------------------------------

@pytest.mark.parametrize(("year", "level"), [(1970, "exact"), (1971, "near"), (1969, "near"), (1973, "off"),
                                             (1990, "far")])
def test_score__birth_year_gap__level(year, level):
    assert levels(score(bare(REGISTRY, birth_year=year), bare(REGISTRY, birth_year=1970)))["birth_year"] == level


def test_score__birth_year_one_off__still_positive_but_less_than_exact():
    near = weight(score(bare(REGISTRY, birth_year=1971), bare(REGISTRY, birth_year=1970)), "birth_year")
    exact = weight(score(bare(REGISTRY, birth_year=1970), bare(REGISTRY, birth_year=1970)), "birth_year")
    assert 0 < near < exact


def test_score__same_name_different_sex__not_taken_for_one_person():
    s = score(bare(REGISTRY, gender="F", birth_year=1970), bare(REGISTRY, gender="M", birth_year=1970))
    assert levels(s)["head_name"] not in ("exact", "fuzzy")
    assert "birth_year" not in levels(s)
    assert s.total < DEFAULT_THRESHOLDS.review


def test_score__same_id_though_names_differ__heads_taken_for_one_person():
    s = score(bare(REGISTRY, head_name="Đặng Đình Hải", national_id="027070123456", gender="M", birth_year=1970),
              bare(REGISTRY, head_name="Phạm Đình Hải", national_id="027070123456", gender="M", birth_year=1970))
    assert levels(s)["head_name"] == "same_id"
    assert levels(s)["birth_year"] == "exact"


def test_score__slip_between_two_common_given_names__not_a_typo():
    frequencies = NameFrequencies()
    for n in range(200):
        frequencies.add(prepare(HouseholdRecord(record_id=str(n), head_name="Lê Văn Hà" if n % 2 else "Lê Văn Hải")))
    s = score_pair(prepare(bare(REGISTRY, head_name="Lê Văn Hà")), prepare(bare(REGISTRY, head_name="Lê Văn Hải")),
                   frequencies)
    assert levels(s)["head_name"] == "different"


def test_score__same_citizen_id__strong_evidence():
    s = score(bare(REGISTRY, national_id="027 070 123456", gender="M", birth_year=1970),
              bare(REGISTRY, national_id="027070123456", gender="M", birth_year=1970))
    assert levels(s)["national_id"] == "exact"
    assert weight(s, "national_id") >= 10


@pytest.mark.parametrize("typo", ["027070123457", "027070124356"])
def test_score__citizen_id_one_slip__typo_level(typo):
    s = score(bare(REGISTRY, national_id=typo, gender="M", birth_year=1970),
              bare(REGISTRY, national_id="027070123456", gender="M", birth_year=1970))
    assert levels(s)["national_id"] == "typo"
    assert weight(s, "national_id") > 0


def test_score__id_slip_in_year_digits__sex_year_check_explains_it_as_typo():
    # 027080… says born 1980; the person was born 1970: the slip is in the year digits.
    s = score(bare(REGISTRY, national_id="027080123456", gender="M", birth_year=1970),
              bare(REGISTRY, national_id="027070123456", gender="M", birth_year=1970))
    assert levels(s)["national_id"] == "typo"


def test_score__same_id_contradicting_sex_and_year__weaker_than_fitting_id():
    unfit = score(bare(REGISTRY, national_id="027185123456", gender="M", birth_year=1970),
                  bare(REGISTRY, national_id="027185123456", gender="M", birth_year=1970))
    assert levels(unfit)["national_id"] == "exact_unfit"
    fit = score(bare(REGISTRY, national_id="027070123456", gender="M", birth_year=1970),
                bare(REGISTRY, national_id="027070123456", gender="M", birth_year=1970))
    assert 0 < weight(unfit, "national_id") < weight(fit, "national_id")


def test_score__same_name_different_fitting_ids__namesake_penalty():
    s = score(bare(REGISTRY, national_id="027070999888", gender="M", birth_year=1970),
              bare(REGISTRY, national_id="027070123456", gender="M", birth_year=1970))
    assert levels(s)["national_id"] == "different_same_head"
    assert weight(s, "national_id") <= -5


def test_score__old_nine_digit_cmnd_equal__exact():
    s = score(bare(REGISTRY, national_id="125456789"), bare(REGISTRY, national_id="125-456-789"))
    assert levels(s)["national_id"] == "exact"


def test_score__cmnd_against_cccd__not_compared():
    s = score(bare(REGISTRY, national_id="125456789"), bare(REGISTRY, national_id="027070123456"))
    assert "national_id" not in levels(s)


@pytest.mark.parametrize("written", ["+84912345678", "84 912 345 678", "0912.345.678"])
def test_score__phone_in_other_format__exact(written):
    assert levels(score(bare(REGISTRY, phone=written), bare(REGISTRY, phone="0912345678")))["phone"] == "exact"


def test_score__phone_before_2018_renumbering__exact():
    assert levels(score(bare(REGISTRY, phone="01662345678"), bare(REGISTRY, phone="0362345678")))["phone"] == "exact"


# --- places ----------------------------------------------------------------------------------------

def test_distance_m__one_thousandth_degree_north__about_110_metres():
    assert distance_m(LAT, LON, LAT + 0.001, LON) == pytest.approx(110.6, abs=0.5)


@pytest.mark.parametrize(("metres", "level"), [(10, "25m"), (50, "75m"), (150, None), (600, "1km"), (3000, "far")])
def test_score__distance_between_points__level(metres, level):
    moved = bare(REGISTRY, lat=LAT + metres / 110_574, lon=LON)
    assert levels(score(moved, bare(REGISTRY, lat=LAT, lon=LON))).get("distance") == level


def test_score__close_points__positive_far_points__negative():
    close = score(bare(REGISTRY, lat=LAT + 0.0001, lon=LON), bare(REGISTRY, lat=LAT, lon=LON))
    far = score(bare(REGISTRY, lat=LAT + 0.02, lon=LON), bare(REGISTRY, lat=LAT, lon=LON))
    assert weight(close, "distance") > 0 > weight(far, "distance")


def test_score__other_village__penalised():
    s = score(bare(REGISTRY, village_code="07003-09"), bare(REGISTRY))
    assert weight(s, "village") < 0


# --- whole households ----------------------------------------------------------------------------

def test_score__same_household_recorded_again__match():
    again = replace(REGISTRY, record_id="S1", head_name="Nguyen Van Hung", birth_year=1971, phone="+84912345678",
                    lat=LAT + 0.0001, member_names=("Trần Thị Lan", "Nguyễn Văn Nam", "Nguyễn Thị Hoa",
                                                    "Nguyễn Văn An"))
    assert score(again).total >= DEFAULT_THRESHOLDS.match


def test_score__spouse_became_head__match():
    widow = replace(REGISTRY, record_id="S1", head_name="Trần Thị Lan", birth_year=1972, gender="F",
                    national_id="027172555666", phone=None, member_names=("Nguyễn Văn Nam", "Nguyễn Thị Hoa"))
    s = score(widow)
    assert levels(s)["head_name"] == "head_changed"
    assert "national_id" not in levels(s)  # the new head has an ID of her own
    assert s.total >= DEFAULT_THRESHOLDS.match


def test_score__lone_survivor_as_new_head__left_for_review():
    alone = replace(REGISTRY, record_id="S1", head_name="Trần Thị Lan", birth_year=1972, gender="F",
                    national_id=None, member_names=())
    s = score(alone)
    assert levels(s)["head_name"] == "head_changed_alone"
    assert DEFAULT_THRESHOLDS.review <= s.total < DEFAULT_THRESHOLDS.match


def test_score__grown_child_split_off_at_same_address__not_match():
    son = replace(REGISTRY, record_id="S1", head_name="Nguyễn Văn Nam", birth_year=1995,
                  national_id="027095777888", lat=LAT + 0.0001,
                  member_names=("Đỗ Thị Mai", "Nguyễn Văn Bình"))
    s = score(son)
    assert levels(s)["roster"] == "few"
    assert s.total < DEFAULT_THRESHOLDS.match


def test_score__namesake_in_same_village__not_match():
    namesake = HouseholdRecord(record_id="S1", head_name="Nguyễn Văn Hùng", birth_year=1958, gender="M",
                               national_id="027058444555", phone="0987654321", village_code="07000-01",
                               address="Thôn Đông", lat=LAT + 0.003, lon=LON,
                               member_names=("Phạm Thị Tuyết", "Nguyễn Văn Long"))
    assert score(namesake).total < DEFAULT_THRESHOLDS.review


def test_score__members_with_conflicting_middle_names__not_the_same_people():
    other = bare(REGISTRY, head_name="Lê Văn Tú", member_names=("Nguyễn Ngọc Nam", "Nguyễn Thu Hoa"))
    assert "members" not in levels(score(other, bare(REGISTRY, member_names=REGISTRY.member_names)))


def test_score__member_name_with_typo__still_shared():
    typo = bare(REGISTRY, member_names=("Trần Thị Lann", "Nguyễn Văn Nam", "Nguyễn Thị Hoa"))
    s = score(typo, bare(REGISTRY, member_names=REGISTRY.member_names))
    assert levels(s)["members"] == "shared"
    assert "roster" not in levels(s)


def test_score__explain__every_contribution_in_vietnamese_and_english():
    s = score(replace(REGISTRY, record_id="S1", lat=LAT + 0.05))
    vi, en = s.explain("vi"), s.explain("en")
    assert len(vi) == len(en) == len(s.contributions)
    assert "Họ tên chủ hộ trùng khớp: +" in "\n".join(vi)
    assert "Head's name identical: +" in "\n".join(en)
    assert s.total == pytest.approx(sum(c.weight for c in s.contributions))


def test_score__explain__largest_effect_first():
    s = score(replace(REGISTRY, record_id="S1"))
    weights = [abs(float(line.rsplit(": ", 1)[1])) for line in s.explain("en")]
    assert weights == sorted(weights, reverse=True)


# --- decisions and the index ---------------------------------------------------------------------

def _score(total: float) -> Score:
    return Score(total=total, contributions=())


def test_decide__best_clear_of_runner_up__match_then_review():
    links = decide("S1", [("H2", _score(9.0)), ("H1", _score(30.0)), ("H3", _score(1.0))])
    assert [(link.other_id, link.decision) for link in links] == [("H1", Decision.MATCH), ("H2", Decision.REVIEW)]


def test_decide__two_candidates_within_margin__both_review():
    links = decide("S1", [("H1", _score(30.0)), ("H2", _score(29.0))])
    assert [link.decision for link in links] == [Decision.REVIEW, Decision.REVIEW]


def test_decide__nothing_above_review_threshold__empty_means_new():
    assert decide("S1", [("H1", _score(DEFAULT_THRESHOLDS.review - 0.1))]) == []


def _village() -> list[HouseholdRecord]:
    return [
        REGISTRY,
        HouseholdRecord(record_id="H2", head_name="Nguyễn Văn Hùng", birth_year=1958, gender="M",
                        national_id="027058444555", village_code="07000-01", member_names=("Phạm Thị Tuyết",)),
        HouseholdRecord(record_id="H3", head_name="Lê Thị Mơ", birth_year=1949, gender="F", village_code="07000-01"),
    ]


def test_linker_match__re_review_of_registry_household__single_match():
    linker = Linker()
    linker.add_all(_village())
    links = linker.match(replace(REGISTRY, record_id="S1", head_name="NGUYỄN VĂN HÙNG", phone=None))
    assert links[0].other_id == "H1"
    assert links[0].decision is Decision.MATCH
    assert all(link.decision is Decision.REVIEW for link in links[1:])


def test_linker_match__unknown_household__no_links():
    linker = Linker()
    linker.add_all(_village())
    assert linker.match(HouseholdRecord(record_id="S9", head_name="Đào Văn Tiến", village_code="07000-01")) == []


def test_linker_match__household_moved_village_with_same_id__found_across_villages():
    linker = Linker()
    linker.add_all(_village())
    moved = replace(REGISTRY, record_id="S1", village_code="07009-30", phone=None, lat=None, lon=None)
    assert linker.match(moved)[0].other_id == "H1"


def test_linker_link_batch__same_new_household_from_two_enumerators__within_batch_duplicate():
    linker = Linker()
    linker.add_all(_village())
    first = HouseholdRecord(record_id="S1", head_name="Đào Văn Tiến", birth_year=1980, gender="M",
                            national_id="027080111222", village_code="07000-01",
                            member_names=("Vũ Thị Hằng", "Đào Minh Khôi"))
    second = replace(first, record_id="S2", head_name="Dao Van Tien", national_id=None,
                     member_names=("Võ Thị Hằng", "Đào Minh Khôi"))
    result = linker.link_batch([first, second])
    assert result.registry == {"S1": [], "S2": []}
    assert [(d.incoming_id, d.other_id, d.decision) for d in result.within_batch] == [("S2", "S1", Decision.MATCH)]


def test_key_index_lookup__one_shared_name_key__not_a_candidate():
    index = KeyIndex()
    index.add(0, {"n|v|nguyen hung"})
    assert index.lookup({"n|v|nguyen hung", "n|v|tran lan"}) == []


def test_key_index_lookup__two_shared_name_or_place_keys__candidate():
    index = KeyIndex()
    index.add(0, {"n|v|nguyen hung", "y|v|hung|1970"})
    assert index.lookup({"n|v|nguyen hung", "y|v|hung|1970"}) == [0]


@pytest.mark.parametrize("key", ["i|027070123456", "t|0912345678"])
def test_key_index_lookup__shared_citizen_id_or_phone__candidate_on_its_own(key):
    index = KeyIndex()
    index.add(7, {key})
    assert index.lookup({key}) == [7]
    assert key_strength(key) >= CANDIDATE_STRENGTH


def test_find_batch_duplicates__generated_batch__candidates_where_probe_keys_meet_earlier_blocking_keys():
    """Looking each record's blocking keys up among all probe keys finds what the rule says: the
    earlier records whose blocking keys meet its probe keys."""
    data = synthetic.generate(replace(synthetic.UNSEEN, registry_size=2000, incoming_size=1500))
    batch = [prepare(r) for r in data.incoming]
    frequencies = NameFrequencies()
    for p in batch:
        frequencies.add(p)
    expected, earlier = [], KeyIndex()
    for position, p in enumerate(batch):
        scored = [(batch[i].record.record_id, score_pair(p, batch[i], frequencies))
                  for i in earlier.lookup(probe_keys(p))]
        expected.extend(decide(p.record.record_id, scored))
        earlier.add(position, blocking_keys(p))
    found = list(find_batch_duplicates(batch, frequencies))
    assert len(expected) >= len(data.batch_duplicates) > 0
    assert [(d.incoming_id, d.other_id, d.score, d.decision) for d in found] == [
        (d.incoming_id, d.other_id, d.score, d.decision) for d in expected]
