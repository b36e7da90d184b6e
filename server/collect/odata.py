"""OData for a form's submissions, the subset ODK Central serves and pyodk reads (pure: no Flask, no database).

OD001 A form's field tree is read from its XForm: groups nest, repeats become sub-tables
      (`Submissions.<path with dots>`), leaves carry their bind type; names are made OData-safe.
OD002 A record has every known field, unanswered ones as null; `__id` is the submission's instanceID and
      `__system` its metadata; groups are nested objects; numbers are numbers; geopoints are GeoJSON
      (or WKT with `$wkt=true`); repeats appear as `<name>@odata.navigationLink`, and inline as arrays of
      rows with a stable `__id` when `$expand=*`.
OD003 A repeat row carries `__id` (a hash of the instanceID and its position) and a reference to its
      parent (`__Submissions-id`, or `__Submissions-<parent path>-id` inside another repeat).
OD004 Query options: `$top` and `$skip` (non-negative integers), `$count`, `$wkt` (booleans, any case:
      pyodk sends `True`), `$expand=*`, `$select` (comma-separated paths), `$filter`; anything else in a
      query option's value is refused with a reason.
OD005 `$filter`: `eq ne lt le gt ge`, `and or not`, parentheses, literals (strings in single quotes with
      '' for a quote, numbers, `true false null`, dates, date-times), functions `year month day hour minute
      second` and `now()`. Paths: `__id`, `__system/submissionDate|updatedAt|submitterId|reviewState|
      deviceId` (optionally under `$root/Submissions/`), and answers outside repeats (`group/field`).
OD006 Comparisons are typed: answers by their bind type, dates against date-times at midnight UTC. `eq null`
      matches a missing value, `ne null` a present one, and lt/le/gt/ge never match null. Values of different
      kinds (a number and a text) are never equal.
OD007 Resource paths: `Submissions`, `Submissions('<id>')`, `Submissions.<repeat>`, and navigation
      `Submissions('<id>')/<group>/<repeat>('<rowid>')/<repeat>`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote, unquote

from lxml import etree

from forms.xml import local_name, parse_untrusted

XFORMS_NS = "http://www.w3.org/2002/xforms"
XHTML_NS = "http://www.w3.org/1999/xhtml"
STRUCTURE = "structure"
REPEAT = "repeat"
ROOT_TABLE = "Submissions"
SYSTEM_FIELDS = ("submissionDate", "updatedAt", "submitterId", "submitterName", "attachmentsPresent",
                 "attachmentsExpected", "status", "reviewState", "deviceId", "edits", "formVersion", "deletedAt")
FILTERABLE_SYSTEM = frozenset({"submissionDate", "updatedAt", "submitterId", "reviewState", "deviceId"})
_EDM_TYPES = {"int": "Edm.Int64", "decimal": "Edm.Decimal", "boolean": "Edm.Boolean",
              "geopoint": "Edm.GeographyPoint", "geotrace": "Edm.GeographyLineString",
              "geoshape": "Edm.GeographyPolygon", "date": "Edm.Date", "dateTime": "Edm.DateTimeOffset"}


class ODataError(ValueError):
    """A query the server cannot answer; the message says why (English, for developers)."""


# --- OD001 the field tree ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    path: str       # relative to the instance root, e.g. "household/member/m_name"
    kind: str       # "structure", "repeat" or the bind type ("string", "int", "geopoint", …)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    @property
    def structural(self) -> bool:
        return self.kind in (STRUCTURE, REPEAT)


@dataclass(frozen=True)
class FieldTree:
    fields: tuple[Field, ...]
    by_path: dict[str, Field] = field(compare=False, repr=False)
    children: dict[str, tuple[Field, ...]] = field(compare=False, repr=False)

    @classmethod
    def of(cls, fields: Iterable[Field]) -> FieldTree:
        ordered = tuple(fields)
        children: dict[str, list[Field]] = {}
        for item in ordered:
            children.setdefault(item.parent, []).append(item)
        return cls(ordered, {f.path: f for f in ordered}, {k: tuple(v) for k, v in children.items()})

    def lookup(self, path: str) -> Field | None:
        """A field by its XML path or by its OData (sanitised) path."""
        known = self.by_path.get(path)
        if known is None:
            known = next((f for f in self.fields
                          if "/".join(odata_name(p) for p in f.path.split("/")) == path), None)
        return known

    def in_repeat(self, path: str) -> bool:
        """Whether the path lies inside a repeat (the repeat itself excluded)."""
        parts = path.split("/")
        for end in range(1, len(parts)):
            ancestor = self.by_path.get("/".join(parts[:end]))
            if ancestor is not None and ancestor.kind == REPEAT:
                return True
        return False

    def tables(self) -> list[str]:
        return [table_name(f.path) for f in self.fields if f.kind == REPEAT]


@functools.lru_cache(maxsize=4096)
def odata_name(name: str) -> str:
    """XML names may hold '-' and '.'; OData identifiers may not."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return "_" + safe if safe[:1].isdigit() else safe


def table_name(repeat_path: str) -> str:
    return ".".join([ROOT_TABLE] + [odata_name(p) for p in repeat_path.split("/")])


def field_tree(xform: bytes) -> FieldTree:
    """OD001: fields in document order from the primary instance, typed by the binds."""
    root = parse_untrusted(xform)
    model = root.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    if model is None:
        raise ODataError("not an XForm")
    instance = next((i for i in model.findall(f"{{{XFORMS_NS}}}instance") if i.get("id") is None), None)
    data = next((c for c in instance if isinstance(c.tag, str)), None) if instance is not None else None
    if data is None:
        raise ODataError("the XForm has no primary instance")
    top = "/" + local_name(data)
    types = {b.get("nodeset", ""): (b.get("type") or "string") for b in model.iter(f"{{{XFORMS_NS}}}bind")}
    repeats = {r.get("nodeset", "") for r in root.iter(f"{{{XFORMS_NS}}}repeat")}
    found: dict[str, Field] = {}

    def walk(element: etree._Element, path: str) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            child_path = f"{path}/{local_name(child)}" if path else local_name(child)
            absolute = f"{top}/{child_path}"
            if absolute in repeats:
                kind = REPEAT
            elif any(isinstance(c.tag, str) for c in child):
                kind = STRUCTURE
            else:
                kind = _bind_type(types.get(absolute, "string"))
            found.setdefault(child_path, Field(child_path, kind))
            if kind in (STRUCTURE, REPEAT):
                walk(child, child_path)

    walk(data, "")
    return FieldTree.of(found.values())


def _bind_type(value: str) -> str:
    # Binds may say "xsd:int" or "select1"; the prefix carries no meaning here.
    return value.split(":", 1)[-1]


# --- OD002/OD003 records -----------------------------------------------------------------------------------

@dataclass
class Reading:
    """One submission as OData: its root record and the rows of every repeat table (by repeat path)."""

    record: dict[str, Any]
    tables: dict[str, list[tuple[str, dict[str, Any]]]]  # repeat path → [(parent id, row)]


def read_submission(tree: FieldTree, xml: bytes, instance_id: str, system: dict[str, Any] | None = None, *,
                    expand: bool = False, wkt: bool = False) -> Reading:
    root = parse_untrusted(xml)
    record: dict[str, Any] = {"__id": instance_id}
    if system is not None:
        record["__system"] = system
    record.update(_frame(tree, "", expand))
    tables: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    link = f"{ROOT_TABLE}('{quote(instance_id, safe='')}')"
    _fill(tree, root, "", record, _Context(instance_id, [], link, instance_id, ROOT_TABLE), tables, expand, wkt)
    return Reading(record, tables)


@dataclass(frozen=True)
class _Context:
    instance_id: str
    chain: list[str]        # "name#index" for every repeat instance entered (the hash input)
    link: str               # the navigation prefix up to here
    row_id: str             # the id of the innermost row (the submission at the top)
    parent_key: str         # "Submissions" or "Submissions-<path of the enclosing repeat>"


