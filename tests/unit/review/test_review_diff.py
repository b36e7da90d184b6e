"""The diff an edited submission is reviewed with: fields, and roster members matched by name and position."""

from __future__ import annotations

import json

from server.review.diff import ChangeKind, FieldChange, diff_answers, diff_fields

ADDED, REMOVED, CHANGED = ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.CHANGED


def member(name: str, birth_year: str = "1980", **extra: str) -> dict[str, str]:
    return {"m_name": name, "m_birth_year": birth_year, "m_relation": "child", **extra}


def answers(fields: dict[str, str] | None = None, members: list[dict[str, str]] | None = None) -> dict:
    return {"fields": {"head_name": "Nguyễn Văn An", "living_area_m2": "30", **(fields or {})},
            "repeats": {"member": members if members is not None else [member("Nguyễn Văn An", "1970")]}}


ROSTER = [member("Nguyễn Văn An", "1970", m_relation="head"), member("Trần Thị Bình", "1972"),
          member("Nguyễn Văn Cường", "2000"), member("Nguyễn Thị Dung", "2005")]


def test_diff__same_answers__is_empty():
    diff = diff_answers(answers(members=ROSTER), answers(members=list(ROSTER)))
    assert diff.is_empty and diff.to_dict() == {"fields": [], "instances": []}


def test_diff__empty_and_absent__are_the_same_answer():
    """DF001."""
    assert diff_fields({"phone": "", "address": None}, {}) == ()
    assert diff_fields({"phone": "  "}, {"phone": ""}) == ()


def test_diff__unicode_form_only__is_not_a_change():
    """DF001."""
    assert diff_fields({"head_name": "Nguye\u0302\u0303n"}, {"head_name": "Nguyễn"}) == ()


def test_diff__fields_added_removed_changed__each_kind_with_values():
    """DF002."""
    before = {"phone": "", "address": "Thôn Đông", "living_area_m2": "30", "roof_material": "durable"}
    after = {"phone": "0912345678", "address": "", "living_area_m2": "24", "roof_material": "durable"}
    assert diff_fields(before, after) == (
        FieldChange("phone", ADDED, None, "0912345678"),
        FieldChange("address", REMOVED, "Thôn Đông", None),
        FieldChange("living_area_m2", CHANGED, "30", "24"),
    )


def test_diff__order__new_version_order_then_old_only_fields():
    """DF002."""
    changes = diff_fields({"z_old": "1", "b": "1", "a": "1"}, {"b": "2", "a": "2"})
    assert [c.name for c in changes] == ["b", "a", "z_old"]


def test_diff__metadata_and_calculations__ignored_by_default():
    """DF003."""
    before = {"start": "2025-10-01T08:00", "end": "2025-10-01T08:30", "deviceid": "a", "member_count": "3"}
    after = {"start": "2025-10-05T09:00", "end": "2025-10-05T09:10", "deviceid": "b", "member_count": "4"}
    assert diff_fields(before, after) == ()
    assert [c.name for c in diff_fields(before, after, ignored=())] == ["start", "end", "deviceid", "member_count"]


def test_diff__member_removed_in_the_middle__only_that_member_listed():
    """DF004: later members shift position but are matched by name."""
    after = [ROSTER[0], ROSTER[2], ROSTER[3]]
    diff = diff_answers(answers(members=ROSTER), answers(members=after))
    assert diff.fields == ()
    [removed] = diff.instances
    assert (removed.kind, removed.before_position, removed.after_position, removed.label) == (
        REMOVED, 2, None, "Trần Thị Bình")
    assert {c.name: c.before for c in removed.fields} == {"m_name": "Trần Thị Bình", "m_birth_year": "1972",
                                                           "m_relation": "child"}
    assert all(c.kind is REMOVED and c.after is None for c in removed.fields)


def test_diff__member_added__listed_with_all_answers():
    """DF004."""
    baby = member("Nguyễn Văn Em", "2025", m_sex="male", m_insurance="")
    diff = diff_answers(answers(members=ROSTER), answers(members=[*ROSTER, baby]))
    [added] = diff.instances
    assert (added.kind, added.before_position, added.after_position, added.label) == (ADDED, None, 5, "Nguyễn Văn Em")
    assert [c.name for c in added.fields] == ["m_name", "m_birth_year", "m_relation", "m_sex"]


