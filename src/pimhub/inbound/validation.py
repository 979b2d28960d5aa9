"""JSON Schemas of inbound event types (Draft 2020-12, the jsonschema library): checked against
the meta-schema when a source is saved, compiled once per source version, applied to every
message of the type.

References stay inside the schema: a `$ref` to anything but `#...` is refused at save, and
the validator's registry retrieves nothing, so a schema can never make the hub fetch a URL.

Regular expressions (`pattern`, the keys of `patternProperties`) are matched with RE2 in linear
time: Python's `re` backtracks, and `^([a-z0-9]+\\s?)*$` against thirty characters takes a
minute, on the event loop that checks small messages. A pattern RE2 cannot compile
(backreferences, lookarounds) is refused when the source is saved.

Nothing a sender or a schema author writes may cost more than linear time: uniqueItems, enum,
properties and the unevaluated keywords are replaced by linear versions; every keyword
application is metered (BASE_STEPS + STEPS_PER_BYTE per byte of the message, TRIAL_STEPS at
save), so a schema whose references multiply work is refused, never run to the end; a $ref
cycle that consumes nothing and a configuration nested deeper than MAX_DEPTH are refused at
save, and a validator failure at receive refuses the message (422) instead of a 500. The
linear keywords and the step budget are in schema_keywords; the save-time checks here."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from pimhub.catalog.errors import FieldError
from pimhub.catalog.linear_regex import PatternError
from pimhub.inbound.errors import InvalidMessage, InvalidSource
from pimhub.inbound.schema_keywords import (
    LinearValidator,
    TooCostly,
    budget,
    pattern_search,
    short,
)

DRAFT_URI = "https://json-schema.org/draft/2020-12/schema"
MAX_SCHEMA_BYTES = 64 * 1024  # one type's schema, as JSON
MAX_SCHEMAS_BYTES = 256 * 1024  # all of a source's schemas
MAX_REPORTED = 20  # errors listed in one refusal
_ROOT = "urn:pimhub:inbound-schema"
_REF_KEYS = ("$ref", "$dynamicRef")
MAX_DEPTH = 64  # JSON levels of a source's configuration, like a message body's
# Tried against every schema at save: a $ref cycle that consumes nothing recurses on each.
_TRIAL_INSTANCES: tuple[Any, ...] = (None, {}, [], 0, "")
TRIAL_STEPS = 50_000  # keyword applications allowed for one trial instance at save
# Allowed for one message: a few per byte covers any schema that does not multiply work
# (an ordinary one applies a handful of keywords to each value of a few bytes).
BASE_STEPS = 20_000
STEPS_PER_BYTE = 4


def _retrieve_nothing(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


# Resolves references within a schema only: a remote one is Unresolvable, never fetched.
LOCAL_ONLY: Registry[Any] = Registry(retrieve=_retrieve_nothing)  # type: ignore[call-arg]


def check_depth(config: Any) -> None:
    """InvalidSource when a source's configuration nests deeper than MAX_DEPTH levels, before
    anything recursive (orjson, the NUL check, jsonschema) touches it: 400 levels of allOf
    made orjson give up with an exception the API answered 500."""
    problem = _depth_problem(config)
    if problem is not None:
        detail = f"invalid inbound source: {problem.field}: {problem.message}"
        raise InvalidSource(detail, [problem])


def _depth_problem(value: Any) -> FieldError | None:
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[tuple[Any, Any]] = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if len(at) >= MAX_DEPTH:
            # Named as the source's fields are (schemas.<type>, apply.mapping), then where.
            field = ".".join(str(p) for p in at[: 1 if at[0] not in _NAMED_IN_TWO else 2])
            message = f"is nested deeper than {MAX_DEPTH} levels (at {short(_pointer(at))})"
            return FieldError(field, message, "too-deep")
        stack.extend(((*at, k), v) for k, v in children)
    return None


_NAMED_IN_TWO = frozenset({"schemas", "apply", "eventType", "messageId", "key"})


def schema_problems(schema: Any, where: str) -> list[FieldError]:
    """Why `schema` cannot be a type's JSON Schema (empty: it can). `where` is its field path."""
    if not isinstance(schema, Mapping):
        return [FieldError(where, "a JSON Schema is an object", "invalid-schema")]
    try:
        size = len(orjson.dumps(schema))
    except (TypeError, orjson.JSONEncodeError) as exc:
        return [FieldError(where, f"is not JSON: {exc}", "invalid-schema")]
    if size > MAX_SCHEMA_BYTES:
        return [FieldError(where, f"is larger than {MAX_SCHEMA_BYTES} bytes", "too-large")]
    declared = schema.get("$schema")
    if declared is not None and (
        not isinstance(declared, str) or declared.rstrip("#") != DRAFT_URI
    ):
        return [FieldError(f"{where}.$schema", f"only {DRAFT_URI} (Draft 2020-12) is supported")]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        at = "".join(f"/{p}" for p in exc.path) or "/"
        return [FieldError(where, f"{short(exc.message)} (at {at})", "invalid-schema")]
    return (
        _pattern_problems(schema, where)
        or _reference_problems(schema, where)
        or _cycle_problems(schema, where)
    )


