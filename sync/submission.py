"""Reading an OpenRosa submission and deciding what it is.

OR001 The XML root carries the form id (`id`) and version (`version`, empty when absent).
OR002 `meta/instanceID` (any namespace, e.g. `orx:meta`) identifies the submission; without it, or with
      one longer than INSTANCE_ID_MAX characters, the submission is refused (400). An attribute value
      longer than ATTRIBUTE_MAX characters (no form writes one) is refused too (400).
OR003 `meta/deprecatedID` names the instance this one replaces (an edit).
OR004 Same instanceID and byte-identical XML: a retry or a split upload; it is accepted again (201)
      and only new attachments are added.
OR005 Same instanceID, different XML: 409 conflict.
OR006 A deleted submission's instanceID cannot be reused: 409.
OR007 An edit of an unknown instance: 404; of an instance that is no longer current (already edited):
      409; otherwise the edit becomes the submission's new current version.
OR008 Attachment names are plain file names; a name with a path, or `.`/`..`, is refused (400), also when
      it only becomes one under Unicode compatibility (fullwidth `．．／`), or hides its extension with
      bidirectional or other control characters.
OR009 Attachments that the XML does not reference (in a binary field) are ignored.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from forms.xml import local_name, parse_untrusted

INSTANCE_ID_MAX = 200  # the columns' width (submissions.instance_id, deprecated_id)
INSTANCE_NAME_MAX = 400  # a display label: longer ones are cut, never refused
ATTRIBUTE_MAX = 4096


class SubmissionError(ValueError):
    """A submission that cannot be accepted; ``key`` names the problem in the server's catalogue."""

    def __init__(self, key: str, **details: Any) -> None:
        super().__init__(key)
        self.key = key
        self.details = details


@dataclass(frozen=True)
class ParsedSubmission:
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    instance_name: str | None
    root: etree._Element = field(repr=False, compare=False)


def parse_submission(xml: bytes) -> ParsedSubmission:
    """OR001–OR003: the identity of a submission; everything else is read later."""
    try:
        root = parse_untrusted(xml)
    except ValueError as error:
        key = "unsafe_xml" if type(error).__name__ == "UnsafeXml" else "malformed_xml"
        raise SubmissionError(key, detail=str(error)) from error
    form_id = root.get("id")
    if not form_id:
        raise SubmissionError("malformed_xml", detail="the root element has no form id attribute")
    meta = _meta(root)
    instance_id = _child_text(meta, "instanceID")
    if not instance_id:
        raise SubmissionError("missing_instance_id")
    if len(instance_id) > INSTANCE_ID_MAX:
        raise SubmissionError("malformed_xml", detail=f"meta/instanceID is longer than {INSTANCE_ID_MAX} characters")
    for element in root.iter():
        if any(len(value) > ATTRIBUTE_MAX for value in element.attrib.values()):
            raise SubmissionError("malformed_xml", detail=f"an attribute value is longer than {ATTRIBUTE_MAX} "
                                                          "characters")
    instance_name = _child_text(meta, "instanceName")
    return ParsedSubmission(
        form_id=form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        deprecated_id=_child_text(meta, "deprecatedID"),
        instance_name=instance_name[:INSTANCE_NAME_MAX] if instance_name else None,
        root=root,
    )


def _meta(root: etree._Element) -> etree._Element | None:
    for child in root:
        if isinstance(child.tag, str) and local_name(child) == "meta":
            return child
    return None


def _child_text(parent: etree._Element | None, name: str) -> str | None:
    if parent is None:
        return None
    for child in parent:
        if isinstance(child.tag, str) and local_name(child) == name:
            text = (child.text or "").strip()
            return text or None
    return None


def check_attachment_name(name: str) -> str:
    """OR008."""
    folded = unicodedata.normalize("NFKC", name)
    if (not name or folded.strip() in {".", ".."} or any(c in folded for c in "/\\") or len(name) > 255
            or any(unicodedata.category(c) in ("Cc", "Cf") for c in name)):
        raise SubmissionError("bad_attachment_name", name=_printable(name[:100]))
    return name


def _printable(text: str) -> str:
    """``text`` for a message: control and format characters (NUL, U+202E…) spelled out, never sent raw."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def referenced_files(root: etree._Element, binary_paths: frozenset[str]) -> set[str]:
    """OR009: file names that the submission's binary fields point at."""
    names: set[str] = set()
    for element, path in _walk(root, "/" + local_name(root)):
        if path in binary_paths:
            text = (element.text or "").strip()
            if text:
                names.add(text)
    return names


def _walk(element: etree._Element, path: str) -> Iterator[tuple[etree._Element, str]]:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        child_path = f"{path}/{local_name(child)}"
        if len(child):
            yield from _walk(child, child_path)
        else:
            yield child, child_path


def read_answers(root: etree._Element, repeat_paths: frozenset[str]) -> dict[str, Any]:
    """Flatten a submission into ``{"fields": {leaf: value}, "repeats": {name: [{leaf: value}]}}``.

    The shape the standards engine and the household matcher read (see forms/FIELDS.md). Repeat
    paths come from the form because a repeat with one instance looks like a group.
    """
    fields: dict[str, str] = {}
    repeats: dict[str, list[dict[str, str]]] = {}
    root_path = "/" + local_name(root)

    def is_repeat(path: str) -> bool:
        return path in repeat_paths

    def collect(element: etree._Element, path: str, into: dict[str, str]) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = local_name(child)
            child_path = f"{path}/{name}"
            if is_repeat(child_path):
                instance: dict[str, str] = {}
                collect(child, child_path, instance)
                repeats.setdefault(name, []).append(instance)
            elif len(child):
                if name != "meta":
                    collect(child, child_path, into)
            else:
                into[name] = (child.text or "").strip()

    collect(root, root_path, fields)
    return {"fields": fields, "repeats": repeats}


class Outcome(enum.Enum):
    NEW = "new"
    SAME = "same"            # OR004
    EDIT = "edit"            # OR007, accepted


@dataclass(frozen=True)
class Existing:
    """What the database holds for the incoming instanceID and, for an edit, its deprecatedID."""

    same_instance_xml: bytes | None = None
    same_instance_deleted: bool = False
    deprecated_exists: bool = False
    deprecated_is_current: bool = False
    deprecated_deleted: bool = False


def decide(incoming_xml: bytes, parsed: ParsedSubmission, existing: Existing) -> Outcome:
    """OR004–OR007 as one decision; raises SubmissionError for the refusals."""
    if existing.same_instance_deleted:
        raise SubmissionError("deleted_conflict")
    if existing.same_instance_xml is not None:
        if existing.same_instance_xml == incoming_xml:
            return Outcome.SAME
        raise SubmissionError("xml_conflict")
    if parsed.deprecated_id is None:
        return Outcome.NEW
    if not existing.deprecated_exists:
        raise SubmissionError("deprecated_not_found", deprecated_id=parsed.deprecated_id)
    if existing.deprecated_deleted:
        raise SubmissionError("deleted_conflict")
    if not existing.deprecated_is_current:
        raise SubmissionError("stale_edit", deprecated_id=parsed.deprecated_id)
    return Outcome.EDIT
