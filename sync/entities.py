"""ODK entity lists served to phones, and entity creates/updates read from submissions.

Households go to phones as entity lists (form attachments) so forms can pre-fill last year's answers;
submissions come back with a `meta/entity` block that creates or updates an entity. Pure functions:
the caller loads and stores an `EntityState` (with its version history) and the CSV rows.

EN001 A submission's entity action is the `entity` child of the root's `meta` (any namespace on
      `meta`): attributes `dataset`, `id`, `create`, `update`, `baseVersion`, `trunkVersion`,
      `branchId` and a `label` child. `create`/`update` count only when "1" or "true"; with neither,
      or without an `entity` element, there is no action. Version attributes are whole numbers or
      empty; `branchId` is a UUID or empty; an id written as a UUID is normalised (lower case, no
      `uuid:` prefix).
EN002 Property values come from the fields the form saves with `entities:saveto`, given as
      `{field path or leaf name: property}`. A property that would get two values (a saved field
      inside a repeat) is refused; a property absent from the submission is left unchanged.
EN003 Entity list CSV: header `name,label,__version,<properties>`, UTF-8 without BOM, `\\n` line ends,
      rows in name order (code points), values NFC with line breaks as `\\n`, None as empty, numbers
      in one positional notation (2 == 2.0 == Decimal("2.00") -> "2"). Same content, same bytes,
      same `md5:` hash.
EN004 Create: a new id becomes version 1; the id must be a UUID and the label non-blank. Creating
      an id that exists is a duplicate. With both `create` and `update`, an existing entity is
      updated and a missing one created.
EN005 Update based on the current version: version + 1 with the received values.
EN006 Update based on an older version (another phone changed the entity meanwhile): applied in
      arrival order as version + 1, and the entity is marked in conflict - soft when the two sides
      changed different fields since their common base, hard when they changed the same field to
      different values. Every version is kept; the conflict lists each changed field with its base,
      theirs and ours values. Only fields a side actually changed count: a phone's untouched
      pre-filled value neither clashes with nor overwrites another phone's change. (ODK Central
      counts every received field; we are stricter so that nothing is overwritten in silence.)
EN007 Offline chains from one phone (same `branchId`): the update whose `baseVersion` equals
      `trunkVersion` (or 1 without a trunk) starts the branch on that server version; each later one
      builds on the server version its predecessor in the branch produced, so the chain applies
      without conflict. An update whose predecessor has not arrived is held and applied as soon as
      the predecessor is. A branch interrupted by another phone's version is a soft conflict.
EN008 `force` (the API's `force=true`): applied on top of the current version, no version check,
      no hold, no conflict. `force_held` applies held updates that will never see their predecessor.
EN009 Refused: update of an unknown entity, a dataset other than the entity's, a missing
      `baseVersion`, a `baseVersion` or `trunkVersion` the server does not have.
EN010 A conflict stays until resolved explicitly: the resolution names a value for every clashing
      field, is recorded with the conflict it closed, and makes a new version when it changes values.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import NamedTuple

from lxml import etree

from forms.xml import local_name, parse_untrusted

LABEL = "label"
"""The label is compared and merged like a property; no property may be called `label` (spec)."""

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"

_TRUE = frozenset({"1", "true"})
_UUID = re.compile(r"^(?:uuid:)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
_SYSTEM_COLUMNS = ("name", "label", "__version")

CsvValue = str | int | float | Decimal | bool | None


class Reason(NamedTuple):
    vi: str
    en: str


REASONS: dict[str, Reason] = {
    "malformed_xml": Reason("Bản ghi không phải XML hợp lệ", "The submission is not well-formed XML"),
    "unsafe_xml": Reason("Bản ghi chứa khai báo DTD", "The submission declares a DTD or entities"),
    "missing_dataset": Reason("Thiếu tên danh sách thực thể", "The entity names no dataset"),
    "missing_entity_id": Reason("Thiếu mã thực thể", "The entity has no id"),
    "bad_entity_id": Reason("Mã của thực thể mới phải là UUID", "A new entity's id must be a UUID"),
    "bad_version": Reason("Số phiên bản không phải số nguyên", "A version attribute is not a whole number"),
    "bad_branch_id": Reason("Mã nhánh ngoại tuyến phải là UUID", "branchId must be a UUID"),
    "ambiguous_property": Reason("Một thuộc tính nhận nhiều giá trị", "A property gets more than one value"),
    "missing_label": Reason("Thực thể mới thiếu nhãn", "A new entity needs a label"),
    "duplicate_create": Reason("Thực thể đã tồn tại", "The entity already exists"),
    "entity_not_found": Reason("Không tìm thấy thực thể cần cập nhật", "The entity to update does not exist"),
    "dataset_mismatch": Reason("Thực thể thuộc danh sách khác", "The entity belongs to another dataset"),
    "missing_base_version": Reason("Thiếu phiên bản gốc (baseVersion)", "The update has no baseVersion"),
    "base_version_not_found": Reason("Máy chủ không có phiên bản gốc này", "The server has no such base version"),
    "trunk_version_not_found": Reason("Máy chủ không có phiên bản thân này", "The server has no such trunk version"),
    "no_conflict": Reason("Thực thể không có xung đột", "The entity is not in conflict"),
    "unknown_property": Reason("Thuộc tính không thuộc thực thể", "The property is not part of the entity"),
    "unresolved_fields": Reason("Chưa chọn giá trị cho mọi trường xung đột",
                                "Choose a value for every clashing field"),
}


class EntityError(ValueError):
    """An entity action that cannot be applied; ``key`` names the problem (see REASONS)."""

    def __init__(self, key: str, **details: object) -> None:
        super().__init__(key)
        self.key = key
        self.details = details

    def reason(self, lang: str = "vi") -> str:
        text = REASONS[self.key]
        return text.vi if lang == "vi" else text.en


# --- Reading a submission (EN001, EN002) ---------------------------------------------------------

@dataclass(frozen=True)
class EntityAction:
    dataset: str
    entity_id: str
    create: bool
    update: bool
    label: str | None
    properties: Mapping[str, str]
    base_version: int | None = None
    trunk_version: int | None = None
    branch_id: str | None = None
    source: str | None = None
    """The submission's instanceID, kept on the version it produces."""


def save_to_map(xform: bytes) -> dict[str, str]:
    """`{field path: property}` from the `entities:saveto` binds of a compiled XForm."""
    root = parse_untrusted(xform)
    saveto = f"{{{ENTITIES_NS}}}saveto"
    return {bind.get("nodeset"): bind.get(saveto)
            for bind in root.iter("{*}bind") if bind.get(saveto) and bind.get("nodeset")}


def parse_entity(submission: bytes | etree._Element, save_to: Mapping[str, str]) -> EntityAction | None:
    """EN001, EN002: the entity action a submission carries, or None."""
    root = _root(submission)
    meta = _child(root, "meta")
    entity = _child(meta, "entity")
    if entity is None:
        return None
    create, update = _flag(entity.get("create")), _flag(entity.get("update"))
    if not (create or update):
        return None
    dataset = (entity.get("dataset") or "").strip()
    if not dataset:
        raise EntityError("missing_dataset")
    return EntityAction(
        dataset=dataset,
        entity_id=_entity_id(entity.get("id")),
        create=create,
        update=update,
        label=_text(_child(entity, "label")) or None,
        properties=_properties(root, save_to),
        base_version=_version(entity, "baseVersion"),
        trunk_version=_version(entity, "trunkVersion"),
        branch_id=_branch_id(entity.get("branchId")),
        source=_text(_child(meta, "instanceID")) or None,
    )


def _root(submission: bytes | etree._Element) -> etree._Element:
    if not isinstance(submission, bytes):
        return submission
    try:
        return parse_untrusted(submission)
    except ValueError as error:
        raise EntityError("unsafe_xml" if type(error).__name__ == "UnsafeXml" else "malformed_xml") from error


def _child(parent: etree._Element | None, name: str) -> etree._Element | None:
    if parent is None:
        return None
    return next((c for c in parent if isinstance(c.tag, str) and local_name(c) == name), None)


def _text(element: etree._Element | None) -> str:
    return _nfc((element.text or "").strip()) if element is not None else ""


def _flag(value: str | None) -> bool:
    return (value or "").strip() in _TRUE


def _entity_id(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise EntityError("missing_entity_id")
    match = _UUID.match(text)
    # Registry households are named by their household id, not a UUID, so other ids pass as written.
    return match.group(1).lower() if match else _nfc(text)


def _version(entity: etree._Element, attribute: str) -> int | None:
    text = (entity.get(attribute) or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise EntityError("bad_version", attribute=attribute, value=text[:40])
    return int(text)


def _branch_id(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    match = _UUID.match(text)
    if not match:
        raise EntityError("bad_branch_id", value=text[:60])
    return match.group(1).lower()


def _properties(root: etree._Element, save_to: Mapping[str, str]) -> dict[str, str]:
    _check_property_names(save_to.values())
    found: dict[str, str] = {}
    for element, path in _leaves(root, "/" + local_name(root)):
        prop = save_to.get(path) or save_to.get(local_name(element))
        if prop is None:
            continue
        if prop in found:
            raise EntityError("ambiguous_property", property=prop)
        found[prop] = _text(element)
    return found


def _leaves(element: etree._Element, path: str) -> Iterator[tuple[etree._Element, str]]:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child)
        child_path = f"{path}/{name}"
        if len(child):
            if name != "meta":
                yield from _leaves(child, child_path)
        else:
            yield child, child_path


def _check_property_names(names: Iterable[str]) -> None:
    for name in names:
        if not name or name in _SYSTEM_COLUMNS or name.startswith("__"):
            raise ValueError(f"reserved or empty entity property name: {name!r}")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --- Entity state and update rules (EN004-EN010) -------------------------------------------------

class ConflictKind(enum.Enum):
    SOFT = "soft"
    HARD = "hard"


CONFLICT_REASONS: dict[ConflictKind, Reason] = {
    ConflictKind.SOFT: Reason("Hai bản cập nhật song song sửa các trường khác nhau; cần xem lại",
                              "Parallel updates changed different fields; review needed"),
    ConflictKind.HARD: Reason("Hai bản cập nhật song song sửa cùng một trường; cần chọn giá trị",
                              "Parallel updates changed the same field; choose a value"),
}


@dataclass(frozen=True)
class ConflictField:
    property: str
    base: str | None
    theirs: str | None
    ours: str | None
    version: int
    """The version whose arrival found the difference."""

    @property
    def clash(self) -> bool:
        return self.theirs != self.base and self.ours != self.base and self.theirs != self.ours


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    versions: tuple[int, ...]
    """Every version since the common base: the ones to show side by side."""
    fields: tuple[ConflictField, ...]

    def reason(self, lang: str = "vi") -> str:
        text = CONFLICT_REASONS[self.kind]
        return text.vi if lang == "vi" else text.en


class Origin(enum.Enum):
    CREATE = "create"
    REGISTRY = "registry"
    UPDATE = "update"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class EntityVersion:
    version: int
    label: str
    properties: Mapping[str, str]
    changed: Mapping[str, str]
    """What this version changed relative to its base (the label under `label`)."""
    origin: Origin
    base_version: int | None = None
    branch_id: str | None = None
    trunk_version: int | None = None
    branch_base_version: int | None = None
    """The phone's own baseVersion in an offline branch: how the next update in the branch finds it."""
    arrival_order: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class HeldUpdate:
    action: EntityAction
    arrival_order: int


@dataclass(frozen=True)
class Resolution:
    conflict: Conflict
    choice: Mapping[str, str]
    version: int
    """The current version once resolved (a new one when the choice changed values)."""


@dataclass(frozen=True)
class EntityState:
    """One entity with its whole history; `versions[k]` is version k + 1."""

    id: str
    dataset: str
    versions: tuple[EntityVersion, ...]
    conflict: Conflict | None = None
    held: tuple[HeldUpdate, ...] = ()
    resolutions: tuple[Resolution, ...] = ()

    @property
    def current(self) -> EntityVersion:
        return self.versions[-1]

    @property
    def version(self) -> int:
        return self.current.version

    @property
    def properties(self) -> Mapping[str, str]:
        return self.current.properties

    @property
    def label(self) -> str:
        return self.current.label


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    HELD = "held"


@dataclass(frozen=True)
class ApplyResult:
    outcome: Outcome
    state: EntityState
    applied: tuple[EntityVersion, ...] = ()
    """New versions in order, including held updates this one released."""


def new_state(entity_id: str, dataset: str, label: str, properties: Mapping[str, str]) -> EntityState:
    """An entity the server itself puts on a list (a registry household), at version 1."""
    props = {key: _nfc(value) for key, value in properties.items()}
    _check_property_names(props)
    first = EntityVersion(1, _nfc(label), props, {LABEL: _nfc(label), **props}, Origin.REGISTRY)
    return EntityState(entity_id, dataset, (first,))


def apply_update(state: EntityState | None, action: EntityAction, arrival_order: int, *,
                 force: bool = False) -> ApplyResult:
    """EN004-EN009: apply one entity action that arrived `arrival_order`-th."""
    if action.update and state is not None:
        return _update(state, action, arrival_order, force)
    if action.create:
        return _create(state, action, arrival_order)
    raise EntityError("entity_not_found", entity_id=action.entity_id)


def force_held(state: EntityState) -> ApplyResult:
    """EN008: apply every held update on top of the current version, branch by branch in order."""
    ordered = sorted(state.held, key=lambda h: (h.action.branch_id or "", h.action.base_version or 0,
                                                h.arrival_order))
    state = replace(state, held=())
    applied: list[EntityVersion] = []
    for held in ordered:
        state, version = _applied(state, state.current, held.action, held.arrival_order, detect=False)
        applied.append(version)
    return ApplyResult(Outcome.UPDATED, state, tuple(applied))


def resolve(state: EntityState, choice: Mapping[str, str]) -> EntityState:
    """EN010: close the conflict with an explicit value for each clashing field."""
    conflict = state.conflict
    if conflict is None:
        raise EntityError("no_conflict", entity_id=state.id)
    known = set(state.properties) | {LABEL} | {f.property for f in conflict.fields}
    unknown = sorted(set(choice) - known)
    if unknown:
        raise EntityError("unknown_property", properties=unknown)
    missing = sorted({f.property for f in conflict.fields if f.clash} - set(choice))
    if missing:
        raise EntityError("unresolved_fields", properties=missing)
    chosen = {key: _nfc(value) for key, value in choice.items()}
    current = _snapshot(state.current)
    changes = {key: value for key, value in chosen.items() if current.get(key) != value}
    versions = state.versions
    if changes:
        merged = {**current, **changes}
        label = merged.pop(LABEL)
        versions += (EntityVersion(state.version + 1, label, merged, changes, Origin.RESOLVE,
                                   base_version=state.version),)
    resolution = Resolution(conflict, chosen, versions[-1].version)
    return replace(state, versions=versions, conflict=None, resolutions=state.resolutions + (resolution,))


def _create(state: EntityState | None, action: EntityAction, arrival_order: int) -> ApplyResult:
    if state is not None:
        raise EntityError("duplicate_create", entity_id=action.entity_id)
    if not _UUID.match(action.entity_id):
        raise EntityError("bad_entity_id", entity_id=action.entity_id)
    if not action.label:
        raise EntityError("missing_label", entity_id=action.entity_id)
    props = dict(action.properties)
    first = EntityVersion(1, action.label, props, {LABEL: action.label, **props}, Origin.CREATE,
                          branch_id=action.branch_id, arrival_order=arrival_order, source=action.source)
    return ApplyResult(Outcome.CREATED, EntityState(action.entity_id, action.dataset, (first,)), (first,))


def _update(state: EntityState, action: EntityAction, arrival_order: int, force: bool) -> ApplyResult:
    if action.dataset != state.dataset:
        raise EntityError("dataset_mismatch", dataset=action.dataset, expected=state.dataset)
    if action.trunk_version is not None and action.trunk_version > state.version:
        raise EntityError("trunk_version_not_found", trunk_version=action.trunk_version)
    if force:
        state, version = _applied(state, state.current, action, arrival_order, detect=False)
        return ApplyResult(Outcome.UPDATED, *_release(state, action, version))
    if action.base_version is None:
        raise EntityError("missing_base_version", entity_id=state.id)
    base = _base(state, action)
    if base is None:
        return ApplyResult(Outcome.HELD, replace(state, held=state.held + (HeldUpdate(action, arrival_order),)))
    state, version = _applied(state, base, action, arrival_order, detect=True)
    return ApplyResult(Outcome.UPDATED, *_release(state, action, version))


def _base(state: EntityState, action: EntityAction) -> EntityVersion | None:
    """EN006, EN007: the server version the update was made on; None while its predecessor is missing."""
    wanted = action.base_version or 0
    trunk = action.trunk_version
    if wanted < 1 or (trunk is not None and wanted < trunk):
        raise EntityError("base_version_not_found", base_version=wanted)
    starts_branch = wanted == trunk or (trunk is None and wanted == 1)
    if action.branch_id is None or starts_branch:
        if wanted > state.version:
            raise EntityError("base_version_not_found", base_version=wanted)
        return state.versions[wanted - 1]
    return next((v for v in state.versions
                 if v.branch_id == action.branch_id and v.branch_base_version == wanted - 1), None)


def _applied(state: EntityState, base: EntityVersion, action: EntityAction, arrival_order: int,
             detect: bool) -> tuple[EntityState, EntityVersion]:
    base_values, current = _snapshot(base), _snapshot(state.current)
    received = dict(action.properties)
    if action.label:
        received[LABEL] = action.label
    ours = {key: value for key, value in received.items() if base_values.get(key) != value}
    merged = {**current, **ours}
    label = merged.pop(LABEL)
    number = state.version + 1
    version = EntityVersion(
        number, label, merged, ours, Origin.UPDATE, base_version=base.version,
        branch_id=action.branch_id, trunk_version=action.trunk_version,
        branch_base_version=action.base_version if action.branch_id else None,
        arrival_order=arrival_order, source=action.source,
    )
    conflict = state.conflict
    if detect:
        conflict = _merge_conflicts(conflict, _conflict(state, base, action, ours, number))
    return replace(state, versions=state.versions + (version,), conflict=conflict), version


def _conflict(state: EntityState, base: EntityVersion, action: EntityAction, ours: Mapping[str, str],
              number: int) -> Conflict | None:
    base_values, current = _snapshot(base), _snapshot(state.current)
    if base.version != state.version:
        theirs = {key for key in base_values.keys() | current.keys() if base_values.get(key) != current.get(key)}
        since = base.version
        keys = sorted(theirs | ours.keys())
    elif _interrupted(state, action):
        since = action.trunk_version or 1
        keys = sorted(ours)
    else:
        return None
    fields = tuple(ConflictField(key, base_values.get(key), current.get(key), ours.get(key, base_values.get(key)),
                                 number) for key in keys)
    kind = ConflictKind.HARD if any(f.clash for f in fields) else ConflictKind.SOFT
    return Conflict(kind, tuple(range(since, number + 1)), fields)


def _interrupted(state: EntityState, action: EntityAction) -> bool:
    """A branch whose phone never saw another phone's version made after the branch's trunk."""
    if action.branch_id is None:
        return False
    since = action.trunk_version or 1
    return any(v.version > since and v.branch_id != action.branch_id for v in state.versions)


def _merge_conflicts(old: Conflict | None, new: Conflict | None) -> Conflict | None:
    if old is None or new is None:
        return old or new
    # A hard conflict is never downgraded by a later soft one until someone resolves it.
    kind = ConflictKind.HARD if ConflictKind.HARD in (old.kind, new.kind) else ConflictKind.SOFT
    return Conflict(kind, tuple(sorted(set(old.versions) | set(new.versions))), old.fields + new.fields)


def _release(state: EntityState, action: EntityAction,
             version: EntityVersion) -> tuple[EntityState, tuple[EntityVersion, ...]]:
    """EN007: apply held updates that were waiting for this one, and those waiting for them."""
    applied = [version]
    while action.branch_id is not None and action.base_version is not None:
        follower = min((h for h in state.held if h.action.branch_id == action.branch_id
                        and h.action.base_version == action.base_version + 1),
                       key=lambda h: h.arrival_order, default=None)
        if follower is None:
            break
        state = replace(state, held=tuple(h for h in state.held if h is not follower))
        # The follower was made on the phone's copy of `version`, so that is its base on the server.
        state, version = _applied(state, version, follower.action, follower.arrival_order, detect=True)
        applied.append(version)
        action = follower.action
    return state, tuple(applied)


def _snapshot(version: EntityVersion) -> dict[str, str]:
    return {**version.properties, LABEL: version.label}


# --- Entity list CSV (EN003) ---------------------------------------------------------------------

@dataclass(frozen=True)
class EntityRow:
    name: str
    label: str
    version: int
    properties: Mapping[str, CsvValue] = field(default_factory=dict)


RETURNED_SURVEY_PROPERTIES = ("reason", "review_id")
"""Columns of the returned-surveys list: the reviewer's reason, shown on the phone, and the review's id."""


def household_label(head_name: str, address: str) -> str:
    """What a phone shows for a household: head's name and address on one line."""
    parts = (" ".join(head_name.split()), " ".join(address.split()))
    return _nfc(" - ".join(part for part in parts if part))


def returned_survey_row(household_id: str, head_name: str, address: str, reason: str,
                        version: int = 1, review_id: int | None = None) -> EntityRow:
    properties: dict[str, CsvValue] = {"reason": reason}
    if review_id is not None:
        properties["review_id"] = review_id
    return EntityRow(household_id, household_label(head_name, address), version, properties)


def row_from_state(state: EntityState) -> EntityRow:
    return EntityRow(state.id, state.label, state.version, state.properties)


def entity_list_csv(rows: Iterable[EntityRow], properties: Sequence[str]) -> bytes:
    """EN003: the whole CSV; rows in any order."""
    return b"".join(entity_list_chunks(_sorted(rows), properties))


def entity_list_md5(rows: Iterable[EntityRow], properties: Sequence[str]) -> str:
    """EN003: the `md5:` hash of `entity_list_csv(rows, properties)` without holding the document."""
    return md5_hash(entity_list_chunks(_sorted(rows), properties))


def md5_hash(data: bytes | Iterable[bytes]) -> str:
    """The OpenRosa manifest hash of bytes already built or being streamed."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in [data] if isinstance(data, bytes) else data:
        digest.update(chunk)
    return "md5:" + digest.hexdigest()


def entity_list_chunks(rows: Iterable[EntityRow], properties: Sequence[str],
                       rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """EN003, streamed: `rows` must already be in name order (in SQL `ORDER BY name COLLATE "C"`).

    The order is checked rather than trusted, because a database collation that sorts differently
    would silently change the bytes and so the hash.
    """
    _check_property_names(properties)
    if len(set(properties)) != len(properties):
        raise ValueError(f"entity list column listed twice: {list(properties)!r}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((*_SYSTEM_COLUMNS, *properties))
    previous: str | None = None
    for count, row in enumerate(rows, start=1):
        name = _nfc(row.name)
        if previous is not None and name <= previous:
            raise ValueError(f"entity list rows out of name order or repeated: {previous!r}, {name!r}")
        previous = name
        values = row.properties
        writer.writerow([name, _cell(row.label), _cell(row.version), *[_cell(values.get(p)) for p in properties]])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _sorted(rows: Iterable[EntityRow]) -> list[EntityRow]:
    return sorted(rows, key=lambda row: _nfc(row.name))


def _cell(value: CsvValue) -> str:
    if value.__class__ is str:  # the common case first: lists are mostly text
        text = unicodedata.normalize("NFC", value)  # type: ignore[arg-type]
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return _positional(Decimal(repr(value)))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return _positional(value)
    if isinstance(value, str):
        return _nfc(value).replace("\r\n", "\n").replace("\r", "\n")
    raise TypeError(f"cannot write {type(value).__name__} to an entity list")


def _positional(number: Decimal) -> str:
    # One spelling per value: no exponent, no trailing zeros, no negative zero.
    return "0" if number.is_zero() else format(number.normalize(), "f")