def _cycle_problems(schema: Mapping[str, Any], where: str) -> list[FieldError]:
    """A reference cycle that consumes nothing (`{"$ref": "#"}` at the top, two $defs naming
    each other through allOf) recurses until Python gives up, on every message that reaches
    it: refused here. Chains of '#...' references are followed wherever they are in the
    schema; validating a few trivial instances catches what resolves otherwise."""
    cycle = _ref_cycle(schema)
    if cycle is None:
        validator = LinearValidator(schema, registry=LOCAL_ONLY)
        for instance in _TRIAL_INSTANCES:
            try:
                with budget(TRIAL_STEPS):
                    for _ in validator.iter_errors(instance):
                        pass
            except RecursionError:
                cycle = []
                break
            except TooCostly:
                message = (
                    f"applying it to {orjson.dumps(instance).decode()} takes more than "
                    f"{TRIAL_STEPS} steps: its references multiply the work"
                )
                return [FieldError(where, message, "too-costly")]
            except Exception:  # other failures are for the run-time check to report
                continue
        else:
            return []
    named = " -> ".join(short(r) for r in cycle) if cycle else "a reference"
    message = f"{named} refers to itself without reading anything deeper in the message"
    return [FieldError(where, message, "ref-cycle")]


_IN_PLACE = ("not", "if", "then", "else")  # subschemas applied to the same instance
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")


def _in_place_refs(node: Any) -> list[str]:
    """The references `node` follows for the very instance it is applied to."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, Mapping):
            continue
        found.extend(r for k in _REF_KEYS if isinstance(r := item.get(k), str))
        for key in _IN_PLACE_LISTS:
            if isinstance(listed := item.get(key), list):
                stack.extend(listed)
        stack.extend(item[k] for k in _IN_PLACE if k in item)
        if isinstance(dependent := item.get("dependentSchemas"), Mapping):
            stack.extend(dependent.values())
    return found


def _ref_cycle(schema: Mapping[str, Any]) -> list[str] | None:
    """A chain of references, each followed for the same instance, back to one already on
    it (starting from the root and from every reference in the schema), or None."""
    resolver = LOCAL_ONLY.with_resource(
        _ROOT, Resource.from_contents(schema, default_specification=DRAFT202012)
    ).resolver(_ROOT)

    def follows(ref: str) -> list[str]:
        if not ref.startswith("#"):
            return []
        try:
            return _in_place_refs(resolver.lookup(ref).contents)
        except Unresolvable:
            return []

    done: set[str] = set()
    for start in ("#", *_references(schema)):
        if start in done:
            continue
        path = [start]
        stack: list[Iterator[str]] = [iter(follows(start))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                done.add(path.pop())
            elif following in path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                stack.append(iter(follows(following)))
    return None


# Keywords whose values are data, not subschemas: a `pattern` key inside them is not a pattern.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


def _pattern_problems(schema: Mapping[str, Any], where: str) -> list[FieldError]:
    """A FieldError for each regular expression RE2 cannot compile, naming its place in the
    schema by JSON pointer."""
    problems = []
    for pointer, pattern in _patterns(schema):
        try:
            pattern_search(pattern)
        except PatternError as exc:
            message = f"the pattern at {pointer}: {short(str(exc))}"
            problems.append(FieldError(where, message, "unsupported-pattern"))
    return problems


def _patterns(schema: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(JSON pointer, pattern) of every `pattern` value and `patternProperties` key."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), schema)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, list):
            stack.extend(((*at, i), v) for i, v in enumerate(item))
            continue
        if not isinstance(item, Mapping):
            continue
        if isinstance(found := item.get("pattern"), str):
            yield _pointer((*at, "pattern")), found
        if isinstance(keyed := item.get("patternProperties"), Mapping):
            yield from ((_pointer((*at, "patternProperties", k)), k) for k in keyed)
        stack.extend(((*at, k), v) for k, v in item.items() if k not in _DATA_KEYWORDS)


def _reference_problems(schema: Mapping[str, Any], where: str) -> list[FieldError]:
    refs = list(_references(schema))
    problems = [
        FieldError(where, f"the reference '{short(ref)}' leaves the schema; only '#...' "
                   "references within it are allowed", "remote-reference")
        for ref in refs if not ref.startswith("#")
    ]  # fmt: skip
    if problems or _has_nested_id(schema):
        # Nested $id resources resolve their own '#' references; the run-time check sees them.
        return problems
    resolver = LOCAL_ONLY.with_resource(
        _ROOT, Resource.from_contents(schema, default_specification=DRAFT202012)
    ).resolver(_ROOT)
    for ref in refs:
        if ref.startswith("#/") or ref == "#":
            try:
                resolver.lookup(ref)
            except Unresolvable:
                problems.append(
                    FieldError(where, f"the reference '{short(ref)}' points nowhere", "bad-ref")
                )
    return problems


def _walk(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _references(schema: Mapping[str, Any]) -> Iterator[str]:
    for item in _walk(schema):
        if isinstance(item, Mapping):
            for key in _REF_KEYS:
                if isinstance(ref := item.get(key), str):
                    yield ref


def _has_nested_id(schema: Mapping[str, Any]) -> bool:
    return any(
        isinstance(item, Mapping) and item is not schema and isinstance(item.get("$id"), str)
        for item in _walk(schema)
    )


def compile_schemas(schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A validator per event type (once per source version: building one costs far more than
    checking a message). A stored schema is not checked again when loaded: one that cannot
    be compiled at all refuses each message of its type (422 schema-failed), not the source."""
    return {name: _compiled(schema) for name, schema in schemas.items()}


