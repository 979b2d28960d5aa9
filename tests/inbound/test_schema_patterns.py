"""Regular expressions in a source's JSON Schemas: matched by RE2 (linear time), never by
Python's backtracking `re`; a pattern RE2 cannot compile is refused when the source is saved,
naming where it is in the schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema._keywords
import pytest

from pimhub.inbound import schema_keywords, validation
from pimhub.inbound.errors import InvalidMessage, InvalidSource
from pimhub.inbound.source_parser import parse_source
from pimhub.inbound.validation import compile_schemas, validate

# Backtracks exponentially in Python's `re` on a run of word characters ending in '!'
# (measured before this change: 26 characters, 3.8 s; about 30, a minute).
CATASTROPHIC = r"^([a-zA-Z0-9]+\s?)*$"
CRAFTED = "a" * 10_000 + "!"
SCHEMA = {
    "type": "object",
    "properties": {"name": {"pattern": CATASTROPHIC}},
    "patternProperties": {CATASTROPHIC: {"type": ["integer", "string"]}},
    "additionalProperties": False,
    "propertyNames": {"maxLength": 20_000},
}


class _NoBacktracking:
    """Stands in for `re` in jsonschema's keyword module: any call there is a failure."""

    @staticmethod
    def search(*_: Any) -> None:
        raise AssertionError("a schema pattern reached Python's re")


def errors_of(schema: dict[str, Any], payload: Any) -> dict[str, str]:
    validator = compile_schemas({"x.y.z": schema})["x.y.z"]
    with pytest.raises(InvalidMessage) as caught:
        validate(validator, payload, "x.y.z")
    return {e.field: e.code for e in caught.value.errors}


def test_patterns_are_matched_by_the_linear_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real = schema_keywords.compile_search

    def spy(pattern: str) -> Callable[[str], bool]:
        compiled.append(pattern)
        return real(pattern)

    monkeypatch.setattr(schema_keywords, "compile_search", spy)
    monkeypatch.setattr(jsonschema._keywords, "re", _NoBacktracking)
    validation.pattern_search.cache_clear()
    pattern, keyed = r"^[a-z]+\d*$", r"^n_[a-z]+$"
    schema = {
        "properties": {"sku": {"pattern": pattern}},
        "patternProperties": {keyed: {"type": "integer"}},
        "additionalProperties": False,
    }
    assert errors_of(schema, {"sku": "A1", "n_a": "x", "other": 1}) == {
        "/sku": "pattern",
        "/n_a": "type",
        "": "additionalProperties",
    }
    validate(compile_schemas({"t": schema})["t"], {"sku": "ab12", "n_b": 3}, "t")
    # Compiled once each, then cached (additionalProperties reads the keys joined by '|').
    assert sorted(compiled) == sorted([pattern, keyed])
    errors_of(schema, {"sku": "a?"})
    assert len(compiled) == 2


def test_a_catastrophic_pattern_on_a_crafted_body_is_answered() -> None:
    found = errors_of(SCHEMA, {"name": CRAFTED, CRAFTED: 1, "x": "y"})
    assert found == {"/name": "pattern", "": "additionalProperties"}
    validate(compile_schemas({"t": SCHEMA})["t"], {"name": "ab cd", "abc": 7}, "t")
    assert errors_of({"propertyNames": {"pattern": CATASTROPHIC}}, {CRAFTED: 1}) == {"": "pattern"}


def test_unevaluated_properties_read_pattern_keys_linearly() -> None:
    schema = {"patternProperties": {CATASTROPHIC: True}, "unevaluatedProperties": False}
    assert errors_of(schema, {CRAFTED: 1}) == {"": "unevaluatedProperties"}


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"properties": {"sku": {"pattern": r"^(a)\1$"}}}, "/properties/sku/pattern"),
        ({"patternProperties": {"^(?=x)": {}}}, "/patternProperties/^(?=x)"),
        ({"prefixItems": [{"pattern": "(?<!a)b"}]}, "/prefixItems/0/pattern"),
        (
            {"$defs": {"d": {"propertyNames": {"pattern": "x{2000}"}}}},
            "/$defs/d/propertyNames/pattern",
        ),
    ],
)
def test_an_unsupported_pattern_is_refused_at_save(schema: dict[str, Any], pointer: str) -> None:
    with pytest.raises(InvalidSource) as caught:
        parse_source({"name": "a", "scheme": "mageos", "schemas": {"magento.order.placed": schema}})
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("schemas.magento.order.placed", "unsupported-pattern")
    assert f"the pattern at {pointer}" in error.message
    assert "not supported" in error.message


def test_data_that_looks_like_a_pattern_is_not_checked() -> None:
    schema = {"const": {"pattern": r"(a)\1"}, "examples": [{"pattern": "(?=x)"}]}
    spec = parse_source({"name": "a", "scheme": "mageos", "schemas": {"magento.a.b": schema}})
    assert spec.schemas["magento.a.b"] == schema
