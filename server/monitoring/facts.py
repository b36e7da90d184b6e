"""What the dashboard counts about one household survey, read out of its stored JSON (pure).

The classification result, the GPS placement and the answers are JSON; reading them for every survey
of a province on every page load would cost seconds. So each survey's facts are read once, when it is
processed, into plain columns (``monitoring_facts``), and the dashboard only sums columns.

Rules (the tests cite them):
MF001 ``deprived`` is a bit set over ``INDICATORS`` (bit i ⇔ INDICATORS[i] is "deprived" under the
      national verdict); ids the list does not know are ignored. The deprivation count is the
      verdict's own, None when the survey was not classified.
MF002 ``gps_flags`` is a bit set over ``GPS_FLAGS``; unknown flags set the ``OTHER_FLAG`` bit so that
      a new kind of GPS problem is still counted as an exception.
MF003 The interview duration is ``end − start`` (ODK metadata, ISO 8601 with offset) in whole seconds,
      kept only when it is positive and under ``MAX_DURATION_S``; anything else is unknown (None).
MF004 The income is the directly estimated income per person per month, when the form recorded a
      non-negative number; else unknown.
MF005 The point is the answered GPS position (latitude, longitude) when it parses and lies on Earth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

INDICATORS = ("1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "4.1", "4.2", "5.1", "5.2", "6.1", "6.2")
GPS_FLAGS = ("no_gps", "outside_province", "poor_accuracy", "outside_declared_village", "on_boundary",
             "commune_from_centroid", "unknown_declared_village")
OTHER_FLAG = len(GPS_FLAGS)
MAX_DURATION_S = 12 * 3600


def bit(indicator: str) -> int:
    """The bit of one indicator in ``deprived`` (MF001)."""
    return 1 << INDICATORS.index(indicator)


@dataclass(frozen=True)
class FactValues:
    household_class: str | None
    deprived: int
    deprivation_count: int | None
    gps_flags: int
    lat: float | None
    lon: float | None
    income: float | None
    duration_s: int | None


def read_facts(answers: Mapping[str, Any] | None, geo: Mapping[str, Any] | None,
               result: Mapping[str, Any] | None, household_class: str | None) -> FactValues:
    fields = (answers or {}).get("fields") or {}
    deprived, count = deprivations(result)
    lat_lon = point(fields.get("gps"))
    return FactValues(household_class, deprived, count, gps_bits((geo or {}).get("flags") or ()),
                      lat_lon[0] if lat_lon else None, lat_lon[1] if lat_lon else None,
                      income(fields.get("income_per_person_month")), duration(fields.get("start"), fields.get("end")))


def deprivations(result: Mapping[str, Any] | None) -> tuple[int, int | None]:
    """MF001: (bit set, count) from a stored classification result."""
    if not result:
        return 0, None
    national = result.get("national") or {}
    mask = 0
    for indicator in national.get("indicators") or ():
        if not isinstance(indicator, Mapping):
            continue
        if indicator.get("status") == "deprived" and indicator.get("id") in INDICATORS:
            mask |= bit(indicator["id"])
    count = national.get("deprivation_count", result.get("deprivation_count"))
    return mask, count if isinstance(count, int) and result.get("status") == "classified" else None


def gps_bits(flags: Any) -> int:
    """MF002."""
    mask = 0
    for flag in flags:
        mask |= 1 << (GPS_FLAGS.index(flag) if flag in GPS_FLAGS else OTHER_FLAG)
    return mask


def duration(start: Any, end: Any) -> int | None:
    """MF003."""
    try:
        began, ended = datetime.fromisoformat(str(start)), datetime.fromisoformat(str(end))
        seconds = (ended - began).total_seconds()
    except (TypeError, ValueError):
        return None
    return int(seconds) if 0 < seconds < MAX_DURATION_S else None


def income(value: Any) -> float | None:
    """MF004."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def point(value: Any) -> tuple[float, float] | None:
    """MF005: (lat, lon) of an ODK geopoint "lat lon [alt [accuracy]]"."""
    parts = str(value or "").split()
    if len(parts) < 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon
