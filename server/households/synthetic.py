"""Synthetic Bắc Ninh households with known truth, for testing and benchmarking the matcher.

The generator keeps a true state of each household (persons with names, sex, birth year, citizen ID;
phone; address; location) and writes *observations* of it: last year's registry record and this
year's submission, each typed with its own noise. Between the two the household lives a year: babies
are born, old people die, grown children marry out or split off a household of their own (tách hộ,
at the same address, often keeping the parents' phone), the head may die and the spouse take over,
some households move. New households appear, some carrying the name of an existing head in the same
village. Some households are submitted twice by two enumerators.

Truth: a submission's ``registry_id`` is the household it observes, empty for a new household; a
split-off household is new, not its parents'.

Two configurations ship: ``TUNING`` (the matcher's weights were tuned on it) and ``UNSEEN``
(different seed, noise rates and surname distribution; never used for tuning).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import math
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from server.households.identity import OLD_MOBILE_PREFIXES, normalize_tone_placement
from server.households.linking import write_records
from server.households.matching import HouseholdRecord

CURRENT_YEAR = 2025

# Surname shares for the north (Hoàng and Vũ as northerners write them; the southern Huỳnh/Võ
# spellings appear only as recording variants). The tail covers names frequent around Bắc Ninh.
NORTHERN_SURNAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 0.36), ("Trần", 0.10), ("Lê", 0.08), ("Phạm", 0.06), ("Hoàng", 0.05), ("Vũ", 0.04),
    ("Đỗ", 0.03), ("Ngô", 0.03), ("Bùi", 0.025), ("Đặng", 0.02), ("Dương", 0.015), ("Phan", 0.015),
    ("Đào", 0.012), ("Trịnh", 0.01), ("Đinh", 0.01), ("Lương", 0.008), ("Mai", 0.007), ("Cao", 0.007),
    ("Tạ", 0.006), ("Chu", 0.006), ("Lưu", 0.006), ("Hà", 0.006), ("Phùng", 0.005), ("Nghiêm", 0.004),
    ("Thân", 0.004), ("Giáp", 0.003), ("Kiều", 0.003), ("Lã", 0.002), ("Hồ", 0.005), ("Lý", 0.004),
    ("Đoàn", 0.006), ("Vương", 0.003), ("Khổng", 0.002), ("Nông", 0.002),
)
# Bắc Giang/Bắc Ninh leaning: fewer Nguyễn, more Ngô, Đỗ, Thân, Giáp (still within national bounds).
PROVINCIAL_SURNAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 0.31), ("Trần", 0.08), ("Lê", 0.07), ("Phạm", 0.05), ("Hoàng", 0.045), ("Vũ", 0.05),
    ("Đỗ", 0.05), ("Ngô", 0.06), ("Bùi", 0.02), ("Đặng", 0.02), ("Dương", 0.02), ("Phan", 0.01),
    ("Đào", 0.015), ("Trịnh", 0.012), ("Đinh", 0.01), ("Lương", 0.01), ("Mai", 0.006), ("Cao", 0.01),
    ("Tạ", 0.01), ("Chu", 0.008), ("Lưu", 0.006), ("Hà", 0.01), ("Phùng", 0.006), ("Nghiêm", 0.008),
    ("Thân", 0.03), ("Giáp", 0.02), ("Kiều", 0.004), ("Lã", 0.004), ("Hồ", 0.003), ("Lý", 0.003),
    ("Đoàn", 0.008), ("Vương", 0.004), ("Khổng", 0.004), ("Nông", 0.003), ("Hán", 0.004), ("Diêm", 0.002),
)
SURNAME_SPELLINGS = {"Hoàng": "Huỳnh", "Vũ": "Võ"}

MALE_MIDDLE = (("Văn", 0.45), ("Đức", 0.08), ("Minh", 0.07), ("Quang", 0.05), ("Hữu", 0.05), ("Xuân", 0.04),
               ("Đình", 0.05), ("Công", 0.04), ("Ngọc", 0.03), ("Thanh", 0.03), ("Mạnh", 0.02), ("Tiến", 0.02),
               ("Trọng", 0.02), ("Duy", 0.02), ("Hồng", 0.02), ("Anh", 0.01), ("Bá", 0.02), ("Khắc", 0.02))
FEMALE_MIDDLE = (("Thị", 0.62), ("Thu", 0.05), ("Ngọc", 0.04), ("Thanh", 0.04), ("Minh", 0.03),
                 ("Phương", 0.03), ("Hồng", 0.03), ("Kim", 0.03), ("Thúy", 0.02), ("Bích", 0.02), ("Diệu", 0.01),
                 ("Mai", 0.02), ("Lan", 0.01), ("Hải", 0.01), ("Khánh", 0.01))
# Ordered roughly by frequency; weights follow a Zipf law whose exponent the configuration sets.
MALE_GIVEN = ("Hùng", "Dũng", "Tuấn", "Minh", "Hải", "Nam", "Long", "Thắng", "Cường", "Hưng", "Sơn", "Quang",
              "Đức", "Tùng", "Trung", "Thành", "Hiếu", "Huy", "Khánh", "Phong", "Tài", "Toàn", "Vinh", "Bình",
              "Hòa", "Lâm", "Tiến", "Thịnh", "Quý", "Chiến", "Công", "Định", "Giang", "Hậu", "Hiển", "Kiên",
              "Lợi", "Mạnh", "Nghĩa", "Phúc", "Quyết", "Tân", "Thái", "Thuận", "Tú", "Việt", "Vượng", "Khoa",
              "Hoan", "Tuyên", "Khải", "Doanh", "Đạt", "Điệp", "Hoạt", "Huấn", "Lực", "Nghị", "Quân", "Thủy",
              "Toản", "Trường", "Văn", "Xuân", "Yên", "Bắc", "Cảnh", "Chính", "Diện", "Đông", "Hợp", "Kha")
FEMALE_GIVEN = ("Lan", "Hương", "Hoa", "Hằng", "Hà", "Linh", "Mai", "Nga", "Nhung", "Phương", "Thảo", "Thủy",
                "Trang", "Tuyết", "Vân", "Yến", "Hạnh", "Hiền", "Huệ", "Huyền", "Liên", "Loan", "Ly", "Mơ",
                "Ngọc", "Oanh", "Quyên", "Quỳnh", "Tâm", "Thanh", "Thoa", "Thu", "Thúy", "Uyên", "Xuân", "Hòa",
                "Hồng", "Dung", "Duyên", "Giang", "Hải", "Hậu", "Hiên", "Khuyên", "Lành", "Luyến", "Nguyệt",
                "Nhàn", "Thắm", "Thơm", "Tươi", "Vui", "Chi", "Đào", "Gấm", "Hoà", "Lụa", "Mận", "Nụ", "Sen",
                "Tám", "Thoan", "Vinh", "Yên", "Điệp", "Hạnh", "Kim", "Loan", "Nhài", "Phượng")
VILLAGE_WORDS = ("Đông", "Đoài", "Thượng", "Hạ", "Trung", "Nội", "Ngoại", "Phù", "Đình", "Cầu", "Tiền", "Hậu",
                 "An", "Bình", "Phú", "Lạc", "Yên", "Mỹ", "Lãm", "Xá", "Tảo", "Chùa", "Bến", "Giang")
# Consonant pairs that Bắc Ninh speech and hurried typing confuse (l/n above all).
INITIAL_CONFUSIONS = (("L", "N"), ("N", "L"), ("S", "X"), ("X", "S"), ("Tr", "Ch"), ("Ch", "Tr"), ("D", "Gi"),
                      ("Gi", "D"), ("R", "D"))
MOBILE_PREFIXES = ("032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
                   "070", "079", "077", "076", "078", "089", "090", "093", "081", "082", "083", "084", "085",
                   "088", "091", "094", "056", "058", "059")
_NEW_TO_OLD_PREFIX = {new: old for old, new in OLD_MOBILE_PREFIXES.items()}
PROVINCE_ID_CODES = (("027", 0.62), ("024", 0.33), ("001", 0.02), ("031", 0.01), ("019", 0.01), ("026", 0.01))
PROVINCE_BOX = (21.05, 21.55, 105.95, 106.65)  # lat min/max, lon min/max
METRES_PER_DEGREE = 111_000.0


@dataclass(frozen=True)
class Noise:
    """How one round of recording a household goes wrong; every rate is a probability."""

    no_accents: float = 0.08  # the whole record typed without accents
    old_tone_style: float = 0.3
    upper_case: float = 0.03
    surname_spelling: float = 0.25  # Hoàng written Huỳnh, Vũ written Võ
    name_typo: float = 0.03  # per name
    middle_dropped: float = 0.04  # per name
    member_missing: float = 0.02  # per member
    year_off: float = 0.05
    year_missing: float = 0.02
    gender_missing: float = 0.02
    id_missing: float = 0.12
    id_typo: float = 0.03
    id_is_old_cmnd: float = 0.05
    phone_missing: float = 0.12
    phone_old_format: float = 0.0
    phone_intl_format: float = 0.1
    gps_missing: float = 0.1
    gps_jitter_m: float = 12.0
    gps_wild: float = 0.02  # a fix hundreds of metres to kilometres off
    address_variant: float = 0.3


@dataclass(frozen=True)
class Life:
    """What happens to households in a year, and who is submitted."""

    changed_head: float = 0.03
    birth: float = 0.05
    elderly_death: float = 0.04
    marry_out: float = 0.05  # per grown child
    phone_changed: float = 0.08
    moved_village: float = 0.005
    split_share: float = 0.04  # of submissions: households split off registry households
    new_share: float = 0.08  # of submissions: households not in the registry (moved in, formed)
    namesake_share: float = 0.35  # of new households: the head's name copies a head of the village
    batch_duplicate: float = 0.01  # submissions sent twice by two enumerators


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int
    registry_size: int
    incoming_size: int
    surnames: tuple[tuple[str, float], ...] = NORTHERN_SURNAMES
    given_name_skew: float = 1.0  # Zipf exponent
    households_per_village: int = 180
    registry_noise: Noise = field(default_factory=lambda: Noise(phone_old_format=0.15, gps_missing=0.35))
    incoming_noise: Noise = field(default_factory=Noise)
    life: Life = field(default_factory=Life)


TUNING = GeneratorConfig(seed=20250901, registry_size=20_000, incoming_size=2_000)
UNSEEN = GeneratorConfig(
    seed=77_31_2026,
    registry_size=20_000,
    incoming_size=2_000,
    surnames=PROVINCIAL_SURNAMES,
    given_name_skew=1.2,
    households_per_village=240,
    registry_noise=Noise(no_accents=0.12, old_tone_style=0.4, name_typo=0.05, middle_dropped=0.06, year_off=0.07,
                         id_missing=0.2, id_typo=0.04, id_is_old_cmnd=0.12, phone_missing=0.2,
                         phone_old_format=0.25, gps_missing=0.5, gps_jitter_m=20.0, gps_wild=0.04),
    incoming_noise=Noise(no_accents=0.15, old_tone_style=0.25, upper_case=0.06, surname_spelling=0.35,
                         name_typo=0.045, middle_dropped=0.05, member_missing=0.03, year_off=0.06, id_missing=0.15,
                         id_typo=0.04, id_is_old_cmnd=0.03, phone_missing=0.15, phone_intl_format=0.2,
                         gps_missing=0.15, gps_jitter_m=18.0, gps_wild=0.04, address_variant=0.4),
    life=Life(changed_head=0.04, birth=0.06, elderly_death=0.05, marry_out=0.06, phone_changed=0.12,
              moved_village=0.01, split_share=0.05, new_share=0.1, namesake_share=0.4, batch_duplicate=0.015),
)


@dataclass
class _Person:
    surname: str
    middle: str
    given: str
    gender: str
    birth_year: int
    citizen_id: str

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.surname, self.middle, self.given) if part)


@dataclass
class _Village:
    code: str
    name: str
    commune: str
    lat: float
    lon: float


@dataclass
class _Household:
    key: int
    village: _Village
    persons: list[_Person]  # head first
    phone: str | None
    house_number: int | None
    lat: float
    lon: float
    old_cmnd: str | None  # the head's 9-digit ID, still on some records


@dataclass
class SyntheticData:
    registry: list[HouseholdRecord]
    incoming: list[HouseholdRecord]
    truth: dict[str, str | None]  # incoming id → registry id, None for a new household
    kinds: dict[str, str]  # incoming id → what the submission is (one of KINDS)
    batch_duplicates: set[frozenset[str]]  # pairs of incoming ids observing one household


KINDS = ("same_head", "changed_head", "moved", "split", "new", "namesake")


class _Draw:
    """Seeded random choices with precomputed cumulative weights (the generator's hot path)."""

    def __init__(self, rng: random.Random, items: Sequence[tuple[str, float]]):
        self._rng = rng
        self._values = [value for value, _ in items]
        self._cumulative = list(itertools.accumulate(weight for _, weight in items))

    def __call__(self) -> str:
        return self._values[bisect.bisect(self._cumulative, self._rng.random() * self._cumulative[-1])]


def _zipf(names: Sequence[str], exponent: float) -> list[tuple[str, float]]:
    return [(name, 1 / (rank + 1) ** exponent) for rank, name in enumerate(names)]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Generator:
    def __init__(self, config: GeneratorConfig):
        self.config = config
        self.rng = random.Random(config.seed)
        rng = self.rng
        self.surname = _Draw(rng, config.surnames)
        self.middle = {"M": _Draw(rng, MALE_MIDDLE), "F": _Draw(rng, FEMALE_MIDDLE)}
        self.given = {"M": _Draw(rng, _zipf(MALE_GIVEN, config.given_name_skew)),
                      "F": _Draw(rng, _zipf(FEMALE_GIVEN, config.given_name_skew))}
        self.province_code = _Draw(rng, PROVINCE_ID_CODES)
        self.used_ids: set[str] = set()
        self.keys = itertools.count()
        self.villages = self._villages(max(1, round(config.registry_size / config.households_per_village)))

    # --- true state ---

    def _villages(self, count: int) -> list[_Village]:
        rng = self.rng
        villages = []
        lat0, lat1, lon0, lon1 = PROVINCE_BOX
        for i in range(count):
            commune = 7000 + i // 30 * 3
            name = f"{rng.choice(VILLAGE_WORDS)} {rng.choice(VILLAGE_WORDS)}"
            villages.append(_Village(code=f"{commune:05d}-{i % 30 + 1:02d}", name=name, commune=f"{commune:05d}",
                                     lat=rng.uniform(lat0, lat1), lon=rng.uniform(lon0, lon1)))
        return villages

    def _citizen_id(self, gender: str, birth_year: int) -> str:
        century_digit = (birth_year - 1900) // 100 * 2 + (0 if gender == "M" else 1)
        while True:
            cid = f"{self.province_code()}{century_digit}{birth_year % 100:02d}{self.rng.randrange(10**6):06d}"
            if cid not in self.used_ids:
                self.used_ids.add(cid)
                return cid

    def _person(self, gender: str, birth_year: int, surname: str | None = None) -> _Person:
        middle = self.middle[gender]()
        if self.rng.random() < 0.1:  # a second middle name: Nguyễn Thị Thu Hà
            middle = f"{middle} {self.middle[gender]()}"
        return _Person(surname or self.surname(), middle, self.given[gender](), gender, birth_year,
                       self._citizen_id(gender, birth_year))

    def _phone(self) -> str:
        return f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**7):07d}"

    def _spot(self, lat: float, lon: float, metres: float) -> tuple[float, float]:
        dlat = self.rng.gauss(0, metres) / METRES_PER_DEGREE
        dlon = self.rng.gauss(0, metres) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
        return lat + dlat, lon + dlon

    def _family(self, village: _Village, head: _Person | None = None) -> _Household:
        rng = self.rng
        if head is None:
            gender = "M" if rng.random() < 0.8 else "F"
            head = self._person(gender, rng.randint(1938, 1998))
        persons = [head]
        father_surname = head.surname if head.gender == "M" else None
        if rng.random() < 0.82:
            spouse_gender = "F" if head.gender == "M" else "M"
            spouse = self._person(spouse_gender, min(head.birth_year + rng.randint(-3, 8), 2003))
            persons.append(spouse)
            father_surname = father_surname or spouse.surname
        youngest_parent = max(p.birth_year for p in persons)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4))):
            birth_year = youngest_parent + rng.randint(20, 38)
            if birth_year <= CURRENT_YEAR - 1:
                persons.append(self._person(rng.choice("MF"), birth_year, father_surname or head.surname))
        if rng.random() < 0.1 and head.birth_year > 1960:
            persons.append(self._person("F", head.birth_year - rng.randint(20, 32),
                                        None if head.gender == "M" else head.surname))
        lat, lon = self._spot(village.lat, village.lon, 300)
        return _Household(
            key=next(self.keys), village=village, persons=persons,
            phone=self._phone() if rng.random() < 0.9 else None,
            house_number=rng.randint(1, 300) if rng.random() < 0.4 else None,
            lat=lat, lon=lon,
            old_cmnd=f"{rng.randrange(10**8, 10**9)}" if rng.random() < 0.5 else None,
        )

    # --- a year passes ---

    def _live_a_year(self, h: _Household) -> tuple[_Household, str]:
        rng, life = self.rng, self.config.life
        persons = list(h.persons)
        head_changed = False
        if rng.random() < life.changed_head and len(persons) > 1:
            adults = [p for p in persons[1:] if CURRENT_YEAR - p.birth_year >= 18]
            if adults:
                # The head died or left: the spouse (listed first) or the eldest adult takes over.
                persons = [adults[0]] + [p for p in persons[1:] if p is not adults[0]]
                head_changed = True
        head = persons[0]
        keep = [head]
        for p in persons[1:]:
            age = CURRENT_YEAR - p.birth_year
            if age >= 75 and rng.random() < life.elderly_death:
                continue
            if 22 <= age <= 40 and p.birth_year > head.birth_year + 15 and rng.random() < life.marry_out:
                continue
            keep.append(p)
        if rng.random() < life.birth:
            father = next((p for p in keep if p.gender == "M" and CURRENT_YEAR - p.birth_year < 55), None)
            if father is not None:
                keep.append(self._person(rng.choice("MF"), CURRENT_YEAR, father.surname))
        village, lat, lon = h.village, h.lat, h.lon
        if rng.random() < life.moved_village:
            village = rng.choice(self.villages)
            lat, lon = self._spot(village.lat, village.lon, 300)
        phone = self._phone() if rng.random() < life.phone_changed else h.phone
        kind = "changed_head" if head_changed else "moved" if village is not h.village else "same_head"
        return replace(h, village=village, persons=keep, phone=phone, lat=lat, lon=lon,
                       old_cmnd=None if head_changed else h.old_cmnd), kind

    def _split_off(self, parents: _Household) -> _Household | None:
        rng = self.rng
        grown = [p for p in parents.persons[1:] if p.gender == "M" and 20 <= CURRENT_YEAR - p.birth_year <= 45
                 and p.surname == parents.persons[0].surname]
        if not grown:
            return None
        son = grown[0]
        parents.persons.remove(son)
        wife = self._person("F", son.birth_year + rng.randint(-2, 5))
        persons = [son, wife]
        for _ in range(rng.choice((0, 1, 1, 2))):
            persons.append(self._person(rng.choice("MF"), rng.randint(max(son.birth_year + 20, 2005), CURRENT_YEAR),
                                        son.surname))
        lat, lon = self._spot(parents.lat, parents.lon, 20)
        return _Household(key=next(self.keys), village=parents.village, persons=persons,
                          phone=parents.phone if rng.random() < 0.5 else self._phone(),
                          house_number=parents.house_number, lat=lat, lon=lon, old_cmnd=None)

    def _newcomer(self, heads_by_village: dict[str, list[_Person]]) -> tuple[_Household, str]:
        rng = self.rng
        village = rng.choice(self.villages)
        heads = heads_by_village.get(village.code)
        if heads and rng.random() < self.config.life.namesake_share:
            model = rng.choice(heads)
            year = model.birth_year + rng.choice((-1, 1)) * rng.randint(2, 25)
            namesake = _Person(model.surname, model.middle, model.given, model.gender, year,
                               self._citizen_id(model.gender, year))
            return self._family(village, namesake), "namesake"
        return self._family(village), "new"

    # --- recording ---

    def _write_name(self, name: str, noise: Noise, no_accents: bool, old_style: bool, upper: bool) -> str:
        rng = self.rng
        words = name.split()
        if len(words) > 2 and rng.random() < noise.middle_dropped:
            words = [words[0], words[-1]]
        if words[0] in SURNAME_SPELLINGS and rng.random() < noise.surname_spelling:
            words[0] = SURNAME_SPELLINGS[words[0]]
        if rng.random() < noise.name_typo:
            i = rng.choice((0, len(words) - 1))
            words[i] = self._typo(words[i])
        text = " ".join(words)
        text = normalize_tone_placement(text, "old" if old_style else "new")
        if no_accents:
            text = _strip_accents(text)
        if upper:
            text = text.upper()
        return text

    def _typo(self, word: str) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.35:
            for wrong, right in INITIAL_CONFUSIONS:
                if word.startswith(wrong):
                    return right + word[len(wrong):]
        if kind < 0.6 and len(word) > 2:
            i = rng.randrange(1, len(word))
            return word[:i] + word[i + 1:]
        if kind < 0.8:
            i = rng.randrange(1, len(word) + 1)
            return word[:i] + rng.choice("aeinhgtu") + word[i:]
        # A slip of the tone key: folds away, but is real on paper.
        letters = unicodedata.normalize("NFD", word)
        stripped = "".join(c for c in letters if c not in "\u0300\u0301\u0303\u0309\u0323")
        return unicodedata.normalize("NFC", stripped[:2] + rng.choice("\u0300\u0301\u0303\u0309\u0323") + stripped[2:])

    def _write_id(self, h: _Household, noise: Noise) -> str | None:
        rng = self.rng
        if rng.random() < noise.id_missing:
            return None
        if h.old_cmnd is not None and rng.random() < noise.id_is_old_cmnd:
            return h.old_cmnd
        digits = list(h.persons[0].citizen_id)
        if rng.random() < noise.id_typo:
            i = rng.randrange(len(digits))
            if rng.random() < 0.7:
                digits[i] = str((int(digits[i]) + rng.randint(1, 9)) % 10)
            elif i + 1 < len(digits):
                digits[i], digits[i + 1] = digits[i + 1], digits[i]
        cid = "".join(digits)
        return f"{cid[:3]} {cid[3:6]} {cid[6:]}" if rng.random() < 0.1 else cid

    def _write_phone(self, phone: str | None, noise: Noise) -> str | None:
        rng = self.rng
        if phone is None or rng.random() < noise.phone_missing:
            return None
        old_prefix = _NEW_TO_OLD_PREFIX.get(phone[:3])
        if old_prefix is not None and rng.random() < noise.phone_old_format:
            phone = old_prefix + phone[3:]
        if rng.random() < noise.phone_intl_format:
            return rng.choice(("+84 ", "84", "+84")) + phone[1:]
        return phone if rng.random() < 0.8 else f"{phone[:4]}.{phone[4:7]}.{phone[7:]}"

    def _write_address(self, h: _Household, noise: Noise) -> str:
        rng = self.rng
        base = f"Thôn {h.village.name}"
        if rng.random() < noise.address_variant:
            base = f"{base}, xã {h.village.commune}"
        return f"Số {h.house_number}, {base}" if h.house_number is not None else base

    def observe(self, h: _Household, record_id: str, noise: Noise) -> HouseholdRecord:
        rng = self.rng
        no_accents = rng.random() < noise.no_accents
        old_style = rng.random() < noise.old_tone_style
        upper = rng.random() < noise.upper_case
        head = h.persons[0]
        members = tuple(self._write_name(p.name, noise, no_accents, old_style, upper)
                        for p in h.persons[1:] if rng.random() >= noise.member_missing)
        year: int | None = head.birth_year
        if rng.random() < noise.year_missing:
            year = None
        elif rng.random() < noise.year_off:
            year = head.birth_year + rng.choice((-1, 1))
        lat: float | None
        lon: float | None
        if rng.random() < noise.gps_missing:
            lat = lon = None
        else:
            lat, lon = self._spot(h.lat, h.lon, noise.gps_jitter_m)
            if rng.random() < noise.gps_wild:
                lat, lon = self._spot(lat, lon, rng.uniform(300, 3000))
        return HouseholdRecord(
            record_id=record_id,
            head_name=self._write_name(head.name, noise, no_accents, old_style, upper),
            birth_year=year,
            gender=None if rng.random() < noise.gender_missing else head.gender,
            national_id=self._write_id(h, noise),
            phone=self._write_phone(h.phone, noise),
            village_code=h.village.code,
            address=self._write_address(h, noise),
            lat=None if lat is None else round(lat, 6),
            lon=None if lon is None else round(lon, 6),
            member_names=members,
        )