def _frame(tree: FieldTree, parent: str, expand: bool) -> dict[str, Any]:
    """OD002: every known field of a level, unanswered as null (clients need every key)."""
    frame: dict[str, Any] = {}
    for child in tree.children.get(parent, ()):
        name = odata_name(child.name)
        if child.kind == STRUCTURE:
            frame[name] = _frame(tree, child.path, expand)
        elif child.kind == REPEAT:
            if expand:
                frame[name] = []
        else:
            frame[name] = None
    return frame


def _fill(tree: FieldTree, element: etree._Element, parent: str, bag: dict[str, Any], context: _Context,
          tables: dict[str, list[tuple[str, dict[str, Any]]]], expand: bool, wkt: bool) -> None:
    counters: dict[str, int] = {}
    for repeat in (f for f in tree.children.get(parent, ()) if f.kind == REPEAT):
        bag[f"{odata_name(repeat.name)}@odata.navigationLink"] = f"{context.link}/{odata_name(repeat.name)}"
    for child in element:
        if not isinstance(child.tag, str):
            continue
        path = f"{parent}/{local_name(child)}" if parent else local_name(child)
        known = tree.by_path.get(path)
        if known is None:
            continue
        name = odata_name(known.name)
        if known.kind == STRUCTURE:
            inner = _Context(context.instance_id, context.chain, f"{context.link}/{name}", context.row_id,
                             context.parent_key)
            _fill(tree, child, path, bag[name], inner, tables, expand, wkt)
        elif known.kind == REPEAT:
            index = counters.get(path, 0)
            counters[path] = index + 1
            chain = [*context.chain, f"{path}#{index}"]
            row_id = hashlib.sha1("%%".join([context.instance_id, *chain]).encode()).hexdigest()
            row: dict[str, Any] = {"__id": row_id, f"__{context.parent_key}-id": context.row_id}
            row.update(_frame(tree, path, expand))
            inner = _Context(context.instance_id, chain, f"{context.link}/{name}('{row_id}')", row_id,
                             f"{ROOT_TABLE}-" + "-".join(odata_name(p) for p in path.split("/")))
            _fill(tree, child, path, row, inner, tables, expand, wkt)
            tables.setdefault(path, []).append((context.row_id, row))
            if expand:
                bag[name].append(row)
        else:
            bag[name] = typed_value(known.kind, child.text or "", wkt)


def typed_value(kind: str, text: str, wkt: bool = False) -> Any:
    """OD002: a leaf's JSON value; what cannot be read as its type is null (the raw XML keeps it)."""
    text = text.strip()
    if text == "":
        return None
    if kind == "int":
        return _number(text, int)
    if kind == "decimal":
        return _number(text, float)
    if kind == "boolean":
        return text.lower() in ("true", "1")
    if kind == "geopoint":
        return _geo_point(text, wkt)
    if kind in ("geotrace", "geoshape"):
        return _geo_line(kind, text, wkt)
    return text


def _number(text: str, kind: type) -> int | float | None:
    try:
        value = kind(text)
    except ValueError:
        return None
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _coordinates(text: str) -> tuple[list[float], float | None] | None:
    """"lat lon [alt [acc]]" → ([lon, lat(, alt)], accuracy): GeoJSON puts longitude first."""
    try:
        numbers = [float(p) for p in text.split()]
    except ValueError:
        return None
    if len(numbers) < 2:
        return None
    position = [numbers[1], numbers[0]] + numbers[2:3]
    return position, numbers[3] if len(numbers) > 3 else None


def _geo_point(text: str, wkt: bool) -> Any:
    read = _coordinates(text)
    if read is None:
        return None
    position, accuracy = read
    if wkt:
        return f"POINT ({' '.join(_num(v) for v in position)})"
    point: dict[str, Any] = {"type": "Point", "coordinates": position}
    if accuracy is not None:
        point["properties"] = {"accuracy": accuracy}
    return point


def _geo_line(kind: str, text: str, wkt: bool) -> Any:
    read = [r for r in (_coordinates(p) for p in text.split(";") if p.strip()) if r is not None]
    if not read:
        return None
    positions = [p for p, _ in read]
    if wkt:
        joined = ",".join(" ".join(_num(v) for v in p) for p in positions)
        return f"LINESTRING ({joined})" if kind == "geotrace" else f"POLYGON (({joined}))"
    shape: dict[str, Any] = ({"type": "LineString", "coordinates": positions} if kind == "geotrace"
                             else {"type": "Polygon", "coordinates": [positions]})
    if any(a is not None for _, a in read):
        shape["properties"] = {"accuracies": [a for _, a in read]}
    return shape


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def flat_texts(tree: FieldTree, xml: bytes) -> dict[str, str | int]:
    """Raw text of every leaf outside repeats, and the instance count of each outermost repeat (for CSV)."""
    values: dict[str, str | int] = {}

    def walk(element: etree._Element, parent: str) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            path = f"{parent}/{local_name(child)}" if parent else local_name(child)
            known = tree.by_path.get(path)
            if known is None:
                continue
            if known.kind == REPEAT:
                values[path] = int(values.get(path, 0)) + 1
            elif known.kind == STRUCTURE:
                walk(child, path)
            else:
                values.setdefault(path, (child.text or "").strip())

    walk(parse_untrusted(xml), "")
    return values


def select(record: dict[str, Any], paths: tuple[str, ...] | None) -> dict[str, Any]:
    """OD004 `$select`: only the named properties, nested as in the record."""
    if paths is None:
        return record
    chosen: dict[str, Any] = {}
    for path in paths:
        source, target = record, chosen
        parts = [odata_name(p) if p not in ("__id", "__system") else p for p in path.split("/")]
        for part in parts[:-1]:
            source = source.get(part) if isinstance(source, dict) else None
            if source is None:
                break
            target = target.setdefault(part, {})
        else:
            last = parts[-1]
            if isinstance(source, dict):
                for key in (last, f"{last}@odata.navigationLink"):
                    if key in source:
                        target[key] = source[key]
    return chosen


# --- OD004 query options -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    top: int | None = None
    skip: int = 0
    count: bool = False
    wkt: bool = False
    expand: bool = False
    select: tuple[str, ...] | None = None
    filter: Node | None = None

    def has_more(self, total: int) -> bool:
        return self.top is not None and self.skip + self.top < total


def parse_query(args: Mapping[str, str], tree: FieldTree) -> Query:
    return Query(
        top=_non_negative(args, "$top"),
        skip=_non_negative(args, "$skip") or 0,
        count=_boolean(args, "$count"),
        wkt=_boolean(args, "$wkt"),
        expand=_expand(args.get("$expand")),
        select=_select(args.get("$select"), tree),
        filter=parse_filter(args["$filter"], tree) if args.get("$filter") else None,
    )


def _non_negative(args: Mapping[str, str], key: str) -> int | None:
    raw = args.get(key)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise ODataError(f"{key} must be a non-negative integer, not '{raw}'")
    return int(raw)


def _boolean(args: Mapping[str, str], key: str) -> bool:
    raw = (args.get(key) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise ODataError(f"{key} must be true or false, not '{args.get(key)}'")
    return raw == "true"


def _expand(raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    if raw.strip() != "*":
        raise ODataError("only $expand=* is supported")
    return True


def _select(raw: str | None, tree: FieldTree) -> tuple[str, ...] | None:
    if raw is None or raw.strip() in ("", "*"):
        return None
    paths = tuple(p.strip() for p in raw.split(",") if p.strip())
    for path in paths:
        system = path.split("/", 1)
        if path in ("__id", "__system") or (system[0] == "__system" and system[-1] in SYSTEM_FIELDS):
            continue
        known = tree.lookup(path)
        if known is None or tree.in_repeat(known.path):
            raise ODataError(f"cannot $select '{path}'")
    return paths


# --- OD005/OD006 $filter -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Ref:
    path: str       # "__id", "__system/<name>" or an answer path


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic:
    op: str                 # "and" | "or" | "not"
    parts: tuple[Node, ...]


Node = Literal | Ref | Call | Compare | Logic
_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
_FUNCTIONS = {"year": 1, "month": 1, "day": 1, "hour": 1, "minute": 1, "second": 1, "now": 0}
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[$A-Za-z_][$\w]*(?:/[$A-Za-z_][$\w]*)*)
    | (?P<punct>[(),])
    )""", re.VERBOSE)


def parse_filter(text: str, tree: FieldTree) -> Node:
    tokens = _tokenize(text)
    parser = _Parser(tokens, tree)
    node = parser.expression()
    if parser.peek() is not None:
        raise ODataError(f"unexpected '{parser.peek()[1]}' in $filter")
    return node


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ODataError(f"cannot read $filter at '{text[position:position + 20].strip()}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent: or → and → not → comparison → operand."""

    def __init__(self, tokens: list[tuple[str, str]], tree: FieldTree) -> None:
        self.tokens = tokens
        self.position = 0
        self.tree = tree

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ODataError("$filter ends too early")
        self.position += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] in words:
            self.position += 1
            return token[1]
        return None

    def expect(self, punct: str) -> None:
        token = self.take()
        if token != ("punct", punct):
            raise ODataError(f"expected '{punct}' in $filter, found '{token[1]}'")

    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logic("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.negation()]
        while self.keyword("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def negation(self) -> Node:
        if self.keyword("not"):
            return Logic("not", (self.negation(),))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        op = self.keyword(*_COMPARISONS)
        if op is None:
            return left
        return Compare(op, left, self.operand())

    def operand(self) -> Node:
        kind, value = self.take()
        if kind == "punct" and value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "string":
            return Literal(value[1:-1].replace("''", "'"))
        if kind == "number":
            return Literal(float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "date":
            return Literal(_parse_date(value))
        if kind == "datetime":
            return Literal(_parse_datetime(value))
        if kind == "name":
            return self.name(value)
        raise ODataError(f"unexpected '{value}' in $filter")

    def name(self, value: str) -> Node:
        constants = {"true": True, "false": False, "null": None}
        if value in constants:
            return Literal(constants[value])
        if value in _FUNCTIONS and self.peek() == ("punct", "("):
            self.take()
            args: list[Node] = []
            if self.peek() != ("punct", ")"):
                args.append(self.expression())
                while self.peek() == ("punct", ","):
                    self.take()
                    args.append(self.expression())
            self.expect(")")
            if len(args) != _FUNCTIONS[value]:
                raise ODataError(f"{value}() takes {_FUNCTIONS[value]} argument(s)")
            return Call(value, tuple(args))
        return Ref(self.reference(value))

    def reference(self, value: str) -> str:
        path = value.removeprefix("$root/Submissions/")
        head, _, rest = path.partition("/")
        if path == "__id" or (head == "__system" and rest in FILTERABLE_SYSTEM):
            return path
        known = self.tree.lookup(path)
        if known is None or known.structural or self.tree.in_repeat(known.path):
            raise ODataError(f"cannot filter on '{value}'")
        return known.path


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ODataError(f"invalid date '{text}'") from error


def _parse_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ODataError(f"invalid date-time '{text}'") from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def filter_paths(node: Node | None) -> set[str]:
    """Every path a filter reads (to know whether answers must be loaded)."""
    if node is None or isinstance(node, Literal):
        return set()
    if isinstance(node, Ref):
        return {node.path}
    if isinstance(node, Compare):
        return filter_paths(node.left) | filter_paths(node.right)
    children = node.args if isinstance(node, Call) else node.parts
    return set().union(*(filter_paths(child) for child in children))


Resolver = Callable[[str], Any]


def matches(node: Node | None, resolve: Resolver, now: datetime | None = None) -> bool:
    if node is None:
        return True
    return _evaluate(node, resolve, now or datetime.now(UTC)) is True


def _evaluate(node: Node, resolve: Resolver, now: datetime) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Ref):
        return resolve(node.path)
    if isinstance(node, Logic):
        values = [_evaluate(part, resolve, now) is True for part in node.parts]
        if node.op == "not":
            return not values[0]
        return all(values) if node.op == "and" else any(values)
    if isinstance(node, Call):
        if node.name == "now":
            return now
        return _date_part(node.name, _evaluate(node.args[0], resolve, now))
    return _compare(node.op, _evaluate(node.left, resolve, now), _evaluate(node.right, resolve, now))


def _date_part(name: str, value: Any) -> int | None:
    if isinstance(value, (date, datetime)) and (isinstance(value, datetime) or name in ("year", "month", "day")):
        return getattr(value, name)
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    """OD006."""
    if left is None or right is None:
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return (left is None) != (right is None)
        return False
    left, right = _comparable(left), _comparable(right)
    if _kind(left) != _kind(right):
        return op == "ne"
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if isinstance(left, bool):
        return False
    return {"lt": left < right, "le": left <= right, "gt": left > right, "ge": left >= right}[op]


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    return "text"


def scalar(kind: str, text: str | None) -> Any:
    """An answer as $filter compares it: numbers, dates and booleans typed, the rest text."""
    text = (text or "").strip()
    if text == "":
        return None
    try:
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return float(text)
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind == "dateTime":
            return _parse_datetime(text)
    except (ValueError, ODataError):
        return text
    if kind == "boolean":
        return text.lower() in ("true", "1")
    return text


def resolver(instance_id: str, system: Mapping[str, Any], answers: Mapping[str, str] | None,
             tree: FieldTree) -> Resolver:
    """Look-ups for one submission: system values as Python values, answers by their leaf name."""

    def resolve(path: str) -> Any:
        if path == "__id":
            return instance_id
        if path.startswith("__system/"):
            return system.get(path[len("__system/"):])
        return scalar(tree.by_path[path].kind, (answers or {}).get(path.rsplit("/", 1)[-1]))

    return resolve


# --- OD007 resource paths, service and metadata documents ------------------------------------------------

@dataclass(frozen=True)
class Target:
    repeat_path: str | None = None     # None = the Submissions table
    instance_id: str | None = None     # restrict to one submission
    parent_id: str | None = None       # restrict repeat rows to this parent


_SEGMENT = re.compile(r"^([^(]+)(?:\('([^']*)'\))?$")


def parse_target(resource: str, tree: FieldTree) -> Target:
    segments = [unquote(s) for s in resource.strip("/").split("/")]
    head = _SEGMENT.match(segments[0])
    if head is None:
        raise ODataError(f"unknown resource '{resource}'")
    name, key = head.groups()
    if name.startswith(ROOT_TABLE + ".") and key is None and len(segments) == 1:
        by_table = {table_name(f.path): f.path for f in tree.fields if f.kind == REPEAT}
        if name not in by_table:
            raise ODataError(f"unknown table '{name}'")
        return Target(repeat_path=by_table[name])
    if name != ROOT_TABLE:
        raise ODataError(f"unknown resource '{resource}'")
    if len(segments) == 1:
        return Target(instance_id=key)
    if key is None:
        raise ODataError("navigation needs a submission id: Submissions('<id>')/…")
    by_name = {"/".join(odata_name(p) for p in f.path.split("/")): f for f in tree.fields}
    parts: list[str] = []
    parent_id = key
    for index, segment in enumerate(segments[1:], start=1):
        match = _SEGMENT.match(segment)
        if match is None:
            raise ODataError(f"unknown resource '{resource}'")
        parts.append(match.group(1))
        known = by_name.get("/".join(parts))
        last = index == len(segments) - 1
        if known is None or (match.group(2) is not None and (last or known.kind != REPEAT)):
            raise ODataError(f"unknown resource '{resource}'")
        if match.group(2) is not None:
            parent_id = match.group(2)
        elif last and known.kind != REPEAT:
            raise ODataError(f"'{segment}' is not a repeat")
    return Target(repeat_path=by_name["/".join(parts)].path, instance_id=key, parent_id=parent_id)


def service_document(tree: FieldTree, context: str) -> dict[str, Any]:
    tables = [ROOT_TABLE] + tree.tables()
    return {"@odata.context": context, "value": [{"name": t, "kind": "EntitySet", "url": t} for t in tables]}


def metadata_document(xml_form_id: str, tree: FieldTree) -> bytes:
    """A minimal EDMX: entity types for the submissions and each repeat, complex types for groups."""
    edmx = "http://docs.oasis-open.org/odata/ns/edmx"
    edm = "http://docs.oasis-open.org/odata/ns/edm"
    namespace = f"org.opendatakit.user.{odata_name(xml_form_id)}"
    root = etree.Element(f"{{{edmx}}}Edmx", nsmap={"edmx": edmx}, Version="4.0")
    services = etree.SubElement(root, f"{{{edmx}}}DataServices")
    system = etree.SubElement(services, f"{{{edm}}}Schema", nsmap={None: edm}, Namespace="org.opendatakit.submission")
    metadata = etree.SubElement(system, f"{{{edm}}}ComplexType", Name="metadata")
    for name in SYSTEM_FIELDS:
        kind = {"submissionDate": "Edm.DateTimeOffset", "updatedAt": "Edm.DateTimeOffset",
                "deletedAt": "Edm.DateTimeOffset", "attachmentsPresent": "Edm.Int64",
                "attachmentsExpected": "Edm.Int64", "edits": "Edm.Int64"}.get(name, "Edm.String")
        etree.SubElement(metadata, f"{{{edm}}}Property", Name=name, Type=kind)
    schema = etree.SubElement(services, f"{{{edm}}}Schema", nsmap={None: edm}, Namespace=namespace)
    container = etree.Element(f"{{{edm}}}EntityContainer", Name=odata_name(xml_form_id))

    def type_name(path: str) -> str:
        return ".".join(odata_name(p) for p in path.split("/"))

    def declare(element_name: str, name: str, parent: str, entity: bool) -> None:
        declared = etree.SubElement(schema, f"{{{edm}}}{element_name}", Name=name)
        if entity:
            etree.SubElement(etree.SubElement(declared, f"{{{edm}}}Key"), f"{{{edm}}}PropertyRef", Name="__id")
            etree.SubElement(declared, f"{{{edm}}}Property", Name="__id", Type="Edm.String")
            etree.SubElement(container, f"{{{edm}}}EntitySet", Name=name, EntityType=f"{namespace}.{name}")
        if parent == "":
            etree.SubElement(declared, f"{{{edm}}}Property", Name="__system",
                             Type="org.opendatakit.submission.metadata")
        for child in tree.children.get(parent, ()):
            name_of = odata_name(child.name)
            if child.kind == REPEAT:
                etree.SubElement(declared, f"{{{edm}}}NavigationProperty", Name=name_of,
                                 Type=f"Collection({namespace}.{table_name(child.path)})")
                declare("EntityType", table_name(child.path), child.path, True)
            elif child.kind == STRUCTURE:
                etree.SubElement(declared, f"{{{edm}}}Property", Name=name_of,
                                 Type=f"{namespace}.{type_name(child.path)}")
                declare("ComplexType", type_name(child.path), child.path, False)
            else:
                etree.SubElement(declared, f"{{{edm}}}Property", Name=name_of,
                                 Type=_EDM_TYPES.get(child.kind, "Edm.String"))

    declare("EntityType", ROOT_TABLE, "", True)
    schema.append(container)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
