"""OR001–OR009 as pure functions."""

from __future__ import annotations

import pytest

from sync.submission import (
    Existing,
    Outcome,
    SubmissionError,
    check_attachment_name,
    decide,
    parse_submission,
    read_answers,
    referenced_files,
)

XML = ('<data xmlns:orx="http://openrosa.org/xforms" id="f" version="3"><a>1</a><g><b>x</b></g>'
       '<r><c>1</c></r><r><c>2</c></r><photo>p.jpg</photo>'
       "<orx:meta><orx:instanceID>uuid:1</orx:instanceID><orx:deprecatedID>uuid:0</orx:deprecatedID>"
       "<orx:instanceName>Hộ A</orx:instanceName></orx:meta></data>".encode())


def test_parse__namespaced_meta__identity_read():
    parsed = parse_submission(XML)
    assert (parsed.form_id, parsed.version, parsed.instance_id, parsed.deprecated_id, parsed.instance_name) == \
        ("f", "3", "uuid:1", "uuid:0", "Hộ A")


def test_parse__no_version__empty_string():
    assert parse_submission(b'<d id="f"><meta><instanceID>u</instanceID></meta></d>').version == ""


@pytest.mark.parametrize("xml, key", [
    (b"<d><meta><instanceID>u</instanceID></meta></d>", "malformed_xml"),
    (b'<d id="f"><meta/></d>', "missing_instance_id"),
    (b"<d", "malformed_xml"),
    (b'<!DOCTYPE d [<!ENTITY e "x">]><d id="f"/>', "unsafe_xml"),
])
def test_parse__invalid__error_key(xml, key):
    with pytest.raises(SubmissionError) as caught:
        parse_submission(xml)
    assert caught.value.key == key


def test_read_answers__groups_flattened_repeats_listed():
    answers = read_answers(parse_submission(XML).root, frozenset({"/data/r"}))
    assert answers == {"fields": {"a": "1", "b": "x", "photo": "p.jpg"}, "repeats": {"r": [{"c": "1"}, {"c": "2"}]}}


def test_read_answers__single_repeat_instance__still_a_list():
    root = parse_submission(b'<data id="f"><r><c>1</c></r><meta><instanceID>u</instanceID></meta></data>').root
    assert read_answers(root, frozenset({"/data/r"}))["repeats"] == {"r": [{"c": "1"}]}


def test_referenced_files__only_binary_fields():
    assert referenced_files(parse_submission(XML).root, frozenset({"/data/photo"})) == {"p.jpg"}


@pytest.mark.parametrize("name", ["../x.jpg", "a/b.jpg", "a\\b.jpg", "..", ".", "", "x\x00.jpg"])
def test_attachment_name__with_path__refused(name):
    with pytest.raises(SubmissionError):
        check_attachment_name(name)


def test_attachment_name__plain__accepted():
    assert check_attachment_name("1700000000.jpg") == "1700000000.jpg"


NEW = parse_submission(b'<d id="f"><meta><instanceID>u2</instanceID></meta></d>')
EDIT = parse_submission(b'<d id="f"><meta><instanceID>u2</instanceID><deprecatedID>u1</deprecatedID></meta></d>')


@pytest.mark.parametrize("parsed, existing, expected", [
    (NEW, Existing(), Outcome.NEW),
    (NEW, Existing(same_instance_xml=b"same"), Outcome.SAME),
    (EDIT, Existing(deprecated_exists=True, deprecated_is_current=True), Outcome.EDIT),
])
def test_decide__accepted_outcomes(parsed, existing, expected):
    assert decide(b"same", parsed, existing) is expected


@pytest.mark.parametrize("parsed, existing, key", [
    (NEW, Existing(same_instance_xml=b"other"), "xml_conflict"),
    (NEW, Existing(same_instance_xml=b"same", same_instance_deleted=True), "deleted_conflict"),
    (EDIT, Existing(), "deprecated_not_found"),
    (EDIT, Existing(deprecated_exists=True, deprecated_is_current=False), "stale_edit"),
    (EDIT, Existing(deprecated_exists=True, deprecated_is_current=True, deprecated_deleted=True), "deleted_conflict"),
])
def test_decide__refusals(parsed, existing, key):
    with pytest.raises(SubmissionError) as caught:
        decide(b"same", parsed, existing)
    assert caught.value.key == key
