"""Normalisation of Vietnamese identity data: names, citizen IDs, phone numbers.

Every comparison in ``matching`` works on the values produced here, so two spellings that a person
would call "the same" must come out equal: NFC vs decomposed text, old vs new tone placement
(Hoà/Hòa), dropped accents, Đ written as D, the regional surname variants Hoàng/Huỳnh and Vũ/Võ,
citizen IDs with separators, and phone numbers in any of the forms in use before and after the
2018 renumbering.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Literal

# Combining tone marks: huyền, sắc, ngã, hỏi, nặng.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Combining marks that make a different vowel letter (ă â ê ô ơ ư), not a tone.
_VOWEL_MODIFIERS = frozenset("\u0306\u0302\u031b")
_VOWELS = frozenset("aeiouy")
# In these two-vowel nuclei without a final consonant the "old" placement puts the tone on the first
# vowel (Hòa, Thủy) and the "new" one on the main, second vowel (Hoà, Thuỷ).
_SHIFTING_NUCLEI = frozenset({"oa", "oe", "uy"})

ToneStyle = Literal["new", "old"]


def nfc(text: str) -> str:
    """NFC form with surrounding whitespace removed and inner runs of whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _split_letters(word: str) -> list[tuple[str, str]]:
    """Decomposed ``word`` as (base character, combining marks that follow it) pairs."""
    letters: list[tuple[str, str]] = []
    for char in unicodedata.normalize("NFD", word):
        if unicodedata.combining(char) and letters:
            base, marks = letters[-1]
            letters[-1] = (base, marks + char)
        else:
            letters.append((char, ""))
    return letters


def _tone_position(letters: list[tuple[str, str]], style: ToneStyle) -> int | None:
    """Index of the letter that carries the tone under ``style``; None when the word has no vowel."""
    bases = [base.lower() for base, _ in letters]
    start = 0
    # "qu" and "gi" (before another vowel) are consonants: quý, già.
    if len(bases) > 2 and bases[0] == "q" and bases[1] == "u":
        start = 2
    elif len(bases) > 2 and bases[0] == "g" and bases[1] == "i" and bases[2] in _VOWELS:
        start = 2
    first = next((i for i in range(start, len(bases)) if bases[i] in _VOWELS), None)
    if first is None:
        return None
    end = first
    while end < len(bases) and bases[end] in _VOWELS:
        end += 1
    nucleus = range(first, end)
    modified = [i for i in nucleus if any(m in _VOWEL_MODIFIERS for m in letters[i][1])]
    if modified:
        return modified[-1]
    if len(nucleus) == 1:
        return first
    if len(nucleus) == 3:
        return first + 1
    has_final_consonant = end < len(bases)
    if has_final_consonant:
        return first + 1
    if "".join(bases[first:end]) in _SHIFTING_NUCLEI:
        return first + 1 if style == "new" else first
    return first


@lru_cache(maxsize=65536)
def _place_tone_in_word(word: str, style: ToneStyle) -> str:
    letters = _split_letters(word)
    tones = [m for _, marks in letters for m in marks if m in _TONE_MARKS]
    if len(tones) != 1:
        # No tone, or a malformed word with several: nothing sensible to move.
        return unicodedata.normalize("NFC", word)
    position = _tone_position(letters, style)
    if position is None:
        return unicodedata.normalize("NFC", word)
    rebuilt = []
    for i, (base, marks) in enumerate(letters):
        kept = "".join(m for m in marks if m not in _TONE_MARKS)
        rebuilt.append(base + kept + (tones[0] if i == position else ""))
    return unicodedata.normalize("NFC", "".join(rebuilt))


def normalize_tone_placement(text: str, style: ToneStyle = "new") -> str:
    """``text`` in NFC with every syllable's tone mark on the vowel ``style`` puts it on.

    "new" puts the tone on the main vowel (Hoà, Thuỷ, Hoá), "old" keeps the traditional placement
    (Hòa, Thủy, Hóa); both are in daily use. They differ only for oa/oe/uy without a final consonant.
    """
    return re.sub(r"\w+", lambda m: _place_tone_in_word(m.group(0), style), nfc(text))


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", stripped).split())


def fold(text: str) -> str:
    """Lower-case ASCII form without accents or tones (Đ→d), words separated by single spaces.

    Folding removes every mark, so it also makes tone placement irrelevant. Names and addresses are
    made of a few thousand distinct words, so folding goes word by word through a cache.
    """
    return " ".join(filter(None, map(_fold_word, text.split())))


# Regional spellings of one surname (North vs South); folded variant → folded canonical form.
SURNAME_VARIANTS: dict[str, str] = {"huynh": "hoang", "vo": "vu"}
# Middle names so common that agreeing on them says almost nothing.
WEAK_MIDDLE_NAMES = frozenset({"van", "thi"})


# Initial consonants that northern speech (Bắc Ninh's included) merges, so that a name written
# down from hearing swaps them: tr/ch, gi/r/d, s/x, l/n.
_SOUND_ALIKE_INITIALS = (("tr", "ch"), ("gi", "d"), ("r", "d"), ("s", "x"), ("l", "n"))


@lru_cache(maxsize=65536)  # a few thousand distinct name words
def sound_key(word: str) -> str:
    """A folded word with its initial consonant replaced by the one northern speech merges it with."""
    for written, heard in _SOUND_ALIKE_INITIALS:
        if word.startswith(written):
            return heard + word[len(written):]
    return word


