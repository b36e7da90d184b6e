"""Entity lists for phones, entity updates from submissions and the API, assignments. Never commits.

The rules themselves (versions, offline branches, conflicts, the CSV bytes) are sync/entities.py; this
module loads an entity's state from the database, applies one action, and stores what changed.

- Registry households become entities of the `households` dataset the first time a list that shows
  them is built (named by the household code, version 1, properties from the registry, last year's
  class and the latest survey); a later registry change becomes a new version.
- A phone's list is the households of its assignments (villages and single households), or, without
  any assignment, of its own villages. Reassigning changes the list, and so its hash, at the next sync.
- The rendered CSV is kept in `entity_list_cache` under a key of what the list shows (rows, version
  sums), so every server answers a manifest with one aggregate query and serves identical bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from server.accounts import queries as account_queries
from server.accounts.models import Actor
from server.accounts.permissions import PROVINCE_WIDE
from server.accounts.services import Caller, audit, visible_units
from server.collect.models import Form, FormDef, Submission, SubmissionDef
from server.entities import queries
from server.entities.models import Assignment, Dataset, Entity, EntityResolution
from server.entities.models import EntityVersion as VersionRow
from server.errors import Problem
from server.extensions import db
from server.households.models import Household, HouseholdYear
from server.timeutil import utcnow
from server.units import queries as unit_queries
from sync import entities as rules
from sync.entities import (
    LABEL,
    ApplyResult,
    Conflict,
    ConflictField,
    ConflictKind,
    EntityAction,
    EntityError,
    EntityRow,
    EntityState,
    HeldUpdate,
    Origin,
    entity_list_chunks,
    household_label,
)

log = logging.getLogger(__name__)

HOUSEHOLDS = "households"
RETURNED = "returned"
# What a phone pre-fills from the list; the form saves most of them back (forms/FIELDS.md, `save_to`).
HOUSEHOLD_PROPERTIES = (
    "head_name", "head_national_id", "phone", "address", "commune", "village", "members", "member_count",
    "last_class", "last_year", "wall_material", "column_material", "roof_material", "living_area_m2",
    "water_source", "latrine",
)
REGISTRY_PROPERTIES = ("head_name", "head_national_id", "phone", "address", "commune", "village", "members",
                       "member_count")
_ANSWER_PROPERTIES = ("wall_material", "column_material", "roof_material", "living_area_m2", "water_source",
                      "latrine")
RETURNED_PROPERTIES = rules.RETURNED_SURVEY_PROPERTIES
LIST_FORMAT = "1"  # bump when the rendering changes, so that every cached list is rebuilt


# --- problems ------------------------------------------------------------------------------------------------

def problem(error: EntityError) -> Problem:
    return Problem("entity_invalid", vi=error.reason("vi"), en=error.reason("en"), reason=error.key)


# --- datasets ------------------------------------------------------------------------------------------------

def ensure_dataset(project_id: int, name: str) -> Dataset:
    found = queries.dataset(project_id, name)
    if found is None:
        properties = list(HOUSEHOLD_PROPERTIES) if name == HOUSEHOLDS else \
            list(RETURNED_PROPERTIES) if name == RETURNED else []
        found = Dataset(project_id=project_id, name=name, properties=properties)
        db.session.add(found)
        db.session.flush()
    return found


def create_dataset(project_id: int, name: str, approval_required: bool, by: Actor | None) -> Dataset:
    if not name or not name.replace("_", "").isalnum() or name.startswith("__") or "." in name:
        raise Problem("invalid_input", detail=f"tên danh sách / dataset name '{name}'")
    if queries.dataset(project_id, name) is not None:
        raise Problem("already_exists", what=f"dataset {name}")
    dataset = ensure_dataset(project_id, name)
    dataset.approval_required = approval_required
    audit("dataset.create", by, "dataset", dataset.id, {"name": name, "project": project_id})
    return dataset


def add_property(dataset: Dataset, name: str, by: Actor | None) -> Dataset:
    name = (name or "").strip()
    if not name or name in ("name", "label") or name.startswith("__"):
        raise Problem("invalid_input", detail=f"tên thuộc tính / property name '{name}'")
    if name in dataset.properties:
        raise Problem("already_exists", what=f"property {name}")
    dataset.properties = [*dataset.properties, name]
    audit("dataset.property.create", by, "dataset", dataset.id, {"name": name})
    return dataset


# --- state in the database <-> sync/entities.EntityState ---------------------------------------------------

def _version_of(row: VersionRow) -> rules.EntityVersion:
    return rules.EntityVersion(
        version=row.version, label=row.label, properties=dict(row.data), changed=dict(row.changed),
        origin=Origin(row.origin), base_version=row.base_version, branch_id=row.branch_id,
        trunk_version=row.trunk_version, branch_base_version=row.branch_base_version,
        arrival_order=row.arrival_order, source=row.source)


def _conflict_json(conflict: Conflict | None) -> dict | None:
    if conflict is None:
        return None
    return {"kind": conflict.kind.value, "versions": list(conflict.versions),
            "fields": [{"property": f.property, "base": f.base, "theirs": f.theirs, "ours": f.ours,
                        "version": f.version, "clash": f.clash} for f in conflict.fields]}


def _conflict_of(detail: dict | None) -> Conflict | None:
    if not detail:
        return None
    return Conflict(ConflictKind(detail["kind"]), tuple(detail["versions"]),
                    tuple(ConflictField(f["property"], f["base"], f["theirs"], f["ours"], f["version"])
                          for f in detail["fields"]))


def _action_json(action: EntityAction, arrival_order: int, submission_id: int | None) -> dict:
    return {"dataset": action.dataset, "entity_id": action.entity_id, "create": action.create,
            "update": action.update, "label": action.label, "properties": dict(action.properties),
            "base_version": action.base_version, "trunk_version": action.trunk_version,
            "branch_id": action.branch_id, "source": action.source, "arrival_order": arrival_order,
            "submission_id": submission_id}


def _held_of(items: list | None) -> tuple[HeldUpdate, ...]:
    return tuple(HeldUpdate(EntityAction(
        dataset=i["dataset"], entity_id=i["entity_id"], create=i["create"], update=i["update"], label=i["label"],
        properties=i["properties"], base_version=i["base_version"], trunk_version=i["trunk_version"],
        branch_id=i["branch_id"], source=i["source"]), i["arrival_order"]) for i in items or ())


def state_of(entity: Entity, dataset_name: str) -> EntityState:
    return EntityState(entity.uuid, dataset_name, tuple(_version_of(v) for v in queries.versions(entity.id)),
                       conflict=_conflict_of(entity.conflict_detail), held=_held_of(entity.held))


def _store(entity: Entity | None, dataset: Dataset, result: ApplyResult, actor_id: int | None,
           submission_ids: Mapping[str | None, int | None], village_code: str | None = None) -> Entity:
    """Write what ``apply_update``/``resolve`` produced: new version rows and the entity's current state."""
    state = result.state
    if entity is None:
        entity = Entity(dataset_id=dataset.id, uuid=state.id, creator_id=actor_id, village_code=village_code,
                        label=state.label, data={}, version=0, arrivals=0)
        db.session.add(entity)
        db.session.flush()
    held_ids = {h["source"]: h.get("submission_id") for h in entity.held or ()}
    for version in result.applied:
        db.session.add(VersionRow(
            entity_id=entity.id, version=version.version, label=version.label, data=dict(version.properties),
            changed=dict(version.changed), origin=version.origin.value, base_version=version.base_version,
            branch_id=version.branch_id, trunk_version=version.trunk_version,
            branch_base_version=version.branch_base_version, arrival_order=version.arrival_order,
            source=version.source, submission_id=submission_ids.get(version.source, held_ids.get(version.source)),
            actor_id=actor_id))
    entity.label, entity.data, entity.version = state.label, dict(state.properties), state.version
    entity.conflict = state.conflict.kind.value if state.conflict else None
    entity.conflict_detail = _conflict_json(state.conflict)
    remaining = {h.action.source for h in state.held}
    kept = [h for h in entity.held or () if h["source"] in remaining]
    entity.held = kept + [_action_json(h.action, h.arrival_order, submission_ids.get(h.action.source))
                          for h in state.held if h.action.source not in {k["source"] for k in kept}] or None
    if village_code and entity.village_code is None:
        entity.village_code = village_code
    village = state.properties.get("village")
    if dataset.name == HOUSEHOLDS and village:
        entity.village_code = village
    entity.updated_at = utcnow()
    db.session.flush()
    return entity


