"""Hypothesis-driven requests built from the served OpenAPI document (/v1/openapi.json), in-process.

Every documented operation is called with path parameters drawn from the spec's types (valid ids and
names of a small seeded world, hostile text, out-of-range numbers), random query strings, bodies of
every kind the server reads (JSON, XML, XLSX, multipart, bytes) under right and wrong content types,
as an administrator and as a low-privilege enumerator. Rules, checked on every response:

FZ001 No 5xx, whatever the request.
FZ002 A refusal (4xx) has the documented shape: the operation's `default` response content type, and
      for JSON the Problem schema with a code whose integer part is the status and a readable message.
FZ003 A refused request changes nothing: every table's row count is what it was before.

Examples are derandomised (the same requests every run) and bounded: the quick test in the default
run, a longer one marked slow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder

from tests.factories import submission_xml
from tests.fuzz import corpus
from tests.fuzz.conftest import INSTANCE_ID, FuzzWorld
from tests.fuzz.support import abandoned_uploads_expected, assert_problem, row_counts

PERSONAS = ("admin", "enumerator_07210_01")
WRITE_METHODS = ("post", "put", "patch", "delete")
CONTENT_TYPES = ("application/json", "text/xml", "application/xml", "multipart/form-data",
                 "multipart/form-data; boundary=fuzzBoundary", corpus.XLSX_TYPE, "application/octet-stream",
                 "text/plain; charset=latin-1", "application/json; charset=utf-16", "x/y; boundary=\"", "")
QUERY_KEYS = ("publish", "version", "deviceID", "formID", "lang", "state", "village", "commune", "$filter", "$top",
              "$skip", "$select", "$expand", "$count", "$wkt", "$orderby")
BODY_KEYS = ("name", "description", "displayName", "units", "reviewState", "body", "email", "password", "action",
             "expectedState", "decision", "note", "reason", "class", "minutes")


def _fuzz_text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def _hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(corpus.HOSTILE_TEXT), _fuzz_text())


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
               | st.floats(allow_nan=False, allow_infinity=False) | _hostile_text())
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_fuzz_text(8), inner,
                                                                                              max_size=4),
                        max_leaves=12)


def from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the JSON Schema subset the document declares request bodies with, now and then with a
    hostile value in place of a conforming one (the server must refuse those, cleanly)."""
    if depth > 4:
        return _json_values()
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), _hostile_text())
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(option, depth + 1) for option in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, depth + 1) for k in kind])
    if kind == "object":
        properties = {name: from_schema(sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
        required = [name for name in schema.get("required", ()) if name in properties]
        extra = schema.get("additionalProperties")
        values = st.fixed_dictionaries({name: properties[name] for name in required},
                                       optional={n: v for n, v in properties.items() if n not in required})
        if isinstance(extra, dict):
            values = st.builds(lambda known, more: {**more, **known}, values,
                               st.dictionaries(_fuzz_text(8), from_schema(extra, depth + 1), max_size=3))
        return values
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=4)
    if kind == "string":
        return st.one_of(_fuzz_text(schema.get("maxLength", 40)).filter(
            lambda t: len(t) >= schema.get("minLength", 0)), _hostile_text())
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -(2**40)), max_value=2**40)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _json_values()


def _declared_body(operation: dict[str, Any], known: dict[str, list[Any]]
                   ) -> st.SearchStrategy[tuple[bytes | None, str]] | None:
    """A body built from the operation's declared requestBody, when it has one."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return from_schema(content["application/json"]["schema"]).map(
            lambda value: (json.dumps(value).encode(), "application/json"))
    if "multipart/form-data" in content:
        properties = content["multipart/form-data"]["schema"].get("properties", {})
        parts = st.fixed_dictionaries({}, optional={
            name: st.one_of(st.binary(max_size=64), st.sampled_from([b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n",
                                                                     b"07210-01"]))
            for name in properties})
        return parts.map(lambda fields: (corpus.multipart([(name, name if name == "file" else None, data,
                                                             "application/octet-stream")
                                                            for name, data in fields.items()]),
                                         "multipart/form-data; boundary=fuzzBoundary"))
    return None


@dataclass
class FuzzRequest:
    method: str
    path: str  # the spec's template
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        body = self.body[:300] if self.body else None
        return f"{self.method.upper()} {self.url} headers={self.headers} body={body!r}"


def _known_values(fw: FuzzWorld) -> dict[str, list[Any]]:
    return {"project_id": [fw.project_id], "xml_form_id": ["demo"], "instance_id": [INSTANCE_ID],
            "name": ["house.jpg", "villages.csv"], "token": [fw.world.tokens["device_07210_01"]],
            "actor_id": [fw.app_user_id], "role_id": [2], "review_id": [1], "pair_id": [1],
            "resource": ["Submissions", "$metadata", f"Submissions('{INSTANCE_ID}')",
                         f"Submissions('{INSTANCE_ID}')/member"]}


def _parameter(parameter: dict[str, Any], known: dict[str, list[Any]]) -> st.SearchStrategy[str]:
    good = known.get(parameter["name"], [])
    if parameter["schema"].get("type") == "integer":
        values = st.one_of(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=2**70),
                           st.sampled_from([2**31 - 1, 2**31, 2**63, -1]))
    else:
        values = _hostile_text().filter(bool)
    if good:
        values = st.one_of(st.sampled_from(good), st.sampled_from(good), values)
    return values.map(lambda v: quote(str(v), safe=""))


def _bodies(instance_ids: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[bytes | None, str]]:
    json_body = st.one_of(
        st.fixed_dictionaries({}, optional={key: _json_values() for key in BODY_KEYS}),
        _json_values()).map(lambda value: json.dumps(value).encode())
    xml_body = st.one_of(
        instance_ids.map(lambda iid: submission_xml(iid)),
        st.builds(lambda head, iid: submission_xml(iid, head=head.replace("<", "").replace("&", "")),
                  _hostile_text(), instance_ids),
        st.sampled_from([b"<data id='demo'><unclosed></data>", b"\xff\xfe<\x00d\x00", b"<?xml version='1.0'?>",
                         b'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>',
                         corpus.deeply_nested_xml(300)]))
    xlsx_body = st.sampled_from([corpus.xlsform(), corpus.xlsform("demo"), corpus.truncated(corpus.xlsform()),
                                 corpus.xlsx_xxe(), b"PK\x03\x04not really"])
    multipart_body = st.builds(
        lambda xml, name, data: corpus.multipart([("xml_submission_file", "submission.xml", xml, "text/xml"),
                                                  (name, name, data, "image/jpeg")]),
        xml_body, _hostile_text(), st.binary(max_size=64))
    payload = st.one_of(st.none(), json_body, xml_body, xlsx_body, multipart_body, st.binary(max_size=200))
    return st.tuples(payload, st.sampled_from(CONTENT_TYPES))


@st.composite
def fuzz_requests(draw: st.DrawFn, spec: dict[str, Any], fw: FuzzWorld, persona: str) -> FuzzRequest:
    operations = sorted((path, method) for path, item in spec["paths"].items() for method in item)
    path, method = draw(st.sampled_from(operations))
    operation = spec["paths"][path][method]
    known = _known_values(fw)
    values = {p["name"]: draw(_parameter(p, known)) for p in operation["parameters"]}
    url = path.format(**values)
    query = draw(st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), _fuzz_text(8)), _hostile_text(), max_size=3))
    if query:
        url += "?" + urlencode(query)
    headers = {}
    who = draw(st.sampled_from([persona, persona, persona, "anonymous", "bad-token"]))
    if who == "bad-token":
        headers["Authorization"] = "Bearer " + draw(_fuzz_text(20).map(lambda t: t.encode("utf-8").hex()))
    elif who != "anonymous":
        headers.update(fw.auth(who))
    if draw(st.booleans()):
        headers["X-OpenRosa-Version"] = draw(st.sampled_from(["1.0", "1.0", "2.0", ""]))
    if draw(st.booleans()):
        headers["Accept-Language"] = draw(st.sampled_from(["en", "vi", "en;q=abc", "*", "xx-YY,zz;q=0.1"]))
    body = None
    if method in WRITE_METHODS:
        instance_ids = st.one_of(st.just(INSTANCE_ID), st.integers(0, 10**6).map(lambda i: f"uuid:new-{i}"))
        declared = _declared_body(operation, known)
        bodies = _bodies(instance_ids) if declared is None else st.one_of(declared, declared, _bodies(instance_ids))
        body, content_type = draw(bodies)
        if content_type:
            headers["Content-Type"] = content_type
    return FuzzRequest(method, path, url, headers, body)


def _documented_problem(app, spec: dict[str, Any], request: FuzzRequest) -> tuple[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The documented problem of the operation the URL really reaches: a drawn value may leave the
    operation (an id past the documented maximum, a decoded `/` in a name) and reach another one, or
    none, where the server-wide JSON not-found answers."""
    environ = EnvironBuilder(path=request.url, method=request.method.upper()).get_environ()
    try:
        rule, _ = app.url_map.bind_to_environ(environ).match(return_rule=True)
    except HTTPException:
        return "application/json", {"$ref": "#/components/schemas/Problem"}
    operations = [op for item in spec["paths"].values() for op in item.values()
                  if op["operationId"].startswith(f"{rule.endpoint}.{request.method}")]
    default = operations[0]["responses"]["default"] if operations else None
    if default is None:  # an undocumented method on a documented path (HEAD of a GET)
        return "application/json", {"$ref": "#/components/schemas/Problem"}
    content_type, media = next(iter(default["content"].items()))
    return content_type, media["schema"]


