"""OpenRosa formList and manifest documents, byte-exact to what ODK Collect accepts.

FL001 The list is `<xforms xmlns="http://openrosa.org/xforms/xformsList">`.
FL002 Every `<xform>` has formID, name, version, hash and downloadUrl (Collect drops the whole list
      when one lacks formID, name or downloadUrl).
FL003 `hash` is `md5:` + the hex MD5 of the exact bytes served at downloadUrl.
FL004 `manifestUrl` appears only when the form has attachments.
MF001 The manifest is `<manifest xmlns="http://openrosa.org/xforms/xformsManifest">`; each file has
      filename (a basename), hash (`md5:`) and downloadUrl; entity lists add type="entityList" and an
      integrityUrl.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

FORM_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"


def md5_hash(data: bytes) -> str:
    return "md5:" + hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class FormListEntry:
    form_id: str
    name: str
    version: str
    hash: str
    download_url: str
    manifest_url: str | None = None


@dataclass(frozen=True)
class ManifestFile:
    filename: str
    hash: str
    download_url: str
    entity_list: bool = False
    integrity_url: str | None = None


def form_list_xml(entries: list[FormListEntry]) -> bytes:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="{FORM_LIST_NS}">']
    for entry in entries:
        parts.append("<xform>")
        parts.append(f"<formID>{escape(entry.form_id)}</formID>")
        parts.append(f"<name>{escape(entry.name)}</name>")
        parts.append(f"<version>{escape(entry.version)}</version>")
        parts.append(f"<hash>{escape(entry.hash)}</hash>")
        parts.append(f"<downloadUrl>{escape(entry.download_url)}</downloadUrl>")
        if entry.manifest_url:
            parts.append(f"<manifestUrl>{escape(entry.manifest_url)}</manifestUrl>")
        parts.append("</xform>")
    parts.append("</xforms>")
    return "".join(parts).encode("utf-8")


def manifest_xml(files: list[ManifestFile]) -> bytes:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="{MANIFEST_NS}">']
    for item in files:
        kind = ' type="entityList"' if item.entity_list else ""
        parts.append(f"<mediaFile{kind}>")
        parts.append(f"<filename>{escape(item.filename.rsplit('/', 1)[-1])}</filename>")
        parts.append(f"<hash>{escape(item.hash)}</hash>")
        parts.append(f"<downloadUrl>{escape(item.download_url)}</downloadUrl>")
        if item.integrity_url:
            parts.append(f"<integrityUrl>{escape(item.integrity_url)}</integrityUrl>")
        parts.append("</mediaFile>")
    parts.append("</manifest>")
    return "".join(parts).encode("utf-8")


