import csv
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from server.households import synthetic
from server.households.linking import FIELDS, CsvFormatError, link_csv, read_records, write_records
from server.households.matching import HouseholdRecord

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


def test_read_records__parts__every_row_read_once(tmp_path):
    path = _csv(tmp_path / "r.csv", REGISTRY_ROWS)
    shares = [[r.record_id for r in read_records(path, part, 2)] for part in (0, 1)]
    assert shares == [["H1", "H3"], ["H2"]]
