"""Publishing forms: XLSForm or XForm in, versioned XForm + attachments out. Never commits."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Callable

from flask import current_app

from forms.compile import SUFFIXES, FormError, compile_xlsform
from forms.xform import NotAnXForm, XFormInfo, read_xform, set_version
from forms.xml import MalformedXml, UnsafeXml
from server.accounts.models import Actor
from server.accounts.services import audit
from server.collect import queries
from server.collect.models import Blob, Form, FormAttachment, FormDef, Project
from server.collect.storage import BlobStore, StoredBlob, store_for
from server.errors import Problem
from server.extensions import db
from server.timeutil import utcnow

XLSX_TYPES = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
              "application/vnd.ms-excel": ".xls"}
XML_TYPES = {"application/xml", "text/xml"}


def blob_store() -> BlobStore:
    return store_for(current_app)


def store_bytes(data: bytes) -> StoredBlob:
    """Bytes to the store, durably, before any row names them."""
    try:
        return blob_store().put(data)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise Problem("storage_full") from error  # the device keeps the submission and sends it again later


def store_blob(data: bytes, content_type: str | None = None) -> int:
    """Bytes to the store, then a Blob row (shared by identical content); returns the blob's id."""
    stored = store_bytes(data)
    return queries.upsert_blob(stored.sha256, stored.md5, stored.size, content_type)


_INFO_CACHE: dict[tuple[int, str], XFormInfo] = {}


def xform_info(form_def: FormDef) -> XFormInfo:
    """Read once per published version; versions never change once published."""
    key = (form_def.id, form_def.sha256)
    info = _INFO_CACHE.get(key)
    if info is None:
        info = read_xform(form_def.xml)
        if len(_INFO_CACHE) > 256:
            _INFO_CACHE.clear()
        _INFO_CACHE[key] = info
    return info


def read_blob(blob: Blob) -> bytes:
    return blob_store().get(blob.sha256)


def to_xform(body: bytes, content_type: str, filename: str | None = None) -> tuple[bytes, XFormInfo, bytes | None]:
    """(XForm bytes, info, the XLSForm bytes if that was the source)."""
    mimetype = content_type.split(";")[0].strip().lower()
    suffix = XLSX_TYPES.get(mimetype)
    if suffix is None and mimetype not in XML_TYPES and filename and filename.lower().endswith(SUFFIXES):
        suffix = "." + filename.rsplit(".", 1)[-1].lower()
    try:
        if suffix:
            compiled = compile_xlsform(body, f"form{suffix}")
            return compiled.xml, compiled.info, body
        return body, read_xform(body), None
    except FormError as error:
        detail = f"{error} (dòng / row {error.row})" if error.row else str(error)
        raise Problem("form_invalid", detail=detail, code=error.code, row=error.row) from error
    except UnsafeXml as error:
        raise Problem("unsafe_xml") from error
    except (MalformedXml, NotAnXForm) as error:
        raise Problem("form_invalid", detail=str(error)) from error