def apply_action(dataset: Dataset, action: EntityAction, actor_id: int | None, *, submission_id: int | None = None,
                 force: bool = False, village_code: str | None = None) -> tuple[Entity, ApplyResult]:
    """One entity action, in arrival order (the row is locked on PostgreSQL)."""
    entity = queries.entity(dataset.id, action.entity_id, lock=True)
    if entity is None and action.update and dataset.name == HOUSEHOLDS:
        entity = _materialise_by_code(dataset, action.entity_id)
    if entity is not None and entity.deleted_at is not None:
        raise EntityError("entity_not_found", entity_id=action.entity_id)
    state = state_of(entity, dataset.name) if entity is not None else None
    arrival = (entity.arrivals if entity is not None else 0) + 1
    result = rules.apply_update(state, action, arrival, force=force)
    entity = _store(entity, dataset, result, actor_id, {action.source: submission_id}, village_code)
    entity.arrivals = arrival
    return entity, result


# --- registry households -> entities -------------------------------------------------------------------------

def registry_properties(households: list[Household]) -> dict[int, dict[str, str]]:
    """What a phone pre-fills for each household: identity, last year's class, the latest survey's answers."""
    ids = [h.id for h in households]
    years: dict[int, HouseholdYear] = queries.latest_years(ids)
    answers = queries.latest_answers(ids)
    communes = queries.communes_of(h.village_code for h in households if h.village_code)
    out: dict[int, dict[str, str]] = {}
    for household in households:
        fields = (answers.get(household.id) or {}).get("fields", {})
        members = list(household.member_names or ())
        names = [household.head_name, *[m for m in members if m != household.head_name]]
        year = years.get(household.id)
        props = {
            "head_name": household.head_name, "head_national_id": household.national_id or "",
            "phone": household.phone or "", "address": household.address or "",
            "commune": communes.get(household.village_code or "") or "", "village": household.village_code or "",
            "members": ", ".join(n for n in names if n), "member_count": str(len([n for n in names if n])),
            "last_class": (year.end_class or "") if year else "", "last_year": str(year.year) if year else "",
        }
        props.update({key: str(fields.get(key) or "") for key in _ANSWER_PROPERTIES})
        out[household.id] = props
    return out


