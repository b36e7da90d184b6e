"""FL001–FL004, MF001 and XForm reading."""

from __future__ import annotations

from lxml import etree

from forms.compile import compile_xlsform
from forms.openrosa import FormListEntry, ManifestFile, form_list_xml, manifest_xml, md5_hash
from forms.xform import read_xform, set_version

MD = """
| survey |
| | type | name | label |
| | text | a | A |
| | image | photo | P |
| | begin repeat | r | R |
| | text | c | C |
| | end repeat | | |
| | select_one_from_file villages.csv | v | V |
| settings |
| | form_id | version |
| | f | 7 |
"""


def test_form_list__entry_without_attachments__no_manifest_url():
    xml = form_list_xml([FormListEntry("f", "Phiếu", "1", "md5:x", "http://h/f.xml")])
    root = etree.fromstring(xml)
    assert root.tag == "{http://openrosa.org/xforms/xformsList}xforms"
    assert root.find("{*}xform/{*}manifestUrl") is None
    assert root.find("{*}xform/{*}name").text == "Phiếu"


def test_form_list__escapes_markup():
    xml = form_list_xml([FormListEntry("f", "A & <B>", "1", "md5:x", "http://h/f.xml?a=1&b=2", "http://h/m")])
    assert etree.fromstring(xml).find("{*}xform/{*}downloadUrl").text == "http://h/f.xml?a=1&b=2"


def test_manifest__entity_list__type_and_integrity_url_basename_only():
    xml = manifest_xml([ManifestFile("dir/households.csv", "md5:y", "http://h/a", True, "http://h/i")])
    media = etree.fromstring(xml).find("{http://openrosa.org/xforms/xformsManifest}mediaFile")
    assert media.get("type") == "entityList"
    assert media.find("{*}filename").text == "households.csv"
    assert media.find("{*}integrityUrl").text == "http://h/i"


def test_md5_hash__prefixed():
    assert md5_hash(b"") == "md5:d41d8cd98f00b204e9800998ecf8427e"


def test_read_xform__repeats_binaries_media():
    info = compile_xlsform(MD.encode(), "f.md").info
    assert (info.form_id, info.version) == ("f", "7")
    assert info.repeat_paths == frozenset({"/data/r"})
    assert info.binary_paths == frozenset({"/data/photo"})
    assert info.media_files == ("villages.csv",)


def test_set_version__only_the_version_changes():
    xml = compile_xlsform(MD.encode(), "f.md").xml
    changed = set_version(xml, "8")
    assert read_xform(changed).version == "8"
    assert changed.replace(b'version="8"', b'version="7"') == xml
