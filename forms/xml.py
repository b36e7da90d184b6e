"""Parsing XML that comes from outside, safely.

DTDs and entity declarations are refused outright (XXE, billion laughs): no legitimate XForm or
submission needs them.
"""

from __future__ import annotations

from lxml import etree

_UNSAFE_MARKERS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


class UnsafeXml(ValueError):
    """The document declares a DTD or entities."""


class MalformedXml(ValueError):
    """The document is not well-formed XML."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True)


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse bytes from a client and return the root element, or raise UnsafeXml/MalformedXml."""
    if any(marker in data for marker in _UNSAFE_MARKERS):
        raise UnsafeXml("DTD or entity declaration")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise MalformedXml(str(error)) from error
    if root is None:
        raise MalformedXml("empty document")
    return root


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname
