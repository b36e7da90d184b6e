"""server/monitoring/facts.py, aggregate.py and charts.py: the dashboard's pure arithmetic and geometry."""

from __future__ import annotations

from collections import Counter

import pytest

from server.monitoring import aggregate, charts, facts
from server.monitoring.aggregate import Tally


def _result(statuses: dict[str, str], klass: str = "poor") -> dict:
    count = sum(s == "deprived" for s in statuses.values())
    return {"status": "classified", "class": klass, "deprivation_count": count,
            "national": {"deprivation_count": count,
                         "indicators": [{"id": i, "status": s} for i, s in statuses.items()]}}


# ---- facts -----------------------------------------------------------------------------------------------

def test_deprivations__deprived_indicators__bits_and_count():  # MF001
    mask, count = facts.deprivations(_result({"2.2": "deprived", "5.1": "deprived", "6.2": "not_deprived",
                                              "9.9": "deprived"}))
    assert mask == facts.bit("2.2") | facts.bit("5.1")
    assert count == 3  # the verdict's own count, even with an id the list does not know


def test_deprivations__unclassifiable_or_missing__count_unknown():  # MF001
    assert facts.deprivations(None) == (0, None)
    assert facts.deprivations({**_result({"1.1": "deprived"}), "status": "unclassifiable"})[1] is None


def test_gps_bits__known_and_unknown_flags__each_counted():  # MF002
    assert facts.gps_bits([]) == 0
    assert facts.gps_bits(["no_gps"]) == 1
    assert facts.gps_bits(["something_new"]) == 1 << facts.OTHER_FLAG


@pytest.mark.parametrize(("start", "end", "seconds"), [
    ("2026-10-01T08:00:00.000+07:00", "2026-10-01T08:25:30.000+07:00", 1530),
    ("2026-10-01T08:00:00+07:00", "2026-10-01T01:10:00+00:00", 600),   # offsets respected
    ("2026-10-01T08:00:00+07:00", "2026-10-01T07:00:00+07:00", None),  # negative
    ("2026-10-01T08:00:00+07:00", "2026-10-02T08:00:00+07:00", None),  # a day: the form was left open
    ("", "2026-10-01T08:00:00+07:00", None), (None, None, None)])
def test_duration__start_end__seconds_or_unknown(start, end, seconds):  # MF003
    assert facts.duration(start, end) == seconds


@pytest.mark.parametrize(("value", "expected"), [("1200000", 1_200_000.0), ("", None), ("-5", None), ("nan", None),
                                                 (None, None), ("abc", None)])
def test_income__values__number_or_unknown(value, expected):  # MF004
    assert facts.income(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("21.28 106.2 10 5", (21.28, 106.2)), ("21.28", None), ("", None),
                                                 ("95 106 0 0", None), ("a b", None)])
def test_point__geopoint__lat_lon_or_none(value, expected):  # MF005
    assert facts.point(value) == expected


def test_read_facts__answers_geo_result__all_columns():
    values = facts.read_facts({"fields": {"gps": "21.3 106.1 0 4", "income_per_person_month": "900000",
                                          "start": "2026-10-01T08:00:00+07:00", "end": "2026-10-01T08:20:00+07:00"}},
                              {"flags": ["poor_accuracy"]}, _result({"5.2": "deprived"}), "near_poor")
    assert values == facts.FactValues("near_poor", facts.bit("5.2"), 1, 1 << 2, 21.3, 106.1, 900000.0, 1200)


# ---- aggregate ---------------------------------------------------------------------------------------------

def _tally(**values) -> Tally:
    tally = Tally()
    for name, value in values.items():
        setattr(tally, name, value)
    return tally


def test_roll_up__villages__summed_once_per_parent():  # MA001
    villages = {"v1": _tally(expected=4, submitted=3, states=Counter(village_review=3)),
                "v2": _tally(expected=2, submitted=1, states=Counter(decided=1)),
                "v3": _tally(expected=5), "orphan": _tally(expected=9)}
    parents = aggregate.roll_up(villages, {"v1": "c1", "v2": "c1", "v3": "c2"})
    assert (parents["c1"].expected, parents["c1"].submitted, parents["c1"].done) == (6, 4, 1)
    assert parents["c2"].expected == 5 and set(parents) == {"c1", "c2"}
    assert aggregate.total(villages.values()).expected == 20


def test_progress__none_expected__unknown():  # MA002
    assert _tally(expected=0, submitted=3).progress is None
    assert _tally(expected=4, submitted=3).progress == 75.0


