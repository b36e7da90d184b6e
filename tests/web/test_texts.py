"""server/web/texts.py and the templates: every word exists in Vietnamese and English."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from server.accounts.models import ROLES
from server.households.models import CHANGE_TYPES
from server.review.queries import FLAGS, SORTS
from server.standards.classify import CLASSES
from server.web.texts import TEXTS, text

WEB = Path(__file__).resolve().parents[2] / "server" / "web"
USED = re.compile(r"""\b(?:t|text|_text)\(\s*["']([a-z_]+\.[a-z_]+)["']""")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_texts__every_key__both_languages_same_placeholders(key):
    vi, en = TEXTS[key]
    assert vi.strip() and en.strip()
    assert _placeholders(vi) == _placeholders(en)


def test_texts__every_literal_key_in_templates_and_views__defined():
    sources = [*WEB.glob("templates/web/*.html"), *WEB.glob("*.py")]
    used = {key for path in sources for key in USED.findall(path.read_text())}
    assert used, "the pattern found no key at all"
    assert sorted(used - TEXTS.keys()) == []


@pytest.mark.parametrize(("prefix", "values"), [
    ("role", ROLES), ("class", (*CLASSES, "none")), ("flag", FLAGS), ("sort", SORTS), ("change", CHANGE_TYPES),
    ("indicator", ("deprived", "not_deprived", "not_applicable", "unknown")),
    ("duplicate", ("open", "same", "not_same")), ("standard", ("national", "local"))])
def test_texts__keys_built_in_templates__defined(prefix, values):
    assert [v for v in values if f"{prefix}.{v}" not in TEXTS] == []


def test_text__values_filled_unknown_key_or_language_raises():
    assert text("queue.count", "en", count=3) == "3 households"
    with pytest.raises(KeyError):
        text("no.such", "vi")
    with pytest.raises(KeyError):
        text("queue.title", "fr")
