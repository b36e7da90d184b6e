import csv
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.households import linking, synthetic
from server.households.linking import FIELDS, CsvFormatError, link_csv, read_records, write_records
from server.households.matching import HouseholdRecord, blocking_keys, prepare

HEADER = ",".join(FIELDS)

REGISTRY_ROWS = [
    "H1,Nguyễn Văn Hùng,1970,M,027070123456,0912345678,07000-01,\"Số 12, Thôn Đông\",21.186,106.076,"
    "Trần Thị Lan|Nguyễn Văn Nam",
    "H2,Lê Thị Mơ,1949,F,,,07000-01,Thôn Đông,,,",
    "H3,Phạm Văn Tú,1980,M,027080555666,0988777666,07000-02,Thôn Đoài,21.19,106.08,Đỗ Thị Mai",
]
INCOMING_ROWS = [
    "S1,NGUYEN VAN HUNG,1971,M,027 070 123456,+84912345678,07000-01,Thôn Đông,21.18601,106.07601,"
    "Tran Thi Lan|Nguyen Van Nam|Nguyen Van An",
    "S2,Đào Văn Tiến,1990,M,,,07000-09,Thôn Mới,,,",
    "S3,Dao Van Tien,1990,M,,,07000-09,Thôn Mới,,,",
]


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_read_records__full_row__typed_fields_and_member_list(tmp_path):
    (record, empty, _) = read_records(_csv(tmp_path / "r.csv", REGISTRY_ROWS))
    assert record == HouseholdRecord(
        record_id="H1", head_name="Nguyễn Văn Hùng", birth_year=1970, gender="M", national_id="027070123456",
        phone="0912345678", village_code="07000-01", address="Số 12, Thôn Đông", lat=21.186, lon=106.076,
        member_names=("Trần Thị Lan", "Nguyễn Văn Nam"),
    )
    assert (empty.national_id, empty.phone, empty.lat, empty.lon, empty.member_names) == (None, None, None, None, ())


def test_read_records__decomposed_text_and_byte_order_mark__nfc_strings(tmp_path):
    path = tmp_path / "r.csv"
    row = "H1,Nguyễn Thị Thuỷ,,F,,,v,,,,Lê Văn Hùng"
    path.write_text("\ufeff" + HEADER + "\n" + unicodedata.normalize("NFD", row) + "\n", encoding="utf-8")
    (record,) = read_records(path)
    assert record.head_name == "Nguyễn Thị Thuỷ"
    assert unicodedata.is_normalized("NFC", record.member_names[0])