def _compiled(schema: Mapping[str, Any]) -> Any:
    try:
        return LinearValidator(schema, registry=LOCAL_ONLY)
    except Exception as exc:  # reported per message by validate
        return _Uncompilable(exc)


class _Uncompilable:
    """Stands for a validator that could not be built: `validate` reports its failure."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        raise self.failure


def validate(validator: Any, payload: Any, event_type: str) -> None:
    """InvalidMessage listing (up to MAX_REPORTED) violations by JSON pointer."""
    steps = BASE_STEPS + STEPS_PER_BYTE * len(orjson.dumps(payload))
    try:
        with budget(steps):
            found = list(itertools.islice(validator.iter_errors(payload), MAX_REPORTED + 1))
    except TooCostly:
        detail = (
            f"the body could not be checked against the JSON Schema of {event_type}: it took "
            f"more than {steps} steps; the schema multiplies the work"
        )
        raise InvalidMessage(detail, [FieldError("schema", detail, "too-costly")]) from None
    except PatternError as exc:  # additionalProperties over a pattern saved before the check
        raise InvalidMessage(
            f"the schema of {event_type} has a pattern that cannot be used: {exc}",
            [FieldError("schema", short(str(exc)), "unsupported-pattern")],
        ) from None
    except Unresolvable as exc:
        raise InvalidMessage(
            f"the schema of {event_type} has a reference that cannot be resolved: {exc}",
            [FieldError("schema", short(str(exc)), "bad-ref")],
        ) from None
    except RecursionError:  # a $ref cycle saved before they were refused
        detail = (
            f"the schema of {event_type} cannot be applied: its references recurse without "
            "end; the source's schema must be fixed"
        )
        raise InvalidMessage(detail, [FieldError("schema", detail, "ref-cycle")]) from None
    except Exception as exc:  # a validator failure is the schema's problem, never a 500
        detail = f"the schema of {event_type} cannot be applied: {short(repr(exc))}"
        raise InvalidMessage(detail, [FieldError("schema", detail, "schema-failed")]) from None
    if not found:
        return
    errors = [
        FieldError(_pointer(e.absolute_path), short(e.message), str(e.validator))
        for e in sorted(found[:MAX_REPORTED], key=lambda e: _pointer(e.absolute_path))
    ]
    more = " (and more)" if len(found) > MAX_REPORTED else ""
    raise InvalidMessage(
        f"the body does not match the JSON Schema of {event_type}: {len(errors)} "
        f"problem{'s' if len(errors) != 1 else ''}{more}, first at "
        f"'{errors[0].field or '/'}': {errors[0].message}",
        errors,
    )


def _pointer(path: Iterable[Any]) -> str:
    """RFC 6901: each step prefixed with '/', '~' written '~0' and '/' written '~1'."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
