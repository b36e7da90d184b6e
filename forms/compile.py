"""Compile an XLSForm with pyxform and report its own errors with their row."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from forms.xform import XFormInfo, read_xform

_ROW = re.compile(r"\[row\s*:\s*(\d+)\]", re.IGNORECASE)
SUFFIXES = (".xlsx", ".xls", ".md", ".csv")


class FormError(ValueError):
    """pyxform (or ODK Validate) refused the form."""

    def __init__(self, message: str, code: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.row = row


@dataclass(frozen=True)
class CompiledForm:
    xml: bytes
    info: XFormInfo
    warnings: tuple[str, ...] = field(default=())


def compile_xlsform(source: bytes | Path, filename: str = "form.xlsx", *, validate: bool = False) -> CompiledForm:
    """Compile XLSForm bytes (or a path) to XForm bytes. ``filename`` gives the file type."""
    suffix = Path(filename if isinstance(source, bytes) else source).suffix.lower()
    if suffix not in SUFFIXES:
        raise FormError(f"unsupported XLSForm file type '{suffix}'", code="file_type")
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return _compile(data, suffix, validate)


@lru_cache(maxsize=64)
def _compile(data: bytes, suffix: str, validate: bool) -> CompiledForm:
    """Compiling is pure and costs a fifth of a second (seconds with ODK Validate): keep recent results."""
    warnings: list[str] = []
    try:
        if suffix == ".md":
            result = convert(xlsform=data.decode("utf-8"), file_type=".md", warnings=warnings,
                             validate=validate)
        else:
            result = convert(xlsform=io.BytesIO(data), file_type=suffix, warnings=warnings,
                             validate=validate)
    except PyXFormError as error:
        raise FormError(str(error), code=_code(error), row=_row(str(error))) from error
    except Exception as error:  # ODK Validate and the readers raise their own types
        raise FormError(str(error), code=type(error).__name__, row=_row(str(error))) from error
    xml = result.xform.encode("utf-8")
    return CompiledForm(xml=xml, info=read_xform(xml), warnings=tuple(result.warnings or warnings))


def _code(error: PyXFormError) -> str | None:
    code = getattr(error, "code", None)
    return getattr(code, "name", None) or (str(code) if code else None)


def _row(message: str) -> int | None:
    match = _ROW.search(message)
    return int(match.group(1)) if match else None
