"""parse_source: a source's configuration checked field by field, every problem at once;
spec_from_stored: a stored configuration read back without the costly save-time checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from pimhub.catalog.errors import FieldError
from pimhub.catalog.validation import find_nul, nul_message
from pimhub.events.endpoints import inbound_type_problem
from pimhub.inbound.errors import InvalidSource
from pimhub.inbound.extract import expression_problem
from pimhub.inbound.sources import (
    MAX_BODY_LIMIT,
    NAME_PATTERN,
    SCHEME_DEFAULTS,
    Extract,
    FeedSpec,
    Scheme,
    SourceSpec,
    TypeRule,
)
from pimhub.inbound.validation import MAX_SCHEMAS_BYTES, check_depth, schema_problems

_NAME = re.compile(NAME_PATTERN)
# RFC 9110 token characters; stored lower-case (the route hands headers over lower-cased).
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_PREFIX = re.compile(r"[a-z0-9_.-]{0,39}")
KEYS = {
    "name", "scheme", "description", "enabled", "header", "tolerance", "maxBytes",
    "dedupeDays", "messageId", "eventType", "eventTypes", "key", "schemas", "apply",
}  # fmt: skip
# What a GET answers besides the configuration: sent back in a PUT, they are ignored.
READ_ONLY = {"url", "version", "createdAt", "updatedAt", "previousSecretValidUntil"}
MAX_DESCRIPTION = 500
MAX_MAP = 200
MAX_TYPES = 100
RANGES = {"tolerance": (1, 86_400), "maxBytes": (1, MAX_BODY_LIMIT), "dedupeDays": (1, 365)}


def parse_source(body: Any, base: SourceSpec | None = None) -> SourceSpec:
    """A SourceSpec from a JSON-like mapping; with `base`, only the given keys change. Every
    problem is reported at once, by path (InvalidSource)."""
    return _parse(body, base, stored=False)


def spec_from_stored(config: Mapping[str, Any]) -> SourceSpec:
    """The SourceSpec of a stored configuration. The schemas' save-time checks (depth, size,
    meta-schema, RE2 patterns, references, trial validations for cycles and cost) ran when it
    was saved and are not run again: a source saved under older rules still loads and its
    messages are checked (what its schemas cannot do is refused per message, 422), and the
    cache's refresh of every source does not repeat trial validations."""
    return _parse(config, None, stored=True)


def _parse(body: Any, base: SourceSpec | None, *, stored: bool) -> SourceSpec:
    if not isinstance(body, Mapping):
        raise InvalidSource(
            "a source is a JSON object", [FieldError("", "expected an object", "invalid-type")]
        )
    if not stored:  # a stored configuration came from JSON: nothing recursive chokes on it
        check_depth(body)  # before anything recursive reads it
    nul = find_nul(body)
    if nul is not None:
        message = nul_message(nul)
        raise InvalidSource(message, [FieldError(nul or "body", message, "nul-character")])
    errors: list[FieldError] = [
        FieldError(str(k), "unknown attribute", "unknown")
        for k in sorted(set(body) - KEYS - READ_ONLY, key=str)
    ]
    spec = _spec(body, base, errors, stored=stored)
    if errors or spec is None:
        raise InvalidSource(_summary(errors), errors)
    return spec


