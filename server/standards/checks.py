"""Reading and checking the engine's JSON data files (rule sets, score tables).

A bad file must fail when it is installed, with the file and the key path in the message, rather
than mid-campaign with a KeyError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from server.standards.text import Text


class DataFileError(ValueError):
    """A rule-set or score-table file is unreadable or does not follow FORMAT.md."""


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object; decimals stay exact (Decimal) so thresholds compare exactly."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, json.JSONDecodeError) as error:
        raise DataFileError(f"{path}: cannot read: {error}") from error
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: the file must hold a JSON object")
    return data


def fail(source: str, where: str, problem: str) -> DataFileError:
    return DataFileError(f"{source}: {where or '(top level)'}: {problem}")


def get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str,
        where: str) -> Any:
    """``data[key]``, which must exist and be of ``kind`` (a bool never passes as an int)."""
    if key not in data:
        raise fail(source, where, f"'{key}' is required")
    value = data[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise fail(source, f"{where}.{key}".lstrip("."), f"expected {kind}, got {value!r}")
    return value


def text(data: Mapping[str, Any], key: str, source: str, where: str) -> Text:
    value = get(data, key, dict, source, where)
    inner = f"{where}.{key}".lstrip(".")
    return Text(get(value, "vi", str, source, inner), get(value, "en", str, source, inner))


def is_count(value: Any) -> bool:
    """A non-negative integer (ages, thresholds, counts)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_number(value: Any) -> bool:
    return is_count(value) or (isinstance(value, Decimal) and value >= 0)


def is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
