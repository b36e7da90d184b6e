from __future__ import annotations

import inspect
import re

import pytest
from marshmallow import Schema, fields, validate

from server.http import request_bodies
from server.http.request_bodies import BODIES, json_schema
from server.review import machine

WRITES = ("POST", "PUT", "PATCH")
# What a view does when it reads a JSON body (directly, through the Central helper, or a marshmallow load).
READS_JSON = re.compile(r"get_json\(|json_object\(|schemas\.load\(|\bload\(\w+\.\w+\(\)")
JSON_SCHEMA_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


def _document(client) -> dict:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _body_schema(document: dict, path: str, method: str = "post", media: str = "application/json") -> dict:
    return document["paths"][path][method]["requestBody"]["content"][media]["schema"]


def test_openapi__served__lists_review_central_and_device_routes(client):
    document = _document(client)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "post" in paths["/v1/reviews/{review_id}/actions"]
    assert paths["/v1/reviews/{review_id}/actions"]["post"]["parameters"][0]["schema"]["type"] == "integer"
    assert "patch" in paths["/v1/projects/{project_id}/forms/{xml_form_id}/submissions/{instance_id}"]
    assert {"head", "post"} <= set(paths["/v1/key/{token}/projects/{project_id}/submission"])
    assert "get" in paths["/v1/duplicates"]


def test_openapi__every_operation_id_unique(client):
    operations = [op["operationId"] for item in client.get("/v1/openapi.json").get_json()["paths"].values()
                  for op in item.values()]
    assert len(operations) == len(set(operations))


def test_openapi__every_json_write_route__declares_its_request_body(app, client):
    """Every POST/PUT/PATCH route under /v1 whose view reads a JSON body has a JSON requestBody schema."""
    document = _document(client)
    readers, missing = [], []
    for rule in app.url_map.iter_rules():
        writes = set(rule.methods or ()) & set(WRITES)
        if not rule.rule.startswith("/v1/") or not writes:
            continue
        if not READS_JSON.search(inspect.getsource(inspect.unwrap(app.view_functions[rule.endpoint]))):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in writes:
            readers.append(rule.endpoint)
            body = document["paths"][path][method.lower()].get("requestBody")
            if body is None or "application/json" not in body["content"]:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert {"reviews.act", "households.decide", "central.create_project", "central.create_session"} <= set(readers)
    assert missing == [], "declare these bodies: @request_bodies.request_body(Schema) or request_bodies.BODIES"


def test_openapi__declared_bodies__name_existing_write_endpoints(app):
    """A body listed for an endpoint that no longer exists (or takes no body) would silently rot."""
    writers = {rule.endpoint for rule in app.url_map.iter_rules() if set(rule.methods or ()) & set(WRITES)}
    assert sorted(set(BODIES) - writers) == []


def _check_schema(schema: dict, where: str, components: dict, problems: list[str]) -> None:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        if not schema["$ref"].startswith("#/components/schemas/") or name not in components:
            problems.append(f"{where}: unresolved $ref {schema['$ref']}")
        return
    kinds = schema.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds] if kinds else []:
        if kind not in JSON_SCHEMA_TYPES:
            problems.append(f"{where}: unknown type {kind!r}")
    if "required" in schema:
        if not isinstance(schema["required"], list) or len(set(schema["required"])) != len(schema["required"]):
            problems.append(f"{where}: required must be a list of distinct names")
        elif "properties" in schema and not set(schema["required"]) <= set(schema["properties"]):
            problems.append(f"{where}: required {set(schema['required']) - set(schema['properties'])} not properties")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        problems.append(f"{where}: enum must be a non-empty list")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.{name}", components, problems)
    if "items" in schema:
        _check_schema(schema["items"], f"{where}[]", components, problems)
    for keyword in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(schema.get(keyword, [])):
            _check_schema(sub, f"{where}.{keyword}[{index}]", components, problems)
    for keyword in ("if", "then", "else"):
        if keyword in schema:
            _check_schema(schema[keyword], f"{where}.{keyword}", components, problems)


def test_openapi__document__structurally_valid(client):
    """openapi-spec-validator is not a dependency: the rules of OpenAPI 3.1 this document could break."""
    document = _document(client)
    problems: list[str] = []
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    components = document["components"]["schemas"]
    for name, schema in components.items():
        _check_schema(schema, f"components.{name}", components, problems)
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        templated = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            if method not in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                problems.append(f"{where}: not an HTTP method")
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            if declared != templated or not all(p["required"] for p in operation["parameters"] if p["in"] == "path"):
                problems.append(f"{where}: path parameters {declared} ≠ {templated}")
            if not operation.get("responses") or any(not (code == "default" or re.fullmatch(r"[1-5](\d\d|XX)", code))
                                                      for code in operation["responses"]):
                problems.append(f"{where}: bad responses")
            for code, response in operation["responses"].items():
                if "description" not in response:
                    problems.append(f"{where} {code}: response without description")
                for media, content in (response.get("content") or {}).items():
                    _check_schema(content["schema"], f"{where} {code} {media}", components, problems)
            body = operation.get("requestBody")
            if body is not None:
                if not body.get("content"):
                    problems.append(f"{where}: requestBody without content")
                for media, content in body["content"].items():
                    if "/" not in media or "schema" not in content:
                        problems.append(f"{where}: requestBody {media} without a schema")
                    else:
                        _check_schema(content["schema"], f"{where} body", components, problems)
    assert problems == []


