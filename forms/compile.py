"""Compile an XLSForm with pyxform and report its own errors with their row."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from forms.xform import XFormInfo, read_xform
from forms.xml import UnsafeXml

_ROW = re.compile(r"\[row\s*:\s*(\d+)\]", re.IGNORECASE)
SUFFIXES = (".xlsx", ".xls", ".md", ".csv")
ZIP_SUFFIXES = (".xlsx", ".xlsm")
# A workbook's members together, as their headers declare them (the reader never inflates past that):
# forms are kilobytes, a province's choice lists a few megabytes. A zip bomb declares gigabytes.
XLSX_MAX_INFLATED = 32 * 1024 * 1024
XLSX_MAX_MEMBERS = 1000
_DTD = re.compile(rb"<!(?:doctype|entity)", re.IGNORECASE)


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
    if suffix in ZIP_SUFFIXES:
        check_xlsx_container(data)
    return _compile(data, suffix, validate)


def check_xlsx_container(data: bytes) -> None:
    """Refuse, before any sheet is parsed, what no spreadsheet is: not a zip, a damaged or encrypted
    zip, a zip bomb (members inflating past ``XLSX_MAX_INFLATED``), thousands of members, member names
    that are paths out of the archive (``../``, absolute, backslashes, NUL), or XML with a DTD (XXE,
    entity expansion; raised as ``UnsafeXml``)."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise FormError("the file is not an XLSX workbook (not a zip archive)", code="xlsx_not_zip")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > XLSX_MAX_MEMBERS:
                raise FormError(f"the workbook has {len(members)} parts (at most {XLSX_MAX_MEMBERS})",
                                code="xlsx_members")
            for member in members:
                name = member.filename
                if (name.startswith("/") or "\\" in name or "\x00" in name or ".." in name.split("/")
                        or re.match(r"^[A-Za-z]:", name)):
                    raise FormError(f"the workbook has a part with a path name: {name[:100]!r}",
                                    code="xlsx_member_name")
            inflated = sum(member.file_size for member in members)
            if inflated > XLSX_MAX_INFLATED:
                raise FormError(f"the workbook inflates to {inflated} bytes (at most {XLSX_MAX_INFLATED}); "
                                "is it a zip bomb?", code="xlsx_too_large")
            for member in members:
                if member.filename.endswith((".xml", ".rels", ".vml")):
                    _refuse_dtd(archive, member)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError) as error:
        raise FormError(f"the workbook is damaged or encrypted: {error}", code="xlsx_damaged") from error


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


def _refuse_dtd(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Read in bounded chunks: ``ZipFile.read`` inflates a whole member at once, however small its
    header says it is (a lying header is a zip bomb of its own); a chunk never inflates past its size."""
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(64 * 1024):
            if _DTD.search(tail + chunk):
                raise UnsafeXml(f"DTD or entity declaration in {member.filename}")
            tail = chunk[-16:]
