"""Issue 7 item 1: the monitoring dashboard, checked against a small world whose numbers are worked out
by hand below, and its scope (a supervisor of AREA-A never sees AREA-B)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from server.collect.models import Submission
from server.exports.writers import unneutralise
from server.extensions import db
from server.households.models import DuplicatePair, Household
from server.monitoring import queries as monitoring_queries
from server.monitoring.models import Fact, Target
from server.review.models import Review, ReviewEvent
from tests.web.world import HEADS, build_review_world, csrf_in, login, submit

# The registry: households expected per village (AREA-A = commune 07210, AREA-B = commune 07228).
REGISTRY = {"07210-01": 4, "07210-02": 2, "07228-01": 3, "07228-02": 1}
POOR_HOUSE = {"water_source": "surface", "latrine": "open", "uses_phone": "no", "uses_internet": "no",
              "info_devices": "none"}
IN_07210_01, IN_07210_02, IN_07228_01 = "21.28 106.205 10 5", "21.28 106.215 10 5", "21.305 106.125 10 5"
B_ONLY = ("Khu vực B", "Xã Mẫu", "Thôn Đông", "Thôn Tây", HEADS[4], HEADS[5], "07228")


@pytest.fixture
def world(app, client):
    return build_dashboard_world(app, client)


def build_dashboard_world(app, client):
    """Six surveys, worked out by hand:

    a1 07210-01 urban, income 1.2M ≤ 2.0M, no deprivation   → near-poor; then returned to the enumerator
    a2 07210-01 urban, income 1.0M, deprived 5.1 5.2 6.1 6.2  → poor; then sent for a re-survey
    a3 07210-01 urban, income 3.5M (above the band), GPS in 07210-02 → not classified, GPS exception
    a4 07210-02 urban, income 2.5M (band 2.0–3.0M)           → average living; an open potential duplicate
    b1, b2 07228-01 rural, income 1.2M ≤ 1.5M                → near-poor (AREA-B: a supervisor of A never sees them)
    """
    world = build_review_world(app)
    with app.app_context():
        for village, count in REGISTRY.items():
            for number in range(count):
                db.session.add(Household(code=f"R-{village}-{number}", village_code=village,
                                         head_name=f"Chủ hộ {village} số {number}"))
        db.session.commit()
    submit(client, world, "uuid:a1", head=HEADS[0], income="1200000", gps=IN_07210_01)
    submit(client, world, "uuid:a2", head=HEADS[1], income="1000000", gps=IN_07210_01, **POOR_HOUSE)
    submit(client, world, "uuid:a3", head=HEADS[2], income="3500000", gps=IN_07210_02)
    submit(client, world, "uuid:a4", head=HEADS[3], income="2500000", village="07210-02", gps=IN_07210_02)
    for name, head in (("uuid:b1", HEADS[4]), ("uuid:b2", HEADS[5])):
        submit(client, world, name, head=head, income="1200000", village="07228-01", commune="07228",
               gps=IN_07228_01, device="device_07228_01")
    ids = _review_ids(app)
    _act(client, world, ids["uuid:a1"], "return_to_enumerator", reason="Thiếu ảnh")
    _act(client, world, ids["uuid:a2"], "request_resurvey", reason="Sai diện tích")
    with app.app_context():
        a4 = db.session.scalar(select(Submission).where(Submission.instance_id == "uuid:a4"))
        other = db.session.scalar(select(Household).where(Household.code == "R-07210-02-0"))
        db.session.add(DuplicatePair(submission_id=a4.id, household_id=other.id, village_code="07210-02", score=0.9,
                                     reasons=["name"], status="open"))
        db.session.commit()
    return world


def _review_ids(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Submission.instance_id, Review.id)
                                       .join(Review, Review.submission_id == Submission.id)).all())


def _act(client, world, review_id: int, action: str, **payload) -> None:
    response = client.post(f"/v1/reviews/{review_id}/actions", json={"action": action, **payload},
                           headers=world.basic("admin"))
    assert response.status_code == 200, response.get_json()


def _html(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def _cells(html: str, table_id: str) -> dict[str, list[str]]:
    """data-unit / data-enumerator row key → the texts of its cells (links and tags stripped)."""
    table = html[html.index(f'id="{table_id}"'):]
    table = table[:table.index("</table>")]
    rows = {}
    for key, body in re.findall(r'<tr data-[a-z]+="([^"]*)">(.*?)</tr>', table, re.S):
        rows[key] = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
    return rows


def _totals(html: str) -> dict[str, str]:
    return {key: re.sub(r"<[^>]+>", "", value).strip()
            for key, value in re.findall(r'<td data-total="([^"]+)">(.*?)</td>', html, re.S)}


def _csv(client, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    reader = csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))
    header, *rows = list(reader)
    return [dict(zip(header, (unneutralise(v) for v in row), strict=True)) for row in rows]


# ---- the numbers -----------------------------------------------------------------------------------------

def test_dashboard__province_user__areas_add_up_to_hand_computed_totals(client, world):
    login(client, world, "province")
    html = _html(client, "/dashboard?lang=en")
    rows = _cells(html, "unit-table")
    #             expected, received, progress, decided, returned, re-surveyed, duplicates, GPS, poor, near-poor
    assert rows["AREA-A"][1:] == ["6", "4", "66.7%", "0", "1", "1", "1", "1", "1", "1"]
    assert rows["AREA-B"][1:] == ["4", "2", "50.0%", "0", "0", "0", "0", "0", "0", "2"]
    assert _totals(html) == {"dash.col.expected": "10", "dash.col.submitted": "6", "dash.col.progress": "60.0%",
                             "dash.col.done": "0", "dash.col.returned": "1", "dash.col.resurveyed": "1",
                             "dash.col.duplicates": "1", "dash.col.gps": "1", "class.poor": "1",
                             "class.near_poor": "3"}


def test_dashboard__commune__villages_classes_and_deprivation_profile(client, world):
    login(client, world, "admin")
    html = _html(client, "/dashboard/commune/07210?lang=en")
    rows = _cells(html, "unit-table")
    assert rows["07210-01"][1:] == ["4", "3", "75.0%", "0", "1", "1", "0", "1", "1", "1"]
    assert rows["07210-02"][1:] == ["2", "1", "50.0%", "0", "0", "0", "1", "0", "0", "0"]
    classes = dict(re.findall(r'<tr data-class="([a-z_]+)"><th>[^<]*</th><td><a [^>]*>(\d+)</a>', html))
    assert classes == {"poor": "1", "near_poor": "1", "average_living": "1", "not_classified": "1"}
    profile = {key: cells[1:3] for key, cells in _cells(html, "profile-table").items()}
    # Two poor or near-poor households (a1, a2); only a2 is deprived, in water, latrine and information.
    assert profile["5.1"] == profile["5.2"] == profile["6.1"] == profile["6.2"] == ["1", "50.0%"]
    assert profile["2.2"] == profile["4.1"] == ["0", "0.0%"]


def test_dashboard__village__enumerator_quality_signals(client, world):
    login(client, world, "admin")
    html = _html(client, "/dashboard/village/07210-01?lang=en")
    rows = list(_cells(html, "enumerator-table").values())
    # One sender (the village's phone): 3 surveys, no start/end metadata, 1 of 3 with a GPS exception,
    # 1 of 3 returned, too few surveys in the village for outliers.
    assert rows == [["device_07210_01", "3", "—", "33%", "33%", "0"]]


def test_dashboard__every_number__links_down_to_next_level_or_household_list(client, world):
    login(client, world, "admin")
    html = _html(client, "/dashboard")
    assert 'href="/dashboard/area/AREA-A"' in html
    commune = _html(client, "/dashboard/area/AREA-A")
    assert 'href="/dashboard/commune/07210"' in commune
    village = _html(client, "/dashboard/commune/07210")
    assert 'href="/dashboard/village/07210-01"' in village
    assert 'href="/queue?village=07210-01&amp;state=returned"' in village
    assert 'href="/queue?village=07210-02&amp;flag=duplicate"' in village
    assert 'href="/queue?commune=07210&amp;class=poor"' in village
    queue = _html(client, "/queue?village=07210-01&state=returned")
    assert HEADS[0] in queue and HEADS[1] not in queue


def test_dashboard__state_times__every_open_state_listed_with_its_count(client, world):
    login(client, world, "admin")
    html = _html(client, "/dashboard?lang=en")
    states = _cells(html, "state-table")
    assert states["returned"][1] == "1" and states["resurvey"][1] == "1" and states["village_review"][1] == "4"
    assert 'href="/queue?state=village_review&amp;lang=en"' in html


def test_dashboard__per_day_chart__inline_svg_without_external_resources(client, world):
    login(client, world, "admin")
    response = client.get("/dashboard")
    html = response.get_data(as_text=True)
    assert 'id="day-chart"' in html and "<rect" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]


def test_dashboard__commune_map__villages_coloured_by_status_and_household_points(client, world):
    login(client, world, "admin")
    html = _html(client, "/dashboard/commune/07210")
    statuses = dict(re.findall(r'data-code="([^"]+)" data-status="([a-z]+)"', html))
    assert statuses == {"07210-01": "started", "07210-02": "started"}
    dots = re.findall(r'<circle cx="[^"]+" cy="[^"]+" r="3" fill="[^"]+" stroke="#ffffff" stroke-width="0.8" '
                      r'data-group="([a-z]+)"', html)
    # a1 returned and a2 to re-survey need attention; a3 and a4 wait for the village.
    assert sorted(dots) == ["problem", "problem", "waiting", "waiting"]
    assert 'href="/dashboard/village/07210-01"' in html[html.index('id="unit-map"'):]


def test_dashboard__vietnamese_by_default__english_on_request(client, world):
    login(client, world, "supervisor_a")
    assert "Số hộ cần rà soát" in _html(client, "/dashboard")
    assert "Households expected" in _html(client, "/dashboard?lang=en")


# ---- scope -------------------------------------------------------------------------------------------------

def test_dashboard__supervisor_of_area_a__never_sees_area_b(client, world):
    login(client, world, "supervisor_a")
    for path in ("/dashboard", "/dashboard?lang=en", "/dashboard/area/AREA-A", "/dashboard/commune/07210",
                 "/dashboard/village/07210-01"):
        html = _html(client, path)
        for secret in B_ONLY:
            assert secret not in html, (path, secret)
    html = _html(client, "/dashboard?lang=en")
    assert list(_cells(html, "unit-table")) == ["AREA-A"]
    assert _totals(html)["dash.col.expected"] == "6" and _totals(html)["dash.col.submitted"] == "4"


@pytest.mark.parametrize("path", ["/dashboard/area/AREA-B", "/dashboard/commune/07228", "/dashboard/village/07228-01",
                                  "/dashboard/commune/07228/units.csv", "/dashboard/village/nowhere"])
def test_dashboard__supervisor_of_area_a__area_b_pages_not_found(client, world, path):
    login(client, world, "supervisor_a")
    response = client.get(path)
    assert response.status_code == 404
    assert "Xã Mẫu" not in response.get_data(as_text=True)


@pytest.mark.parametrize("persona", ["verifier_07210_01", "enumerator_07210_01"])
def test_dashboard__village_roles__forbidden(client, world, persona):
    login(client, world, persona)
    assert client.get("/dashboard").status_code == 403


def test_dashboard__anonymous__redirected_to_login(client, world):
    response = client.get("/dashboard")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_dashboard__nav__link_for_supervisor_not_for_verifier(client, world):
    login(client, world, "supervisor_a")
    assert 'href="/dashboard"' in _html(client, "/queue")
    client.post("/logout", data={"csrf_token": csrf_in(_html(client, "/queue"))})
    login(client, world, "verifier_07210_01")
    assert 'href="/dashboard"' not in _html(client, "/queue")


# ---- CSV -----------------------------------------------------------------------------------------------------

def test_dashboard_csv__units__same_numbers_and_scope(client, world):
    login(client, world, "supervisor_a")
    rows = _csv(client, "/dashboard/units.csv?lang=en")
    assert [(r["code"], r["Households expected"], r["Surveys received"]) for r in rows] == [
        ("AREA-A", "6", "4"), ("24", "6", "4")]
    assert not any(secret in str(rows) for secret in B_ONLY)


@pytest.mark.parametrize("table", ["units", "enumerators", "days", "states", "classes", "deprivations", "targets"])
def test_dashboard_csv__every_table__downloads(client, world, table):
    login(client, world, "admin")
    response = client.get(f"/dashboard/commune/07210/{table}.csv")
    assert response.status_code == 200
    assert response.get_data().startswith(b"\xef\xbb\xbf")
    assert "attachment" in response.headers["Content-Disposition"]


def test_dashboard_csv__formula_in_a_name__neutralised(app, client, world):
    with app.app_context():
        from server.accounts.models import Actor

        actor = db.session.scalar(select(Actor).where(Actor.display_name == "device_07210_01"))
        actor.display_name = "=HYPERLINK(\"http://evil\")"
        db.session.commit()
    login(client, world, "admin")
    body = client.get("/dashboard/village/07210-01/enumerators.csv").get_data(as_text=True)
    assert "\"'=HYPERLINK" in body


def test_dashboard_csv__unknown_table__404(client, world):
    login(client, world, "admin")
    assert client.get("/dashboard/secrets.csv").status_code == 404


# ---- targets -----------------------------------------------------------------------------------------------

def test_targets__cli__set_and_shown_with_actuals(app, client, world, runner):
    year = _year(app)
    result = runner.invoke(args=["monitoring", "set-target", "--year", str(year), "--indicator",
                                 "poverty_rate_reduction", "--target", "0.5", "--baseline", "10.94"])
    assert result.exit_code == 0, result.output
    runner.invoke(args=["monitoring", "set-target", "--year", str(year), "--indicator", "hygienic_latrine",
                        "--target", "90"])
    login(client, world, "province")
    targets = _cells(_html(client, "/dashboard?lang=en"), "target-table")
    # Poor rate: 1 poor of 10 expected = 10% → reduction 10.94 − 10 = 0.94 points ≥ 0.5: met.
    assert targets["poverty_rate_reduction"][1:] == ["10.94", "0.5", "0.9", "Met"]
    # Latrine: 3 of the 4 poor/near-poor surveyed have one (a2 does not) = 75% < 90%.
    assert targets["hygienic_latrine"][1:] == ["—", "90.0", "75.0", "Not met"]
    assert targets["health_insurance"][1:] == ["—", "—", "100.0", "—"]


def test_targets__cli__reduction_without_baseline__refused(runner, world):
    result = runner.invoke(args=["monitoring", "set-target", "--year", "2026", "--indicator",
                                 "poverty_rate_reduction", "--target", "1"])
    assert result.exit_code != 0


def test_targets__form_by_province_user__saved_and_audited(app, client, world):
    login(client, world, "province")
    csrf = csrf_in(_html(client, "/dashboard"))
    response = client.post("/dashboard/targets", data={"csrf_token": csrf, "year": "2026", "indicator": "clean_water",
                                                       "target": "92,5", "baseline": ""})
    assert response.status_code == 302
    with app.app_context():
        target = db.session.scalar(select(Target))
        assert (target.year, target.indicator, target.target) == (2026, "clean_water", 92.5)


def test_targets__form_by_supervisor__forbidden(client, world):
    login(client, world, "supervisor_a")
    html = _html(client, "/dashboard")
    assert 'id="target-form"' not in html
    response = client.post("/dashboard/targets", data={"csrf_token": csrf_in(html), "year": "2026",
                                                       "indicator": "clean_water", "target": "90"})
    assert response.status_code == 403


# ---- facts -------------------------------------------------------------------------------------------------

def test_facts__ingest__one_per_reviewed_survey(app, world):
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Fact)) == 6


def test_facts__refresh__rebuilds_missing_rows(app, world, runner):
    with app.app_context():
        db.session.query(Fact).delete()
        db.session.commit()
        assert monitoring_queries.stale_submissions(0, 100)
    result = runner.invoke(args=["monitoring", "refresh"])
    assert result.exit_code == 0 and "6" in result.output
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Fact)) == 6
        assert monitoring_queries.stale_submissions(0, 100) == []


def _year(app) -> int:
    from datetime import date

    return date.today().year


# ---- time in each state: the summed transitions (monitoring_transitions) ----------------------------------

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _day(days: float) -> datetime:
    return T0 + timedelta(days=days)


def _state_times(client) -> dict[str, tuple[str, str, str]]:
    """state → (now, entries, mean days) from the states CSV."""
    rows = (list(row.values()) for row in _csv(client, "/dashboard/states.csv"))
    return {row[0]: (row[2], row[3], row[4]) for row in rows}


def _set_event_times(app) -> None:
    """Every review created at T0, checked at T0, sent to the village at T0 + 1 day; a1 returned at
    T0 + 3 days, a2 sent for a re-survey at T0 + 5 days."""
    with app.app_context():
        db.session.execute(update(Review).values(created_at=T0))
        for action, at in (("check", _day(0)), ("send_to_village", _day(1)), ("return_to_enumerator", _day(3)),
                           ("request_resurvey", _day(5))):
            db.session.execute(update(ReviewEvent).where(ReviewEvent.action == action).values(at=at))
        db.session.commit()


def test_state_times__after_refresh_then_a_transition__hand_computed(app, client, world, runner, monkeypatch):
    monkeypatch.setattr("server.monitoring.services.utcnow", lambda: _day(10))
    _set_event_times(app)
    assert runner.invoke(args=["monitoring", "refresh"]).exit_code == 0
    login(client, world, "province")
    # submitted: 6 × 0 days; checked: 6 × 1 day; village_review: a1 2, a2 4, a3 a4 b1 b2 still there 9 each
    # → 42 / 6 = 7; returned: a1 since day 3 → 7; resurvey: a2 since day 5 → 5.
    assert _state_times(client) == {"submitted": ("0", "6", "0.0"), "checked": ("0", "6", "1.0"),
                                    "village_review": ("4", "6", "7.0"), "returned": ("1", "1", "7.0"),
                                    "resurvey": ("1", "1", "5.0")}
    # b1 returned at day 6, recorded by the review service (no refresh): village_review 2 + 4 + 9 + 9 + 5 + 9
    # = 38 / 6 ≈ 6.3; returned: a1 7 and b1 4 → 5.5.
    monkeypatch.setattr("server.review.services.utcnow", lambda: _day(6))
    _act(client, world, _review_ids(app)["uuid:b1"], "return_to_enumerator", reason="Thiếu ảnh")
    expected = {"submitted": ("0", "6", "0.0"), "checked": ("0", "6", "1.0"), "village_review": ("3", "6", "6.3"),
                "returned": ("2", "2", "5.5"), "resurvey": ("1", "1", "5.0")}
    assert _state_times(client) == expected
    assert runner.invoke(args=["monitoring", "refresh"]).exit_code == 0
    assert _state_times(client) == expected


def test_state_times__kept_sums__equal_the_events_summed_again(app, world, runner):
    with app.app_context():
        where = monitoring_queries.Where(monitoring_queries.campaign_ids(_year(app)))
        kept = sorted(monitoring_queries.transitions(where))
        # the ingest's check and send_to_village, a1's return and a2's re-survey, each once per review
        assert [(a, b, n) for a, b, n, _ in kept] == [("checked", "village_review", 6), ("submitted", "checked", 6),
                                                      ("village_review", "resurvey", 1),
                                                      ("village_review", "returned", 1)]
    assert runner.invoke(args=["monitoring", "refresh"]).exit_code == 0
    with app.app_context():
        rebuilt = sorted(monitoring_queries.transitions(where))
        assert [row[:3] for row in rebuilt] == [row[:3] for row in kept]
        assert all(abs(a[3] - b[3]) < 1 for a, b in zip(rebuilt, kept, strict=True))


def test_state_times__review_moved_to_another_village__its_events_move_too(app, world):
    from server.monitoring import services as monitoring_services

    with app.app_context():
        campaigns = monitoring_queries.campaign_ids(_year(app))
        village = monitoring_queries.Where(campaigns, frozenset({"07210"}), frozenset({"07210-02"}))
        before = {(a, b): n for a, b, n, _ in monitoring_queries.transitions(village)}
        review = db.session.get(Review, _review_ids(app)["uuid:a1"])
        old = (review.campaign_id, review.commune_code, review.village_code)
        review.village_code = "07210-02"
        monitoring_services.move_transitions(review, old)
        db.session.flush()
        after = {(a, b): n for a, b, n, _ in monitoring_queries.transitions(village)}
        # a1 brings its three events (submitted → checked → village_review → returned) to 07210-02
        assert after[("village_review", "returned")] == before.get(("village_review", "returned"), 0) + 1
        assert after[("submitted", "checked")] == before[("submitted", "checked")] + 1
        monitoring_services.rebuild_transitions()
        rebuilt = {(a, b): n for a, b, n, _ in monitoring_queries.transitions(village)}
        assert rebuilt == after
        db.session.rollback()
