"""The linear JSON Schema keywords of inbound schemas and their step budget.

LinearValidator is Draft 2020-12 with `pattern` and `patternProperties` (and jsonschema's own
pattern look-ups) on RE2, the keywords jsonschema runs in quadratic time on a hostile array or
object (uniqueItems, enum, properties, unevaluatedItems/Properties) in linear time, and every
keyword application metered against a per-thread budget (`budget`, TooCostly)."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sized
from typing import Any

from jsonschema import Draft202012Validator, _utils, validators
from jsonschema._utils import (
    extras_msg,
    find_evaluated_item_indexes_by_schema,
    find_evaluated_property_keys_by_schema,
)
from jsonschema.exceptions import ValidationError

from pimhub.catalog.linear_regex import PatternError, compile_search

MAX_ERROR_TEXT = 300


def short(text: str) -> str:
    """`text`, cut to MAX_ERROR_TEXT characters (a schema's or a message's value can be long)."""
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "..."


@functools.lru_cache(maxsize=1024)
def pattern_search(pattern: str) -> Callable[[str], bool]:
    """RE2's `search` for `pattern`, compiled once (a source's patterns run on every message);
    PatternError when RE2 cannot compile it."""
    return compile_search(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = pattern_search(pattern)(instance)
    except PatternError as exc:  # a schema saved before patterns were checked
        yield ValidationError(f"the pattern {short(repr(pattern))} cannot be used: {exc}")
        return
    if not found:
        yield ValidationError(f"{short(repr(instance))} does not match {short(repr(pattern))}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        try:
            search = pattern_search(pattern)
        except PatternError as exc:
            yield ValidationError(f"the pattern {short(repr(pattern))} cannot be used: {exc}")
            continue
        for key, value in instance.items():
            if search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


class _LinearRe:
    """Stands in for `re` inside jsonschema's helpers, whose only regular expressions are
    `patternProperties` keys (read again by `additionalProperties` and
    `unevaluatedProperties`): those matches go through RE2 too. jsonschema is used by
    nothing else in the hub."""

    @staticmethod
    def search(pattern: str, text: str) -> bool:
        return pattern_search(pattern)(text)


_utils.re = _LinearRe


def canonical(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal for values JSON Schema calls equal: key
    order does not matter, 1 equals 1.0, true is not 1. Tagged tuples keep an array, an
    object and a boolean apart from each other and from texts."""
    if value is True or value is False:
        return ("b", value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return ("o", tuple(sorted((k, canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("a", tuple(canonical(v) for v in value))
    return value


def _unique_items(
    validator: Any, unique: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # jsonschema compares unhashable items pair by pair: 3,000 objects took 20 s.
    if not unique or not validator.is_type(instance, "array"):
        return
    first: dict[Any, int] = {}
    for index, item in enumerate(instance):
        earlier = first.setdefault(canonical(item), index)
        if earlier != index:
            yield ValidationError(f"has non-unique elements: items {earlier} and {index} are equal")
            return


# Each enum's values as a set of canonical forms, keyed by the list's id (the list is kept
# with it, so the id cannot be reused while cached): jsonschema compares an instance with
# every value, and a long enum under `items` multiplies by the array's length.
_ENUM_SETS: dict[int, tuple[Any, frozenset[Any]]] = {}


def _enum_set(values: Any) -> frozenset[Any]:
    cached = _ENUM_SETS.get(id(values))
    if cached is None or cached[0] is not values:
        if len(_ENUM_SETS) >= 4096:
            _ENUM_SETS.clear()
        cached = _ENUM_SETS[id(values)] = (values, frozenset(canonical(v) for v in values))
    return cached[1]


def _enum(validator: Any, values: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if canonical(instance) not in _enum_set(values):
        yield ValidationError(f"{short(repr(instance))} is not one of {short(repr(values))}")


def _unevaluated_items(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # As jsonschema's, with the evaluated indexes in a set: its list made each lookup O(n).
    if not validator.is_type(instance, "array"):
        return
    evaluated = set(find_evaluated_item_indexes_by_schema(validator, instance, schema))
    extra = [item for index, item in enumerate(instance) if index not in evaluated]
    if extra:
        error = "Unevaluated items are not allowed (%s %s unexpected)"
        yield ValidationError(error % extras_msg(extra))


def _unevaluated_properties(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # As jsonschema's, with the evaluated keys in a set: its list made each lookup O(n).
    if not validator.is_type(instance, "object"):
        return
    _charge(len(schema.get("patternProperties") or ()) * len(instance))  # searched per key
    evaluated = set(find_evaluated_property_keys_by_schema(validator, instance, schema))
    extra = [
        key
        for key in instance
        if key not in evaluated
        and next(validator.descend(instance[key], unevaluated, path=key, schema_path=key), None)
        is not None
    ]
    if not extra:
        return
    if unevaluated is False:
        error = "Unevaluated properties are not allowed (%s %s unexpected)"
        yield ValidationError(error % extras_msg(sorted(extra, key=str)))
    else:
        error = (
            "Unevaluated properties are not valid under the given schema "
            "(%s %s unevaluated and invalid)"
        )
        yield ValidationError(error % extras_msg(extra))


class _Budget(threading.local):
    """Keyword applications left to the validation under way on this thread."""

    left = 1 << 62


_BUDGET = _Budget()


class TooCostly(Exception):
    """A validation applied more keywords than its budget."""


def _metered(keyword: Callable[..., Any], name: str) -> Callable[..., Any]:
    # A schema can multiply work without being large: 30 $defs, each applying the next
    # twice through allOf, is 2^30 applications for any message. Keywords that loop over
    # their own value cost as much as it is long (a `required` of 5,000 names under
    # `items` is 5,000 look-ups per item; `patternProperties` one search per pattern and key).
    sized = name in _SIZED

    def apply(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        cost = 1
        if sized and isinstance(value, Sized):
            cost += len(value) * (len(instance) if name in _PER_KEY and _is_object(instance) else 1)
        _charge(cost)
        return keyword(validator, value, instance, schema)

    return apply


_SIZED = frozenset({"required", "dependentRequired", "patternProperties"})
_PER_KEY = frozenset({"patternProperties"})


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping)


def _properties(
    validator: Any, properties: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # jsonschema loops over the schema's properties: 5,000 of them under `items` cost 5,000
    # look-ups per (maybe empty) item. The shorter side is looped over here.
    if not validator.is_type(instance, "object"):
        return
    if len(properties) <= len(instance):
        pairs = [(k, s) for k, s in properties.items() if k in instance]
    else:
        pairs = [(k, properties[k]) for k in instance if k in properties]
    for key, subschema in pairs:
        yield from validator.descend(instance[key], subschema, path=key, schema_path=key)


def _charge(steps: int) -> None:
    _BUDGET.left -= steps
    if _BUDGET.left < 0:
        raise TooCostly


@contextlib.contextmanager
def budget(steps: int) -> Iterator[None]:
    _BUDGET.left = steps
    try:
        yield
    finally:
        _BUDGET.left = 1 << 62


# Draft 2020-12 with both regular-expression keywords on RE2 (`propertyNames` goes through
# `pattern`), the keywords jsonschema runs in quadratic time on a hostile array or object in
# linear time, and every keyword metered. No format checker: `format` stays an annotation,
# so `format: regex` compiles nothing.
LinearValidator = validators.extend(
    Draft202012Validator,
    {
        name: _metered(keyword, name)
        for name, keyword in {
            **Draft202012Validator.VALIDATORS,
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "properties": _properties,
            "uniqueItems": _unique_items,
            "enum": _enum,
            "unevaluatedItems": _unevaluated_items,
            "unevaluatedProperties": _unevaluated_properties,
        }.items()
    },
)