def test_openapi__review_action_body__enums_types_and_each_actions_inputs(client):
    schema = _body_schema(_document(client), "/v1/reviews/{review_id}/actions")
    properties = schema["properties"]
    assert schema["required"] == ["action"]
    assert properties["action"]["enum"] == [str(a) for a in machine.Action]
    assert properties["expectedState"]["anyOf"][0]["enum"] == [str(s) for s in machine.State]
    assert properties["votes_in_favour"]["anyOf"][0] == {"type": "integer", "minimum": 0}
    assert properties["decision_date"]["anyOf"][0] == {"type": "string", "format": "date"}
    meeting = properties["meeting"]["anyOf"][0]
    assert meeting["required"] == ["held_on", "chair", "attendees"]
    assert meeting["properties"]["attendees"] == {"type": "integer", "minimum": 1}
    assert meeting["properties"]["minutes_id"]["anyOf"][0] == {"type": "integer", "minimum": 1}
    # Which inputs each action needs comes from the machine's table, not from a second list.
    conditions = {c["if"]["properties"]["action"]["const"]: c["then"]["required"] for c in schema["allOf"]}
    assert conditions["record_meeting_vote"] == ["meeting", "votes_in_favour"]
    assert conditions["decide"] == ["decision_number", "decision_date"]
    assert conditions == {str(a): list(spec.requires) for a, spec in machine.ACTIONS.items() if spec.requires}


def test_openapi__duplicate_decision_and_central_bodies__from_their_schemas(client):
    document = _document(client)
    assert _body_schema(document, "/v1/duplicates/{pair_id}") == {
        "type": "object", "required": ["decision"], "properties": {"decision": {"type": "string",
                                                                               "enum": ["same", "not_same"]}},
        "description": "A person's decision on a possible duplicate: the same household, or different households."}
    project = _body_schema(document, "/v1/projects")
    assert project["required"] == ["name"]
    assert project["properties"]["name"] == {"type": "string", "minLength": 1, "maxLength": 200}
    app_user = _body_schema(document, "/v1/projects/{project_id}/app-users")
    assert app_user["properties"]["units"] == {"type": "array", "items": {"type": "string"}}
    assert _body_schema(document, "/v1/sessions")["required"] == ["email", "password"]
    review = _body_schema(document, "/v1/projects/{project_id}/forms/{xml_form_id}/submissions/{instance_id}",
                          "patch")
    assert review["required"] == ["reviewState"]


def test_openapi__minutes_upload__multipart_file_and_village(client):
    schema = _body_schema(_document(client), "/v1/reviews/minutes", media="multipart/form-data")
    assert schema["required"] == ["file", "village"]
    assert "application/pdf" in schema["properties"]["file"]["description"]


class _Everything(Schema):
    """Every kind of field the converter knows."""

    flag = fields.Boolean(required=True)
    count = fields.Integer(validate=validate.Range(min=1, max=9, max_inclusive=False))
    share = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    day = fields.Date()
    moment = fields.DateTime()
    mail = fields.Email()
    tags = fields.List(fields.String(), validate=validate.Length(min=1, max=3))
    extra = fields.Dict()
    anything = fields.Raw(metadata={"description": "any JSON"})
    renamed = fields.String(data_key="otherName")
    shown_only = fields.String(dump_only=True)


@pytest.mark.parametrize(("name", "expected"), [
    ("flag", {"type": "boolean"}),
    ("count", {"type": "integer", "minimum": 1, "exclusiveMaximum": 9}),
    ("share", {"type": "number", "exclusiveMinimum": 0}),
    ("day", {"type": "string", "format": "date"}),
    ("moment", {"type": "string", "format": "date-time"}),
    ("mail", {"type": "string", "format": "email"}),
    ("tags", {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}),
    ("extra", {"type": "object"}),
    ("anything", {"description": "any JSON"}),
    ("otherName", {"type": "string"}),
])
def test_json_schema__each_field_kind__converted(name, expected):
    assert json_schema(_Everything())["properties"][name] == expected


def test_json_schema__dump_only_left_out_required_listed():
    schema = json_schema(_Everything())
    assert "shown_only" not in schema["properties"] and schema["required"] == ["flag"]
    assert schema["description"] == "Every kind of field the converter knows."


def test_request_body__decorator__wins_over_nothing():
    @request_bodies.request_body(_Everything)
    def view() -> None:  # pragma: no cover - never called
        """A view."""

    body = request_bodies.for_view("nowhere.view", view)
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"]["required"] == ["flag"]
    assert request_bodies.for_view("nowhere.other", lambda: None) is None
