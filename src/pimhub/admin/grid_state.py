"""The catalog grid's view state, all of it in the query string: search, filter rows, a raw
JSON filter, published/draft, sort, columns, page size and the cursor.

`GridState.parse` checks what a request (or a saved view) holds and refuses bad input with
InvalidQuery naming the parameter; `GridState.query` writes the canonical query string
back, so links (sort headers, pages, saved views) restore exactly the same view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from pimhub.admin.web import parse_count
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput, InvalidQuery
from pimhub.catalog.fields import FieldType
from pimhub.catalog.query import FieldResolver, FilterParser, SystemField, ValueKind

DEFAULT_FIRST = 50
MAX_FIRST = 200
MAX_Q = 200
MAX_FILTER = 4096
MAX_AFTER = 1024
MAX_ROWS = 8
MAX_COLS = 30
MAX_VALUE = 500
# Text searches page by offset (the search index's window); listings by keyset cursor.
MAX_OFFSET = 10_000
PUBLISHED_CHOICES = {"": "All", "published": "Published only", "draft": "Drafts only"}
# The filter rows' operators: label, and how the row becomes a JSON filter condition.
OPERATORS: dict[str, str] = {
    "eq": "equals",
    "ne": "is not",
    "in": "is one of",
    "contains": "contains",
    "starts": "starts with",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "set": "is set",
    "empty": "is empty",
}
_NO_VALUE = ("set", "empty")
# A relation compares by its target's business key (looked up as the stored uuid).
RELATION_OPERATORS = ("eq", "ne", "in", "set", "empty")
MAX_IN = 50
# The uuids of a class's objects by business key (CatalogService.uuids_of_keys).
KeyLookup = Callable[[str, Sequence[str]], Mapping[str, str]]
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def bad(parameter: str, message: str) -> InvalidQuery:
    return InvalidQuery(f"{parameter}: {message}", [FieldError(parameter, message)])


@dataclass(frozen=True, slots=True)
class FilterRow:
    field: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class GridState:
    q: str = ""
    rows: tuple[FilterRow, ...] = ()
    filter: str = ""  # raw JSON, for power users
    published: str = ""
    sort: str = ""
    cols: tuple[str, ...] = ()  # empty: the class's default columns
    first: int = DEFAULT_FIRST
    after: str = ""

    @staticmethod
    def parse(params: Mapping[str, str], lists: Mapping[str, Sequence[str]]) -> GridState:
        """The state in `params` (the last value of each) and `lists` (f, op, v rows)."""
        for name, value in params.items():
            if "\x00" in value or "\x00" in name:
                raise bad(name, "contains a NUL character")
        q = _limited(params, "q", MAX_Q).strip()
        raw = _limited(params, "filter", MAX_FILTER).strip()
        published = params.get("published", "")
        if published not in PUBLISHED_CHOICES:
            raise bad("published", "choose published, draft or nothing")
        sort = _limited(params, "sort", 300).strip()
        cols = tuple(c.strip() for c in _limited(params, "cols", 2000).split(",") if c.strip())
        if len(cols) > MAX_COLS:
            raise bad("cols", f"at most {MAX_COLS} columns")
        return GridState(
            q=q,
            rows=_rows(lists),
            filter=raw,
            published=published,
            sort=sort,
            cols=cols,
            first=_first(params.get("first")),
            after=_limited(params, "after", MAX_AFTER),
        )

    def query(self, **changes: Any) -> str:
        """The canonical query string of this state (with `changes`), defaults left out."""
        state = replace(self, **changes) if changes else self
        pairs: list[tuple[str, str]] = []
        if state.q:
            pairs.append(("q", state.q))
        for row in state.rows:
            pairs += [("f", row.field), ("op", row.op), ("v", row.value)]
        for name in ("filter", "published", "sort"):
            if value := getattr(state, name):
                pairs.append((name, value))
        if state.cols:
            pairs.append(("cols", ",".join(state.cols)))
        if state.first != DEFAULT_FIRST:
            pairs.append(("first", str(state.first)))
        if state.after:
            pairs.append(("after", state.after))
        return urlencode(pairs, safe=",")

    def offset(self) -> int:
        """The position a text search's page starts at (its `after`)."""
        if not self.after:
            return 0
        offset = _count(self.after, MAX_OFFSET)
        if offset < 1:
            raise bad("after", "not a page of this search; start again from the first page")
        return offset

    def filter_json(
        self,
        definition: ClassDefinition,
        default_language: str,
        keys: KeyLookup | None = None,
    ) -> str | None:
        """The filter rows, published choice and raw filter as one JSON filter (the REST
        listing's language), each part checked so an error names the row or box at fault.
        `keys` turns a relation row's target keys into the uuids the filter compares."""
        resolver = FieldResolver(definition, default_language=default_language)
        parts: list[Any] = [
            _relation_condition(definition, row, n, keys)
            if _target(definition, row.field)
            else _row_condition(resolver, row, n)
            for n, row in enumerate(self.rows, start=1)
        ]
        if self.published:
            parts.append({"published": self.published == "published"})
        if self.filter:
            FilterParser(resolver).parse(self.filter)  # its own errors name `filter`
            parts.append(json.loads(self.filter))
        parts = [p for p in parts if p]
        if not parts:
            return None
        return json.dumps(parts[0] if len(parts) == 1 else {"$and": parts})