def _registry_label(household: Household) -> str:
    return household_label(household.head_name, household.address or "")


def _materialise(dataset: Dataset, households: list[Household]) -> None:
    props = registry_properties(households)
    now = utcnow()
    states = [rules.new_state(h.code, dataset.name, _registry_label(h), props[h.id]) for h in households]
    rows = [Entity(dataset_id=dataset.id, uuid=h.code, household_id=h.id, village_code=h.village_code,
                   label=state.label, data=dict(state.properties), version=1, arrivals=0, registry_synced_at=now,
                   updated_at=now) for h, state in zip(households, states, strict=True)]
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all(VersionRow(entity_id=row.id, version=1, label=state.current.label,
                                  data=dict(state.current.properties), changed=dict(state.current.changed),
                                  origin=state.current.origin.value) for row, state in zip(rows, states, strict=True))
    db.session.flush()


def _materialise_by_code(dataset: Dataset, code: str) -> Entity | None:
    household = queries.household_by_code(code)
    if household is None or household.merged_into_id is not None:
        return None
    existing = queries.entity_of_household(dataset.id, household.id)
    if existing is not None:
        return existing
    _materialise(dataset, [household])
    return queries.entity(dataset.id, code)


def sync_registry(dataset: Dataset, scope: queries.ListScope) -> int:
    """Households of the scope that are not entities yet become version 1; registry changes since the last
    sync become a new version (identity fields only). Returns how many entities changed."""
    missing = queries.households_without_entity(dataset.id, scope)
    if missing:
        _materialise(dataset, missing)
    changed = queries.households_changed_since_sync(dataset.id, scope)
    if changed:
        props = registry_properties([h for h, _ in changed])
        for household, entity in changed:
            wanted = {k: props[household.id][k] for k in REGISTRY_PROPERTIES}
            label = _registry_label(household)
            if any(entity.data.get(k) != v for k, v in wanted.items()) or entity.label != label:
                action = EntityAction(dataset.name, entity.uuid, create=False, update=True, label=label,
                                      properties=wanted, source=f"registry:{household.id}:{household.updated_at}")
                apply_action(dataset, action, None, force=True)
            entity.registry_synced_at = utcnow()
    for entity in queries.merged_household_entities(dataset.id):
        entity.deleted_at = entity.updated_at = utcnow()
    return len(missing) + len(changed)


