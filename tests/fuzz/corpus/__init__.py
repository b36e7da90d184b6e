"""The hostile-input corpus, built by code so that every case says how it is made (no opaque binaries).

Each builder returns bytes (or text) small enough to keep in a test, however much they inflate to.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Iterable
from functools import lru_cache

from openpyxl import Workbook

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SURVEY_SHEET = "xl/worksheets/sheet1.xml"

# Text that has broken parsers, file systems, databases and spreadsheets somewhere.
HOSTILE_TEXT = (
    "", " ", "..", "../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "C:\\boot.ini", "a\x00b",
    "\x00", "%00", "%2e%2e%2f", "\u202egpj.exe", "e\u0301", "ﬁle", "\ufeff", "\ud7ff\ue000", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "' OR '1'='1", "\"; DROP TABLE submissions; --", "${jndi:ldap://127.0.0.1/a}", "{{7*7}}", "<script>x</script>",
    "=HYPERLINK(\"http://127.0.0.1\")", "+SUM(1)", "-2+3", "@cmd", "\t=1", "\r=1", "NaN", "-inf", "1e309",
    "9" * 40, "-1", "0x10", "uuid:", "uuid:fuzz-1/../x", "Submissions('x')", "$metadata", "a" * 3000,
)


@lru_cache
def xlsform(form_id: str = "fuzz_form", label: str = "Họ tên") -> bytes:
    """A valid one-question XLSForm, written by openpyxl (the sheets use inline strings)."""
    workbook = Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "head_name", label])
    settings = workbook.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append([form_id, "1"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def rezip(xlsx: bytes, replace: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    """``xlsx`` with members replaced or added (deflated at the highest level: a bomb stays small)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            target.writestr(info.filename, (replace or {}).get(info.filename, source.read(info.filename)))
        for name, data in (extra or {}).items():
            target.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _survey_sheet(xlsx: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(xlsx)).read(SURVEY_SHEET)


@lru_cache
def xlsx_zip_bomb(inflated_bytes: int = 128 * 1024 * 1024) -> bytes:
    """A valid workbook whose survey sheet inflates to ``inflated_bytes`` of (legal) whitespace."""
    base = xlsform()
    sheet = _survey_sheet(base).replace(b"<sheetData>", b"<sheetData>" + b" " * inflated_bytes, 1)
    return rezip(base, {SURVEY_SHEET: sheet})


@lru_cache
def xlsx_lying_sizes(inflated_bytes: int = 128 * 1024 * 1024, declared: int = 1000) -> bytes:
    """A zip bomb whose headers (local and central) declare ``declared`` bytes for the survey sheet: a
    reader that trusts the stream rather than the header would inflate it all."""
    data = bytearray(xlsx_zip_bomb(inflated_bytes))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(SURVEY_SHEET)
    struct.pack_into("<I", data, info.header_offset + 22, declared)  # local file header: uncompressed size
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))
    while central != -1:  # the central directory entries, last first
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + name_length]) == SURVEY_SHEET.encode():
            struct.pack_into("<I", data, central + 24, declared)
        central = data.rfind(b"PK\x01\x02", 0, central)
    return bytes(data)


@lru_cache
def xlsx_many_members(count: int = 1500) -> bytes:
    """A workbook padded with thousands of empty members (a central directory to choke on)."""
    return rezip(xlsform(), extra={f"xl/pad/{i}.bin": b"" for i in range(count)})


def xlsx_with_doctype(entity: str) -> bytes:
    """The survey sheet declares ``entity`` in a DTD and uses it in a cell."""
    sheet = _survey_sheet(xlsform())
    doctype = f'<?xml version="1.0"?><!DOCTYPE worksheet [{entity}]>'.encode()
    return rezip(xlsform(), {SURVEY_SHEET: doctype + sheet.replace(b"<t>head_name</t>", b"<t>&e;</t>", 1)})


def xlsx_xxe() -> bytes:
    return xlsx_with_doctype('<!ENTITY e SYSTEM "file:///etc/passwd">')


def xlsx_billion_laughs() -> bytes:
    levels = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    return xlsx_with_doctype("".join(levels) + '<!ENTITY e "&l9;">')


def xlsx_path_traversal(name: str) -> bytes:
    return rezip(xlsform(), extra={name: b"owned"})


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


# --- multipart ------------------------------------------------------------------------------------------

def multipart(parts: Iterable[tuple[str, str | bytes | None, bytes, str]], boundary: str = "fuzzBoundary") -> bytes:
    """A multipart/form-data body from (field name, file name or None, content, content type) parts,
    written by hand so that names can hold what a browser would never send (a bytes file name is
    written as is, invalid UTF-8 included)."""
    out = io.BytesIO()
    for field, filename, content, content_type in parts:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"'.encode())
        if filename is not None:
            out.write(b'; filename="' + (filename if isinstance(filename, bytes) else filename.encode()) + b'"')
        out.write(f"\r\nContent-Type: {content_type}\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def deeply_nested_xml(depth: int, form_id: str = "demo", instance_id: str = "uuid:deep") -> bytes:
    return (f'<data id="{form_id}" version="1">'.encode() + b"<g>" * depth + b"x" + b"</g>" * depth
            + f"<meta><instanceID>{instance_id}</instanceID></meta></data>".encode())


# --- GeoJSON --------------------------------------------------------------------------------------------

def square(lon: float, lat: float, size: float = 0.01) -> list[list[list[float]]]:
    return [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]


def boundary_feature(code: str, level: str, parent: str, geometry: object, name: str = "Tên") -> dict:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"code": code, "name": name, "level": level, "parent_code": parent}}


def boundaries(*features: dict) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


def valid_boundaries() -> str:
    return boundaries(
        boundary_feature("07210", "commune", "24", {"type": "Polygon", "coordinates": square(106.2, 21.27, 0.05)}),
        boundary_feature("07210-01", "village", "07210",
                         {"type": "Polygon", "coordinates": square(106.21, 21.28)}))
