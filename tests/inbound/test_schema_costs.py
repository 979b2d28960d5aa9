"""Keywords jsonschema runs in quadratic time on a hostile array or object (uniqueItems over
objects, a long enum under items, unevaluatedItems/Properties over many members) answer in
linear time, with JSON Schema's equality; schemas that recurse without consuming input or nest
too deep are refused when the source is saved, and a validator that fails anyway refuses the
message (422) instead of a 500."""

from __future__ import annotations

from typing import Any

import jsonschema._keywords
import jsonschema._utils
import pytest

from pimhub.inbound import schema_keywords, validation
from pimhub.inbound.errors import InvalidMessage, InvalidSource
from pimhub.inbound.schema_keywords import canonical
from pimhub.inbound.source_parser import parse_source
from pimhub.inbound.validation import MAX_DEPTH, compile_schemas, validate

N = 3_000


def problems(schema: dict[str, Any], payload: Any) -> dict[str, str]:
    validator = compile_schemas({"x.y": schema})["x.y"]
    try:
        validate(validator, payload, "x.y")
    except InvalidMessage as exc:
        return {e.field: e.message for e in exc.errors}
    return {}


@pytest.fixture
def equal_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts jsonschema's pairwise equality calls (its quadratic fallbacks use it)."""
    calls = [0]
    real = jsonschema._utils.equal

    def counting(one: Any, two: Any) -> bool:
        calls[0] += 1
        return real(one, two)

    monkeypatch.setattr(jsonschema._utils, "equal", counting)
    monkeypatch.setattr(jsonschema._keywords, "equal", counting)
    return calls


def test_unique_items_over_objects_is_linear(equal_calls: list[int]) -> None:
    schema = {"properties": {"x": {"uniqueItems": True}}}
    items = [{"id": i, "tags": [i, {"a": i}]} for i in range(N)]
    assert problems(schema, {"x": items}) == {}
    duplicate = [*items, {"tags": [5, {"a": 5.0}], "id": 5}]
    assert problems(schema, {"x": duplicate}) == {
        "/x": f"has non-unique elements: items 5 and {N} are equal"
    }
    assert equal_calls[0] == 0


def test_canonical_forms_follow_json_schema_equality() -> None:
    assert canonical({"a": 1, "b": [1.0]}) == canonical({"b": [1], "a": 1.0})
    distinct = [True, 1, False, 0, None, "1", [1], {"1": 1}, ["b", True], [], {}, 1.5]
    assert len({canonical(v) for v in distinct}) == len(distinct)
    schema = {"uniqueItems": True}
    assert problems(schema, [1, True, 0, False, [0], [False], {"a": 0}, {"a": False}]) == {}
    assert problems(schema, [[1, {"a": 2}], [1.0, {"a": 2.0}]])[""].endswith(
        "items 0 and 1 are equal"
    )


def test_a_long_enum_under_items_is_a_set_lookup(equal_calls: list[int]) -> None:
    schema = {"items": {"enum": [*range(2_000), {"k": [1, 2]}, True]}}
    assert problems(schema, [1999, 1.0, {"k": [1.0, 2]}, True] * 500) == {}
    found = problems(schema, [1, 2_000, False, {"k": [2, 1]}])
    assert set(found) == {"/1", "/2", "/3"}
    assert found["/1"].startswith("2000 is not one of [0, 1, 2")
    assert equal_calls[0] == 0


class _CountingList(list[Any]):
    lookups = 0

    def __contains__(self, item: object) -> bool:
        _CountingList.lookups += 1
        return super().__contains__(item)


def test_unevaluated_members_are_looked_up_in_a_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("find_evaluated_item_indexes_by_schema", "find_evaluated_property_keys_by_schema"):
        real = getattr(jsonschema._utils, name)

        def listing(*args: Any, _real: Any = real) -> list[Any]:
            return _CountingList(_real(*args))

        for module in (jsonschema._keywords, schema_keywords):
            monkeypatch.setattr(module, name, listing)
    _CountingList.lookups = 0
    items = {"contains": {"type": "integer"}, "unevaluatedItems": False}
    assert problems(items, list(range(N))) == {}
    assert "Unevaluated items" in problems(items, [*range(N), "x"])[""]
    keys = {"patternProperties": {"^k": {}}, "unevaluatedProperties": False}
    assert problems(keys, {f"k{i}": i for i in range(N)}) == {}
    assert problems(keys, {"k1": 1, "other": 2})[""] == (
        "Unevaluated properties are not allowed ('other' was unexpected)"
    )
    typed = {"properties": {"a": {}}, "unevaluatedProperties": {"type": "string"}}
    assert problems(typed, {"a": 1, "b": "x"}) == {}
    assert "'c' was unevaluated and invalid" in problems(typed, {"a": 1, "b": "x", "c": 3})[""]
    assert _CountingList.lookups == 0


# -- schemas refused at save, and what a message meets if one was saved before ---------------

CYCLE = {"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"}


def refusal(config: dict[str, Any]) -> InvalidSource:
    with pytest.raises(InvalidSource) as caught:
        parse_source({"name": "s", "scheme": "shared-secret", **config})
    return caught.value


