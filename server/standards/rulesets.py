"""Rule sets: the poverty standard of a period as versioned data (format in FORMAT.md).

National sets ship in ``data/`` and are chosen by campaign year. A local (provincial) set is loaded
from a file; it may ``extend`` a national set and override only what the province changed.
Everything is checked on load so that a bad file fails when it is installed, not mid-campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from server.standards.checks import fail, get, is_count, is_names, is_number, read_json, text
from server.standards.indicators import METHODS, IndicatorSpec
from server.standards.text import Text

DATA_DIR = Path(__file__).resolve().parent / "data"
RULESET_GLOB = "ruleset-*.json"
FORMAT_VERSION = 1
SCOPES = ("national", "local")


class RuleSetNotFound(LookupError):
    """No rule set fits the request (year not covered, unknown rule set to extend)."""


@dataclass(frozen=True)
class IncomeLines:
    line: int  # VND per person per month; income <= line is poor / near-poor
    average_band_max: int | None  # upper end of the average-living band; None = not known


@dataclass(frozen=True)
class RuleSet:
    id: str
    version: str
    scope: str
    title: Text
    first_year: int
    last_year: int
    rural: IncomeLines
    urban: IncomeLines
    poor_min_deprivations: int
    indicators: tuple[IndicatorSpec, ...]

    def covers(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    def lines(self, urban: bool) -> IncomeLines:
        return self.urban if urban else self.rural


def load_ruleset(year: int) -> RuleSet:
    """The bundled national rule set in force for campaign ``year``."""
    matches = [r for r in _bundled() if r.scope == "national" and r.covers(year)]
    if not matches:
        raise RuleSetNotFound(f"no national rule set covers the year {year}")
    if len(matches) > 1:
        raise fail(str(DATA_DIR), "years", f"several national rule sets cover {year}: {[r.id for r in matches]}")
    return matches[0]


def load_ruleset_file(path: str | Path) -> RuleSet:
    """Load and check one rule-set file (national or local; ``extends`` is resolved)."""
    return ruleset_from_data(read_json(Path(path)), str(path))


def ruleset_from_data(raw: Mapping[str, Any], source: str) -> RuleSet:
    """The same as ``load_ruleset_file`` for a rule set already read (e.g. kept in the database)."""
    raw = dict(raw)
    base_id = raw.get("extends")
    if base_id is not None:
        raw = _overlay(_bundled_raw(str(base_id), Path(source)), raw)
    return _build(raw, source)


@lru_cache(maxsize=1)
def _bundled() -> tuple[RuleSet, ...]:
    return tuple(_build(read_json(p), str(p)) for p in sorted(DATA_DIR.glob(RULESET_GLOB)))


def _bundled_raw(ruleset_id: str, source: Path) -> dict[str, Any]:
    for path in sorted(DATA_DIR.glob(RULESET_GLOB)):
        raw = read_json(path)
        if raw.get("id") == ruleset_id:
            return raw
    raise RuleSetNotFound(f"{source}: extends unknown rule set {ruleset_id!r}")


def _overlay(base: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys of the local file replace the base's; indicators replace one by one."""
    if local.get("scope") != "local":
        raise fail(str(local.get("id")), "extends", "only a local rule set may extend another")
    merged = {**base, **local}
    merged["indicators"] = {**base.get("indicators", {}), **local.get("indicators", {})}
    return merged


def _build(raw: Mapping[str, Any], source: str) -> RuleSet:
    if raw.get("format") != FORMAT_VERSION:
        raise fail(source, "format", f"expected {FORMAT_VERSION}, got {raw.get('format')!r}")
    scope = get(raw, "scope", str, source, "")
    if scope not in SCOPES:
        raise fail(source, "scope", f"must be one of {SCOPES}")
    years = get(raw, "years", dict, source, "")
    first, last = (get(years, k, int, source, "years") for k in ("first", "last"))
    if first > last:
        raise fail(source, "years", "first is after last")
    income = get(raw, "income", dict, source, "")
    classification = get(raw, "classification", dict, source, "")
    specs = get(raw, "indicators", dict, source, "")
    if not specs:
        raise fail(source, "indicators", "at least one indicator is required")
    return RuleSet(
        id=get(raw, "id", str, source, ""),
        version=get(raw, "version", str, source, ""),
        scope=scope,
        title=text(raw, "title", source, ""),
        first_year=first,
        last_year=last,
        rural=_lines(income, "rural", source),
        urban=_lines(income, "urban", source),
        poor_min_deprivations=get(classification, "poor_min_deprivations", int, source,
                                   "classification"),
        indicators=tuple(_indicator(key, spec, source) for key, spec in specs.items()),
    )


def _lines(income: Mapping[str, Any], area: str, source: str) -> IncomeLines:
    where = f"income.{area}"
    lines = get(income, area, dict, source, "income")
    line = get(lines, "line", int, source, where)
    band_max = get(lines, "average_band_max", (int, type(None)), source, where)
    if line <= 0:
        raise fail(source, f"{where}.line", "must be positive")
    if band_max is not None and band_max <= line:
        raise fail(source, f"{where}.average_band_max", "must be above the line")
    return IncomeLines(line=line, average_band_max=band_max)


def _indicator(key: str, spec: Any, source: str) -> IndicatorSpec:
    where = f"indicators.{key}"
    if not isinstance(spec, dict):
        raise fail(source, where, "expected an object")
    method_name = get(spec, "method", str, source, where)
    method = METHODS.get(method_name)
    if method is None:
        raise fail(source, f"{where}.method", f"unknown method {method_name!r}; known: {sorted(METHODS)}")
    params = get(spec, "params", dict, source, where)
    unexpected = sorted(set(params) - set(method.params))
    if unexpected:
        raise fail(source, f"{where}.params", f"unexpected {unexpected}")
    for name, kind in method.params.items():
        _check_param(kind, params.get(name), source, f"{where}.params.{name}")
    if method_name == "child_schooling":
        _check_levels_cover_ages(params, source, f"{where}.params")
    return IndicatorSpec(id=key, method=method_name, name=text(spec, "name", source, where),
                         params=params, verified=get(spec, "verified", bool, source, where),
                         source=get(spec, "source", str, source, where))


def _is_band(band: Any) -> bool:
    return (isinstance(band, dict) and is_count(band.get("age_from")) and is_count(band.get("age_to"))
            and band["age_from"] <= band["age_to"] and is_names(band.get("diplomas"))
            and isinstance(band.get("required"), dict)
            and all(isinstance(band["required"].get(k), str) for k in ("vi", "en")))


_PARAM_KINDS = {
    "int": is_count,
    "number": is_number,
    "share": lambda v: is_number(v) and v <= 1,
    "names": is_names,
    "by_sex": lambda v: isinstance(v, dict) and set(v) == {"male", "female"}
    and all(is_count(x) for x in v.values()),
    "education_bands": lambda v: isinstance(v, list) and bool(v) and all(_is_band(b) for b in v),
    "levels_for_age": lambda v: isinstance(v, dict) and all(
        k.isdigit() and is_names(x) and x for k, x in v.items()),
    "all_or_any": lambda v: v in ("all", "any"),
}


def _check_param(kind: str, value: Any, source: str, where: str) -> None:
    if value is None or not _PARAM_KINDS[kind](value):
        raise fail(source, where, f"expected {kind}, got {value!r}")


def _check_levels_cover_ages(params: Mapping[str, Any], source: str, where: str) -> None:
    missing = [age for age in range(params["age_from"], params["age_below"])
               if str(age) not in params["levels_for_age"]]
    if missing:
        raise fail(source, f"{where}.levels_for_age", f"no level for ages {missing}")