def _summary(errors: list[FieldError]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid inbound source: {first.field or 'body'}: {first.message}{more}"


def _spec(
    body: Mapping[str, Any], base: SourceSpec | None, errors: list[FieldError], *, stored: bool
) -> SourceSpec | None:
    name = _name(body, base, errors)
    scheme = _scheme(body, base, errors)
    if name is None or scheme is None:
        return None
    fallback = base or SourceSpec(name=name, scheme=scheme, event_type=SCHEME_DEFAULTS[scheme][1])
    changes: dict[str, Any] = {"name": name, "scheme": scheme}
    if base is not None and scheme is not base.scheme:
        # Another scheme reads ids and types elsewhere: its defaults, unless given.
        changes |= {"message_id": None, "event_type": SCHEME_DEFAULTS[scheme][1], "header": None}
    if "description" in body:
        changes["description"] = _text(body["description"], "description", MAX_DESCRIPTION, errors)
    if "enabled" in body:
        changes["enabled"] = _bool(body["enabled"], "enabled", errors)
    if "header" in body:
        changes["header"] = _header_name(body["header"], "header", errors, optional=True)
    for field, attr in (
        ("tolerance", "tolerance"),
        ("maxBytes", "max_bytes"),
        ("dedupeDays", "dedupe_days"),
    ):
        if field in body:
            changes[attr] = _int(body[field], field, errors)
    if "messageId" in body:
        changes["message_id"] = _extract(body["messageId"], "messageId", errors, id_rules=True)
    if "eventType" in body:
        changes["event_type"] = _type_rule(body["eventType"], errors)
    if "eventTypes" in body:
        changes["event_types"] = _types(body["eventTypes"], "eventTypes", errors, patterns=True)
    if "key" in body:
        changes["key"] = _extract(body["key"], "key", errors)
    if "schemas" in body:
        changes["schemas"] = _schemas(body["schemas"], errors, checked=not stored)
    if "apply" in body:
        changes["apply"] = _feed(body["apply"], errors)
    if errors:
        return None
    spec = replace(fallback, **changes)
    if spec.header is not None and spec.scheme is not Scheme.SHARED_SECRET:
        errors.append(FieldError("header", "only shared-secret sources read a secret header"))
    if spec.event_type is None:  # pragma: no cover - _type_rule reports it
        return None
    return spec


def _name(body: Mapping[str, Any], base: SourceSpec | None, errors: list[FieldError]) -> str | None:
    name = body.get("name", base.name if base else None)
    if base is not None and name != base.name:
        errors.append(FieldError("name", "a source's name cannot change", "immutable"))
        return None
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        errors.append(
            FieldError(
                "name",
                "must be 1-30 of a-z, 0-9, _ and -, starting with a letter",
                "required" if name is None else "invalid",
            )
        )
        return None
    return name


def _scheme(
    body: Mapping[str, Any], base: SourceSpec | None, errors: list[FieldError]
) -> Scheme | None:
    raw = body.get("scheme", base.scheme.value if base else None)
    try:
        return Scheme(raw)
    except ValueError:
        names = ", ".join(s.value for s in Scheme)
        errors.append(
            FieldError(
                "scheme", f"must be one of {names}", "required" if raw is None else "invalid"
            )
        )
        return None


def _text(value: Any, field: str, limit: int, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or len(value) > limit:
        errors.append(FieldError(field, f"must be a text of at most {limit} characters"))
        return ""
    return value


def _bool(value: Any, field: str, errors: list[FieldError]) -> bool:
    if not isinstance(value, bool):
        errors.append(FieldError(field, "must be true or false", "invalid-type"))
        return True
    return value


def _int(value: Any, field: str, errors: list[FieldError]) -> int:
    low, high = RANGES[field]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.append(
            FieldError(field, f"must be a whole number from {low} to {high}", "out-of-range")
        )
        return low
    return value


def _header_name(
    value: Any, field: str, errors: list[FieldError], *, optional: bool = False
) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _HEADER.fullmatch(value):
        errors.append(FieldError(field, "must be an HTTP header name (letters, digits, '-')"))
        return None
    return value.lower()


def _extract(
    value: Any, field: str, errors: list[FieldError], *, id_rules: bool = False
) -> Extract | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(
            FieldError(field, "must be {header: ...}, {path: ...} or {value: ...}", "invalid-type")
        )
        return None
    allowed = {"header", "path", "hash"} if id_rules else {"header", "path", "value"}
    given = [k for k in ("header", "path", "value", "hash") if k in value]
    unknown = sorted(set(value) - {"header", "path", "value", "hash", "prefix", "map"}, key=str)
    errors.extend(FieldError(f"{field}.{k}", "unknown attribute", "unknown") for k in unknown)
    if len(given) != 1 or given[0] not in allowed:
        errors.append(FieldError(field, "must name exactly one of " + ", ".join(sorted(allowed))))
        return None
    kind = given[0]
    raw = value[kind]
    where = f"{field}.{kind}"
    if kind == "header":
        header = _header_name(raw, where, errors)
        return Extract(header=header) if header else None
    if kind == "hash":
        if raw is not True:
            errors.append(FieldError(where, "must be true"))
            return None
        return Extract(hash=True)
    if not isinstance(raw, str) or not raw:
        errors.append(FieldError(where, "must be a non-empty text", "invalid-type"))
        return None
    if kind == "path":
        problem = expression_problem(raw)
        if problem is not None:
            errors.append(FieldError(where, problem, "invalid-expression"))
            return None
        return Extract(path=raw)
    if len(raw) > 255:
        errors.append(FieldError(where, "is longer than 255 characters"))
        return None
    return Extract(value=raw)


def _type_rule(value: Any, errors: list[FieldError]) -> TypeRule | None:
    extract = _extract(value, "eventType", errors)
    if extract is None:
        if value is None:
            errors.append(FieldError("eventType", "say where the event type is", "required"))
        return None
    assert isinstance(value, Mapping)
    prefix = value.get("prefix", "") or ""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        errors.append(
            FieldError(
                "eventType.prefix",
                "must be lower-case letters, digits, '.', '_' or '-' (at most 39)",
            )
        )
        prefix = ""
    renames = value.get("map") or {}
    if not isinstance(renames, Mapping) or len(renames) > MAX_MAP:
        errors.append(
            FieldError("eventType.map", f"must be an object of at most {MAX_MAP} renames")
        )
        renames = {}
    for given, target in renames.items():
        where = f"eventType.map.{given}"
        if not isinstance(target, str):
            errors.append(FieldError(where, "must be a text (the event type)"))
        elif (problem := inbound_type_problem(target)) is not None:
            errors.append(FieldError(where, f"the type '{target}' {problem}"))
        elif len(str(given)) > 255:
            errors.append(FieldError(where, "the name renamed is longer than 255 characters"))
    if extract.value is not None:
        fixed = renames.get(extract.value, prefix + extract.value)
        if isinstance(fixed, str) and (problem := inbound_type_problem(fixed)) is not None:
            errors.append(FieldError("eventType.value", f"the type '{fixed}' {problem}"))
    return TypeRule(extract, prefix, dict(renames))


def _types(value: Any, field: str, errors: list[FieldError], *, patterns: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_TYPES:
        errors.append(
            FieldError(field, f"must be a list of at most {MAX_TYPES} event types", "invalid-type")
        )
        return ()
    for i, name in enumerate(value):
        checked = (
            name[:-2] + ".x" if patterns and isinstance(name, str) and name.endswith(".*") else name
        )
        problem = inbound_type_problem(checked) if isinstance(checked, str) else "must be a text"
        if problem is not None:
            errors.append(FieldError(f"{field}[{i}]", f"'{name}' {problem}"))
    return tuple(dict.fromkeys(v for v in value if isinstance(v, str)))


def _schemas(value: Any, errors: list[FieldError], *, checked: bool) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        errors.append(
            FieldError("schemas", "must be an object: event type -> JSON Schema", "invalid-type")
        )
        return {}
    if checked and len(orjson.dumps(value, default=str)) > MAX_SCHEMAS_BYTES:
        errors.append(
            FieldError(
                "schemas", f"are larger than {MAX_SCHEMAS_BYTES} bytes together", "too-large"
            )
        )
        return {}
    for name, schema in value.items():
        problem = inbound_type_problem(name) if isinstance(name, str) else "must be a text"
        if problem is not None:
            errors.append(FieldError(f"schemas.{name}", f"'{name}' {problem}"))
            continue
        if checked:
            errors.extend(schema_problems(schema, f"schemas.{name}"))
    return {k: dict(v) for k, v in value.items() if isinstance(v, Mapping)}


def _feed(value: Any, errors: list[FieldError]) -> FeedSpec | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(
            FieldError("apply", "must be {eventTypes, mapping, items?, create?}", "invalid-type")
        )
        return None
    unknown = sorted(set(value) - {"eventTypes", "mapping", "items", "create"}, key=str)
    errors.extend(FieldError(f"apply.{k}", "unknown attribute", "unknown") for k in unknown)
    types = _types(value.get("eventTypes"), "apply.eventTypes", errors, patterns=True)
    if not types and "eventTypes" in value:
        errors.append(FieldError("apply.eventTypes", "name at least one event type", "required"))
    items = value.get("items")
    if items is not None:
        problem = expression_problem(items) if isinstance(items, str) else "must be a JMESPath text"
        if problem is not None:
            errors.append(FieldError("apply.items", problem, "invalid-expression"))
    create = _bool(value.get("create", False), "apply.create", errors)
    mapping = value.get("mapping")
    if not isinstance(mapping, Mapping):
        errors.append(
            FieldError("apply.mapping", "must be an import mapping {class, fields}", "required")
        )
        return None
    # Imported here: the mapping language pulls in the transfer package.
    from pimhub.transfer.mapping import InvalidMapping, parse_mapping

    try:
        parse_mapping(mapping)
    except InvalidMapping as exc:
        errors.extend(
            FieldError(f"apply.mapping.{e.field}".rstrip("."), e.message, e.code)
            for e in exc.errors
        )
    return FeedSpec(types, dict(mapping), items, create)