@dataclass(slots=True)
class PersonName:
    """A full name split as surname + middle name(s) + given name, folded, surname canonicalised.

    ``key`` is surname + given name as they sound: the part of a name that survives a dropped middle
    name, accents typed or not, and a consonant misheard.
    """

    surname: str
    middle: str
    given: str
    key: str

    @property
    def full(self) -> str:
        return " ".join(part for part in (self.surname, self.middle, self.given) if part)


@lru_cache(maxsize=1 << 20)
def parse_name(full_name: str) -> PersonName | None:
    """Split a Vietnamese full name; None when it holds no letters.

    A single word is taken as the given name: a surname alone is never written for a person.
    """
    words = fold(full_name).split()
    if not words:
        return None
    if len(words) == 1:
        return PersonName(surname="", middle="", given=words[0], key=sound_key(words[0]))
    surname = SURNAME_VARIANTS.get(words[0], words[0])
    given = words[-1]
    return PersonName(surname=surname, middle=" ".join(words[1:-1]), given=given,
                      key=f"{sound_key(surname)} {sound_key(given)}")


# --- Citizen IDs ---------------------------------------------------------------------------------

class IdKind(StrEnum):
    CCCD = "cccd"  # 12 digits, also the 12-digit CMND issued 2012–2016 (same layout)
    CMND = "cmnd"  # 9 digits, no structure we can check


# Birth-registration province codes of the 63 provinces before 2025 (the numbering CCCDs use).
PROVINCE_CODES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 "
    "036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 "
    "074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)


@dataclass(slots=True)
class NationalId:
    digits: str
    kind: IdKind

    @property
    def province(self) -> str | None:
        return self.digits[:3] if self.kind is IdKind.CCCD else None

    @property
    def gender(self) -> str | None:
        """"M" or "F" from the century+sex digit (even = male)."""
        if self.kind is not IdKind.CCCD:
            return None
        return "M" if int(self.digits[3]) % 2 == 0 else "F"

    @property
    def birth_year(self) -> int | None:
        """Year from the century+sex digit (0/1 → 1900s, 2/3 → 2000s, …) and the two year digits."""
        if self.kind is not IdKind.CCCD:
            return None
        return 1900 + int(self.digits[3]) // 2 * 100 + int(self.digits[4:6])

    @property
    def is_well_formed(self) -> bool:
        """A CMND has no structure to check; a CCCD must name a real province."""
        return self.kind is IdKind.CMND or self.digits[:3] in PROVINCE_CODES


_ID_SEPARATORS = re.compile(r"[\s.\-]")


def parse_national_id(raw: str | None) -> NationalId | None:
    """Digits of a CCCD (12) or CMND (9) with spaces, dots and dashes removed; None otherwise."""
    if not raw:
        return None
    digits = raw if raw.isdigit() else _ID_SEPARATORS.sub("", raw)  # most IDs are typed without separators
    if not digits.isdigit():
        return None
    if len(digits) == 12:
        return NationalId(digits, IdKind.CCCD)
    if len(digits) == 9:
        return NationalId(digits, IdKind.CMND)
    return None


def id_agrees_with_person(
    national_id: NationalId, gender: str | None, birth_year: int | None, year_tolerance: int = 0
) -> bool | None:
    """Whether the sex and birth-year digits of a CCCD agree with the person it is recorded for.

    None when nothing can be checked (a CMND, or the person's sex and year are both unknown).
    ``year_tolerance`` allows for a birth year that was itself typed off by one.
    """
    if national_id.kind is not IdKind.CCCD or (gender is None and birth_year is None):
        return None
    if gender is not None and gender != national_id.gender:
        return False
    if birth_year is not None and abs(birth_year - (national_id.birth_year or 0)) > year_tolerance:
        return False
    return True


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one substitution, insertion, deletion or swap of
    two adjacent characters (the typing slips that an ID or a name picks up)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if la < lb:
        a, b, la, lb = b, a, lb, la
    if la - lb > 1:
        return False
    i = 0
    while i < lb and a[i] == b[i]:
        i += 1
    if la != lb:
        return a[i + 1:] == b[i:]
    if a[i + 1:] == b[i + 1:]:
        return True
    return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]


# --- Phone numbers --------------------------------------------------------------------------------

# 2018 renumbering: the 11-digit mobile prefix → the 10-digit one; the last 7 digits were kept.
OLD_MOBILE_PREFIXES: dict[str, str] = {
    **{f"016{d}": f"03{d}" for d in "23456789"},  # Viettel 0162–0169 → 032–039
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",  # MobiFone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",  # VinaPhone
    "0186": "056", "0188": "058",  # Vietnamobile
    "0199": "059",  # Gmobile
}
_MOBILE_SECOND_DIGITS = frozenset("35789")
_NON_DIGITS = re.compile(r"\D")


def normalize_phone(raw: str | None) -> str | None:
    """The 10-digit mobile (or 11-digit 02x landline) form of a phone number; None if not a number.

    Accepts +84 / 84 / 0084 country prefixes, separators, a leading zero lost in a spreadsheet, and
    11-digit mobile numbers from before the 2018 renumbering.
    """
    if not raw:
        return None
    digits = _NON_DIGITS.sub("", raw)
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif not digits.startswith("0") and len(digits) in (9, 10):
        digits = "0" + digits
    if len(digits) == 11 and digits[:4] in OLD_MOBILE_PREFIXES:
        digits = OLD_MOBILE_PREFIXES[digits[:4]] + digits[4:]
    if len(digits) == 10 and digits[0] == "0" and digits[1] in _MOBILE_SECOND_DIGITS:
        return digits
    if len(digits) == 11 and digits.startswith("02"):
        return digits
    return None
