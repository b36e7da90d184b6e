"""The ODK form-engine harness: forms written as XLSForm markdown, compiled with pyxform and
filled by the real engine under Node, must come out as the submissions a phone would send.

Each Node process costs over a second, so related cases share one `fill_many` batch.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from tests.e2e import odk_engine
from tests.e2e.odk_engine import (
    EngineError,
    EngineNotInstalled,
    FilledForm,
    Step,
    StepRefused,
    fill_form,
    fill_many,
    run_engine,
)

UUID_INSTANCE_ID = re.compile(r"^uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def compile_form(markdown: str) -> str:
    return convert(xlsform=markdown, file_type=".md", form_name="data").xform


def submission(filled: FilledForm) -> ET.Element:
    assert filled.xml is not None, filled.violations
    return ET.fromstring(filled.xml)


HOUSEHOLD_FORM = compile_form(
    """
    | survey |
    | | type | name | label | required | relevant | constraint | constraint_message |
    | | start | start | | | | | |
    | | deviceid | deviceid | | | | | |
    | | username | username | | | | | |
    | | text | hh_name | Chủ hộ | yes | | | |
    | | integer | hh_size | Nhân khẩu | | | . > 0 and . < 30 | Số nhân khẩu phải từ 1 đến 29 |
    | | decimal | income | Thu nhập | | | | |
    | | select_one yn | poor | Hộ nghèo? | | | | |
    | | text | poor_reason | Lý do | yes | ${poor} = 'yes' | | |
    | | select_multiple aid | aids | Hỗ trợ | | | | |
    | | geopoint | loc | Vị trí | | | | |
    | | image | photo | Ảnh nhà | | | | |
    | | begin_repeat | member | Thành viên | | | | |
    | | text | m_name | Họ tên | yes | | | |
    | | integer | m_age | Tuổi | | | | |
    | | end_repeat | | | | | | |
    | choices |
    | | list_name | name | label |
    | | yn | yes | Có |
    | | yn | no | Không |
    | | aid | rice | Gạo |
    | | aid | cash | Tiền mặt |
    | | aid | health | Bảo hiểm y tế |
    | settings |
    | | form_title | form_id | version |
    | | Rà soát hộ nghèo | household | 2025.1 |
    """
)

COMPLETE: list[Step] = [
    {"set": "/data/hh_name", "value": "Nguyễn Văn An"},
    {"set": "/data/hh_size", "value": "3"},
    {"set": "/data/income", "value": "1250000.5"},
    {"set": "/data/poor", "value": "yes"},
    {"set": "/data/poor_reason", "value": "Ốm đau"},
    {"set": "/data/aids", "value": "rice health"},
    {"set": "/data/loc", "value": "21.1861 106.0763 12 4.5"},
    {"set": "/data/photo", "value": "house-1.jpg"},
    {"set": "/data/member[1]/m_name", "value": "Nguyễn Văn An"},
    {"set": "/data/member[1]/m_age", "value": "52"},
    {"add_repeat": "/data/member"},
    {"set": "/data/member[2]/m_name", "value": "Trần Thị Bình"},
    {"set": "/data/member[2]/m_age", "value": "49"},
    {"add_repeat": "/data/member"},
    {"set": "/data/member[3]/m_name", "value": "Nguyễn Thị Chi"},
    {"set": "/data/member[3]/m_age", "value": "12"},
]


def without(steps: Sequence[Step], path: str) -> list[Step]:
    return [step for step in steps if step.get("set") != path]


def replaced(steps: Sequence[Step], path: str, value: str) -> list[Step]:
    return [{"set": path, "value": value} if step.get("set") == path else step for step in steps]


HOUSEHOLD_CASES: Mapping[str, list[Step]] = {
    "complete": COMPLETE,
    "complete_again": COMPLETE,
    "size_too_big": replaced(COMPLETE, "/data/hh_size", "40"),
    "name_missing": without(COMPLETE, "/data/hh_name"),
    "not_poor_no_reason": replaced(without(COMPLETE, "/data/poor_reason"), "/data/poor", "no"),
    "poor_no_reason": without(COMPLETE, "/data/poor_reason"),
    "reason_for_not_poor": [{"set": "/data/poor", "value": "no"}, {"set": "/data/poor_reason", "value": "x"}],
    "unknown_path": [{"set": "/data/no_such_field", "value": "x"}],
    "member_beyond_last": [{"set": "/data/member[2]/m_name", "value": "x"}],
    "size_not_a_number": [{"set": "/data/hh_size", "value": "ba"}],
    "latitude_out_of_range": [{"set": "/data/loc", "value": "210.5 106.07 0 5"}],
}


@pytest.fixture(scope="module")
def household() -> dict[str, FilledForm]:
    # One Node process for every household case: refusals are reported, not raised, here.
    run = run_engine(
        HOUSEHOLD_FORM,
        list(HOUSEHOLD_CASES.values()),
        preload={"deviceID": "collect:ktv01-phone", "username": "ktv01"},
    )
    return dict(zip(HOUSEHOLD_CASES, run.fillings, strict=True))


def test_fill__text_integer_decimal_selects__values_in_submission(household: dict[str, FilledForm]) -> None:
    root = submission(household["complete"])

    assert root.get("id") == "household"
    assert root.get("version") == "2025.1"
    assert root.findtext("hh_name") == "Nguyễn Văn An"
    assert root.findtext("hh_size") == "3"
    assert root.findtext("income") == "1250000.5"
    assert root.findtext("poor") == "yes"
    assert root.findtext("aids") == "rice health"


def test_fill__geopoint__lat_lon_alt_acc_in_submission(household: dict[str, FilledForm]) -> None:
    lat, lon, alt, acc = submission(household["complete"]).findtext("loc").split()

    assert (float(lat), float(lon), float(alt), float(acc)) == (21.1861, 106.0763, 12.0, 4.5)


def test_fill__image__file_name_in_submission_and_attachments(household: dict[str, FilledForm]) -> None:
    filled = household["complete"]

    assert submission(filled).findtext("photo") == "house-1.jpg"
    assert filled.attachments == ["house-1.jpg"]


def test_fill__repeat_added_twice__three_instances_in_order(household: dict[str, FilledForm]) -> None:
    members = submission(household["complete"]).findall("member")

    assert [m.findtext("m_name") for m in members] == ["Nguyễn Văn An", "Trần Thị Bình", "Nguyễn Thị Chi"]
    assert [m.findtext("m_age") for m in members] == ["52", "49", "12"]


def test_fill__new_instance__instance_id_is_uuid_in_meta(household: dict[str, FilledForm]) -> None:
    filled = household["complete"]

    assert UUID_INSTANCE_ID.match(filled.instance_id or "")
    assert submission(filled).findtext("meta/instanceID") == filled.instance_id


def test_fill__same_steps_twice__distinct_instance_ids(household: dict[str, FilledForm]) -> None:
    assert household["complete"].instance_id != household["complete_again"].instance_id


def test_fill__preload__device_and_user_recorded(household: dict[str, FilledForm]) -> None:
    root = submission(household["complete"])

    assert root.findtext("deviceid") == "collect:ktv01-phone"
    assert root.findtext("username") == "ktv01"


def test_fill__start_time__in_vietnam_time_zone(household: dict[str, FilledForm]) -> None:
    assert submission(household["complete"]).findtext("start").endswith("+07:00")


def test_fill__constraint_broken__violation_with_form_message_and_no_xml(household: dict[str, FilledForm]) -> None:
    filled = household["size_too_big"]

    assert filled.xml is None
    assert [(v.ref, v.kind, v.message) for v in filled.violations] == [
        ("/data/hh_size", "constraint", "Số nhân khẩu phải từ 1 đến 29")
    ]


def test_fill__required_missing__violation_and_no_xml(household: dict[str, FilledForm]) -> None:
    filled = household["name_missing"]

    assert filled.xml is None
    assert [(v.ref, v.kind) for v in filled.violations] == [("/data/hh_name", "required")]


def test_fill__required_question_not_relevant__submitted_without_its_element(household: dict[str, FilledForm]) -> None:
    filled = household["not_poor_no_reason"]

    assert filled.violations == []
    # Like JavaRosa, the engine leaves non-relevant questions out of the submission entirely.
    assert submission(filled).find("poor_reason") is None


def test_fill__required_question_made_relevant__violation(household: dict[str, FilledForm]) -> None:
    assert [(v.ref, v.kind) for v in household["poor_no_reason"].violations] == [("/data/poor_reason", "required")]


def test_fill__answer_to_question_not_relevant__refused(household: dict[str, FilledForm]) -> None:
    filled = household["reason_for_not_poor"]

    assert "/data/poor_reason is not relevant" in (filled.refused or "")
    assert filled.xml is None


def test_fill__unknown_path__refused(household: dict[str, FilledForm]) -> None:
    assert 'no node "no_such_field"' in (household["unknown_path"].refused or "")


def test_fill__repeat_index_beyond_last_instance__refused(household: dict[str, FilledForm]) -> None:
    assert "repeat has 1 instance(s), not 2" in (household["member_beyond_last"].refused or "")


def test_fill__integer_that_does_not_parse__refused_not_blanked(household: dict[str, FilledForm]) -> None:
    assert '"ba" is not a valid int' in (household["size_not_a_number"].refused or "")


def test_fill__geopoint_latitude_out_of_range__refused_not_blanked(household: dict[str, FilledForm]) -> None:
    assert "is not a valid geopoint" in (household["latitude_out_of_range"].refused or "")


def test_fill__complete_filling__not_refused(household: dict[str, FilledForm]) -> None:
    assert household["complete"].refused is None


VILLAGE_FORM = compile_form(
    """
    | survey |
    | | type | name | label | choice_filter |
    | | select_one commune | commune | Xã | |
    | | select_one_from_file villages.csv | village | Thôn | commune = ${commune} |
    | choices |
    | | list_name | name | label |
    | | commune | 09310 | Xã Đại Lai |
    | | commune | 09313 | Xã Song Giang |
    | settings |
    | | form_id |
    | | villages |
    """
)

VILLAGES_CSV = """name,label,commune
v-dai-lai-1,Thôn Đông,09310
v-dai-lai-2,Thôn Tây,09310
v-song-giang-1,Thôn Ngọc Quan,09313
"""


def test_fill__select_one_from_file_choice_in_filter__submitted() -> None:
    filled = fill_form(
        VILLAGE_FORM,
        [{"set": "/data/commune", "value": "09313"}, {"set": "/data/village", "value": "v-song-giang-1"}],
        attachments={"villages.csv": VILLAGES_CSV},
    )

    assert submission(filled).findtext("village") == "v-song-giang-1"


def test_fill_form__choice_filtered_out_of_file_list__raises_step_refused() -> None:
    steps = [{"set": "/data/commune", "value": "09313"}, {"set": "/data/village", "value": "v-dai-lai-1"}]

    with pytest.raises(StepRefused, match="not offered"):
        fill_form(VILLAGE_FORM, steps, attachments={"villages.csv": VILLAGES_CSV})


def test_fill__attachment_as_jr_file_url__served_by_basename() -> None:
    form = VILLAGE_FORM.replace("jr://file-csv/villages.csv", "jr://file/villages.csv")
    assert "jr://file/villages.csv" in form

    filled = fill_form(
        form,
        [{"set": "/data/commune", "value": "09310"}, {"set": "/data/village", "value": "v-dai-lai-2"}],
        attachments={"villages.csv": VILLAGES_CSV},
    )

    assert submission(filled).findtext("village") == "v-dai-lai-2"


def test_fill__attachment_missing__engine_error_names_it() -> None:
    with pytest.raises(EngineError, match="villages.csv"):
        fill_form(VILLAGE_FORM, [])


ENTITY_FORM = compile_form(
    """
    | survey |
    | | type | name | label |
    | | text | hh_name | Chủ hộ |
    | | integer | hh_size | Nhân khẩu |
    | entities |
    | | list_name | label |
    | | households | ${hh_name} |
    | settings |
    | | form_id |
    | | household_reg |
    """
)


def test_fill__entities_create_sheet__entity_block_with_label_and_uuid() -> None:
    root = submission(fill_form(ENTITY_FORM, [{"set": "/data/hh_name", "value": "Lê Văn Dũng"}]))
    entity = root.find("meta/entity")

    assert entity is not None
    assert (entity.get("dataset"), entity.get("create"), entity.findtext("label")) == (
        "households",
        "1",
        "Lê Văn Dũng",
    )
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", entity.get("id") or "")


@pytest.mark.slow
def test_fill_many__fifty_fillings__each_submission_has_its_own_values() -> None:
    batch = [
        [{"set": "/data/hh_name", "value": f"Hộ {n}"}, {"set": "/data/hh_size", "value": str(n)}] for n in range(50)
    ]

    filled = fill_many(ENTITY_FORM, batch)

    assert [submission(f).findtext("hh_name") for f in filled] == [f"Hộ {n}" for n in range(50)]
    assert [submission(f).findtext("hh_size") for f in filled] == [str(n) for n in range(50)]
    assert len({f.instance_id for f in filled}) == 50


def test_fill__engine_packages_missing__fails_telling_to_run_make_test(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(odk_engine, "ENGINE_DIR", tmp_path)

    with pytest.raises(EngineNotInstalled, match="make test"):
        fill_form(ENTITY_FORM, [])