def _limited(params: Mapping[str, str], name: str, limit: int) -> str:
    value = params.get(name, "")
    if len(value) > limit:
        raise bad(name, f"at most {limit} characters")
    return value


def _first(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_FIRST
    first = _count(raw, MAX_FIRST)
    if first < 1:
        raise bad("first", f"rows per page: a whole number from 1 to {MAX_FIRST}")
    return first


def _count(raw: str, maximum: int) -> int:
    """A whole number from 0 to `maximum` in ASCII digits, else -1 ('²' passes isdigit)."""
    try:
        return parse_count(raw, field="", maximum=maximum)
    except InvalidInput:
        return -1


def _rows(lists: Mapping[str, Sequence[str]]) -> tuple[FilterRow, ...]:
    fields, ops, values = (list(lists.get(k, ())) for k in ("f", "op", "v"))
    if max(len(fields), len(ops), len(values)) > MAX_ROWS:
        raise bad("f", f"at most {MAX_ROWS} filter rows")
    rows = []
    for n, name in enumerate(fields):
        op = ops[n] if n < len(ops) else "eq"
        value = values[n] if n < len(values) else ""
        if not name.strip():
            continue  # the form's empty row
        if op not in OPERATORS:
            raise bad(f"op{n + 1}", f"unknown operator {op[:40]!r}")
        if len(value) > MAX_VALUE or len(name) > 200:
            raise bad(f"v{n + 1}", f"at most {MAX_VALUE} characters")
        rows.append(FilterRow(name.strip(), op, "" if op in _NO_VALUE else value))
    return tuple(rows)


def _row_condition(resolver: FieldResolver, row: FilterRow, n: int) -> dict[str, Any]:
    """One filter row as a JSON condition, checked on its own."""
    try:
        ref = resolver.resolve(row.field, f"f{n}")
    except InvalidQuery as exc:
        raise bad(f"f{n}", exc.errors[0].message if exc.errors else exc.detail) from None
    condition: Any
    if row.op == "set":
        condition = {"$null": False}
    elif row.op == "empty":
        condition = {"$null": True}
    elif row.op == "contains":
        condition = {"$like": f"%{row.value}%"}
    elif row.op == "starts":
        condition = {"$like": f"{row.value}%"}
    elif row.op == "in":
        items = [replace(row, value=v) for v in _listed(row, n)]
        condition = {"$in": [_typed(ref.kind, ref.system, item, n) for item in items]}
    else:
        condition = {f"${row.op}": _typed(ref.kind, ref.system, row, n)}
    clause = {row.field: condition}
    try:
        FilterParser(resolver).parse(json.dumps(clause))
    except InvalidQuery as exc:
        message = exc.errors[0].message if exc.errors else exc.detail
        raise bad(f"v{n}", f"{row.field}: {message}") from None
    return clause


def _target(definition: ClassDefinition, name: str) -> str | None:
    """The target class of the single relation `name`, if it is one."""
    f = definition.field(name)
    if f is None or f.type != FieldType.RELATION or f.is_list or f.target is None:
        return None
    return f.target


def _relation_condition(
    definition: ClassDefinition, row: FilterRow, n: int, keys: KeyLookup | None
) -> dict[str, Any]:
    """A relation row: its target's business keys (one, or a comma list for 'is one of')
    as the stored uuids; an unknown key is named rather than matching nothing."""
    target = _target(definition, row.field)
    assert target is not None
    if row.op not in RELATION_OPERATORS:
        allowed = ", ".join(OPERATORS[o] for o in RELATION_OPERATORS)
        raise bad(f"op{n}", f"{row.field} compares by {target} key: {allowed}")
    if row.op in _NO_VALUE:
        return {row.field: {"$null": row.op == "empty"}}
    wanted = _listed(row, n) if row.op == "in" else [row.value.strip()]
    if keys is None or not all(wanted):
        raise bad(f"v{n}", f"{row.field}: write a {target} key")
    found = keys(target, wanted)
    missing = [k for k in wanted if k not in found]
    if missing:
        names = ", ".join(repr(k[:40]) for k in missing[:5])
        raise bad(f"v{n}", f"{row.field}: there is no {target} {names}")
    uuids = [found[k] for k in wanted]
    op = {"eq": "$eq", "ne": "$ne"}.get(row.op)
    return {row.field: {op: uuids[0]} if op else {"$in": uuids}}


def _listed(row: FilterRow, n: int) -> list[str]:
    """'is one of': the comma-separated values."""
    items = [v.strip() for v in row.value.split(",") if v.strip()]
    if not items or len(items) > MAX_IN:
        raise bad(f"v{n}", f"{row.field}: write 1 to {MAX_IN} values separated by commas")
    return list(dict.fromkeys(items))


def _typed(kind: ValueKind, system: SystemField | None, row: FilterRow, n: int) -> Any:
    """The row's text as the value the field compares with."""
    text = row.value.strip()
    if system in (SystemField.CREATED_AT, SystemField.MODIFIED_AT):
        return text  # a day or an ISO date-time; the filter parser reads both
    if kind == ValueKind.NUMBER:
        if not _NUMBER.fullmatch(text):
            raise bad(f"v{n}", f"{row.field}: {text[:40]!r} is not a number")
        number = float(text)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == ValueKind.BOOLEAN:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise bad(f"v{n}", f"{row.field}: write yes or no")
    return row.value