# --- the lists a phone receives ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedList:
    name: str
    body: bytes
    md5: str  # hex, without the "md5:" prefix


def list_scope(actor_id: int, project_id: int, role: str) -> queries.ListScope:
    """Assignments first; without any, the actor's own villages (communes and areas expanded)."""
    if role in PROVINCE_WIDE:
        return queries.ListScope(None)
    assigned = queries.assignments(actor_id, project_id)
    if assigned:
        return queries.ListScope(frozenset(a.village_code for a in assigned if a.village_code),
                                 frozenset(a.household_id for a in assigned if a.household_id))
    villages, _ = unit_queries.expand_scope(account_queries.scope_codes(actor_id))
    return queries.ListScope(villages)


def list_names(project_id: int) -> frozenset[str]:
    """The names of the project's entity lists: its datasets, plus the two every Phiếu B may attach."""
    return frozenset({HOUSEHOLDS, RETURNED, *(d.name for d in queries.datasets(project_id))})


def entity_list_name(attachment_name: str, names: frozenset[str]) -> str | None:
    """The dataset a form attachment is the list of (`households.csv` → `households`), if any."""
    name = attachment_name.removesuffix(".csv")
    return name if name != attachment_name and name in names else None


def render_list(project_id: int, name: str, caller: Caller) -> RenderedList:
    """The CSV for one caller (EN003); written to the database cache when it had to be built."""
    scope = list_scope(caller.actor.id, project_id, caller.role)
    if name == RETURNED:
        return _returned_list(caller.actor.id, scope)
    dataset = ensure_dataset(project_id, name)
    scope_key = hashlib.sha256(f"{LIST_FORMAT}|{dataset.id}|{scope.key()}".encode()).hexdigest()
    cached = queries.cached_list(scope_key)
    registry_key = None
    if name == HOUSEHOLDS:
        registry_key = hashlib.sha256(repr(queries.registry_stamp(scope)).encode()).hexdigest()
        if cached is None or cached.registry_key != registry_key:
            sync_registry(dataset, scope)
    properties = _list_properties(dataset)
    count, versions, ids = queries.list_content(dataset.id, scope)
    content_key = hashlib.sha256(f"{scope_key}|{count}|{versions}|{ids}|{','.join(properties)}".encode()).hexdigest()
    if cached is not None and cached.content_key == content_key and cached.registry_key == registry_key:
        return RenderedList(f"{name}.csv", cached.body, cached.md5)
    rows = (EntityRow(uuid, label, version, data)
            for uuid, label, version, data in queries.list_rows(dataset.id, scope))
    body = b"".join(entity_list_chunks(rows, properties))
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    queries.store_list(scope_key, content_key, registry_key, md5, body)
    return RenderedList(f"{name}.csv", body, md5)


def _list_properties(dataset: Dataset) -> list[str]:
    return [p for p in dataset.properties if p not in ("name", LABEL) and not p.startswith("__")]


def _returned_list(actor_id: int, scope: queries.ListScope) -> RenderedList:
    rows = {}
    for item in queries.returned_surveys(actor_id, scope.villages):
        name = item.household_code or f"review-{item.review_id}"
        rows[name] = rules.returned_survey_row(name, item.head_name or "", item.address or "", item.reason or "",
                                               review_id=item.review_id)
    body = rules.entity_list_csv(rows.values(), RETURNED_PROPERTIES)
    return RenderedList(f"{RETURNED}.csv", body, hashlib.md5(body, usedforsecurity=False).hexdigest())


def integrity(project_id: int, name: str, uuids: Iterable[str]) -> list[tuple[str, bool]]:
    """For each asked id the server knows: (id, deleted)."""
    dataset = queries.dataset(project_id, name)
    if dataset is None:
        return []
    found = {e.uuid: e.deleted_at is not None for e in queries.entities_by_uuid(dataset.id, uuids)}
    return [(uuid, found[uuid]) for uuid in uuids if uuid in found]


# --- submissions: the ingest stages ----------------------------------------------------------------------------

_SAVE_TO: dict[str, dict[str, str]] = {}


def _save_to(form_def: FormDef) -> dict[str, str]:
    """`entities:saveto` of a published version (pure and immutable once published)."""
    found = _SAVE_TO.get(form_def.sha256)
    if found is None:
        found = rules.save_to_map(form_def.xml)
        if len(_SAVE_TO) > 256:
            _SAVE_TO.clear()
        _SAVE_TO[form_def.sha256] = found
    return found


def apply_submission(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The ingest stage (before matching): apply the submission's entity create/update; a registry household it
    names becomes the submission's household."""
    if b"entity" not in submission_def.xml:  # most forms have no entity block: skip a second XML parse
        return
    try:
        action = rules.parse_entity(submission_def.xml, _save_to(submission_def.form_def))
    except EntityError as error:
        _refused(submission, submission_def, error)
        return
    if action is not None:
        _apply_from_submission(submission, submission_def, action)


def _apply_from_submission(submission: Submission, submission_def: SubmissionDef, action: EntityAction) -> None:
    form = db.session.get(Form, submission.form_id)
    dataset = ensure_dataset(form.project_id, action.dataset)
    existing = queries.entity(dataset.id, action.entity_id)
    if existing is not None and action.source and queries.version_from_source(existing.id, action.source):
        return  # this version was applied already (processing ran twice)
    if existing is not None and submission_def.deprecated_id:
        # A phone edit builds on what the submission's earlier version produced, not on the list it had.
        earlier = queries.latest_version_of_submission(existing.id, submission.id)
        if earlier is not None:
            action = replace(action, base_version=earlier.version, branch_id=None, trunk_version=None,
                             create=False, update=True)
    try:
        with db.session.begin_nested():
            entity, result = apply_action(dataset, action, submission.submitter_id, submission_id=submission.id,
                                          village_code=submission.village_code)
    except EntityError as error:
        _refused(submission, submission_def, error)
        return
    if entity.household_id is not None and dataset.name == HOUSEHOLDS:
        submission.household_id = entity.household_id
    audit(f"entity.{result.outcome.value}", None, "entity", entity.uuid,
          {"dataset": dataset.name, "instanceId": submission_def.instance_id, "version": entity.version,
           "conflict": entity.conflict, "applied": [v.version for v in result.applied]})


def _refused(submission: Submission, submission_def: SubmissionDef, error: EntityError) -> None:
    log.info("entity action of %s refused: %s", submission_def.instance_id, error.key)
    audit("entity.error", None, "submission", submission.id,
          {"instanceId": submission_def.instance_id, "reason": error.key, "vi": error.reason("vi"),
           "en": error.reason("en"), **{k: str(v) for k, v in error.details.items()}})


def link_entity_household(submission: Submission, submission_def: SubmissionDef, answers: dict[str, Any]) -> None:
    """The stage after matching: an entity a phone created points at the household its survey matched, and a
    returned review of that household continues with this survey."""
    if submission.household_id is None:
        return
    link_returned_review(submission, answers)
    rows = db.session.scalars(select(VersionRow).where(VersionRow.submission_id == submission.id,
                                                       VersionRow.version == 1))
    for version in rows:
        entity = db.session.get(Entity, version.entity_id)
        if entity.household_id is None:
            taken = queries.entity_of_household(entity.dataset_id, submission.household_id)
            if taken is None:
                entity.household_id = submission.household_id


def link_returned_review(submission: Submission, answers: dict[str, Any]) -> None:
    """A new survey of a household whose review was returned to the enumerator continues that review: the
    review moves to the new submission (the machine then takes it as a re-submission)."""
    from server.campaigns.services import REVIEW_FORM

    form = db.session.get(Form, submission.form_id)
    if form.xml_form_id != REVIEW_FORM or submission.household_id is None:
        return
    if queries.review_of_submission(submission.id) is not None:
        return
    review = queries.returned_review_of_household(submission.household_id, submission.id)
    if review is None:
        return
    previous = review.submission_id
    review.submission_id = submission.id
    db.session.flush()
    audit("review.resubmission.link", None, "review", review.id,
          {"from_submission": previous, "to_submission": submission.id,
           "returned_pick": (answers.get("fields") or {}).get("returned_review") or None})


# --- the API: create, update, delete, resolve ------------------------------------------------------------------

def _clean_data(dataset: Dataset, data: Any, *, strict: bool) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Problem("invalid_input", detail="data phải là đối tượng / data must be an object")
    unknown = sorted(set(data) - set(dataset.properties))
    if unknown and strict:
        raise Problem("invalid_input", detail=f"thuộc tính không có trong danh sách / unknown properties: "
                                              f"{', '.join(unknown)}")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def _check_village(caller: Caller, village_code: str | None) -> None:
    scope = visible_units(caller)
    if scope is not None and (village_code is None or village_code not in scope[0]):
        raise Problem("forbidden")


def create_entity(dataset: Dataset, uuid: str | None, label: Any, data: Any, caller: Caller) -> Entity:
    props = _clean_data(dataset, data, strict=True)
    village = props.get("village") or None
    _check_village(caller, village)
    action = EntityAction(dataset.name, rules._entity_id(uuid or ""), create=True, update=False,
                          label=str(label or "").strip() or None, properties=props)
    if queries.entity(dataset.id, action.entity_id) is not None:
        raise Problem("entity_exists", uuid=action.entity_id)
    try:
        entity, _ = apply_action(dataset, action, caller.actor.id, village_code=village)
    except EntityError as error:
        raise problem(error) from error
    audit("entity.create", caller.actor, "entity", entity.uuid, {"dataset": dataset.name})
    return entity


def update_entity(dataset: Dataset, entity: Entity, label: Any, data: Any, caller: Caller, *,
                  base_version: int | None, force: bool) -> Entity:
    """Central's PATCH: based on the current version (else 409), or forced."""
    if not force and base_version is None:
        raise Problem("missing_parameter", field="baseVersion")
    if not force and base_version != entity.version:
        raise Problem("entity_version_conflict", current=entity.version, base=base_version)
    props = _clean_data(dataset, data, strict=dataset.name != HOUSEHOLDS)
    if "village" in props:
        _check_village(caller, props["village"] or None)
    action = EntityAction(dataset.name, entity.uuid, create=False, update=True,
                          label=str(label).strip() if label is not None else None, properties=props,
                          base_version=entity.version, source=f"api:{caller.actor.id}:{utcnow().isoformat()}")
    try:
        entity, _ = apply_action(dataset, action, caller.actor.id, force=force)
    except EntityError as error:
        raise problem(error) from error
    audit("entity.update.version", caller.actor, "entity", entity.uuid,
          {"dataset": dataset.name, "version": entity.version, "force": force})
    return entity


def resolve_conflict(dataset: Dataset, entity: Entity, choice: Mapping[str, Any], caller: Caller,
                     base_version: int | None) -> Entity:
    """EN010: close a conflict with an explicit value for every clashing field."""
    if base_version is not None and base_version != entity.version:
        raise Problem("entity_version_conflict", current=entity.version, base=base_version)
    state = state_of(entity, dataset.name)
    conflict = state.conflict
    try:
        resolved = rules.resolve(state, {str(k): "" if v is None else str(v) for k, v in choice.items()})
    except EntityError as error:
        raise problem(error) from error
    new_versions = resolved.versions[len(state.versions):]
    _store(entity, dataset, ApplyResult(rules.Outcome.UPDATED, resolved, new_versions), caller.actor.id, {})
    db.session.add(EntityResolution(entity_id=entity.id, conflict=_conflict_json(conflict) or {},
                                    choice=dict(resolved.resolutions[-1].choice), version=resolved.version,
                                    actor_id=caller.actor.id))
    audit("entity.update.resolve", caller.actor, "entity", entity.uuid,
          {"dataset": dataset.name, "version": resolved.version, "choice": dict(resolved.resolutions[-1].choice)})
    return entity


@dataclass(frozen=True)
class HouseholdConflict:
    """A household's entity in conflict, as the reviewer's page shows it: the differing fields side by side."""

    dataset: Dataset
    entity: Entity
    reason: rules.Reason
    fields: list[dict[str, Any]]


def household_conflict(project_id: int, household_id: int | None) -> HouseholdConflict | None:
    """The open conflict of a registry household's entity in ``project_id`` (EN006), if any."""
    dataset = queries.dataset(project_id, HOUSEHOLDS) if household_id is not None else None
    entity = queries.entity_of_household(dataset.id, household_id) if dataset is not None else None
    if entity is None or entity.conflict is None or entity.deleted_at is not None:
        return None
    detail = entity.conflict_detail or {}
    return HouseholdConflict(dataset, entity, rules.CONFLICT_REASONS[rules.ConflictKind(entity.conflict)],
                             list(detail.get("fields", [])))


def delete_entity(entity: Entity, caller: Caller) -> None:
    entity.deleted_at = entity.updated_at = utcnow()
    audit("entity.delete", caller.actor, "entity", entity.uuid, {"dataset_id": entity.dataset_id})


# --- assignments ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    village_code: str | None = None
    household_code: str | None = None
    expected_count: int | None = None


def set_assignments(project_id: int, actor_id: int, targets: list[Target], by: Caller | None) -> list[Assignment]:
    """Replace an app user's or enumerator's assignments; a scoped supervisor only within their area."""
    actor = account_queries.actor(actor_id)
    if actor is None or actor.deleted_at is not None:
        raise Problem("not_found", what=f"actor {actor_id}")
    key = account_queries.field_key(actor_id)
    user = account_queries.user_by_actor(actor_id)
    if (key is None or key.project_id != project_id) and (user is None or user.role != "enumerator"):
        raise Problem("invalid_input", detail="chỉ giao cho máy (app user) hoặc rà soát viên / "
                                              "only app users and enumerators take assignments")
    scope = visible_units(by) if by is not None else None
    rows: list[Assignment] = []
    for target in targets:
        village, household_id = _target(target)
        if scope is not None and (village or _household_village(household_id)) not in scope[0]:
            raise Problem("forbidden")
        rows.append(Assignment(project_id=project_id, actor_id=actor_id, village_code=village,
                               household_id=household_id, expected_count=target.expected_count,
                               created_by=by.actor.id if by else None))
    if scope is not None:
        outside = [a for a in queries.assignments(actor_id, project_id)
                   if (a.village_code or _household_village(a.household_id)) not in scope[0]]
        if outside:
            raise Problem("forbidden")
    queries.clear_assignments(actor_id, project_id)
    db.session.flush()
    seen: set[tuple[str | None, int | None]] = set()
    for row in rows:
        if (row.village_code, row.household_id) not in seen:
            seen.add((row.village_code, row.household_id))
            db.session.add(row)
    db.session.flush()
    audit("assignment.set", by.actor if by else None, "actor", actor_id,
          {"project": project_id, "villages": sorted(v for v, _ in seen if v),
           "households": sorted(h for _, h in seen if h)})
    return queries.assignments(actor_id, project_id)


def _target(target: Target) -> tuple[str | None, int | None]:
    if bool(target.village_code) == bool(target.household_code):
        raise Problem("invalid_input", detail="mỗi mục giao việc là một thôn hoặc một hộ / "
                                              "each assignment is one village or one household")
    if target.village_code:
        unit = unit_queries.unit(target.village_code)
        if unit is None or unit.level != "village":
            raise Problem("invalid_input", detail=f"'{target.village_code}' không phải thôn / is not a village")
        if target.expected_count is not None and target.expected_count < 0:
            raise Problem("invalid_input", detail="expectedCount ≥ 0")
        return target.village_code, None
    household = queries.household_by_code(target.household_code or "")
    if household is None:
        raise Problem("invalid_input", detail=f"không có hộ / no household '{target.household_code}'")
    return None, household.id


def _household_village(household_id: int | None) -> str | None:
    if household_id is None:
        return None
    return queries.villages_of_households([household_id]).get(household_id)
