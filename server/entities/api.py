"""ODK Central's dataset and entity endpoints (what pyodk's `client.entities` / `client.entity_lists` call),
the entity-list integrity check phones make, conflicts for reviewers, and assignments.

Every view: parse → look up → 404 → authorise → call a service → dump. Entities are household data: a
caller sees only those of their villages (entities without a village only province-wide), and one
outside them is a 404.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from flask import Blueprint, Response, g, jsonify, request

from server.accounts import queries as account_queries
from server.accounts.services import Caller, units_within, visible_units
from server.collect import queries as collect_queries
from server.entities import queries, services
from server.entities.models import Dataset, Entity, EntityVersion
from server.errors import Problem
from server.http import transaction
from server.http.auth import current_caller, device_caller
from server.http.errors import OPENROSA_HEADERS
from server.http.inputs import json_object, query_flag
from server.http.openapi import openrosa_problems
from server.http.request_bodies import JSON, request_body
from server.timeutil import iso
from sync.entities import CONFLICT_REASONS, ConflictKind

bp = Blueprint("entities", __name__)
DATASETS = "/v1/projects/<int:project_id>/datasets"
ENTITY = DATASETS + "/<name>/entities/<uuid>"
SYSTEM_ACTOR = 0  # Central's JSON always carries an actor id; versions made by the server itself get 0

_DATA = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
_ENTITY = {"type": "object", "properties": {"uuid": {"type": "string"}, "label": {"type": "string"},
                                             "data": _DATA}}
DATASET_IN = {JSON: {"schema": {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string"}, "approvalRequired": {"type": "boolean"}}}}}
PROPERTY_IN = {JSON: {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}
ENTITIES_IN = {JSON: {"schema": {"oneOf": [
    {**_ENTITY, "required": ["label"]},
    {"type": "object", "required": ["entities"], "properties": {
        "entities": {"type": "array", "items": {**_ENTITY, "required": ["label"]}},
        "source": {"type": "object", "properties": {"name": {"type": "string"}, "size": {"type": "string"}}}}}]}}}
ENTITY_PATCH = {JSON: {"schema": {**_ENTITY, "description": "with ?baseVersion=N, ?force=true, or ?resolve=true "
                                                            "(data and label name the chosen values)"}}}
ASSIGNMENTS_IN = {JSON: {"schema": {"type": "object", "properties": {
    "villages": {"type": "array", "items": {"oneOf": [{"type": "string"}, {
        "type": "object", "required": ["code"], "properties": {
            "code": {"type": "string"}, "expectedCount": {"type": "integer", "minimum": 0}}}]}},
    "households": {"type": "array", "items": {"type": "string"}}}}}}


@bp.before_request
def _protocol() -> None:
    g.protocol = "json"


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise Problem("invalid_input", detail=f"{name} phải là số nguyên / must be a whole number")
    return int(raw)


# --- look-ups -------------------------------------------------------------------------------------------------

def _project(project_id: int) -> int:
    if collect_queries.project(project_id) is None:
        raise Problem("not_found", what=f"project {project_id}")
    return project_id


def _dataset(project_id: int, name: str) -> Dataset:
    found = queries.dataset(_project(project_id), name)
    if found is None:
        raise Problem("not_found", what=f"dataset {name}")
    return found


def _entity(dataset: Dataset, uuid: str, caller: Caller, *, deleted: bool = False) -> Entity:
    found = queries.entity(dataset.id, uuid.strip().lower() if len(uuid) == 36 else uuid.strip())
    if found is None or (found.deleted_at is not None and not deleted) or not _sees(caller, found):
        raise Problem("not_found", what=f"entity {uuid}")
    return found


def _sees(caller: Caller, entity: Entity) -> bool:
    scope = visible_units(caller)
    return scope is None or (entity.village_code is not None and entity.village_code in scope[0])


# --- presenters ---------------------------------------------------------------------------------------------

def _conflicting(entity: Entity, version: int) -> list[str] | None:
    detail = entity.conflict_detail or {}
    names = sorted({f["property"] for f in detail.get("fields", []) if f.get("version") == version})
    return names or None


def _version_json(entity: Entity, row: EntityVersion, *, with_data: bool = True,
                  submissions: dict[int, tuple[str, str | None]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "label": row.label, "current": row.version == entity.version, "createdAt": iso(row.created_at),
        "creatorId": row.actor_id or SYSTEM_ACTOR, "userAgent": "", "version": row.version,
        "baseVersion": row.base_version, "conflictingProperties": _conflicting(entity, row.version),
        "branchId": row.branch_id, "trunkVersion": row.trunk_version, "branchBaseVersion": row.branch_base_version,
    }
    if with_data:
        body["data"] = dict(row.data)
        body["dataReceived"] = dict(row.changed)
    if submissions is not None:
        found = submissions.get(row.submission_id) if row.submission_id else None
        body["source"] = {"origin": row.origin, "submission": {"instanceId": found[0], "submitter": found[1]}
                          if found else None}
    return body


def _entity_json(entity: Entity, *, with_data: bool) -> dict[str, Any]:
    current = next(v for v in queries.versions(entity.id) if v.version == entity.version)
    return {"uuid": entity.uuid, "creatorId": entity.creator_id or SYSTEM_ACTOR, "createdAt": iso(entity.created_at),
            "updatedAt": iso(entity.updated_at) if entity.version > 1 else None,
            "deletedAt": iso(entity.deleted_at), "conflict": entity.conflict,
            "currentVersion": _version_json(entity, current, with_data=with_data)}


def _dataset_json(dataset: Dataset, counts: dict[int, tuple[int, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": dataset.name, "projectId": dataset.project_id,
                            "createdAt": iso(dataset.created_at), "approvalRequired": dataset.approval_required}
    if counts is not None:
        count, last = counts.get(dataset.id, (0, None))
        body.update(entities=count, lastEntity=iso(last))
    return body


# --- datasets -------------------------------------------------------------------------------------------------

@bp.get(DATASETS)
def list_datasets(project_id: int) -> Response:
    caller = current_caller()
    _project(project_id)
    caller.require("submission.read")
    found = queries.datasets(project_id)
    counts = queries.entity_counts([d.id for d in found]) if visible_units(caller) is None else None
    return jsonify([_dataset_json(d, counts) for d in found])


@bp.post(DATASETS)
@request_body(DATASET_IN)
@transaction.write
def create_dataset(project_id: int) -> Response:
    caller = current_caller()
    _project(project_id)
    caller.require("dataset.manage")
    body = json_object()
    dataset = services.create_dataset(project_id, str(body.get("name", "")).strip(),
                                      bool(body.get("approvalRequired", False)), caller.actor)
    return jsonify(_dataset_json(dataset))


@bp.get(DATASETS + "/<name>")
def get_dataset(project_id: int, name: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("submission.read")
    body = _dataset_json(dataset)
    body["properties"] = [{"name": p, "odataName": p, "publishedAt": iso(dataset.created_at), "forms": []}
                          for p in dataset.properties]
    body["linkedForms"], body["sourceForms"] = [], []
    return jsonify(body)


@bp.post(DATASETS + "/<name>/properties")
@request_body(PROPERTY_IN)
@transaction.write
def create_property(project_id: int, name: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("dataset.manage")
    services.add_property(dataset, str(json_object().get("name", "")), caller.actor)
    return jsonify({"success": True})


# --- entities -------------------------------------------------------------------------------------------------

@bp.get(DATASETS + "/<name>/entities")
def list_entities(project_id: int, name: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("submission.read")
    rows = queries.entities(dataset.id, visible_units(caller), include_deleted=query_flag("deleted"))
    return jsonify([_entity_json(e, with_data=False) for e in rows])


@bp.post(DATASETS + "/<name>/entities")
@request_body(ENTITIES_IN)
@transaction.write
def create_entities(project_id: int, name: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("submission.review")
    body = json_object()
    if "entities" in body:
        items = body["entities"]
        if not isinstance(items, list) or not items:
            raise Problem("invalid_input", detail="entities phải là danh sách / entities must be a non-empty list")
        for item in items:
            if not isinstance(item, dict):
                raise Problem("invalid_input", detail="entities[*] phải là đối tượng / must be objects")
            services.create_entity(dataset, item.get("uuid") or _uuid4(), item.get("label"), item.get("data"),
                                   caller)
        return jsonify({"success": True})
    entity = services.create_entity(dataset, body.get("uuid") or _uuid4(), body.get("label"), body.get("data"),
                                    caller)
    return jsonify(_entity_json(entity, with_data=True))


def _uuid4() -> str:
    import uuid

    return str(uuid.uuid4())


@bp.get(ENTITY)
def get_entity(project_id: int, name: str, uuid: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("submission.read")
    return jsonify(_entity_json(_entity(dataset, uuid, caller), with_data=True))


@bp.patch(ENTITY)
@request_body(ENTITY_PATCH)
@transaction.write
def update_entity(project_id: int, name: str, uuid: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    entity = _entity(dataset, uuid, caller)
    caller.require("submission.review")
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise Problem("invalid_input", detail="cần JSON / expected a JSON object")
    if query_flag("resolve"):
        choice = dict(body.get("data") or {})
        if body.get("label") is not None:
            choice["label"] = body["label"]
        entity = services.resolve_conflict(dataset, entity, choice, caller, _int_arg("baseVersion"))
    else:
        entity = services.update_entity(dataset, entity, body.get("label"), body.get("data"), caller,
                                        base_version=_int_arg("baseVersion"), force=query_flag("force"))
    return jsonify(_entity_json(entity, with_data=True))


@bp.delete(ENTITY)
@transaction.write
def delete_entity(project_id: int, name: str, uuid: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    entity = _entity(dataset, uuid, caller)
    caller.require("submission.review")
    services.delete_entity(entity, caller)
    return jsonify({"success": True})


@bp.get(ENTITY + "/versions")
def entity_versions(project_id: int, name: str, uuid: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    entity = _entity(dataset, uuid, caller)
    caller.require("submission.read")
    rows = queries.versions(entity.id)
    submissions = queries.submissions_by_id(r.submission_id for r in rows)
    if query_flag("relevantToConflict") and entity.conflict_detail:
        wanted = set(entity.conflict_detail.get("versions", []))
        rows = [r for r in rows if r.version in wanted]
    return jsonify([_version_json(entity, r, submissions=submissions) for r in rows])


# --- conflicts for reviewers ----------------------------------------------------------------------------------

@bp.get(DATASETS + "/<name>/conflicts")
def list_conflicts(project_id: int, name: str) -> Response:
    """Every entity in conflict within the caller's villages, with the differing fields side by side
    (base, theirs = the version that arrived first, ours = the later one) and each version's source."""
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("submission.read")
    out = []
    for entity in queries.entities(dataset.id, visible_units(caller), conflict_only=True):
        detail = entity.conflict_detail or {}
        wanted = set(detail.get("versions", []))
        rows = [r for r in queries.versions(entity.id) if r.version in wanted]
        submissions = queries.submissions_by_id(r.submission_id for r in rows)
        reason = CONFLICT_REASONS[ConflictKind(entity.conflict)]
        out.append({"uuid": entity.uuid, "label": entity.label, "conflict": entity.conflict,
                    "householdId": entity.household_id, "version": entity.version,
                    "reason": {"vi": reason.vi, "en": reason.en},
                    "fields": detail.get("fields", []),
                    "versions": [_version_json(entity, r, submissions=submissions) for r in rows]})
    return jsonify(out)


