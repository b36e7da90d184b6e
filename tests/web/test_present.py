"""server/web/present.py: PR001–PR005."""

from __future__ import annotations

import pytest

from server.web.present import answer_rows, answer_text, gps_point, member_table, side_by_side


@pytest.mark.parametrize(("value", "lang", "shown"), [
    ("tv smartphone", "vi", "ti vi, điện thoại thông minh"), ("tv smartphone", "en", "TV, smartphone"),
    ("yes", "vi", "Có"), ("no", "en", "No"), ("Nguyễn Văn An", "vi", "Nguyễn Văn An"), ("07210", "en", "07210"),
    ("tv Hà Nội", "vi", "tv Hà Nội"), (None, "vi", ""), (" 45 ", "vi", "45")])
def test_answer_text__pr001__choices_in_words_other_values_as_stored(value, lang, shown):
    assert answer_text(value, lang) == shown


def test_answer_rows__pr002__ignored_fields_left_out_form_order_kept():
    answers = {"fields": {"start": "x", "head_name": "An", "deviceid": "d", "latrine": "septic", "member_count": "2"}}
    rows = answer_rows(answers, "en")
    assert [(r.name, r.label, r.value) for r in rows] == [("head_name", "Head of household", "An"),
                                                          ("latrine", "Latrine", "septic tank")]


def test_member_table__pr003__answered_columns_first_seen_order():
    answers = {"repeats": {"member": [{"m_name": "An", "m_age": "40", "m_sex": "male", "m_disability": ""},
                                      {"m_name": "Bình", "m_insurance": "no"}]}}
    table = member_table(answers, "vi")
    assert [name for name, _ in table.columns] == ["m_name", "m_sex", "m_insurance"]
    assert table.rows == (("An", "Nam", ""), ("Bình", "", "Không"))


def test_side_by_side__pr004__every_field_flagged_when_different_and_members():
    before = {"fields": {"living_area_m2": "30", "latrine": "open", "start": "a"},
              "repeats": {"member": [{"m_name": "An"}]}}
    after = {"fields": {"living_area_m2": "45", "latrine": " open ", "water_source": "piped", "start": "b"},
             "repeats": {"member": [{"m_name": "An"}, {"m_name": "Cúc"}]}}
    rows = [(r.label, r.before, r.after, r.changed) for r in side_by_side(before, after, "en")]
    assert rows == [("Living area", "30", "45", True),
                    ("Latrine", "open latrine or fish-pond latrine", "open latrine or fish-pond latrine", False),
                    ("Water source", "", "piped water", True),
                    ("Number of members", "1", "2", True),
                    ("Members' names", "An", "An, Cúc", True)]


@pytest.mark.parametrize(("gps", "point"), [
    ("21.28 106.205 10 5", (106.205, 21.28)), ("21.28 106.205", (106.205, 21.28)), ("", None), (None, None),
    ("abc def", None), ("95 106", None)])
def test_gps_point__pr005__lon_lat_or_none(gps, point):
    assert gps_point({"fields": {"gps": gps}}) == point