def test_read_records__missing_column__format_error_names_it(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("record_id,head_name\nH1,An\n", encoding="utf-8")
    with pytest.raises(CsvFormatError, match="birth_year"):
        list(read_records(path))


@pytest.mark.parametrize(("row", "problem"), [("H1,An,19x0,M,,,v,,,,", "not a number"),
                                              ("H1,An,1970,Nam,,,v,,,,", "gender")])
def test_read_records__bad_cell__format_error_with_line(tmp_path, row, problem):
    with pytest.raises(CsvFormatError, match=rf"r\.csv:2: .*{problem}"):
        list(read_records(_csv(tmp_path / "r.csv", [row])))


def test_write_records__then_read__same_records(tmp_path):
    records = list(read_records(_csv(tmp_path / "r.csv", REGISTRY_ROWS)))
    write_records(tmp_path / "copy.csv", records)
    assert list(read_records(tmp_path / "copy.csv")) == records


def test_link_csv__registry_and_batch__pairs_file_with_match_and_no_row_for_new(tmp_path):
    out = tmp_path / "pairs.csv"
    summary = link_csv(_csv(tmp_path / "r.csv", REGISTRY_ROWS), _csv(tmp_path / "i.csv", INCOMING_ROWS), out)
    rows = _rows(out)
    assert list(rows[0]) == ["incoming_id", "registry_id", "score", "decision"]
    assert [(r["incoming_id"], r["registry_id"], r["decision"]) for r in rows] == [("S1", "H1", "match")]
    assert float(rows[0]["score"]) > 0
    assert (summary.registry_records, summary.incoming_records) == (3, 3)
    assert (summary.matched, summary.review, summary.new, summary.pairs_written) == (1, 0, 2, 1)


def test_link_csv__same_household_twice_in_batch__duplicates_file(tmp_path):
    duplicates = tmp_path / "dups.csv"
    summary = link_csv(_csv(tmp_path / "r.csv", REGISTRY_ROWS), _csv(tmp_path / "i.csv", INCOMING_ROWS),
                       tmp_path / "pairs.csv", duplicates_path=duplicates)
    assert [(r["incoming_id"], r["duplicate_of"], r["decision"]) for r in _rows(duplicates)] == [("S3", "S2", "match")]
    assert summary.batch_duplicates == 1


@pytest.mark.slow
def test_link_csv__one_worker__progress_every_ten_thousand_registry_rows(tmp_path):
    rows = [f"H{n},Lê Văn {n},,,,,v{n % 50},,,," for n in range(20_000)]
    stages = []
    link_csv(_csv(tmp_path / "r.csv", rows), _csv(tmp_path / "i.csv", INCOMING_ROWS), tmp_path / "p.csv",
             progress=lambda stage, done: stages.append((stage, done)), workers=1)
    assert stages == [("registry", 10_000), ("registry", 20_000), ("batch", 3)]


def test_link_csv__parallel_workers__progress_told_the_registry_total(tmp_path):
    stages = []
    link_csv(_csv(tmp_path / "r.csv", REGISTRY_ROWS), _csv(tmp_path / "i.csv", INCOMING_ROWS), tmp_path / "p.csv",
             progress=lambda stage, done: stages.append((stage, done)), workers=2)
    assert stages == [("registry", 3), ("batch", 3)]


@pytest.mark.slow
def test_link_csv__two_workers__same_pairs_as_one(tmp_path):
    data = synthetic.generate(replace(synthetic.TUNING, registry_size=1500, incoming_size=300))
    files = synthetic.write_files(data, tmp_path)
    one = link_csv(files.registry, files.incoming, tmp_path / "one.csv", workers=1)
    two = link_csv(files.registry, files.incoming, tmp_path / "two.csv", workers=2)
    assert one == two
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()


# --- The registry read straight from its cells, share by share -------------------------------------

def _rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))[1:]


def _keys_both_ways(path: Path) -> list[tuple[set[str], set[str]]]:
    columns = linking._read_columns(path)
    return [(linking._row_keys(row, columns), blocking_keys(prepare(linking._record(row, columns))))
            for row in _rows_of(path)]


ODD_ROWS = [
    "H1,,,,,,,,,,",  # every cell empty
    "H2,  ,1970,m, , ,  07000-01 ,  ,21.1,,|  |",  # blanks, lower-case gender, latitude without longitude
    "H3,Nguyễn,1970,F,027.070-123 456,+84 (91) 234-5678,07000-01,,,106.1,Lê Văn Hùng||-|Trần",
    "H4,Lê Văn Hùng,,M,12345,0123,v,x,21.186,106.076,Lê Văn Hùng|Lê văn hùng",  # an ID and a phone too short
    "H5,Võ Thị Hằng,1980,,02708011122a,01623456789,v,,-21.1,-106.1,Huỳnh Văn Tý",
    "H6,123 ...,1980,F,027080111222,0912345678,,,21.1,106.1,Lê Văn Hùng",  # a head without letters, no village
    "H7,Ngô Thị Thuỷ,1980,F,027080111222,0912345678,v,,21.1,106.1,",
]


def test_link__registry_keys_from_cells__equal_blocking_keys(tmp_path):
    """The scan computes a registry row's keys from its cells without preparing the whole record."""
    data = synthetic.generate(replace(synthetic.UNSEEN, registry_size=3000, incoming_size=600))
    files = synthetic.write_files(data, tmp_path)
    odd = _csv(tmp_path / "odd.csv", ODD_ROWS + [unicodedata.normalize("NFD", row) for row in ODD_ROWS])
    for path in (files.registry, files.incoming, odd):
        for from_cells, from_record in _keys_both_ways(path):
            assert from_cells == from_record


_name_words = st.sampled_from(["Nguyễn", "NGUYEN", "Lê", "Võ", "Huỳnh", "Văn", "Thị", "Thuỷ", "Hòa", "Đức", "đặng", "x",
                               "-", "", " ", "\t", "\u00a0", "\u0301", "Trần", "Hùng"])