def create_draft(project: Project, body: bytes, content_type: str, by: Actor | None,
                 filename: str | None = None, expected_form_id: str | None = None) -> Form:
    xml, info, xlsx = to_xform(body, content_type, filename)
    if expected_form_id is not None and info.form_id != expected_form_id:
        raise Problem("invalid_input", detail=f"formID '{info.form_id}' ≠ '{expected_form_id}'")
    form = queries.form(project.id, info.form_id)
    if form is None:
        form = Form(project_id=project.id, xml_form_id=info.form_id)
        db.session.add(form)
        db.session.flush()
    previous = form.draft_def or form.current_def
    draft = FormDef(form_id=form.id, version=info.version, name=info.title, xml=xml,
                    md5=hashlib.md5(xml, usedforsecurity=False).hexdigest(),
                    sha256=hashlib.sha256(xml).hexdigest(),
                    xlsx_blob_id=store_blob(xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                    if xlsx else None)
    carried = {a.name: a.blob_id for a in previous.attachments} if previous else {}
    draft.attachments = [FormAttachment(name=name, kind=_attachment_kind(name), blob_id=carried.get(name),
                                        updated_at=utcnow()) for name in info.media_files]
    db.session.add(draft)
    db.session.flush()
    form.draft_def = draft
    form.updated_at = utcnow()
    audit("form.update.draft.set", by, "form", form.id, {"xmlFormId": form.xml_form_id})
    return form


def _attachment_kind(name: str) -> str:
    lower = name.lower()
    if lower.endswith((".jpg", ".jpeg", ".png", ".gif", ".svg")):
        return "image"
    if lower.endswith((".mp3", ".wav", ".m4a", ".ogg")):
        return "audio"
    if lower.endswith((".mp4", ".3gp", ".webm")):
        return "video"
    return "file"


def set_draft_attachment(form: Form, name: str, data: bytes, content_type: str | None,
                         by: Actor | None) -> FormAttachment:
    draft = form.draft_def
    if draft is None:
        raise Problem("not_found", what="draft")
    attachment = queries.form_attachment(draft.id, name)
    if attachment is None:
        raise Problem("not_found", what=f"attachment {name}")
    attachment.blob_id = store_blob(data, content_type)
    attachment.updated_at = utcnow()
    audit("form.attachment.update", by, "form", form.id, {"name": name})
    return attachment


def fill_generated_attachments(form: Form, generate: Callable[[], dict[str, bytes]]) -> None:
    """Attach server-generated lists (units CSVs) that the draft references and nobody uploaded."""
    draft = form.draft_def
    if draft is None:
        return
    missing = [a for a in draft.attachments if a.blob_id is None]
    if not missing:
        return
    generated = generate()
    for attachment in missing:
        if attachment.name in generated:
            attachment.blob_id = store_blob(generated[attachment.name], "text/csv")
            attachment.updated_at = utcnow()


def _fingerprint(form_def: FormDef, version_free_xml: bytes) -> str:
    digest = hashlib.sha256(version_free_xml)
    for attachment in sorted(form_def.attachments, key=lambda a: a.name):
        digest.update(f"{attachment.name}:{attachment.blob_id}".encode())
    return digest.hexdigest()


def _same_as_published(current: FormDef, draft: FormDef) -> bool:
    """Same content and the same version as written in the XLSForm (the server may have suffixed it)."""
    same_version = draft.version in ("", current.version) or current.version.startswith(draft.version + "-")
    return same_version and (_fingerprint(current, set_version(current.xml, ""))
                             == _fingerprint(draft, set_version(draft.xml, "")))


def publish_draft(form: Form, by: Actor | None, version: str | None = None) -> FormDef:
    """Publish the draft; a new version is assigned when the content changed but the version did not."""
    draft = form.draft_def
    if draft is None:
        raise Problem("not_found", what="draft")
    if version:
        draft.xml = set_version(draft.xml, version)
        draft.version = version
    current = form.current_def
    if current is not None and _same_as_published(current, draft):
        db.session.delete(draft)
        form.draft_def = None
        return current
    if not draft.version or queries.published_def(form.id, draft.version) is not None:
        if version:
            raise Problem("already_exists", what=f"version {version}")
        draft.version = _next_version(form, draft.version)
        draft.xml = set_version(draft.xml, draft.version)
    draft.md5 = hashlib.md5(draft.xml, usedforsecurity=False).hexdigest()
    draft.sha256 = hashlib.sha256(draft.xml).hexdigest()
    draft.published_at = utcnow()
    form.current_def = draft
    form.draft_def = None
    form.updated_at = utcnow()
    audit("form.update.publish", by, "form", form.id, {"xmlFormId": form.xml_form_id, "version": draft.version})
    return draft


def _next_version(form: Form, base: str) -> str:
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    candidate = f"{base}-{stamp}" if base else stamp
    suffix = 1
    while queries.published_def(form.id, candidate) is not None:
        suffix += 1
        candidate = f"{base or stamp}-{suffix}"
    return candidate


def publish(project: Project, body: bytes, content_type: str, by: Actor | None, filename: str | None = None,
            attachments: dict[str, bytes] | None = None,
            generate: Callable[[], dict[str, bytes]] | None = None) -> FormDef:
    """Draft + attachments + publish in one step (the CLI, `make run`, `?publish=true`)."""
    form = create_draft(project, body, content_type, by, filename)
    for name, data in (attachments or {}).items():
        if queries.form_attachment(form.draft_def.id, name) is not None:
            set_draft_attachment(form, name, data, None, by)
    if generate is not None:
        fill_generated_attachments(form, generate)
    return publish_draft(form, by)