def test_state_times__entries_exits_and_waiting__mean_days():  # MA003
    day = 86400.0
    # Two reviews created at day 0; both leave "submitted" at day 1 for village_review; one is returned at day 3
    # (and still is, now = day 10); the other stays in village review. A self-loop event is ignored.
    times = aggregate.state_times(
        [("submitted", "village_review", 2, 2 * day), ("village_review", "returned", 1, 3 * day),
         ("village_review", "village_review", 5, 50 * day)],
        (2, 0.0), {"village_review": 1, "returned": 1}, 10 * day)
    by_state = {t.state: t for t in times}
    assert by_state["submitted"].mean_days == pytest.approx(1.0)
    assert by_state["village_review"].mean_days == pytest.approx((2 + 9) / 2)  # 2 days + 9 days
    assert by_state["returned"].mean_days == pytest.approx(7.0)
    assert by_state["returned"].current == 1 and by_state["village_review"].entries == 2
    assert times[0].state == "village_review"  # the biggest total first: the bottleneck


def test_plan_actuals__shares_over_poor_and_near_poor():  # MA004
    tally = _tally(expected=200, classes=Counter(poor=3), poor_near=8, insured=6, water=8, latrine=2, informed=4)
    actual = aggregate.plan_actuals(tally, {"poverty_rate_reduction": 2.0})
    assert actual == {"health_insurance": 75.0, "clean_water": 100.0, "hygienic_latrine": 25.0, "information": 50.0,
                      "poverty_rate_reduction": 0.5}
    assert aggregate.plan_actuals(Tally(), {})["health_insurance"] is None


def test_evaluate_targets__reached_missed_unknown():  # MA005
    tally = _tally(expected=100, classes=Counter(poor=1), poor_near=4, insured=4, water=3)
    rows = {r.indicator: r for r in aggregate.evaluate_targets(
        tally, {"health_insurance": (100.0, None), "clean_water": (80.0, None), "poverty_rate_reduction": (1.0, 1.5)})}
    assert rows["health_insurance"].met is True and rows["clean_water"].met is False
    assert rows["poverty_rate_reduction"].actual == pytest.approx(0.5) and rows["poverty_rate_reduction"].met is False
    assert rows["information"].target is None and rows["information"].met is None


@pytest.mark.parametrize(("expected", "submitted", "decided", "status"), [
    (5, 0, 0, "none"), (5, 2, 0, "started"), (5, 5, 2, "surveyed"), (5, 6, 6, "done"), (0, 1, 1, "done")])
def test_status__counts__map_colour(expected, submitted, decided, status):  # MA006
    tally = _tally(expected=expected, submitted=submitted, states=Counter(decided=decided))
    assert tally.status == status


# ---- charts ------------------------------------------------------------------------------------------------

def test_bar_chart__tallest_fills_plot_zero_is_flat():  # MC001
    chart = charts.bar_chart([("a", 5), ("b", 10), ("c", 0)], width=344, height=130, left=40, top=10, bottom_space=20)
    heights = [bar.height for bar in chart.bars]
    assert heights == [50.0, 100.0, 0.0]
    assert [bar.x for bar in chart.bars] == [50.0, 150.0, 250.0] and chart.bars[0].width == 80.0
    assert all(bar.y + bar.height == chart.bottom for bar in chart.bars)


def test_bar_chart__all_zero__flat_bars_and_one_tick_step():  # MC001, MC002
    chart = charts.bar_chart([("a", 0), ("b", 0)])
    assert all(bar.height == 0 for bar in chart.bars) and [v for _, v in chart.ticks] == [0, 1.0]


@pytest.mark.parametrize(("maximum", "step"), [(7, 2), (40, 10), (1000, 500), (3, 1), (0.3, 0.1)])
def test_nice_step__maximum__1_2_5_steps(maximum, step):  # MC002
    assert charts.nice_step(maximum) == pytest.approx(step)


def test_bar_chart__many_days__labels_thinned_first_kept():  # MC003
    chart = charts.bar_chart([(f"d{i}", i) for i in range(30)], max_labels=8)
    assert chart.labels[0][1] == "d0" and len(chart.labels) <= 8


def test_hbar_chart__longest_fills_width_none_draws_nothing():  # MC004
    height, bars = charts.hbar_chart([("a", 2.0), ("b", 4.0), ("c", None)], width=200, row=20)
    assert height == 60 and [b.width for b in bars] == [100.0, 200.0, 0.0] and [b.y for b in bars] == [0, 20, 40]


def test_unit_map__squares_and_point__fitted_north_up():  # MC005
    square = {"type": "Polygon", "coordinates": [[[106.0, 21.0], [106.1, 21.0], [106.1, 21.1], [106.0, 21.1],
                                                   [106.0, 21.0]]]}
    drawn = charts.unit_map([("v1", square, "done"), ("v2", {"type": "Point", "coordinates": [1, 2]}, "none")],
                            [(21.1, 106.1, "waiting")], width=200, height=200, margin=10)
    assert [s.code for s in drawn.shapes] == ["v1"] and drawn.shapes[0].path.startswith("M")
    assert drawn.dots[0].group == "waiting" and drawn.dots[0].y == 10.0  # the north edge is at the top margin
    assert charts.unit_map([], []) is None
