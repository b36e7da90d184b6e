"""What the server needs to know about an XForm: identity, version, repeats, binary fields, media."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from forms.xml import local_name, parse_untrusted

XFORMS_NS = "http://www.w3.org/2002/xforms"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_JR_FILE = re.compile(r"jr://(?:file|file-csv|images|audio|video)/([^\"'\s<>]+)")


class NotAnXForm(ValueError):
    """The XML parses but is not an XForm we can publish."""


@dataclass(frozen=True)
class XFormInfo:
    form_id: str
    version: str
    title: str
    repeat_paths: frozenset[str]
    binary_paths: frozenset[str]
    media_files: tuple[str, ...]
    entity_list: str | None
    has_encryption: bool


def _primary_instance(root: etree._Element) -> etree._Element:
    model = root.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    if model is None:
        raise NotAnXForm("no h:head/model")
    for instance in model.findall(f"{{{XFORMS_NS}}}instance"):
        if instance.get("id") is None:
            children = [c for c in instance if isinstance(c.tag, str)]
            if len(children) == 1:
                return children[0]
    raise NotAnXForm("no primary instance")


def read_xform(xml: bytes) -> XFormInfo:
    root = parse_untrusted(xml)
    data = _primary_instance(root)
    form_id = data.get("id")
    if not form_id:
        raise NotAnXForm("the primary instance has no id attribute")
    title_el = root.find(f"{{{XHTML_NS}}}head/{{{XHTML_NS}}}title")
    model = root.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    binds = model.findall(f"{{{XFORMS_NS}}}bind")
    binary = frozenset(b.get("nodeset", "") for b in binds if b.get("type") in {"binary", "xsd:base64Binary"})
    repeats = frozenset(r.get("nodeset", "") for r in root.iter(f"{{{XFORMS_NS}}}repeat"))
    media = _media_files(xml)
    entity = _entity_list(data)
    return XFormInfo(
        form_id=form_id,
        version=data.get("version") or "",
        title=(title_el.text or form_id).strip() if title_el is not None else form_id,
        repeat_paths=repeats,
        binary_paths=binary,
        media_files=media,
        entity_list=entity,
        has_encryption=model.find(f"{{{XFORMS_NS}}}submission") is not None
        and bool(model.find(f"{{{XFORMS_NS}}}submission").get("base64RsaPublicKey")),
    )


def _media_files(xml: bytes) -> tuple[str, ...]:
    names: list[str] = []
    for match in _JR_FILE.finditer(xml.decode("utf-8", errors="replace")):
        name = match.group(1).rsplit("/", 1)[-1]
        if name not in names:
            names.append(name)
    return tuple(names)


def _entity_list(data: etree._Element) -> str | None:
    for element in data.iter():
        if isinstance(element.tag, str) and local_name(element) == "entity":
            return element.get("dataset")
    return None


def set_version(xml: bytes, version: str) -> bytes:
    """Return the XForm with the primary instance's version attribute replaced.

    Done textually on the first ``version="…"`` of the primary instance's opening tag so that the rest of
    the bytes stay exactly as compiled.
    """
    root = parse_untrusted(xml)
    data = _primary_instance(root)
    form_id = data.get("id")
    tag = local_name(data)
    text = xml.decode("utf-8")
    pattern = re.compile(r"<" + re.escape(tag) + r"\b[^>]*\bid=\"" + re.escape(form_id) + r"\"[^>]*>")
    match = pattern.search(text)
    if match is None:
        raise NotAnXForm("cannot locate the primary instance tag")
    opening = match.group(0)
    if re.search(r"\sversion=\"[^\"]*\"", opening):
        replaced = re.sub(r"(\s)version=\"[^\"]*\"", lambda m: f'{m.group(1)}version="{version}"', opening, count=1)
    else:
        replaced = opening[:-1].rstrip("/") + f' version="{version}"' + ("/>" if opening.endswith("/>") else ">")
    return (text[: match.start()] + replaced + text[match.end():]).encode("utf-8")