def test_diff__member_answer_changed__listed_with_both_positions():
    """DF004, DF006."""
    after = [ROSTER[0], ROSTER[1], {**ROSTER[2], "m_work": "unemployed"}, ROSTER[3]]
    [changed] = diff_answers(answers(members=ROSTER), answers(members=after)).instances
    assert (changed.kind, changed.before_position, changed.after_position) == (CHANGED, 3, 3)
    assert changed.fields == (FieldChange("m_work", ADDED, None, "unemployed"),)


def test_diff__roster_reordered__is_not_a_change():
    """DF004."""
    diff = diff_answers(answers(members=ROSTER), answers(members=[ROSTER[0], ROSTER[3], ROSTER[2], ROSTER[1]]))
    assert diff.instances == ()


def test_diff__name_spelling_corrected__same_member_with_name_change():
    """DF004: accents, Đ/đ, case and spaces do not make a different person."""
    before = [ROSTER[0], member("Tran Thi Binh", "1972"), member("DANG  VAN  DUC", "1999")]
    after = [ROSTER[0], member("Đặng Văn Đức", "1999"), member("Trần Thị Bình", "1972")]
    instances = diff_answers(answers(members=before), answers(members=after)).instances
    assert [(i.kind, i.before_position, i.after_position, i.label) for i in instances] == [
        (CHANGED, 3, 2, "Đặng Văn Đức"), (CHANGED, 2, 3, "Trần Thị Bình")]
    assert instances[1].fields == (FieldChange("m_name", CHANGED, "Tran Thi Binh", "Trần Thị Bình"),)


def test_diff__name_rewritten_in_place__matched_by_position():
    """DF004: no name match left, so the same position is the same member."""
    after = [ROSTER[0], member("Trần Thị Bích", "1972"), ROSTER[2], ROSTER[3]]
    [changed] = diff_answers(answers(members=ROSTER), answers(members=after)).instances
    assert (changed.kind, changed.before_position, changed.after_position) == (CHANGED, 2, 2)
    assert changed.fields == (FieldChange("m_name", CHANGED, "Trần Thị Bình", "Trần Thị Bích"),)


def test_diff__namesakes__matched_in_order():
    """DF004: two members with one name (father and son) pair first-with-first."""
    father, son = member("Nguyễn Văn Nam", "1950"), member("Nguyễn Văn Nam", "1980")
    after = [father, {**son, "m_work": "self_employed"}]
    [changed] = diff_answers(answers(members=[father, son]), answers(members=after)).instances
    assert (changed.before_position, changed.after_position) == (2, 2)
    assert [c.name for c in changed.fields] == ["m_work"]


def test_diff__members_left_after_name_matching__paired_by_position_then_added():
    """DF004."""
    after = [ROSTER[0], member("Lê Văn Giang", "1990"), member("Lê Thị Hoa", "1992")]
    instances = diff_answers(answers(members=ROSTER[:2]), answers(members=after)).instances
    assert [(i.kind, i.label) for i in instances] == [
        (CHANGED, "Lê Văn Giang"), (ADDED, "Lê Thị Hoa")]


def test_diff__repeat_without_name_field__matched_by_position():
    """DF005."""
    before = {"fields": {}, "repeats": {"plot": [{"area": "100"}, {"area": "200"}]}}
    after = {"fields": {}, "repeats": {"plot": [{"area": "200"}]}}
    instances = diff_answers(before, after).instances
    assert [(i.kind, i.before_position, i.after_position, i.label) for i in instances] == [
        (CHANGED, 1, 1, ""), (REMOVED, 2, None, "")]


def test_diff__repeat_in_one_version_only__all_instances_added():
    """DF004."""
    before = {"fields": {}, "repeats": {}}
    instances = diff_answers(before, answers(members=ROSTER[:2])).instances
    assert [i.kind for i in instances] == [ADDED, ADDED]


def test_diff__head_and_fields__reported_together_and_json_ready():
    after = answers({"living_area_m2": "18", "head_name": "Trần Thị Bình"},
                    [{**ROSTER[1], "m_relation": "head"}, *ROSTER[2:]])
    diff = diff_answers(answers(members=ROSTER), after)
    assert [c.name for c in diff.fields] == ["head_name", "living_area_m2"]
    assert [(i.kind, i.label) for i in diff.instances] == [(CHANGED, "Trần Thị Bình"), (REMOVED, "Nguyễn Văn An")]
    assert json.loads(json.dumps(diff.to_dict()))["instances"][0]["fields"][0] == {
        "name": "m_relation", "kind": "changed", "before": "child", "after": "head"}
