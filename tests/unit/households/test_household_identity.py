import unicodedata

import pytest

from server.households.identity import (
    IdKind,
    PersonName,
    fold,
    id_agrees_with_person,
    nfc,
    normalize_phone,
    normalize_tone_placement,
    parse_name,
    parse_national_id,
    sound_key,
    within_one_edit,
)


def test_nfc__decomposed_input_and_stray_spaces__composed_single_spaced():
    decomposed = unicodedata.normalize("NFD", "  Nguyễn   Văn\tHùng ")
    assert nfc(decomposed) == "Nguyễn Văn Hùng"
    assert unicodedata.is_normalized("NFC", nfc(decomposed))


@pytest.mark.parametrize(
    ("old", "new"),
    [("Hòa", "Hoà"), ("Thủy", "Thuỷ"), ("Hóa", "Hoá"), ("Khỏe", "Khoẻ"), ("Thúy", "Thuý"), ("HÒA", "HOÀ")],
)
def test_normalize_tone_placement__oa_oe_uy_without_final__tone_moves_between_styles(old, new):
    assert normalize_tone_placement(old, "new") == new
    assert normalize_tone_placement(new, "old") == old


@pytest.mark.parametrize(
    "word", ["Hoàng", "Thuyền", "Quý", "Già", "Người", "Rượu", "Cứu", "Khuỷu", "Tuấn", "Quỳnh", "Giang", "Hùng"]
)
def test_normalize_tone_placement__syllables_with_one_correct_place__unchanged_in_both_styles(word):
    assert normalize_tone_placement(word, "new") == word
    assert normalize_tone_placement(word, "old") == word


def test_normalize_tone_placement__decomposed_full_name__nfc_result():
    text = unicodedata.normalize("NFD", "Nguyễn Thị Thủy")
    assert normalize_tone_placement(text) == "Nguyễn Thị Thuỷ"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đặng Văn Đức", "dang van duc"),
        ("NGUYỄN  THỊ HOÀ", "nguyen thi hoa"),
        ("Nguyễn Thị Hòa", "nguyen thi hoa"),
        (unicodedata.normalize("NFD", "Lê Thị Thuỷ"), "le thi thuy"),
        ("Số 12, Thôn Đông-Xá", "so 12 thon dong xa"),
        ("  ", ""),
    ],
)
def test_fold__accents_tones_case_punctuation__plain_ascii_words(text, folded):
    assert fold(text) == folded


def test_parse_name__three_parts__surname_middle_given():
    assert parse_name("Nguyễn Thị Thu Hà") == PersonName("nguyen", "thi thu", "ha", "nguyen ha")


@pytest.mark.parametrize(("variant", "canonical"), [("Huỳnh Văn Nam", "hoang"), ("Võ Thị Lan", "vu")])
def test_parse_name__regional_surname_variant__canonical_surname(variant, canonical):
    assert parse_name(variant).surname == canonical


def test_parse_name__single_word__given_name_only():
    name = parse_name("Hùng")
    assert (name.surname, name.middle, name.given) == ("", "", "hung")


def test_parse_name__no_letters__none():
    assert parse_name(" - ") is None


@pytest.mark.parametrize(("written", "heard"), [("Trần", "Chần"), ("Lan", "Nan"), ("Sơn", "Xơn"), ("Giang", "Dang")])
def test_sound_key__northern_initial_confusions__same_key(written, heard):
    assert sound_key(fold(written)) == sound_key(fold(heard))


def test_parse_name__misheard_initials__same_key():
    assert parse_name("Trần Thị Lan").key == parse_name("Chần Thị Nan").key


def test_parse_national_id__twelve_digits_with_separators__cccd_fields():
    cid = parse_national_id("027 1 85 123456")
    assert cid.kind is IdKind.CCCD
    assert (cid.digits, cid.province, cid.gender, cid.birth_year) == ("027185123456", "027", "F", 1985)
    assert cid.is_well_formed


@pytest.mark.parametrize(("digit", "gender", "year"), [("0", "M", 1999), ("1", "F", 1999), ("2", "M", 2099),
                                                       ("3", "F", 2099)])
def test_parse_national_id__century_sex_digit__decoded(digit, gender, year):
    cid = parse_national_id(f"024{digit}99000001")
    assert (cid.gender, cid.birth_year) == (gender, year)


def test_parse_national_id__nine_digits__old_cmnd_without_structure():
    cmnd = parse_national_id("125.456.789")
    assert cmnd.kind is IdKind.CMND
    assert (cmnd.province, cmnd.gender, cmnd.birth_year) == (None, None, None)


@pytest.mark.parametrize("raw", ["", None, "12345", "02718512345X", "1234567890123"])
def test_parse_national_id__wrong_length_or_letters__none(raw):
    assert parse_national_id(raw) is None


def test_national_id_is_well_formed__unknown_province_code__false():
    assert not parse_national_id("003085123456").is_well_formed


def test_id_agrees_with_person__matching_sex_and_year__true():
    assert id_agrees_with_person(parse_national_id("027085123456"), "M", 1985) is True


@pytest.mark.parametrize(("gender", "year"), [("F", 1985), ("M", 1986), ("M", 1885)])
def test_id_agrees_with_person__sex_or_year_contradicts__false(gender, year):
    assert id_agrees_with_person(parse_national_id("027085123456"), gender, year) is False


def test_id_agrees_with_person__year_one_off_with_tolerance__true():
    assert id_agrees_with_person(parse_national_id("027085123456"), "M", 1986, year_tolerance=1) is True


def test_id_agrees_with_person__cmnd_or_nothing_known__none():
    assert id_agrees_with_person(parse_national_id("125456789"), "M", 1985) is None
    assert id_agrees_with_person(parse_national_id("027085123456"), None, None) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("027085123456", "027085123456", True),
        ("027085123456", "027085123457", True),  # substitution
        ("027085123456", "027085124356", True),  # adjacent swap
        ("hung", "hun", True),  # deletion
        ("hung", "hunng", True),  # insertion
        ("027085123456", "027085123465", True),  # swap at the end
        ("027085123456", "027085123477", False),
        ("abc", "cba", False),
        ("hung", "hungxx", False),
    ],
)
def test_within_one_edit__typing_slips__detected(a, b, expected):
    assert within_one_edit(a, b) is expected
    assert within_one_edit(b, a) is expected


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("0912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084912345678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("912345678", "0912345678"),  # leading zero lost in a spreadsheet
    ],
)
def test_normalize_phone__country_prefix_and_separators__ten_digit_form(raw, normalized):
    assert normalize_phone(raw) == normalized


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("01662345678", "0362345678"),  # Viettel 0166 → 036
        ("01212345678", "0792345678"),  # MobiFone 0121 → 079
        ("01232345678", "0832345678"),  # VinaPhone 0123 → 083
        ("01882345678", "0582345678"),  # Vietnamobile 0188 → 058
        ("01992345678", "0592345678"),  # Gmobile 0199 → 059
        ("+841662345678", "0362345678"),
        ("841292345678", "0822345678"),
    ],
)
def test_normalize_phone__eleven_digit_number_before_2018__renumbered(old, new):
    assert normalize_phone(old) == new


def test_normalize_phone__landline__kept_eleven_digits():
    assert normalize_phone("0222 3812 345") == "02223812345"


@pytest.mark.parametrize("raw", ["", None, "1234", "01012345678", "0112345678", "không có"])
def test_normalize_phone__not_a_vietnamese_number__none(raw):
    assert normalize_phone(raw) is None
