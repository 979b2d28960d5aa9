"""What changed between two versions of a service contract, breaking changes apart from the
rest: for GraphQL SDL, graphql-core's own finders; for an OpenAPI document, a small comparer.

A change is breaking when a client written against the old contract may fail against the new
one: a path, operation, parameter, response property or type it uses is gone; a request
needs something it did not need (a new required parameter or body property) or refuses a
type it took (narrowed); an answer holds a type the client did not expect (widened), or no
longer always holds a property it promised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# A schema nested deeper than this is not followed (a recursive $ref would never end).
_MAX_DEPTH = 12


@dataclass
class Changes:
    """Changes found, as sentences naming where: `breaking` may fail old clients;
    `dangerous` may change what they see (a new enum value, a new default); `other` are
    additions and changes no client can notice."""

    breaking: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.breaking or self.dangerous or self.other)

    def report(self) -> str:
        parts = []
        for title, items in (
            ("BREAKING changes (clients of the old contract may fail)", self.breaking),
            ("Dangerous changes (old clients may see something new)", self.dangerous),
            ("Other changes (additions)", self.other),
        ):
            if items:
                parts.append(title + ":\n" + "\n".join(f"  - {item}" for item in items))
        return "\n".join(parts) or "no change found in the compared parts"


# -- GraphQL ------------------------------------------------------------------------------


def sdl_changes(old_sdl: str, new_sdl: str) -> Changes:
    """Breaking and dangerous changes as graphql-core finds them, and the types and fields
    added."""
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    changes = Changes(
        breaking=[f"{c.description} ({c.type.name})" for c in find_breaking_changes(old, new)],
        dangerous=[f"{c.description} ({c.type.name})" for c in find_dangerous_changes(old, new)],
    )
    changes.other = _sdl_additions(old, new)
    return changes


def _sdl_additions(old: GraphQLSchema, new: GraphQLSchema) -> list[str]:
    added = []
    fielded = (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)
    for name, new_type in sorted(new.type_map.items()):
        if name.startswith("__"):
            continue
        old_type = old.type_map.get(name)
        if old_type is None:
            added.append(f"Type {name} was added")
        elif isinstance(new_type, fielded) and isinstance(old_type, fielded):
            for field_name in sorted(set(new_type.fields) - set(old_type.fields)):
                added.append(f"Field {name}.{field_name} was added")
    return added


# -- OpenAPI ------------------------------------------------------------------------------


def openapi_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Changes:
    """Paths, operations, parameters, request bodies and JSON responses compared; $refs are
    followed into components.schemas."""
    changes = Changes()
    old_paths, new_paths = old.get("paths", {}), new.get("paths", {})
    for path in sorted(set(old_paths) | set(new_paths)):
        if path not in new_paths:
            changes.breaking.append(f"path {path} was removed")
        elif path not in old_paths:
            changes.other.append(f"path {path} was added")
        else:
            _compare_path(path, old_paths[path], new_paths[path], _Context(old, new, changes))
    return changes


@dataclass(frozen=True)
class _Context:
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    changes: Changes


def _compare_path(path: str, old: Mapping[str, Any], new: Mapping[str, Any], c: _Context) -> None:
    for method in _METHODS:
        where = f"{method.upper()} {path}"
        if method in old and method not in new:
            c.changes.breaking.append(f"operation {where} was removed")
        elif method in new and method not in old:
            c.changes.other.append(f"operation {where} was added")
        elif method in old:
            _compare_parameters(where, old[method], new[method], c)
            _compare_request_body(where, old[method], new[method], c)
            _compare_responses(where, old[method], new[method], c)


def _parameters(operation: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(p["in"], p["name"]): p for p in operation.get("parameters", []) if "name" in p}


def _compare_parameters(
    where: str, old: Mapping[str, Any], new: Mapping[str, Any], c: _Context
) -> None:
    before, after = _parameters(old), _parameters(new)
    for key in sorted(set(before) | set(after)):
        name = f"{where}: {key[0]} parameter {key[1]!r}"
        if key not in after:
            c.changes.breaking.append(f"{name} was removed")
        elif key not in before:
            listed = c.changes.breaking if after[key].get("required") else c.changes.other
            required = "required" if after[key].get("required") else "optional"
            listed.append(f"{name} was added ({required})")
        else:
            if after[key].get("required") and not before[key].get("required"):
                c.changes.breaking.append(f"{name} became required")
            _compare_schema(
                name, before[key].get("schema", {}), after[key].get("schema", {}), c, request=True
            )


def _json_schema(part: Mapping[str, Any]) -> Mapping[str, Any] | None:
    content = part.get("content", {})
    for media_type in ("application/json", "application/problem+json"):
        if media_type in content:
            schema: Mapping[str, Any] = content[media_type].get("schema", {})
            return schema
    return None


def _compare_request_body(
    where: str, old: Mapping[str, Any], new: Mapping[str, Any], c: _Context
) -> None:
    before, after = old.get("requestBody"), new.get("requestBody")
    if after is None:
        if before is not None:
            c.changes.other.append(f"{where}: the request body was removed")
        return
    if before is None:
        listed = c.changes.breaking if after.get("required") else c.changes.other
        listed.append(f"{where}: a request body was added")
        return
    if after.get("required") and not before.get("required"):
        c.changes.breaking.append(f"{where}: the request body became required")
    old_schema, new_schema = _json_schema(before), _json_schema(after)
    if old_schema is not None and new_schema is not None:
        _compare_schema(f"{where} request body", old_schema, new_schema, c, request=True)


def _compare_responses(
    where: str, old: Mapping[str, Any], new: Mapping[str, Any], c: _Context
) -> None:
    before, after = old.get("responses", {}), new.get("responses", {})
    for status in sorted(set(before) | set(after)):
        name = f"{where}: response {status}"
        if status not in after:
            # A success a client handles is gone; a documented error that no longer occurs
            # breaks no one.
            listed = c.changes.breaking if status.startswith("2") else c.changes.other
            listed.append(f"{name} was removed")
        elif status not in before:
            c.changes.other.append(f"{name} was added")
        else:
            old_schema = _json_schema(_resolve_response(c.old, before[status]))
            new_schema = _json_schema(_resolve_response(c.new, after[status]))
            if old_schema is not None and new_schema is not None:
                _compare_schema(name, old_schema, new_schema, c, request=False)


def _resolve_response(document: Mapping[str, Any], response: Mapping[str, Any]) -> Any:
    ref = response.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/responses/"):
        return document.get("components", {}).get("responses", {}).get(ref.rsplit("/", 1)[1], {})
    return response


def _resolve(document: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        found: Mapping[str, Any] = (
            document.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
        )
        return found
    return schema


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    """The JSON types a schema allows, or None when it does not say (any type)."""
    declared = schema.get("type")
    if declared is None:
        options = schema.get("anyOf") or schema.get("oneOf")
        if not options:
            return None
        found: set[str] = set()
        for option in options:
            option_types = _types(option)
            if option_types is None:
                return None
            found |= option_types
        return found
    return {declared} if isinstance(declared, str) else set(declared)


def _covers(wider: set[str] | None, narrower: set[str] | None) -> bool:
    """Whether every value `narrower` allows, `wider` allows too (an integer is a number)."""
    if wider is None:
        return True
    if narrower is None:
        return False
    return all(t in wider or (t == "integer" and "number" in wider) for t in narrower)


def _compare_schema(
    where: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    c: _Context,
    *,
    request: bool,
    depth: int = 0,
) -> None:
    """Requests break when the new schema takes less; responses when it gives more, or
    promises less."""
    if depth > _MAX_DEPTH:
        return
    old, new = _resolve(c.old, old), _resolve(c.new, new)
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        # A request breaks when it takes less than before, an answer when it gives more.
        breaks = not _covers(new_types, old_types) if request else not _covers(old_types, new_types)
        listed = c.changes.breaking if breaks else c.changes.other
        listed.append(f"{where}: type {_show(old_types)} became {_show(new_types)}")
    _compare_enum(where, old, new, c, request=request)
    _compare_properties(where, old, new, c, request=request, depth=depth)
    if "items" in old and "items" in new:
        _compare_schema(
            f"{where}[]", old["items"], new["items"], c, request=request, depth=depth + 1
        )


def _show(types: set[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _compare_enum(
    where: str, old: Mapping[str, Any], new: Mapping[str, Any], c: _Context, *, request: bool
) -> None:
    if "enum" not in old or "enum" not in new:
        return
    removed = [v for v in old["enum"] if v not in new["enum"]]
    added = [v for v in new["enum"] if v not in old["enum"]]
    if removed:
        listed = c.changes.breaking if request else c.changes.other
        listed.append(f"{where}: values {removed} were removed")
    if added:
        listed = c.changes.other if request else c.changes.dangerous
        listed.append(f"{where}: values {added} were added")


def _compare_properties(
    where: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    c: _Context,
    *,
    request: bool,
    depth: int,
) -> None:
    before, after = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(set(before) | set(after)):
        here = f"{where}: property {name!r}"
        if name not in after:
            c.changes.breaking.append(f"{here} was removed")
        elif name not in before:
            needed = request and name in new_required
            listed = c.changes.breaking if needed else c.changes.other
            listed.append(f"{here} was added ({'required' if needed else 'optional'})")
        else:
            if request and name in new_required - old_required:
                c.changes.breaking.append(f"{here} became required")
            if not request and name in old_required - new_required:
                c.changes.breaking.append(f"{here} is no longer always present")
            _compare_schema(here, before[name], after[name], c, request=request, depth=depth + 1)
