"""Issue 7: the registry export and the summary report, wired to the database and the command line."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from server.accounts.models import Audit
from server.campaigns.models import Campaign, Classification
from server.collect.models import Form, Submission, SubmissionDef
from server.exports import services
from server.exports.registry import INDICATOR_IDS, REGISTRY_COLUMNS, Cursor, parse_registry_row
from server.extensions import db
from server.households.models import Household, HouseholdYear
from server.review.models import Review, ReviewEvent
from tests.conftest import _clean
from tests.factories import PHIEU_B, build_world, open_campaign

YEAR = 2026
AT = datetime(2026, 11, 20, 3, 4, 5, 678901, tzinfo=UTC)


@dataclass
class Spec:
    code: str
    village: str | None
    head: str = "Nguyễn Văn An"
    previous: str | None = None  # last year's end class
    start: str | None = None  # this year's history (written when a review is decided)
    end: str | None = None
    change: str | None = None
    state: str | None = None  # the review's state; None = not reviewed this year
    national: str | None = None
    deprived: tuple[str, ...] = ()
    members: list[str] = field(default_factory=list)
    extra: dict | None = None
    identity: dict = field(default_factory=dict)
    changed: datetime = AT


def _indicators(deprived: tuple[str, ...]) -> list[dict]:
    return [{"id": i, "status": "deprived" if i in deprived else "not_deprived",
             "name": {"vi": i, "en": i}, "reason": {"vi": "", "en": ""}} for i in INDICATOR_IDS]


def seed(app, project_id: int, specs: list[Spec]) -> None:
    with app.app_context():
        form = db.session.scalar(select(Form).where(Form.project_id == project_id, Form.xml_form_id == "phieu_b"))
        campaign = db.session.scalar(select(Campaign).where(Campaign.year == YEAR))
        for spec in specs:
            household = Household(code=spec.code, village_code=spec.village, head_name=spec.head,
                                  member_names=spec.members, extra=spec.extra,
                                  created_at=spec.changed - timedelta(days=30), **spec.identity)
            db.session.add(household)
            db.session.flush()
            if spec.previous:
                db.session.add(HouseholdYear(household_id=household.id, year=YEAR - 1, end_class=spec.previous,
                                             change_type="unchanged", updated_at=spec.changed - timedelta(days=300)))
            if spec.start or spec.end or spec.change:
                db.session.add(HouseholdYear(household_id=household.id, year=YEAR, start_class=spec.start,
                                             end_class=spec.end, change_type=spec.change,
                                             updated_at=spec.changed - timedelta(days=1)))
            if spec.state is None:
                continue
            commune = spec.village.split("-")[0] if spec.village else None
            submission = Submission(form_id=form.id, instance_id=f"uuid:{spec.code}", household_id=household.id,
                                    campaign_id=campaign.id, village_code=spec.village, commune_code=commune)
            db.session.add(submission)
            db.session.flush()
            version = SubmissionDef(submission_id=submission.id, form_id=form.id, form_def_id=form.current_def_id,
                                    instance_id=f"uuid:{spec.code}", xml=b"<data/>", current=True)
            db.session.add(version)
            db.session.flush()
            national = spec.national or spec.end
            db.session.add(Classification(
                submission_def_id=version.id, submission_id=submission.id, campaign_id=campaign.id,
                status="classified", household_class=national, local_class=None, ruleset="vn-national-2022-2025@1",
                computed_at=spec.changed - timedelta(days=2),
                result={"national": {"class": national, "indicators": _indicators(spec.deprived),
                                     "income": {"method": "direct_estimate", "value_vnd": 1_200_000}},
                        "b1": {"total": 118}, "local": None}))
            review = Review(submission_id=submission.id, campaign_id=campaign.id, village_code=spec.village,
                            commune_code=commune, state=spec.state, state_since=spec.changed)
            db.session.add(review)
            db.session.flush()
            if spec.state in ("decided", "exported"):
                db.session.add(ReviewEvent(review_id=review.id, action="decide", from_state="awaiting_decision",
                                           to_state="decided", record={"payload": {
                                               "decision_number": f"{review.id}/QĐ-UBND",
                                               "decision_date": "2026-11-19"}}))
        db.session.commit()


# A hand-computed world (see the expected figures in the report tests). 07210 is urban, 07228 rural.
WORLD = [
    Spec("U1", "07210-01", previous="poor", start="poor", end="poor", change="unchanged", state="decided",
         deprived=("1.1", "2.2", "4.1")),
    Spec("U2", "07210-01", previous="near_poor", start="near_poor", end="poor", change="fell_back", state="exported",
         deprived=("1.1", "5.1", "6.1")),
    Spec("U3", "07210-02", previous="poor", start="poor", end="not_classified", change="escaped", state="decided"),
    Spec("U4", "07210-02", state="village_review", national="near_poor", deprived=("3.1",)),
    Spec("R1", "07228-01", end="near_poor", change="new", state="decided", deprived=("2.2",)),
    Spec("R2", "07228-01", previous="near_poor", start="near_poor", end="near_poor", change="unchanged",
         state="decided", deprived=("2.2", "4.2")),
    Spec("R3", "07228-02", previous="poor"),
    Spec("R4", "07228-02", previous="near_poor", start="near_poor", change="moved"),
    Spec("R5", "07228-02", end="average_living", change="unchanged", state="decided"),
]


@pytest.fixture
def world(app):
    world = build_world(app, forms={"phieu_b": PHIEU_B})
    open_campaign(app, world.project_id, YEAR)
    return world


@pytest.fixture
def seeded(app, world):
    seed(app, world.project_id, WORLD)
    return world


def _export(runner, out: Path, *args: str):
    result = runner.invoke(args=["export", "registry", "--campaign", str(YEAR), "--out", str(out), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [parse_registry_row(row) for row in csv.DictReader(handle)]


def _audits(app, action: str) -> list[Audit]:
    with app.app_context():
        rows = list(db.session.scalars(select(Audit).where(Audit.action == action).order_by(Audit.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


# --- the registry export -----------------------------------------------------------------------------------

def test_export_registry__default__only_decided_results_with_class_indicators_history(app, runner, seeded,
                                                                                      tmp_path):
    out = tmp_path / "registry.csv"
    _export(runner, out)
    rows = {row["record_id"]: row for row in _rows(out)}
    assert sorted(rows) == ["R1", "R2", "R5", "U1", "U2", "U3"]
    u2 = rows["U2"]
    assert (u2["class"], u2["start_class"], u2["end_class"], u2["change_type"], u2["review_state"]) == (
        "poor", "near_poor", "poor", "fell_back", "exported")
    assert (u2["commune_code"], u2["area"], u2["campaign_year"], u2["deprivation_count"]) == ("07210", "urban", 2026, 3)
    assert [u2[f"i_{i.replace('.', '_')}"] for i in ("1.1", "1.2", "5.1")] == ["deprived", "not_deprived", "deprived"]
    assert (u2["income_per_person_month"], u2["b1_score"], u2["decision_date"]) == (1_200_000, 118, date(2026, 11, 19))
    assert u2["decision_number"].endswith("/QĐ-UBND")
    assert u2["changed_at"] == AT
    assert rows["R1"]["area"] == "rural"


def test_export_registry__state_all__every_household_without_class_when_undecided(app, runner, seeded, tmp_path):
    out = tmp_path / "all.csv"
    _export(runner, out, "--state", "all")
    rows = {row["record_id"]: row for row in _rows(out)}
    assert len(rows) == len(WORLD)
    assert (rows["U4"]["review_state"], rows["U4"]["class"], rows["U4"]["national_class"]) == (
        "village_review", None, "near_poor")
    assert (rows["R3"]["review_state"], rows["R3"]["class"], rows["R3"]["deprivation_count"]) == (None, None, None)


def test_export_registry__unit_commune_or_village__only_its_households(app, runner, seeded, tmp_path):
    _export(runner, tmp_path / "c.csv", "--unit", "07228")
    assert sorted(r["record_id"] for r in _rows(tmp_path / "c.csv")) == ["R1", "R2", "R5"]
    _export(runner, tmp_path / "v.csv", "--unit", "07210-02")
    assert [r["record_id"] for r in _rows(tmp_path / "v.csv")] == ["U3"]
    _export(runner, tmp_path / "a.csv", "--unit", "AREA-A")
    assert sorted(r["record_id"] for r in _rows(tmp_path / "a.csv")) == ["U1", "U2", "U3"]


def test_export_registry__unknown_unit__refused_in_both_languages(app, runner, seeded, tmp_path):
    result = runner.invoke(args=["export", "registry", "--campaign", "2026", "--out", str(tmp_path / "x.csv"),
                                 "--unit", "99999"])
    assert result.exit_code != 0
    assert "Không tìm thấy" in result.output and "Could not find" in result.output


def test_export_registry__since_cursor__only_households_changed_after(app, runner, seeded, tmp_path):
    result = _export(runner, tmp_path / "first.csv", "--overlap", "0")
    cursor = result.output.strip().rsplit("--since ", 1)[1]
    _export(runner, tmp_path / "none.csv", "--since", cursor)
    assert _rows(tmp_path / "none.csv") == []
    with app.app_context():
        household = db.session.scalar(select(Household).where(Household.code == "R2"))
        household.phone, household.updated_at = "0912000111", datetime.now(UTC)
        db.session.commit()
    _export(runner, tmp_path / "next.csv", "--since", cursor)
    assert [(r["record_id"], r["phone"]) for r in _rows(tmp_path / "next.csv")] == [("R2", "0912000111")]


def test_export_registry__since_iso_time__households_changed_from_then(app, runner, seeded, tmp_path):
    later = AT + timedelta(hours=1)
    seed(app, seeded.project_id, [Spec("L1", "07228-01", end="poor", change="new", state="decided", changed=later)])
    _export(runner, tmp_path / "out.csv", "--since", (AT + timedelta(seconds=1)).isoformat())
    assert [r["record_id"] for r in _rows(tmp_path / "out.csv")] == ["L1"]


def test_export_registry__bad_since__refused(app, runner, seeded, tmp_path):
    result = runner.invoke(args=["export", "registry", "--campaign", "2026", "--out", str(tmp_path / "x.csv"),
                                 "--since", "yesterday-ish"])
    assert result.exit_code != 0 and "--since" in result.output


def test_export_registry__any_export__audited_with_who_filters_and_count(app, runner, seeded, tmp_path):
    _export(runner, tmp_path / "r.csv", "--unit", "07228", "--as", seeded.users["province"])
    _export(runner, tmp_path / "s.csv")
    first, second = _audits(app, "exports.registry")
    with app.app_context():
        from server.accounts.queries import user_by_email

        assert first.actor_id == user_by_email(seeded.users["province"]).actor_id
    assert (first.actee_id, first.details["unit"], first.details["state"], first.details["rows"]) == (
        "2026", "07228", "decided", 3)
    assert second.actor_id is None and second.details["rows"] == 6 and second.details["cursor"]


def test_export_registry__xlsx__same_rows_as_csv(app, runner, seeded, tmp_path):
    _export(runner, tmp_path / "r.csv")
    _export(runner, tmp_path / "r.xlsx", "--format", "xlsx", "--members", str(tmp_path / "m.xlsx"))
    sheet = load_workbook(tmp_path / "r.xlsx", read_only=True).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(REGISTRY_COLUMNS)
    assert [r[0] for r in rows] == [r["record_id"] for r in _rows(tmp_path / "r.csv")]
    members = list(load_workbook(tmp_path / "m.xlsx", read_only=True).worksheets[0].iter_rows(values_only=True))
    assert len(members) == 1 + 6  # one head each, no other members in this world


def test_export_registry__geojson__features_with_points_and_null_geometry(app, runner, world, tmp_path):
    seed(app, world.project_id, [
        Spec("G1", "07228-01", end="poor", change="new", state="decided", identity={"lat": 21.3, "lon": 106.17}),
        Spec("G2", "07228-01", end="poor", change="new", state="decided")])
    _export(runner, tmp_path / "r.geojson", "--format", "geojson")
    doc = json.loads((tmp_path / "r.geojson").read_text(encoding="utf-8"))
    features = {f["id"]: f for f in doc["features"]}
    assert features["G1"]["geometry"] == {"type": "Point", "coordinates": [106.17, 21.3]}
    assert features["G2"]["geometry"] is None
    assert features["G1"]["properties"]["class"] == "poor"


def test_export_registry__members_csv__head_first_then_member_names(app, runner, world, tmp_path):
    seed(app, world.project_id, [Spec("M1", "07228-01", head="Trần Văn Bình", end="poor", change="new",
                                      state="decided", members=["Lê Thị Cúc", "Trần Văn Dũng"])])
    _export(runner, tmp_path / "r.csv", "--members", str(tmp_path / "m.csv"))
    with (tmp_path / "m.csv").open(encoding="utf-8-sig", newline="") as handle:
        members = [(r["member_no"], r["full_name"], r["relation"]) for r in csv.DictReader(handle)]
    assert members == [("1", "Trần Văn Bình", "head"), ("2", "Lê Thị Cúc", ""), ("3", "Trần Văn Dũng", "")]


# --- round trip through the registry import ----------------------------------------------------------------

IDENTITY_WORLD = [
    Spec("BN-000001", "07228-01", head="Nguyễn Thị Hoà", members=["Trần Văn Thuỷ", "Đỗ Đức Anh"],
         extra={"ma_ho_tinh": "BN-77", "ghi_chu": "hộ có người khuyết tật, \"nặng\""},
         identity={"birth_year": 1968, "gender": "F", "national_id": "027168012345", "phone": "0912345678",
                   "address": "Thôn Đông, xã Mẫu, ngõ \"3\"", "lat": 21.0, "lon": 106.171234}),
    Spec("BN-000002", "07210-01", head="Giáp Văn Sơn", identity={"national_id": "024080123456", "lat": -0.5,
                                                                "lon": -179.25}),
    Spec("BN-000003", None, head="Ngô Thị Lan", members=["Ngô Văn Nam"], extra={"ma_ho_tinh": "BN-78"}),
]


def _identities(app) -> dict[str, tuple]:
    with app.app_context():
        return {h.code: (h.head_name, h.birth_year, h.gender, h.national_id, h.phone, h.village_code, h.address,
                         h.lat, h.lon, list(h.member_names or []), h.extra)
                for h in db.session.scalars(select(Household))}


def test_export_registry__csv_reimported_into_fresh_database__households_members_identifiers_equal(
        app, runner, world, tmp_path):
    seed(app, world.project_id, IDENTITY_WORLD + [Spec("BN-000004", "07228-02", end="poor", change="new",
                                                       state="decided", members=["Phí Văn Tú"])])
    before = _identities(app)
    out = tmp_path / "registry.csv"
    _export(runner, out, "--state", "all")
    _clean(app)
    result = runner.invoke(args=["households", "import", str(out)])
    assert result.exit_code == 0, result.output
    after = _identities(app)
    assert sorted(after) == sorted(before)
    for code, (*identity, extra) in before.items():
        *back, back_extra = after[code]
        assert back == identity, code
        # The province's own columns come back unchanged, and the export's own (class, indicators,
        # history) do not become province columns.
        assert (back_extra or {}) == (extra or {}), code
    # A second export of the re-imported registry gives the same identity and province columns.
    _export(runner, tmp_path / "again.csv", "--state", "all")
    first = {r["record_id"]: r for r in _rows(out)}
    again = {r["record_id"]: r for r in _rows(tmp_path / "again.csv")}
    keys = ("head_name", "birth_year", "gender", "national_id", "phone", "village_code", "address", "lat", "lon",
            "member_names", "ma_ho_tinh", "ghi_chu")
    assert {c: {k: r[k] for k in keys} for c, r in again.items()} == {c: {k: r[k] for k in keys}
                                                                       for c, r in first.items()}


# --- the PostgreSQL COPY path gives the Python path's bytes -----------------------------------------------

TRICKY = [
    Spec("T1", "07228-01", head="=HYPERLINK(\"x\")", end="poor", change="new", state="decided",
         members=["-Lê", "'Trần", "@An", "Bình \"Bé\""], extra={"ghi_chu": "+84 912", "ma": "\tx"},
         identity={"phone": "+84912345678", "address": "a,b\r\nc", "lat": 21.0, "lon": -106.5, "birth_year": 1970,
                   "national_id": "-1", "gender": "M"}),
    Spec("T2", "07228-02", head="Nguyễn Văn Đông", end="near_poor", change="new", state="decided",
         changed=datetime(2026, 11, 20, 3, 4, 5, tzinfo=UTC), identity={"lat": 1e-05, "lon": 0.1 + 0.2}),
    Spec("T3", "07210-01", head="None", state="village_review", identity={"address": "", "lat": 21.123456789012,
                                                                          "lon": 106.1}),
    Spec("T4", None, head="Không thôn", extra={"ghi_chu": "None"}),
]


@pytest.mark.parametrize("state", ["decided", "all"])
def test_export_registry__postgres_copy_and_python_paths__identical_bytes(app, world, state):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the COPY path exists on PostgreSQL only")
    seed(app, world.project_id, WORLD + TRICKY)
    outputs = {}
    with app.app_context():
        for use_sql in (True, False):
            buffer = io.BytesIO()
            result = services.export_registry(YEAR, "csv", buffer, state=state, use_sql=use_sql)
            outputs[use_sql] = (result.rows, result.path, buffer.getvalue())
        db.session.rollback()
    assert outputs[True][1] == "sql" and outputs[False][1] == "python"
    assert outputs[True][0] == outputs[False][0] > 0
    assert outputs[True][2] == outputs[False][2]


def test_export_registry__python_path__neutralises_formula_cells(app, world):
    seed(app, world.project_id, TRICKY)
    with app.app_context():
        buffer = io.BytesIO()
        services.export_registry(YEAR, "csv", buffer, state="all", use_sql=False)
        db.session.rollback()
    text = buffer.getvalue().decode("utf-8-sig")
    assert "\"'=HYPERLINK(\"\"x\"\")\"" in text and "\"'+84912345678\"" in text
    rows = {r["record_id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert parse_registry_row(rows["T1"])["head_name"] == "=HYPERLINK(\"x\")"


# --- the summary report ---------------------------------------------------------------------------------------

def _values(sheet) -> dict:
    names = [c.measure.name + (f"@{c.area}" if c.area else "") for c in sheet.template.columns]
    return {line.code or f"total@{line.area}": dict(zip(names, line.values, strict=True)) for line in sheet.lines}


def test_summary_report__hand_computed_world__counts_rates_and_transitions(app, seeded):
    with app.app_context():
        report = services.summary_report(YEAR, None)
        db.session.rollback()
    assert report.households == 9
    values = _values(report.table.sheets[0])
    urban, rural, total = values["07210"], values["07228"], values["total@None"]
    assert {k: urban[k] for k in ("households_total_start", "households_total", "poor_count_start", "poor_count",
                                  "poor_escaped", "poor_fell_back", "poor_new", "poor_exited_other",
                                  "near_poor_count_start", "near_poor_count", "near_poor_exited_other")} == {
        "households_total_start": 4, "households_total": 4, "poor_count_start": 2, "poor_count": 2,
        "poor_escaped": 1, "poor_fell_back": 1, "poor_new": 0, "poor_exited_other": 0,
        "near_poor_count_start": 1, "near_poor_count": 0, "near_poor_exited_other": 1}
    assert (urban["poor_rate_start"], urban["poor_rate"], urban["near_poor_rate_start"], urban["near_poor_rate"]) == (
        Decimal("50.00"), Decimal("50.00"), Decimal("25.00"), Decimal("0.00"))
    assert {k: rural[k] for k in ("households_total_start", "households_total", "poor_count_start", "poor_count",
                                  "near_poor_count_start", "near_poor_count", "near_poor_new",
                                  "near_poor_exited_other")} == {
        "households_total_start": 5, "households_total": 4, "poor_count_start": 1, "poor_count": 1,
        "near_poor_count_start": 2, "near_poor_count": 2, "near_poor_new": 1, "near_poor_exited_other": 1}
    assert (rural["poor_rate_start"], rural["poor_rate"], rural["near_poor_rate_start"], rural["near_poor_rate"]) == (
        Decimal("20.00"), Decimal("25.00"), Decimal("40.00"), Decimal("50.00"))
    assert (total["households_total_start"], total["households_total"], total["poor_rate_start"],
            total["poor_rate"], total["near_poor_rate_start"], total["near_poor_rate"]) == (
        9, 8, Decimal("33.33"), Decimal("37.50"), Decimal("33.33"), Decimal("25.00"))
    assert values["total@urban"]["households_total"] == 4 and values["total@rural"]["households_total"] == 4


def test_summary_report__by_indicator__deprived_counts_of_decided_households(app, seeded):
    with app.app_context():
        report = services.summary_report(YEAR, None)
        db.session.rollback()
    poor = _values(next(s for s in report.table.sheets if s.template.name.en == "Poor"))["total@None"]
    near = _values(next(s for s in report.table.sheets if s.template.name.en == "Near-poor"))["total@None"]
    assert (poor["poor_count"], poor["poor_deprived_1_1"], poor["poor_deprived_1_1_rate"], poor["poor_deprived_2_2"],
            poor["poor_deprived_5_1"], poor["poor_deprived_3_1"]) == (3, 2, Decimal("66.67"), 1, 1, 0)
    assert (near["near_poor_count"], near["near_poor_deprived_2_2"], near["near_poor_deprived_2_2_rate"],
            near["near_poor_deprived_4_2"], near["near_poor_deprived_4_2_rate"]) == (
        2, 2, Decimal("100.00"), 1, Decimal("50.00"))


def test_report_summary__commune__villages_as_rows_in_xlsx(app, runner, seeded, tmp_path):
    out = tmp_path / "07228.xlsx"
    result = runner.invoke(args=["report", "summary", "--campaign", "2026", "--unit", "07228", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        report = services.summary_report(YEAR, "07228")
        db.session.rollback()
    values = _values(report.table.sheets[0])
    assert set(values) >= {"07228-01", "07228-02"} and "07210-01" not in values
    assert (values["07228-01"]["households_total"], values["07228-01"]["near_poor_count"],
            values["07228-01"]["near_poor_new"]) == (2, 2, 1)
    assert (values["07228-02"]["households_total_start"], values["07228-02"]["households_total"],
            values["07228-02"]["poor_count"]) == (3, 2, 1)
    workbook = load_workbook(out)
    assert len(workbook.sheetnames) == 4
    cells = [c for row in workbook.worksheets[0].iter_rows(values_only=True) for c in row if c is not None]
    assert "Thôn Đông" in cells and any("2026" in str(c) for c in cells)
    assert _audits(app, "exports.report")[0].details["households"] == 5


def test_report_summary__unknown_template__refused(app, runner, seeded, tmp_path):
    result = runner.invoke(args=["report", "summary", "--campaign", "2026", "--out", str(tmp_path / "x.xlsx"),
                                 "--template", "nope"])
    assert result.exit_code != 0 and "nope" in result.output


def test_cursor__printed_by_export__decodes_to_a_time_before_the_export(app, runner, seeded, tmp_path):
    started = datetime.now(UTC)
    result = _export(runner, tmp_path / "r.csv")
    cursor = Cursor.decode(result.output.strip().rsplit("--since ", 1)[1])
    assert started - timedelta(seconds=61) <= cursor.changed_at <= started


def test_export_registry__classification_recomputed__export_reads_the_new_result(app, runner, seeded, tmp_path):
    _export(runner, tmp_path / "before.csv")
    with app.app_context():
        row = db.session.scalar(select(Classification).join(Submission).where(Submission.instance_id == "uuid:R1"))
        row.result = {**row.result, "national": {**row.result["national"], "indicators": _indicators(("1.1", "1.2"))}}
        row.computed_at = AT + timedelta(minutes=1)
        db.session.commit()
    _export(runner, tmp_path / "after.csv")
    before = {r["record_id"]: r for r in _rows(tmp_path / "before.csv")}["R1"]
    after = {r["record_id"]: r for r in _rows(tmp_path / "after.csv")}["R1"]
    assert (before["deprivation_count"], before["i_1_2"]) == (1, "not_deprived")
    assert (after["deprivation_count"], after["i_1_2"], after["i_2_2"]) == (2, "deprived", "not_deprived")


def _add_review(app, code: str, state: str, since: datetime, decisions: tuple[str, ...] = ()) -> None:
    """A further submission and review of household ``code`` this year, with ``decisions`` in order."""
    with app.app_context():
        household = db.session.scalar(select(Household).where(Household.code == code))
        first = db.session.scalar(select(Submission).where(Submission.household_id == household.id))
        submission = Submission(form_id=first.form_id, instance_id=f"uuid:{code}-again", household_id=household.id,
                                campaign_id=first.campaign_id, village_code=first.village_code,
                                commune_code=first.commune_code)
        db.session.add(submission)
        db.session.flush()
        review = Review(submission_id=submission.id, campaign_id=first.campaign_id, village_code=first.village_code,
                        commune_code=first.commune_code, state=state, state_since=since)
        db.session.add(review)
        db.session.flush()
        for number in decisions:
            db.session.add(ReviewEvent(review_id=review.id, action="decide", from_state="awaiting_decision",
                                       to_state="decided", record={"payload": {"decision_number": number,
                                                                               "decision_date": "2026-11-25"}}))
            db.session.flush()
        db.session.commit()


@pytest.mark.parametrize("use_sql", [False, True])
@pytest.mark.parametrize("state", ["decided", "all"])
def test_export_registry__several_reviews__latest_in_the_states_asked_with_its_latest_decision(app, seeded, use_sql,
                                                                                                 state):
    with app.app_context():
        if use_sql and db.engine.dialect.name != "postgresql":
            pytest.skip("the COPY path exists on PostgreSQL only")
    _add_review(app, "R1", "decided", AT + timedelta(hours=1), decisions=("1/QĐ-cũ", "2/QĐ-mới"))
    _add_review(app, "R2", "village_review", AT + timedelta(hours=1))
    with app.app_context():
        buffer = io.BytesIO()
        services.export_registry(YEAR, "csv", buffer, state=state, use_sql=use_sql)
        db.session.rollback()
    listed = list(csv.DictReader(io.StringIO(buffer.getvalue().decode("utf-8-sig"), newline="")))
    rows = {r["record_id"]: r for r in listed}
    assert len(listed) == len(rows)  # one row per household
    assert (rows["R1"]["review_state"], rows["R1"]["decision_number"]) == ("decided", "2/QĐ-mới")
    if state == "decided":  # R2's newer review is not decided: its decided one counts
        assert (rows["R2"]["review_state"], rows["R2"]["decision_number"].endswith("/QĐ-UBND")) == ("decided", True)
    else:  # every state: the newer review, undecided, without decision or class
        assert (rows["R2"]["review_state"], rows["R2"]["decision_number"], rows["R2"]["class"]) == (
            "village_review", "", "")