def generate(config: GeneratorConfig) -> SyntheticData:
    """Registry, submissions and truth for ``config``; the same config always gives the same data."""
    g = _Generator(config)
    rng, life = g.rng, config.life
    households = [g._family(g.villages[i % len(g.villages)]) for i in range(config.registry_size)]
    registry = [g.observe(h, f"H{h.key:07d}", config.registry_noise) for h in households]
    heads_by_village: dict[str, list[_Person]] = {}
    for h in households:
        heads_by_village.setdefault(h.village.code, []).append(h.persons[0])

    # Each submission's true state, registry id (None: new household) and kind.
    states: list[tuple[_Household, str | None, str]] = []
    reviewed = rng.sample(households, min(len(households), config.incoming_size))
    for parents in reviewed:
        if len(states) >= config.incoming_size:
            break
        roll = rng.random()
        if roll < life.split_share:
            child = g._split_off(parents)
            if child is not None:
                states.append((child, None, "split"))
                continue
        if roll < life.split_share + life.new_share:
            newcomer, kind = g._newcomer(heads_by_village)
            states.append((newcomer, None, kind))
            continue
        lived, kind = g._live_a_year(parents)
        states.append((lived, f"H{parents.key:07d}", kind))

    submissions = list(states)
    submissions += [state for state in states if rng.random() < life.batch_duplicate]
    rng.shuffle(submissions)
    incoming, truth, kinds, by_household = [], {}, {}, {}
    for n, (state, registry_id, kind) in enumerate(submissions, start=1):
        record_id = f"S{n:07d}"
        incoming.append(g.observe(state, record_id, config.incoming_noise))
        truth[record_id] = registry_id
        kinds[record_id] = kind
        by_household.setdefault(state.key, []).append(record_id)
    duplicates = {frozenset(ids) for ids in by_household.values() if len(ids) == 2}
    return SyntheticData(registry=registry, incoming=incoming, truth=truth, kinds=kinds, batch_duplicates=duplicates)


