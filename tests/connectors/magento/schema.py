"""Adobe's published Magento 2.4.8 admin REST schema, as a request-body validator.

The Swagger 2.0 document is loaded once per process and every body schema gets one compiled
Draft 4 validator, cached. `$ref`s resolve against the whole document, exactly as published:
no relaxations of `required` or of the declared types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMA_ENV = "PIMHUB_MAGENTO_SCHEMA"
RELATIVE = Path("contracts") / "magento" / "admin-schema-2.4.8.yaml"
# Adobe's schema lives beside the repository (../shared), not in it; never at one machine's
# absolute path.
CANDIDATES = (Path(__file__).resolve().parents[4] / "shared" / RELATIVE,)
SCHEMA_PATH = CANDIDATES[0]
_BASE_URI = "urn:magento:admin-schema-2.4.8"


def schema_path() -> Path:
    """The schema file. Named by PIMHUB_MAGENTO_SCHEMA (CI sets it), it must exist; otherwise
    the first place that has it, and without one the test that needs it is skipped with the
    reason, so that the suite still passes on a machine without ../shared."""
    named = os.environ.get(SCHEMA_ENV)
    if named:
        return Path(named)
    found = next((p for p in CANDIDATES if p.exists()), None)
    if found is None:
        pytest.skip(
            f"Adobe's Magento schema is not at {CANDIDATES[0]} (set {SCHEMA_ENV}); the "
            "contract double validates every request against it"
        )
    return found


@cache
def load_schema() -> dict[str, Any]:
    """The whole document. `info` is dropped: its description is a `$ref` to a missing file."""
    with schema_path().open("rb") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=yaml.CSafeLoader)
    document.pop("info", None)
    return document


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = DRAFT4.create_resource(load_schema())
    registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
    return registry


def _pointer_part(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _pointer(*parts: str | int) -> str:
    return "/" + "/".join(_pointer_part(str(part)) for part in parts)


class UnknownOperation(LookupError):
    """The route and method are not in the published schema."""


@cache
def _body_pointer(method: str, route: str) -> str | None:
    """JSON pointer to the body schema of one operation, or None when it takes no body."""
    operations = load_schema()["paths"].get(route)
    operation = operations.get(method.lower()) if operations else None
    if operation is None:
        raise UnknownOperation(f"{method.upper()} {route} is not in the admin schema")
    for index, parameter in enumerate(operation.get("parameters", ())):
        if parameter.get("in") == "body":
            return _pointer("paths", route, method.lower(), "parameters", index, "schema")
    return None


Check = Callable[[Any], bool]

# Draft 4 type semantics, as jsonschema's draft4 type checker has them: booleans are neither
# integers nor numbers, and 1.0 is a number but not an integer.
_TYPE_CHECKS: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}
_ANNOTATIONS = frozenset({"description", "xml", "title", "example"})
_HANDLED = frozenset({"type", "properties", "required", "items", "$ref"}) | _ANNOTATIONS


class _NotCompilable(Exception):
    pass


def _resolve_local(pointer: str) -> Any:
    node: Any = load_schema()
    for part in pointer.lstrip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


class _Compiler:
    """Turns the keywords the admin schema uses (type, properties, required, items, $ref) into
    plain predicates with Draft 4 semantics. Anything else makes the whole schema fall back
    to jsonschema alone, so the fast path can never disagree with it."""

    def __init__(self) -> None:
        self._refs: dict[str, list[Check]] = {}

    def compile(self, schema: Any) -> Check:
        if not isinstance(schema, dict) or not set(schema) <= _HANDLED:
            raise _NotCompilable(repr(schema)[:80])
        if "$ref" in schema:  # Draft 4: the siblings of $ref are ignored
            return self._ref(schema["$ref"])
        checks: list[Check] = []
        kind = schema.get("type")
        if kind is not None:
            if not isinstance(kind, str) or kind not in _TYPE_CHECKS:
                raise _NotCompilable(f"type {kind!r}")
            checks.append(_TYPE_CHECKS[kind])
        required = tuple(schema.get("required", ()))
        properties = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        if required or properties:
            checks.append(_object_check(required, properties))
        if "items" in schema:
            if not isinstance(schema["items"], dict):
                raise _NotCompilable("tuple items")
            checks.append(_array_check(self.compile(schema["items"])))
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def _ref(self, ref: str) -> Check:
        if not ref.startswith("#/"):
            raise _NotCompilable(ref)
        cell = self._refs.get(ref)
        if cell is None:
            cell = self._refs[ref] = []
            cell.append(self.compile(_resolve_local(ref[1:])))
        return lambda value: cell[0](value)


def _object_check(required: tuple[str, ...], properties: dict[str, Check]) -> Check:
    items = tuple(properties.items())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name in required:
            if name not in value:
                return False
        return all(sub(value[name]) for name, sub in items if name in value)

    return check


def _array_check(item: Check) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        return all(item(element) for element in value)

    return check


class BodyValidator:
    """One compiled validator: a fast predicate for the common valid case, and jsonschema's
    Draft4Validator (refs resolved against the whole document) to name the problems."""

    def __init__(self, pointer: str) -> None:
        self.pointer = pointer
        self.jsonschema = Draft4Validator({"$ref": f"{_BASE_URI}#{pointer}"}, registry=_registry())
        try:
            self._fast: Check = _Compiler().compile(_resolve_local(pointer))
        except _NotCompilable:
            self._fast = self.jsonschema.is_valid

    def is_valid(self, instance: Any) -> bool:
        return self._fast(instance)

    def errors(self, instance: Any) -> list[str]:
        """Every problem of `instance`, as "<JSON path>: <message>"; [] when it is valid."""
        if self._fast(instance):
            return []
        return _describe(self.jsonschema.iter_errors(instance))


@cache
def _validator_for_pointer(pointer: str) -> BodyValidator:
    return BodyValidator(pointer)


def body_validator(method: str, route: str) -> BodyValidator | None:
    """The compiled validator of one operation's body (None when the operation takes none)."""
    pointer = _body_pointer(method.upper(), route)
    return None if pointer is None else _validator_for_pointer(pointer)


@cache
def definition_validator(name: str) -> BodyValidator:
    """A validator for `#/definitions/<name>` (used to check the double's own answers)."""
    if name not in load_schema()["definitions"]:
        raise UnknownOperation(f"no definition {name!r}")
    return _validator_for_pointer(_pointer("definitions", name))


@cache
def response_validator(method: str, route: str, status: str = "200") -> BodyValidator | None:
    """The validator of an operation's answer for `status`, None when it declares no schema."""
    operations = load_schema()["paths"].get(route)
    operation = operations.get(method.lower()) if operations else None
    if operation is None:
        raise UnknownOperation(f"{method.upper()} {route} is not in the admin schema")
    if "schema" not in operation.get("responses", {}).get(status, {}):
        return None
    pointer = _pointer("paths", route, method.lower(), "responses", status, "schema")
    return _validator_for_pointer(pointer)


def _describe(errors: Iterable[Any]) -> list[str]:
    found = sorted(errors, key=lambda error: (list(error.absolute_path), error.message))
    return [f"{error.json_path}: {error.message}" for error in found]


def validate_body(method: str, route: str, body: Any) -> list[str]:
    """Problems of a request body for `method route` (route: the schema's path template,
    e.g. "/V1/products/{sku}"); [] when valid or when the operation takes no body."""
    validator = body_validator(method, route)
    if validator is None:
        return []
    return validator.errors(body)


def validate_response(method: str, route: str, body: Any, status: str = "200") -> list[str]:
    validator = response_validator(method, route, status)
    if validator is None:
        return []
    return validator.errors(body)