def test_a_reference_cycle_that_consumes_nothing_is_refused_at_save() -> None:
    error = refusal({"schemas": {"a.b": CYCLE}}).errors[0]
    assert (error.field, error.code) == ("schemas.a.b", "ref-cycle")
    assert error.message.startswith("#/$defs/n -> #/$defs/n refers to itself")
    pair = {
        "$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}},
        "properties": {"x": {"$ref": "#/$defs/a"}},
    }
    error = refusal({"schemas": {"a.b": pair}}).errors[0]
    assert error.message.startswith("#/$defs/a -> #/$defs/b -> #/$defs/a")
    assert refusal({"schemas": {"a.b": {"$ref": "#", "type": "object"}}}).errors[0].code == (
        "ref-cycle"
    )
    # Recursion that reads deeper into the message each time is fine.
    tree = {"type": "object", "properties": {"children": {"items": {"$ref": "#"}}}}
    spec = parse_source({"name": "s", "scheme": "shared-secret", "schemas": {"a.b": tree}})
    assert spec.schemas["a.b"] == tree


def test_a_validator_failure_refuses_the_message_instead_of_raising() -> None:
    validator = compile_schemas({"a.b": CYCLE})["a.b"]
    with pytest.raises(InvalidMessage) as caught:
        validate(validator, {"x": 1}, "a.b")
    assert caught.value.errors[0].code == "ref-cycle"
    assert "references recurse without end" in caught.value.detail


def nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"allOf": [schema]}
    return schema


def test_configurations_nested_too_deep_are_refused_naming_the_field() -> None:
    error = refusal({"schemas": {"a.b": nested(400)}}).errors[0]
    assert (error.field, error.code) == ("schemas.a.b", "too-deep")
    assert error.message.startswith(f"is nested deeper than {MAX_DEPTH} levels (at /schemas/a.b/")
    mapping: Any = "sku"
    for _ in range(100):
        mapping = {"x": mapping}
    deep_feed = {"eventTypes": ["a.b"], "mapping": {"class": "P", "fields": mapping}}
    assert refusal({"apply": deep_feed}).errors[0].field == "apply.mapping"
    renames: Any = "a.b"
    for _ in range(2_000):  # deeper than Python's recursion limit
        renames = [renames]
    deep_type = {"path": "type", "map": {"x": renames}}
    assert refusal({"eventType": deep_type}).errors[0].field == "eventType.map"
    # 20 levels of allOf (41 JSON levels with the source around it) are fine.
    parse_source({"name": "s", "scheme": "shared-secret", "schemas": {"a.b": nested(20)}})


def multiplying(levels: int) -> dict[str, Any]:
    """Each of `levels` definitions applies the next one twice: 2^levels applications."""
    defs: dict[str, Any] = {
        f"a{i}": {"allOf": [{"$ref": f"#/$defs/a{i + 1}"}, {"$ref": f"#/$defs/a{i + 1}"}]}
        for i in range(levels)
    }
    defs[f"a{levels}"] = {"type": "object"}
    return {"$defs": defs, "$ref": "#/$defs/a0"}


def test_a_schema_that_multiplies_work_is_refused_at_save() -> None:
    error = refusal({"schemas": {"a.b": multiplying(40)}}).errors[0]
    assert (error.field, error.code) == ("schemas.a.b", "too-costly")
    assert f"more than {validation.TRIAL_STEPS} steps" in error.message
    parse_source({"name": "s", "scheme": "shared-secret", "schemas": {"a.b": multiplying(8)}})


def test_validation_past_its_budget_refuses_the_message() -> None:
    validator = compile_schemas({"a.b": multiplying(40)})["a.b"]
    with pytest.raises(InvalidMessage) as caught:
        validate(validator, {"x": "y" * 1_000}, "a.b")
    assert caught.value.errors[0].code == "too-costly"
    steps = validation.BASE_STEPS + validation.STEPS_PER_BYTE * len('{"x":""}') + 4_000
    assert f"more than {steps} steps" in caught.value.detail
    # An ordinary schema over a large body stays well within it, and the budget is reset.
    ordinary = {"items": {"type": "integer", "minimum": 0}}
    validate(compile_schemas({"a.b": ordinary})["a.b"], [0] * 100_000, "a.b")
    assert schema_keywords._BUDGET.left > 10**18


class _NotLoopedOver(dict[str, Any]):
    def items(self) -> Any:
        raise AssertionError("the schema's properties were looped over")


def test_long_keyword_values_cost_their_length() -> None:
    names = [f"p{i}" for i in range(5_000)]
    either = {"anyOf": [{"required": names}, {}]}  # every name looked up, then valid
    required = compile_schemas({"a.b": {"items": either}})["a.b"]
    with pytest.raises(InvalidMessage) as caught:
        validate(required, [{}] * 1_000, "a.b")
    assert caught.value.errors[0].code == "too-costly"
    patterns = {f"^p{i}$": {} for i in range(500)}
    keyed = compile_schemas({"a.b": {"patternProperties": patterns}})["a.b"]
    with pytest.raises(InvalidMessage) as caught:
        validate(keyed, {f"k{i}": 0 for i in range(5_000)}, "a.b")
    assert caught.value.errors[0].code == "too-costly"
    # `properties` loops over the shorter side: the message's few keys here.
    many = _NotLoopedOver({name: {"type": "integer"} for name in names})
    validator = compile_schemas({"a.b": {"items": {"properties": many}}})["a.b"]
    validate(validator, [{}, {"p7": 1}] * 2_000, "a.b")
    with pytest.raises(InvalidMessage) as caught:
        validate(validator, [{"p7": "x"}], "a.b")
    assert [e.field for e in caught.value.errors] == ["/0/p7"]
