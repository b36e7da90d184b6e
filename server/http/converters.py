"""URL converters shared by every blueprint.

``<int:…>`` path segments are database ids (32-bit integer columns): a number past that range is no
row, so it is a 404 at routing, never a query the database refuses (SQLite: OverflowError,
PostgreSQL: NumericValueOutOfRange — both were 500s). Text segments never hold NUL (see TextConverter).
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, UnicodeConverter
from werkzeug.routing import PathConverter as BasePathConverter

ID_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = ID_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class TextConverter(UnicodeConverter):
    """The default ``<name>`` segment without NUL: PostgreSQL text cannot hold it (a 500 when queried),
    and no code or name has one, so such a segment routes nowhere (404)."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\x00]", 1)


class PathConverter(BasePathConverter):
    """``<path:…>`` without NUL (werkzeug's ``[^/].*?`` otherwise); it spans segments."""

    regex = "[^/\x00][^\x00]*?"
    part_isolating = False


CONVERTERS = {"int": IdConverter, "default": TextConverter, "string": TextConverter, "path": PathConverter}