def _check(fw: FuzzWorld, spec: dict[str, Any], request: FuzzRequest, before: dict[str, int]) -> dict[str, int]:
    """FZ001–FZ003 for one request; returns the row counts after it."""
    app, client = fw.world.app, fw.world.app.test_client()
    with abandoned_uploads_expected():
        response = client.open(request.url, method=request.method.upper(), headers=request.headers,
                               data=request.body)
    try:
        status = response.status_code
        assert status < 500, (status, response.data[:500])  # FZ001
        after = row_counts(app)
        if status >= 400:
            content_type, media = _documented_problem(app, spec, request)
            if request.method != "head":
                assert_problem(response, content_type, media, spec["components"]["schemas"])  # FZ002
            assert after == before, {k: (before[k], after[k]) for k in after if after[k] != before.get(k)}  # FZ003
        return after
    finally:
        response.close()


def _run(app, client, fuzz_world: FuzzWorld, persona: str, examples: int) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/v1/openapi.json").get_json()
    counts = {"value": row_counts(app)}

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        request = data.draw(fuzz_requests(spec, fuzz_world, persona), label="request")
        counts["value"] = _check(fuzz_world, spec, request, counts["value"])

    run()


@pytest.mark.parametrize("persona", PERSONAS)
def test_openapi__fuzzed_requests__no_5xx_documented_problem_nothing_changed(app, client, fuzz_world, persona):
    _run(app, client, fuzz_world, persona, examples=200)


@pytest.mark.slow
@pytest.mark.parametrize("persona", PERSONAS)
def test_openapi__long_fuzz__no_5xx_documented_problem_nothing_changed(app, client, fuzz_world, persona):
    _run(app, client, fuzz_world, persona, examples=600)


# --- what the fuzz found, pinned -------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/v1/projects/99999999999999999999", "/v1/projects/2147483648/forms",
                                 "/v1/reviews/9223372036854775808"])
def test_openapi__id_past_the_columns_range__404_not_500(client, fuzz_world, url):
    assert_problem(client.get(url, headers=fuzz_world.auth("admin"))).startswith("Không tìm thấy")


@pytest.mark.parametrize("url", ["/v1/projects/1/forms/demo%00", "/v1/projects/1/forms/demo/submissions/uuid%00",
                                 "/v1/projects/1/forms/demo.svc/Submissions%00"])
def test_openapi__nul_in_a_path_segment__404_not_500(client, fuzz_world, url):
    assert client.get(url, headers=fuzz_world.auth("admin")).status_code == 404


def test_openapi__nul_in_query_or_json__400_in_the_routes_protocol(app, client, fuzz_world):
    before = row_counts(app)
    headers = {**fuzz_world.auth("admin"), "Accept-Language": "en"}
    assert "NUL" in assert_problem(client.post("/v1/projects", json={"name": "a\x00b"}, headers=headers))
    assert "NUL" in assert_problem(client.get("/v1/projects/1/forms/demo/submissions?deviceID=%00", headers=headers))
    response = client.get(f"/v1/key/{fuzz_world.world.tokens['device_07210_01']}/projects/1/formList?formID=%00",
                          headers={"X-OpenRosa-Version": "1.0"})
    assert_problem(response, "text/xml")
    assert row_counts(app) == before
