"""The photo or scan of the signed village-meeting minutes (pure: no Flask, no database).

Rules (the tests cite them):
MM001 A minutes file is a JPEG, PNG or PDF, recognised by its first bytes (JPEG ``FF D8 FF``, PNG's
      8-byte signature, PDF ``%PDF-``). The file name and the content type the client declared are
      never trusted: a PDF renamed ``.jpg`` is stored and served as a PDF, an HTML page named
      ``bien-ban.pdf`` is refused.
MM002 A minutes file is not empty and at most ``MAX_MINUTES_BYTES`` long.
MM003 MM001 and MM002 report every problem found, each as a bilingual reason.
MM004 The stored file name is for people only: NFC, without directories or control characters, at most
      120 characters, and ending with the extension of the detected type (``bien-ban.jpg`` holding a
      PDF becomes ``bien-ban.pdf``); an empty name becomes ``bien-ban-hop.<ext>``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from server.standards.text import Reason, reason

# Phone photos of an A4 page are 2–5 MB; a multi-page scan as PDF rarely exceeds 10 MB.
MAX_MINUTES_BYTES = 10 * 1024 * 1024

MINUTES_TYPES: Mapping[str, str] = MappingProxyType({
    "image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"})

_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"%PDF-", "application/pdf"))
_NAME_LIMIT = 120


def sniff(data: bytes) -> str | None:
    """MM001: the content type the bytes say they are, or None."""
    return next((kind for signature, kind in _SIGNATURES if data.startswith(signature)), None)


@dataclass(frozen=True)
class MinutesCheck:
    content_type: str | None
    problems: tuple[Reason, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_minutes(data: bytes, limit: int = MAX_MINUTES_BYTES) -> MinutesCheck:
    """MM001–MM003: the detected type, and every reason to refuse the file."""
    if not data:
        return MinutesCheck(None, (reason("minutes.empty", "Tệp biên bản rỗng.", "The minutes file is empty."),))
    problems: list[Reason] = []
    if len(data) > limit:
        megabytes = limit // (1024 * 1024)
        problems.append(reason("minutes.too_large", f"Tệp biên bản quá lớn (tối đa {megabytes} MB).",
                               f"The minutes file is too large (at most {megabytes} MB)."))
    content_type = sniff(data)
    if content_type is None:
        problems.append(reason("minutes.bad_type", "Tệp biên bản phải là ảnh JPEG, PNG hoặc tệp PDF.",
                               "The minutes file must be a JPEG or PNG image or a PDF file."))
    return MinutesCheck(content_type, tuple(problems))


def stored_name(given: str | None, content_type: str) -> str:
    """MM004."""
    extension = MINUTES_TYPES[content_type]
    name = unicodedata.normalize("NFC", given or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem = (name.rsplit(".", 1)[0] if "." in name else name).strip().strip(".")
    stem = stem[:_NAME_LIMIT - len(extension)].strip() or "bien-ban-hop"
    return stem + extension
