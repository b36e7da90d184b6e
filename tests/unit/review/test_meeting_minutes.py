"""The minutes file of the village meeting (server/review/minutes.py) and the record naming it (MT002)."""

from __future__ import annotations

from datetime import date

import pytest

from server.review.meeting import InvalidMeeting, MeetingRecord, read_meeting
from server.review.minutes import MAX_MINUTES_BYTES, check_minutes, sniff, stored_name

TODAY = date(2025, 11, 20)
RECORD = {"held_on": "2025-11-15", "chair": "Nguyễn Văn Hùng", "attendees": 40}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 32


@pytest.mark.parametrize(("data", "kind"), [(JPEG, "image/jpeg"), (PNG, "image/png"), (PDF, "application/pdf")])
def test_sniff__known_signature__type_from_bytes(data, kind):
    """MM001."""
    assert sniff(data) == kind
    assert check_minutes(data).content_type == kind and check_minutes(data).ok


@pytest.mark.parametrize("data", [b"<html><script>alert(1)</script></html>", b"GIF89a" + b"\x00" * 10,
                                  b"PK\x03\x04 a docx", b" %PDF-1.7", b"\xff\xd8"])
def test_check_minutes__other_content__refused_whatever_its_name(data):
    """MM001: there is no name to trust; only the first bytes count."""
    checked = check_minutes(data)
    assert checked.content_type is None
    assert [r.code for r in checked.problems] == ["minutes.bad_type"]
    assert "JPEG, PNG" in checked.problems[0].text.vi and "JPEG or PNG" in checked.problems[0].text.en


def test_check_minutes__empty__refused():
    """MM002."""
    assert [r.code for r in check_minutes(b"").problems] == ["minutes.empty"]


def test_check_minutes__limit__exactly_limit_accepted_one_more_refused():
    """MM002."""
    assert check_minutes(PDF + b"0" * (MAX_MINUTES_BYTES - len(PDF))).ok
    too_big = check_minutes(PDF + b"0" * (MAX_MINUTES_BYTES + 1 - len(PDF)))
    assert [r.code for r in too_big.problems] == ["minutes.too_large"]
    assert "10 MB" in too_big.problems[0].text.vi


def test_check_minutes__large_and_wrong_type__both_reported():
    """MM003."""
    assert [r.code for r in check_minutes(b"x" * 11, limit=10).problems] == ["minutes.too_large", "minutes.bad_type"]


@pytest.mark.parametrize(("given", "kind", "expected"), [
    ("bien-ban.jpg", "application/pdf", "bien-ban.pdf"),
    ("Biên bản họp thôn.PNG", "image/png", "Biên bản họp thôn.png"),
    ("C:\\Users\\a\\scan.pdf", "application/pdf", "scan.pdf"),
    ("../../etc/passwd", "image/jpeg", "passwd.jpg"),
    ("bien\x00ban\n.jpeg", "image/jpeg", "bienban.jpg"),
    ("", "image/jpeg", "bien-ban-hop.jpg"),
    (None, "application/pdf", "bien-ban-hop.pdf"),
    (".jpg", "image/jpeg", "bien-ban-hop.jpg"),
])
def test_stored_name__any_given_name__safe_name_with_detected_extension(given, kind, expected):
    """MM004."""
    assert stored_name(given, kind) == expected


def test_stored_name__decomposed_and_long__nfc_and_capped():
    """MM004."""
    name = stored_name("Bie\u0302n ba\u0309n " + "x" * 300 + ".pdf", "application/pdf")
    assert name.startswith("Biên bản") and name.endswith(".pdf") and len(name) == 120


def test_read_meeting__uploaded_minutes_without_number__accepted_and_kept():
    """MT002: the file stands for the minutes."""
    record = read_meeting({**RECORD, "minutes_id": 7}, TODAY)
    assert record == MeetingRecord(date(2025, 11, 15), "Nguyễn Văn Hùng", 40, "", 7)
    assert record.to_dict()["minutes_id"] == 7


def test_read_meeting__number_only__to_dict_has_no_minutes_id():
    """MT002: a typed reference alone is still a complete record (minutes kept on paper at the commune)."""
    assert "minutes_id" not in read_meeting({**RECORD, "minutes_ref": "BB-01"}, TODAY).to_dict()


def test_read_meeting__file_attached_not_stored_yet__no_missing_minutes_problem():
    """MT002: ``minutes_attached``."""
    assert read_meeting(RECORD, TODAY, minutes_attached=True).minutes_id is None
    with pytest.raises(InvalidMeeting) as caught:
        read_meeting(RECORD, TODAY)
    assert [r.code for r in caught.value.reasons] == ["meeting.no_minutes"]


@pytest.mark.parametrize("minutes_id", [0, -1, "7", 7.0, True])
def test_read_meeting__bad_minutes_id__named(minutes_id):
    """MT002: an id is an integer ≥ 1."""
    with pytest.raises(InvalidMeeting) as caught:
        read_meeting({**RECORD, "minutes_ref": "BB-01", "minutes_id": minutes_id}, TODAY)
    assert [r.code for r in caught.value.reasons] == ["meeting.bad_minutes_id"]
