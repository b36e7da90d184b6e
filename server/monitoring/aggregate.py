"""The dashboard's arithmetic on counts already summed by the database (pure, no Flask, no database).

Rules (the tests cite them):
MA001 A unit's numbers are the sums of its villages' numbers; rolling up never counts a village twice.
MA002 Progress is surveys received ÷ households expected, None when none are expected; "done" counts the
      surveys whose review has ended (decided or exported).
MA003 Time in a state: the total time reviews spent in it (left − entered, plus now − entered for the
      reviews still in it) divided by the number of entries. Events that stay in the same state are
      not entries. Every review enters ``submitted`` when it is created.
MA004 Shares of the plan's indicators are over the poor and near-poor surveys: the share NOT deprived
      in the indicator (health insurance 2.2, clean water 5.1, hygienic latrine 5.2, access to
      information: neither 6.1 nor 6.2). The poverty-rate reduction is the 2022 baseline rate (%)
      minus the current rate: surveys classified poor ÷ households expected × 100.
MA005 A target is met when the actual value reaches it (≥); unknown when there is no actual value.
MA006 A unit's map status: ``none`` (no survey), ``started`` (fewer surveys than expected), ``surveyed``
      (as many as expected or more, reviews still open), ``done`` (every review ended and at least as
      many as expected).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CLASS_NAMES = ("poor", "near_poor", "average_living", "not_classified")
ENDED = frozenset({"decided", "exported"})
PLAN_INDICATORS = ("poverty_rate_reduction", "health_insurance", "clean_water", "hygienic_latrine", "information")
SHARE_OF = {"health_insurance": "insured", "clean_water": "water", "hygienic_latrine": "latrine",
            "information": "informed"}


@dataclass
class Tally:
    """The counts of one unit (a village, or a roll-up of villages)."""

    expected: int = 0
    submitted: int = 0
    states: Counter = field(default_factory=Counter)
    returned: int = 0
    resurveyed: int = 0
    duplicates: int = 0
    gps: int = 0
    classes: Counter = field(default_factory=Counter)
    deprived: Counter = field(default_factory=Counter)  # indicator → poor/near-poor surveys deprived in it
    poor_near: int = 0
    insured: int = 0
    water: int = 0
    latrine: int = 0
    informed: int = 0
    created_s: float = 0.0  # Σ creation times of the reviews (epoch seconds), for the time in "submitted"

    def add(self, other: Tally) -> None:
        for name in ("expected", "submitted", "returned", "resurveyed", "duplicates", "gps", "poor_near", "insured",
                     "water", "latrine", "informed", "created_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.states.update(other.states)
        self.classes.update(other.classes)
        self.deprived.update(other.deprived)

    @property
    def progress(self) -> float | None:
        """MA002, as a percentage."""
        return 100.0 * self.submitted / self.expected if self.expected else None

    @property
    def done(self) -> int:
        return sum(self.states[state] for state in ENDED)

    @property
    def status(self) -> str:
        """MA006."""
        if not self.submitted:
            return "none"
        if self.submitted < self.expected:
            return "started"
        return "done" if self.done == self.submitted else "surveyed"


def roll_up(villages: Mapping[str, Tally], parent_of: Mapping[str, str | None]) -> dict[str, Tally]:
    """MA001: the tallies of the parents named by ``parent_of`` (villages without a parent are left out)."""
    parents: dict[str, Tally] = {}
    for village, tally in villages.items():
        parent = parent_of.get(village)
        if parent is not None:
            parents.setdefault(parent, Tally()).add(tally)
    return parents


def total(tallies: Iterable[Tally]) -> Tally:
    whole = Tally()
    for tally in tallies:
        whole.add(tally)
    return whole


def share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


@dataclass(frozen=True)
class StateTime:
    state: str
    entries: int
    current: int
    mean_days: float | None


def state_times(transitions: Iterable[tuple[str, str, int, float]], created: tuple[int, float],
                current: Mapping[str, int], now_s: float) -> list[StateTime]:
    """MA003. ``transitions``: (from, to, events, Σ event time in s); ``created``: (reviews, Σ creation time in s);
    ``current``: reviews now in each state; ``now_s``: the time now in the same seconds."""
    spent: Counter = Counter()
    entries: Counter = Counter()
    for from_state, to_state, count, at_sum in transitions:
        if from_state == to_state:
            continue
        spent[from_state] += at_sum
        spent[to_state] -= at_sum
        entries[to_state] += count
    spent["submitted"] -= created[1]
    entries["submitted"] += created[0]
    for state, count in current.items():
        spent[state] += count * now_s
    states = sorted(set(entries) | set(current), key=lambda s: (-spent[s], s))
    return [StateTime(state, entries[state], current.get(state, 0),
                      max(0.0, spent[state]) / entries[state] / 86400 if entries[state] else None)
            for state in states]


@dataclass(frozen=True)
class TargetRow:
    indicator: str
    target: float | None
    baseline: float | None
    actual: float | None
    met: bool | None


def plan_actuals(tally: Tally, baselines: Mapping[str, float | None]) -> dict[str, float | None]:
    """MA004: the actual value of each plan indicator for ``tally``."""
    actual: dict[str, float | None] = {name: share(getattr(tally, attr), tally.poor_near)
                                       for name, attr in SHARE_OF.items()}
    baseline = baselines.get("poverty_rate_reduction")
    rate = share(tally.classes["poor"], tally.expected)
    actual["poverty_rate_reduction"] = None if baseline is None or rate is None else baseline - rate
    return actual


def evaluate_targets(tally: Tally, targets: Mapping[str, tuple[float, float | None]]) -> list[TargetRow]:
    """MA005: each plan indicator with its target (indicator → (target, baseline)), actual and verdict."""
    actual = plan_actuals(tally, {name: baseline for name, (_, baseline) in targets.items()})
    rows = []
    for name in PLAN_INDICATORS:
        target, baseline = targets.get(name, (None, None))
        value = actual[name]
        rows.append(TargetRow(name, target, baseline, value,
                              None if value is None or target is None else value >= target))
    return rows