_names = st.lists(_name_words, max_size=4).map(" ".join).flatmap(
    lambda name: st.sampled_from([name, unicodedata.normalize("NFD", name)]))
_digits = st.text(alphabet="0123456789 .-+a", max_size=14)
_numbers = st.sampled_from(["", " ", "21.186", "106.076", "-0.0004", "1e-3", "0", " 7 "])


@given(head=_names, members=st.lists(_names, max_size=4), year=st.sampled_from(["", "1970", " 1971 ", "0"]),
       national_id=_digits, phone=_digits, village=st.sampled_from(["", " ", "07000-01", " v "]),
       lat=_numbers, lon=_numbers)
@settings(max_examples=300, deadline=None)
def test_link__registry_keys_from_any_cells__equal_blocking_keys(head, members, year, national_id, phone, village,
                                                                  lat, lon):
    columns = linking._Columns(*range(len(FIELDS)))
    row = ["H1", head, year, "F", national_id, phone, village, "", lat, lon, linking.MEMBER_SEPARATOR.join(members)]
    assert linking._row_keys(row, columns) == blocking_keys(prepare(linking._record(row, columns)))


def test_link__shares_of_registry__every_row_read_once_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(linking, "SHARE_BYTES", 64)
    rows = [f'H{n},"Lê ""Tí"" {n}",1970,M,,,v,"Số {n},\r\nThôn ""Đông""",,,' if n % 3 else f"H{n},An {n},,,,,v,,,,"
            for n in range(40)]
    path = tmp_path / "r.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([HEADER, *rows]) + "\r\n").encode())
    shares = linking._split(path, workers=2)
    assert len(shares) > 2
    read = [row for share in shares for row in linking._read_share(path, share)[1 if share.start == 0 else 0:]]
    assert read == _rows_of(path)


def test_link_csv__quote_inside_an_unquoted_cell__same_pairs_as_one_worker(tmp_path, monkeypatch):
    """A stray quote misleads the split into the middle of a quoted cell: the scan notices, and reads
    the file in one piece."""
    monkeypatch.setattr(linking, "SHARE_BYTES", 64)
    rows = [REGISTRY_ROWS[0].replace("Thôn Đông", 'Thôn "Đông'), *REGISTRY_ROWS[1:],
            *(f"H{n},Lê Văn {n},,,,,v,,,," for n in range(10, 20)),
            'H9,Phạm Văn Tú,1980,M,,,07000-02,"Thôn\nĐoài",,,', REGISTRY_ROWS[2].replace("H3", "H4")]
    registry, incoming = _csv(tmp_path / "r.csv", rows), _csv(tmp_path / "i.csv", INCOMING_ROWS)
    one = link_csv(registry, incoming, tmp_path / "one.csv", workers=1)
    whole = []
    monkeypatch.setattr(linking, "_whole", lambda path: whole.append(path) or linking._Share(0, path.stat().st_size,
                                                                                              last=True))
    two = link_csv(registry, incoming, tmp_path / "two.csv", workers=2)
    assert whole == [registry]
    assert one == two
    assert one.registry_records == len(rows)
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()


def test_link_csv__bad_cell_in_a_later_share__format_error_with_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr(linking, "SHARE_BYTES", 64)
    rows = [*(f'H{n},"Lê Văn {n}",,,,,v,"Số 1,\nThôn",,,' for n in range(20)), "H99,An,1970,Nam,,,v,,,,"]
    with pytest.raises(CsvFormatError, match=r"r\.csv:42: .*gender"):
        link_csv(_csv(tmp_path / "r.csv", rows), _csv(tmp_path / "i.csv", INCOMING_ROWS), tmp_path / "p.csv",
                 workers=2)


def test_link_csv__one_worker__registry_streamed_not_held(tmp_path, monkeypatch):
    """A province's registry does not fit in memory as rows: one worker reads it one row at a time."""
    monkeypatch.setattr(linking, "_read_share", lambda *_: pytest.fail("the registry was read into memory"))
    registry, incoming = _csv(tmp_path / "r.csv", REGISTRY_ROWS), _csv(tmp_path / "i.csv", INCOMING_ROWS)
    summary = link_csv(registry, incoming, tmp_path / "p.csv", workers=1)
    assert summary.registry_records == len(REGISTRY_ROWS)