@dataclass(frozen=True)
class SyntheticFiles:
    registry: Path
    incoming: Path
    truth: Path
    batch_truth: Path
    kinds: Path


def write_files(data: SyntheticData, directory: Path) -> SyntheticFiles:
    """Writes registry.csv, incoming.csv, truth.csv (``incoming_id,registry_id``), batch_truth.csv
    (``incoming_id,duplicate_of``) and kinds.csv (``incoming_id,kind``) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = SyntheticFiles(*(directory / f"{name}.csv" for name in ("registry", "incoming", "truth", "batch_truth",
                                                                     "kinds")))
    write_records(files.registry, data.registry)
    write_records(files.incoming, data.incoming)
    with files.truth.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["incoming_id", "registry_id"])
        writer.writerows((incoming_id, registry_id or "") for incoming_id, registry_id in data.truth.items())
    with files.batch_truth.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["incoming_id", "duplicate_of"])
        writer.writerows(sorted(sorted(pair, reverse=True) for pair in data.batch_duplicates))
    with files.kinds.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["incoming_id", "kind"])
        writer.writerows(data.kinds.items())
    return files


@dataclass(frozen=True)
class Quality:
    true_positives: int
    predicted: int
    actual: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def measure(predicted: Iterable[tuple[str, str]], truth: dict[str, str | None]) -> Quality:
    """Precision and recall of predicted (incoming id, registry id) links against the truth."""
    links = set(predicted)
    actual = {(incoming_id, registry_id) for incoming_id, registry_id in truth.items() if registry_id}
    return Quality(true_positives=len(links & actual), predicted=len(links), actual=len(actual))
