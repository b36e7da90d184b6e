"""EN001–EN010 (sync/entities.py): entity actions in submissions, update rules, entity list CSV."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from decimal import Decimal

import pytest
from pyxform.xls2xform import convert

from sync.entities import (
    ConflictKind,
    EntityAction,
    EntityError,
    EntityRow,
    Origin,
    Outcome,
    apply_update,
    entity_list_chunks,
    entity_list_csv,
    entity_list_md5,
    force_held,
    household_label,
    md5_hash,
    new_state,
    parse_entity,
    resolve,
    returned_survey_row,
    row_from_state,
    save_to_map,
)
from sync.submission import parse_submission

HH = "hh-0001"
NEW_ID = "2f1c5b0e-8d4a-4c3e-9a6b-1f2e3d4c5b6a"
BRANCH_A = "0b8f9c1e-1111-4a2b-8c3d-000000000001"
BRANCH_B = "0b8f9c1e-2222-4a2b-8c3d-000000000002"
SAVE_TO = {"/data/income": "income", "head": "head_name", "toilet": "toilet"}


def submission(entity_attrs: str, label: str = "", fields: str = "", instance: str = "uuid:s1") -> bytes:
    return (f'<data xmlns:orx="http://openrosa.org/xforms" id="upd" version="1">{fields}'
            f"<orx:meta><orx:instanceID>{instance}</orx:instanceID>"
            f"<entity {entity_attrs}><label>{label}</label></entity></orx:meta></data>").encode()


def registry() -> object:
    return new_state(HH, "households", "Nguyễn Văn An - Thôn Đông", {"income": "1000", "toilet": "no"})


def update(base: int | None, branch: str | None = None, trunk: int | None = None, label: str | None = None,
           source: str | None = None, **properties: str) -> EntityAction:
    return EntityAction("households", HH, create=False, update=True, label=label, properties=properties,
                        base_version=base, trunk_version=trunk, branch_id=branch, source=source)


def error_key(call) -> str:
    with pytest.raises(EntityError) as caught:
        call()
    return caught.value.key


# --- EN001, EN002: reading the entity block ------------------------------------------------------

def test_parse_entity__offline_update__every_attribute_and_property_read():
    xml = submission(f'dataset="households" id="{HH}" update="1" baseVersion="3" trunkVersion="2" '
                     f'branchId="{BRANCH_A.upper()}"', label="Nguyễn Văn An",
                     fields="<income>2000</income><g><head> Nguyễn Văn An </head></g><other>x</other>")
    action = parse_entity(xml, SAVE_TO)
    assert action == EntityAction(
        dataset="households", entity_id=HH, create=False, update=True, label="Nguyễn Văn An",
        properties={"income": "2000", "head_name": "Nguyễn Văn An"}, base_version=3, trunk_version=2,
        branch_id=BRANCH_A, source="uuid:s1")


def test_parse_entity__path_and_leaf_keys__path_exact_leaf_anywhere():
    xml = submission(f'dataset="households" id="{HH}" update="1" baseVersion="1"',
                     fields="<income>5</income><g><income>9</income></g>")
    with pytest.raises(EntityError) as caught:
        parse_entity(xml, {"/data/g/income": "income", "income": "income"})
    assert caught.value.key == "ambiguous_property"
    assert parse_entity(xml, {"/data/g/income": "income"}).properties == {"income": "9"}


def test_parse_entity__saved_field_in_repeat__ambiguous_refused():
    xml = submission(f'dataset="households" id="{HH}" update="1" baseVersion="1"',
                     fields="<m><toilet>a</toilet></m><m><toilet>b</toilet></m>")
    assert error_key(lambda: parse_entity(xml, SAVE_TO)) == "ambiguous_property"


def test_parse_entity__create_true__uuid_normalised_no_versions():
    xml = submission(f'dataset="households" id="uuid:{NEW_ID.upper()}" create="true" baseVersion="" '
                     'trunkVersion="" branchId=""', label="Hộ mới")
    action = parse_entity(xml, SAVE_TO)
    assert (action.entity_id, action.create, action.update) == (NEW_ID, True, False)
    assert (action.base_version, action.trunk_version, action.branch_id) == (None, None, None)


@pytest.mark.parametrize("attrs", ['create="0"', 'update="false"', 'create="" update=""', 'create="yes"', ""])
def test_parse_entity__no_truthy_flag__no_action(attrs):
    assert parse_entity(submission(f'dataset="households" id="{HH}" {attrs}'), SAVE_TO) is None


def test_parse_entity__no_entity_block__none():
    assert parse_entity(b'<data id="f"><a>1</a><meta><instanceID>u</instanceID></meta></data>', SAVE_TO) is None
    assert parse_entity(b'<data id="f"><a>1</a></data>', SAVE_TO) is None


def test_parse_entity__blank_label__none_label():
    action = parse_entity(submission(f'dataset="households" id="{HH}" update="1" baseVersion="1"', "  "), SAVE_TO)
    assert action.label is None


def test_parse_entity__element_from_parse_submission__same_result():
    xml = submission(f'dataset="households" id="{HH}" update="1" baseVersion="1"', fields="<toilet>yes</toilet>")
    assert parse_entity(parse_submission(xml).root, SAVE_TO) == parse_entity(xml, SAVE_TO)


def test_parse_entity__decomposed_text__nfc():
    decomposed = unicodedata.normalize("NFD", "Trần Thị Thuỷ")
    xml = submission(f'dataset="households" id="{HH}" update="1" baseVersion="1"', decomposed,
                     fields=f"<head>{decomposed}</head>")
    action = parse_entity(xml, SAVE_TO)
    assert action.label == action.properties["head_name"] == unicodedata.normalize("NFC", "Trần Thị Thuỷ")


@pytest.mark.parametrize("attrs, key", [
    (f'id="{HH}" update="1" baseVersion="1"', "missing_dataset"),
    ('dataset="households" id=" " update="1" baseVersion="1"', "missing_entity_id"),
    (f'dataset="households" id="{HH}" update="1" baseVersion="1.5"', "bad_version"),
    (f'dataset="households" id="{HH}" update="1" baseVersion="-1"', "bad_version"),
    (f'dataset="households" id="{HH}" update="1" baseVersion="2" trunkVersion="x"', "bad_version"),
    (f'dataset="households" id="{HH}" update="1" baseVersion="2" branchId="phone-1"', "bad_branch_id"),
])
def test_parse_entity__invalid_attribute__error_key(attrs, key):
    assert error_key(lambda: parse_entity(submission(attrs), SAVE_TO)) == key


@pytest.mark.parametrize("xml, key", [(b"<data", "malformed_xml"),
                                      (b'<!DOCTYPE d [<!ENTITY e "x">]><d/>', "unsafe_xml")])
def test_parse_entity__bad_bytes__error_key(xml, key):
    assert error_key(lambda: parse_entity(xml, SAVE_TO)) == key


@pytest.mark.parametrize("prop", ["name", "label", "__version", "__x", ""])
def test_parse_entity__reserved_property_name__refused(prop):
    with pytest.raises(ValueError, match="reserved"):
        parse_entity(submission(f'dataset="households" id="{HH}" update="1" baseVersion="1"'), {"a": prop})


def test_save_to_map__compiled_update_form__paths_read_and_submission_parsed():
    md = """
    | survey   |
    |          | type        | name   | label  | save_to   |
    |          | text        | hh     | HH     |           |
    |          | integer     | income | Income | income    |
    |          | begin_group | g      | G      |           |
    |          | text        | head   | Head   | head_name |
    |          | end_group   |        |        |           |
    | entities |
    |          | list_name   | entity_id | label            |
    |          | households  | ${hh}     | concat(${head})  |
    """
    xform = convert(xlsform=md, file_type=".md", form_name="data").xform.encode()
    save_to = save_to_map(xform)
    assert save_to == {"/data/income": "income", "/data/g/head": "head_name"}
    xml = submission(f'dataset="households" id="{HH}" update="1" baseVersion="4" trunkVersion="4" '
                     f'branchId="{BRANCH_A}"', "An", fields="<hh>hh-0001</hh><income>7</income><g><head>An</head></g>")
    assert parse_entity(xml, save_to).properties == {"income": "7", "head_name": "An"}


# --- EN004: create ----------------------------------------------------------------------------------

def create(entity_id: str = NEW_ID, label: str | None = "Hộ tách - Thôn Đông", update: bool = False) -> EntityAction:
    return EntityAction("households", entity_id, create=True, update=update, label=label,
                        properties={"income": "800"}, source="uuid:c1")


def test_apply_update__create_new_id__version_1():
    result = apply_update(None, create(), 1)
    assert result.outcome is Outcome.CREATED
    assert (result.state.id, result.state.version, result.state.label) == (NEW_ID, 1, "Hộ tách - Thôn Đông")
    assert result.state.properties == {"income": "800"}
    assert result.applied[0].origin is Origin.CREATE and result.applied[0].source == "uuid:c1"


def test_apply_update__create_existing_id__duplicate():
    state = apply_update(None, create(), 1).state
    assert error_key(lambda: apply_update(state, create(), 2)) == "duplicate_create"


@pytest.mark.parametrize("action, key", [(create(entity_id=HH), "bad_entity_id"),
                                         (create(label=None), "missing_label")])
def test_apply_update__create_invalid__error_key(action, key):
    assert error_key(lambda: apply_update(None, action, 1)) == key


def test_apply_update__create_and_update_flags__create_when_missing_update_when_present():
    both = create(update=True)
    created = apply_update(None, both, 1)
    assert created.outcome is Outcome.CREATED
    stale = EntityAction("households", NEW_ID, create=True, update=True, label=None,
                         properties={"income": "900"}, base_version=1)
    updated = apply_update(created.state, stale, 2)
    assert (updated.outcome, updated.state.version, updated.state.properties["income"]) == (Outcome.UPDATED, 2, "900")


# --- EN005, EN009: plain updates and refusals ---------------------------------------------------------

def test_apply_update__base_is_current__next_version_received_values():
    result = apply_update(registry(), update(1, income="2000", label="Nguyễn Văn An - Thôn Tây"), 5)
    assert result.outcome is Outcome.UPDATED
    state = result.state
    assert (state.version, state.label, state.conflict) == (2, "Nguyễn Văn An - Thôn Tây", None)
    assert state.properties == {"income": "2000", "toilet": "no"}
    assert result.applied[0].changed == {"income": "2000", "label": "Nguyễn Văn An - Thôn Tây"}
    assert result.applied[0].arrival_order == 5


def test_apply_update__no_label_sent__label_kept():
    assert apply_update(registry(), update(1, toilet="yes"), 1).state.label == "Nguyễn Văn An - Thôn Đông"


def test_apply_update__unknown_entity__not_found():
    assert error_key(lambda: apply_update(None, update(1, income="1"), 1)) == "entity_not_found"


@pytest.mark.parametrize("action, key", [
    (EntityAction("returned", HH, create=False, update=True, label=None, properties={}, base_version=1),
     "dataset_mismatch"),
    (update(None, income="1"), "missing_base_version"),
    (update(2, income="1"), "base_version_not_found"),
    (update(0, income="1"), "base_version_not_found"),
    (update(1, branch=BRANCH_A, trunk=2, income="1"), "trunk_version_not_found"),
])
def test_apply_update__refused_update__error_key(action, key):
    assert error_key(lambda: apply_update(registry(), action, 1)) == key


def test_apply_update__branch_base_below_trunk__base_version_not_found():
    state = apply_update(registry(), update(1, income="2"), 1).state
    assert error_key(lambda: apply_update(state, update(1, branch=BRANCH_A, trunk=2, income="3"), 2)) == \
        "base_version_not_found"


# --- EN006: two phones from the same version ----------------------------------------------------------

def two_phones(first: dict[str, str], second: dict[str, str]):
    after_first = apply_update(registry(), update(1, source="uuid:A", **first), 1).state
    return apply_update(after_first, update(1, source="uuid:B", **second), 2)


def test_apply_update__two_phones_different_fields__soft_both_changes_kept():
    # Both phones send every pre-filled field; each changed only one of them.
    result = two_phones({"income": "2000", "toilet": "no"}, {"income": "1000", "toilet": "yes"})
    state = result.state
    assert state.conflict.kind is ConflictKind.SOFT
    assert state.properties == {"income": "2000", "toilet": "yes"}
    assert [(f.property, f.base, f.theirs, f.ours, f.clash) for f in state.conflict.fields] == [
        ("income", "1000", "2000", "1000", False), ("toilet", "no", "no", "yes", False)]
    assert state.conflict.versions == (1, 2, 3)


def test_apply_update__two_phones_same_field__hard_differing_field_listed_both_versions_kept():
    result = two_phones({"income": "2000"}, {"income": "1500"})
    state = result.state
    assert state.conflict.kind is ConflictKind.HARD
    assert [(f.property, f.base, f.theirs, f.ours, f.clash, f.version) for f in state.conflict.fields] == [
        ("income", "1000", "2000", "1500", True, 3)]
    assert state.version == 3 and state.properties["income"] == "1500"
    assert [(v.version, v.properties["income"], v.source) for v in state.versions] == [
        (1, "1000", None), (2, "2000", "uuid:A"), (3, "1500", "uuid:B")]
    assert state.conflict.versions == (1, 2, 3)


def test_apply_update__two_phones_same_value__soft_not_hard():
    state = two_phones({"income": "2000"}, {"income": "2000"}).state
    assert state.conflict.kind is ConflictKind.SOFT
    assert [f.clash for f in state.conflict.fields] == [False]


def test_apply_update__two_phones_same_label_changed_differently__hard_on_label():
    first = apply_update(registry(), update(1, label="An - Thôn Tây"), 1).state
    state = apply_update(first, update(1, label="An - Thôn Nam"), 2).state
    assert state.conflict.kind is ConflictKind.HARD
    assert [(f.property, f.theirs, f.ours) for f in state.conflict.fields] == [
        ("label", "An - Thôn Tây", "An - Thôn Nam")]


def test_apply_update__hard_then_soft__stays_hard_fields_accumulate():
    state = two_phones({"income": "2000"}, {"income": "1500"}).state
    state = apply_update(state, update(2, toilet="yes"), 3).state
    assert state.conflict.kind is ConflictKind.HARD
    assert state.conflict.versions == (1, 2, 3, 4)
    assert [(f.property, f.version) for f in state.conflict.fields] == [("income", 3), ("income", 4), ("toilet", 4)]


def test_apply_update__update_on_current_while_in_conflict__conflict_stays():
    state = two_phones({"income": "2000"}, {"income": "1500"}).state
    after = apply_update(state, update(3, toilet="yes"), 3).state
    assert after.conflict == state.conflict and after.version == 4


# --- EN007: offline chains from one phone ------------------------------------------------------------

def chain() -> list[EntityAction]:
    return [update(1, branch=BRANCH_A, trunk=1, income="1100", source="uuid:u1"),
            update(2, branch=BRANCH_A, trunk=1, toilet="yes", source="uuid:u2"),
            update(3, branch=BRANCH_A, trunk=1, income="1200", source="uuid:u3")]


def test_apply_update__offline_chain_in_order__applied_without_conflict():
    state = registry()
    for order, action in enumerate(chain(), start=1):
        result = apply_update(state, action, order)
        assert result.outcome is Outcome.UPDATED
        state = result.state
    assert (state.version, state.conflict) == (4, None)
    assert state.properties == {"income": "1200", "toilet": "yes"}
    assert [v.base_version for v in state.versions[1:]] == [1, 2, 3]


@pytest.mark.parametrize("arrival", [(0, 2, 1), (2, 1, 0), (1, 2, 0)])
def test_apply_update__offline_chain_out_of_order__held_then_released(arrival):
    actions = chain()
    state = registry()
    outcomes = []
    for order, index in enumerate(arrival, start=1):
        result = apply_update(state, actions[index], order)
        outcomes.append(result.outcome)
        state = result.state
    assert Outcome.HELD in outcomes
    assert (state.version, state.conflict, state.held) == (4, None, ())
    assert [v.source for v in state.versions[1:]] == ["uuid:u1", "uuid:u2", "uuid:u3"]
    assert state.properties == {"income": "1200", "toilet": "yes"}


def test_apply_update__predecessor_arrives__result_lists_released_versions():
    u1, u2, u3 = chain()
    state = apply_update(registry(), u1, 1).state
    held = apply_update(state, u3, 2)
    assert (held.outcome, held.applied, held.state.version) == (Outcome.HELD, (), 2)
    released = apply_update(held.state, u2, 3)
    assert [(v.version, v.source, v.arrival_order) for v in released.applied] == [(3, "uuid:u2", 3), (4, "uuid:u3", 2)]


def test_apply_update__chain_interrupted_by_other_phone__soft_conflict():
    u1, u2, _ = chain()
    state = apply_update(registry(), update(1, branch=BRANCH_B, trunk=1, toilet="yes"), 1).state
    state = apply_update(state, u1, 2).state
    assert state.conflict.kind is ConflictKind.SOFT
    state = resolve(state, {})
    state = apply_update(state, update(2, branch=BRANCH_A, trunk=1, income="1300"), 3).state
    assert state.conflict.kind is ConflictKind.SOFT
    assert [(f.property, f.ours, f.clash) for f in state.conflict.fields] == [("income", "1300", False)]
    assert state.version == 4


def test_apply_update__two_offline_phones_same_field__hard():
    state = apply_update(registry(), update(1, branch=BRANCH_A, trunk=1, income="1100"), 1).state
    state = apply_update(state, update(1, branch=BRANCH_B, trunk=1, income="900"), 2).state
    assert state.conflict.kind is ConflictKind.HARD
    assert [(f.theirs, f.ours) for f in state.conflict.fields] == [("1100", "900")]


# --- EN008: force ----------------------------------------------------------------------------------------

def test_apply_update__force_stale_base__applied_on_current_without_conflict():
    state = apply_update(registry(), update(1, income="2000"), 1).state
    result = apply_update(state, update(1, income="1000", toilet="yes"), 2, force=True)
    assert (result.state.conflict, result.state.version) == (None, 3)
    # Against the current version income "1000" is a change, so the forced update sets it.
    assert result.state.properties == {"income": "1000", "toilet": "yes"}


def test_apply_update__force_without_base_or_predecessor__applied_not_held():
    assert apply_update(registry(), update(None, income="5"), 1, force=True).state.version == 2
    _, _, u3 = chain()
    result = apply_update(registry(), u3, 1, force=True)
    assert (result.outcome, result.state.version, result.state.held) == (Outcome.UPDATED, 2, ())


def test_force_held__predecessor_never_arrives__held_applied_in_branch_order():
    _, u2, u3 = chain()
    state = apply_update(registry(), u3, 1).state
    state = apply_update(state, u2, 2).state
    assert len(state.held) == 2
    result = force_held(state)
    assert [v.source for v in result.applied] == ["uuid:u2", "uuid:u3"]
    assert (result.state.held, result.state.version, result.state.conflict) == ((), 3, None)


# --- EN010: resolving ------------------------------------------------------------------------------------

def test_resolve__hard_conflict_choice_given__new_version_conflict_cleared_resolution_recorded():
    state = two_phones({"income": "2000"}, {"income": "1500"}).state
    conflict = state.conflict
    resolved = resolve(state, {"income": "2000"})
    assert resolved.conflict is None
    assert (resolved.version, resolved.properties["income"], resolved.current.origin) == (4, "2000", Origin.RESOLVE)
    assert [(r.conflict, r.choice, r.version) for r in resolved.resolutions] == [(conflict, {"income": "2000"}, 4)]


def test_resolve__choice_equals_current__no_new_version():
    state = two_phones({"income": "2000"}, {"income": "1500"}).state
    resolved = resolve(state, {"income": "1500"})
    assert (resolved.version, resolved.conflict, resolved.resolutions[0].version) == (3, None, 3)


def test_resolve__soft_conflict_empty_choice__cleared():
    state = two_phones({"income": "2000"}, {"toilet": "yes"}).state
    resolved = resolve(state, {})
    assert (resolved.conflict, resolved.version, len(resolved.resolutions)) == (None, 3, 1)


@pytest.mark.parametrize("choice, key", [({}, "unresolved_fields"), ({"toilet": "no"}, "unresolved_fields"),
                                         ({"income": "1", "colour": "red"}, "unknown_property")])
def test_resolve__hard_conflict_bad_choice__error_key(choice, key):
    state = two_phones({"income": "2000"}, {"income": "1500"}).state
    assert error_key(lambda: resolve(state, choice)) == key


def test_resolve__no_conflict__refused():
    assert error_key(lambda: resolve(registry(), {})) == "no_conflict"


def test_conflict_and_error__reason__vietnamese_first_english_available():
    conflict = two_phones({"income": "2000"}, {"income": "1500"}).state.conflict
    assert "cùng một trường" in conflict.reason() and "same field" in conflict.reason("en")
    with pytest.raises(EntityError) as caught:
        resolve(registry(), {})
    assert caught.value.reason() == "Thực thể không có xung đột"
    assert caught.value.reason("en") == "The entity is not in conflict"


# --- EN003: entity list CSV ------------------------------------------------------------------------------

PROPS = ("income", "note")


def rows() -> list[EntityRow]:
    return [EntityRow("hh-0002", "Lê Thị Bình - Thôn Tây", 3, {"income": 1500, "note": None}),
            EntityRow("hh-0001", "Nguyễn Văn An - Thôn Đông", 1, {"income": Decimal("2.50"), "note": "a,b"}),
            EntityRow("hh-0010", "Trần Văn Cường", 2, {"note": 'nói "không"\r\ndòng 2'})]


def test_entity_list_csv__rows__exact_bytes():
    assert entity_list_csv(rows(), PROPS) == (
        "name,label,__version,income,note\n"
        "hh-0001,Nguyễn Văn An - Thôn Đông,1,2.5,\"a,b\"\n"
        "hh-0002,Lê Thị Bình - Thôn Tây,3,1500,\n"
        'hh-0010,Trần Văn Cường,2,,"nói ""không""\ndòng 2"\n'
    ).encode()


def test_entity_list_csv__any_input_order__same_bytes_and_hash():
    shuffled = rows()
    random.Random(7).shuffle(shuffled)
    reference = entity_list_csv(rows(), PROPS)
    assert entity_list_csv(reversed(rows()), PROPS) == entity_list_csv(shuffled, PROPS) == reference
    assert entity_list_md5(shuffled, PROPS) == md5_hash(reference) == "md5:" + hashlib.md5(reference).hexdigest()


def test_entity_list_csv__one_value_changed__different_hash():
    changed = rows()
    changed[0] = EntityRow("hh-0002", "Lê Thị Bình - Thôn Tây", 3, {"income": 1501, "note": None})
    assert entity_list_md5(changed, PROPS) != entity_list_md5(rows(), PROPS)


def test_entity_list_csv__decomposed_vietnamese__nfc_bytes_no_bom():
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Thuỷ")
    nfc = unicodedata.normalize("NFC", "Nguyễn Thị Thuỷ")
    assert nfd != nfc
    data = entity_list_csv([EntityRow(nfd, nfd, 1, {"note": nfd})], ("note",))
    assert data == f"name,label,__version,note\n{nfc},{nfc},1,{nfc}\n".encode()
    assert not data.startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("value, text", [
    (2, "2"), (2.0, "2"), (Decimal("2.00"), "2"), (0.1, "0.1"), (1e20, "100000000000000000000"),
    (1.5e-7, "0.00000015"), (-0.0, "0"), (Decimal("-0"), "0"), (Decimal("1E+2"), "100"),
    (True, "true"), (False, "false"), (None, ""), ("", ""),
])
def test_entity_list_csv__value__fixed_notation(value, text):
    data = entity_list_csv([EntityRow("a", "A", 1, {"v": value})], ("v",))
    assert data == f"name,label,__version,v\na,A,1,{text}\n".encode()


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (float("inf"), ValueError),
                                          (Decimal("NaN"), ValueError), (object(), TypeError)])
def test_entity_list_csv__unwritable_value__refused(value, error):
    with pytest.raises(error):
        entity_list_csv([EntityRow("a", "A", 1, {"v": value})], ("v",))


@pytest.mark.parametrize("properties", [("name",), ("label",), ("__version",), ("__branchId",), ("a", "a")])
def test_entity_list_csv__reserved_or_repeated_column__refused(properties):
    with pytest.raises(ValueError):
        entity_list_csv(rows(), properties)


def test_entity_list_csv__no_rows__header_only():
    assert entity_list_csv([], PROPS) == b"name,label,__version,income,note\n"


def test_entity_list_csv__repeated_name__refused():
    with pytest.raises(ValueError, match="repeated"):
        entity_list_csv([EntityRow("a", "A", 1), EntityRow("a", "B", 1)], ())


def test_entity_list_chunks__unsorted_input__refused():
    with pytest.raises(ValueError, match="order"):
        b"".join(entity_list_chunks(rows(), PROPS))


def test_entity_list_chunks__5000_rows__streamed_equals_whole_and_hash():
    many = [EntityRow(f"hh-{n:06d}", f"Hộ số {n} - Thôn {n % 37}", n % 5 + 1,
                      {"income": n * 1.25, "note": "ghi chú" if n % 3 else None}) for n in range(5000)]
    chunks = list(entity_list_chunks(many, PROPS, rows_per_chunk=700))
    assert len(chunks) == 8
    shuffled = many[:]
    random.Random(1).shuffle(shuffled)
    whole = entity_list_csv(shuffled, PROPS)
    assert b"".join(chunks) == whole
    assert whole.count(b"\n") == 5001
    assert md5_hash(iter(chunks)) == md5_hash(whole) == entity_list_md5(shuffled, PROPS)


def test_row_from_state__updated_entity__row_carries_current_version():
    state = apply_update(registry(), update(1, income="2000"), 1).state
    assert row_from_state(state) == EntityRow(HH, "Nguyễn Văn An - Thôn Đông", 2, {"income": "2000", "toilet": "no"})


def test_household_label__spacing_and_missing_part__one_clean_line():
    assert household_label("  Nguyễn   Văn An ", "Thôn Đông,  xã Yên Phong") == \
        "Nguyễn Văn An - Thôn Đông, xã Yên Phong"
    assert household_label("Nguyễn Văn An", " ") == "Nguyễn Văn An"


def test_returned_survey_row__reason__served_as_entity_list():
    row = returned_survey_row("hh-0007", "Đỗ Văn Hải", "Thôn Bắc", "Thiếu số định danh của thành viên", version=2)
    data = entity_list_csv([row], ("reason",))
    assert data == ("name,label,__version,reason\n"
                    "hh-0007,Đỗ Văn Hải - Thôn Bắc,2,Thiếu số định danh của thành viên\n").encode()