# --- OData ----------------------------------------------------------------------------------------------------

@bp.get(DATASETS + "/<name>.svc/Entities")
def odata_entities(project_id: int, name: str) -> Response:
    caller = current_caller()
    dataset = _dataset(project_id, name)
    caller.require("submission.read")
    top, skip = _int_arg("$top"), _int_arg("$skip") or 0
    clauses = _filter(request.args.get("$filter") or "")
    select = [p.strip() for p in (request.args.get("$select") or "").split(",") if p.strip()]
    entities = queries.entities(dataset.id, visible_units(caller))
    names = queries.actor_names(e.creator_id for e in entities)
    rows = [r for r in (_odata_row(e, dataset, names) for e in entities) if _matches(r, clauses)]
    total = len(rows)
    page = rows[skip:skip + top if top is not None else None]
    if select:
        page = [_selected(r, select) for r in page]
    body: dict[str, Any] = {"@odata.context": f"{request.host_url.rstrip('/')}/v1/projects/{project_id}/datasets/"
                                              f"{name}.svc/$metadata#Entities", "value": page}
    if request.args.get("$count", "").strip().lower() == "true":
        body["@odata.count"] = total
    return jsonify(body)


def _odata_row(entity: Entity, dataset: Dataset, names: dict[int, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"__id": entity.uuid, "label": entity.label, "__system": {
        "createdAt": iso(entity.created_at), "creatorId": str(entity.creator_id or SYSTEM_ACTOR),
        "creatorName": names.get(entity.creator_id or -1, ""), "updates": entity.version - 1,
        "updatedAt": iso(entity.updated_at) if entity.version > 1 else None, "version": entity.version,
        "conflict": entity.conflict}}
    for prop in dataset.properties:
        row[prop] = entity.data.get(prop)
    return row


def _filter(text: str) -> list[tuple[str, str, Any]]:
    """A small $filter: `<field> eq|ne <'text'|number|null>` joined by `and`."""
    clauses = []
    for part in [p.strip() for p in text.split(" and ")] if text.strip() else []:
        pieces = part.split(None, 2)
        if len(pieces) != 3 or pieces[1] not in ("eq", "ne"):
            raise Problem("odata_query", detail=f"unsupported $filter clause '{part}'")
        raw = pieces[2].strip()
        value: Any
        if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
            value = raw[1:-1].replace("''", "'")
        elif raw == "null":
            value = None
        else:
            try:
                value = int(raw)
            except ValueError as error:
                raise Problem("odata_query", detail=f"unsupported literal '{raw}'") from error
        clauses.append((pieces[0], pieces[1], value))
    return clauses


def _lookup(row: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition("/")
    if head == "__system" and rest:
        return row["__system"].get(rest)
    return row.get(path)


def _matches(row: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for path, op, value in clauses:
        found = _lookup(row, path)
        same = found == value or (found is not None and value is not None and str(found) == str(value))
        if same != (op == "eq"):
            return False
    return True


def _selected(row: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        head, _, rest = path.partition("/")
        if head == "__system" and rest:
            out.setdefault("__system", {})[rest] = row["__system"].get(rest)
        else:
            out[path] = row.get(path)
    return out


# --- the integrity check of entity lists (phones) -------------------------------------------------------------

def _integrity(project_id: int, name: str) -> Response:
    ids = [i.strip() for part in request.args.getlist("id") for i in part.split(",") if i.strip()]
    found = services.integrity(project_id, name, ids)
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<data><entities>']
    for uuid, deleted in found:
        parts.append(f"<entity id={quoteattr(uuid)}><deleted>{'true' if deleted else 'false'}</deleted></entity>")
    parts.append("</entities></data>")
    return Response("".join(parts).encode(), content_type="text/xml; charset=utf-8", headers=OPENROSA_HEADERS)


@bp.get("/v1/key/<token>/projects/<int:project_id>/datasets/<name>/integrity")
@openrosa_problems
def device_integrity(token: str, project_id: int, name: str) -> Response:
    g.protocol = "openrosa"
    caller = device_caller(token)
    key = g.get("field_key")
    if key is None or key.project_id != project_id:
        raise Problem("forbidden")
    caller.require("form.read")
    return _integrity(project_id, name)


@bp.get(DATASETS + "/<name>/integrity")
@openrosa_problems
def user_integrity(project_id: int, name: str) -> Response:
    g.protocol = "openrosa"
    caller = current_caller()
    _project(project_id)
    caller.require("form.read")
    return _integrity(project_id, name)


# --- assignments ----------------------------------------------------------------------------------------------

def _assignment_json(row: Any, codes: dict[int, str]) -> dict[str, Any]:
    return {"id": row.id, "actorId": row.actor_id, "villageCode": row.village_code,
            "householdCode": codes.get(row.household_id) if row.household_id else None,
            "expectedCount": row.expected_count, "createdBy": row.created_by, "createdAt": iso(row.created_at)}


def _household_codes(rows: list[Any]) -> dict[int, str]:
    from server.extensions import db
    from server.households.models import Household

    ids = [r.household_id for r in rows if r.household_id]
    if not ids:
        return {}
    return {h.id: h.code for h in db.session.query(Household).filter(Household.id.in_(ids))}


@bp.get("/v1/projects/<int:project_id>/assignments")
def list_assignments(project_id: int) -> Response:
    caller = current_caller()
    _project(project_id)
    caller.require("app_user.manage")
    scope = visible_units(caller)
    rows = queries.project_assignments(project_id)
    actor = _int_arg("actorId")
    if actor is not None:
        rows = [r for r in rows if r.actor_id == actor]
    villages = queries.villages_of_households(r.household_id for r in rows if r.household_id)
    if scope is not None:
        rows = [r for r in rows if (r.village_code or villages.get(r.household_id)) in scope[0]]
    return jsonify([_assignment_json(r, _household_codes(rows)) for r in rows])


@bp.put("/v1/projects/<int:project_id>/assignments/<int:actor_id>")
@request_body(ASSIGNMENTS_IN)
@transaction.write
def set_assignments(project_id: int, actor_id: int) -> Response:
    """Body: {"villages": [{"code": "07210-01", "expectedCount": 40}], "households": ["HH-0001"]}."""
    caller = current_caller()
    _project(project_id)
    caller.require("app_user.manage")
    actor = account_queries.actor(actor_id)
    # As for app users (GET/DELETE …/app-users): an actor whose units are not all within a scoped manager's
    # own does not exist for them, so an area supervisor cannot hand work to another area's devices.
    if actor is None or not units_within([grant.unit_code for grant in actor.scopes], visible_units(caller)):
        raise Problem("not_found", what=f"actor {actor_id}")
    body = json_object()
    targets = []
    for item in body.get("villages") or []:
        if isinstance(item, str):
            item = {"code": item}
        if not isinstance(item, dict):
            raise Problem("invalid_input", detail="villages[*]")
        count = item.get("expectedCount")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise Problem("invalid_input", detail="expectedCount")
        targets.append(services.Target(village_code=str(item.get("code") or ""), expected_count=count))
    for code in body.get("households") or []:
        targets.append(services.Target(household_code=str(code)))
    rows = services.set_assignments(project_id, actor_id, targets, caller)
    return jsonify([_assignment_json(r, _household_codes(rows)) for r in rows])
