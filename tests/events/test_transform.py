"""Endpoint settings for inbound events and transforms, without a database: parsing `sources`,
`transform` and inbound event types and patterns, who wants which event, and what applying a
transform gives or fails with."""

from __future__ import annotations

from typing import Any

import jmespath
import orjson
import pytest

from pimhub.catalog.events import EventType
from pimhub.events.bounded_search import ResultTooLarge, bounded_search, json_size
from pimhub.events.endpoints import (
    MAX_SOURCES,
    EndpointSpec,
    PayloadMode,
    parse_spec,
    shaped_body,
    type_matches,
)
from pimhub.events.errors import InvalidEndpoint
from pimhub.events.transform import (
    MAX_TRANSFORM,
    TransformFailed,
    apply_transform,
    compiled,
    transform_problem,
)

URL = "https://hooks.example.com/in"


def refused(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The field errors of parsing `body` (with a url), by field: (code, message)."""
    with pytest.raises(InvalidEndpoint) as caught:
        parse_spec({"url": URL, **body})
    return {e.field: (e.code, e.message) for e in caught.value.errors}


def test_sources_and_transform_are_parsed_and_shown() -> None:
    spec = parse_spec(
        {
            "url": URL,
            "eventTypes": ["magento.order.placed", "erp.*", "object.created"],
            "sources": ["magento", "erp-2", "magento"],
            "transform": "{order: data.key}",
        }
    )
    assert spec.sources == ("magento", "erp-2")  # duplicates dropped, order kept
    assert spec.transform == "{order: data.key}"
    shown = spec.to_dict()
    assert shown["sources"] == ["magento", "erp-2"] and shown["transform"] == "{order: data.key}"
    assert shown["eventTypes"] == ["magento.order.placed", "erp.*", "object.created"]
    # PATCH semantics: unnamed settings stay; null and "" remove the transform.
    assert parse_spec({"description": "x"}, spec).transform == "{order: data.key}"
    assert parse_spec({"transform": None}, spec).transform is None
    assert parse_spec({"transform": ""}, spec).transform is None
    assert parse_spec({"sources": []}, spec).sources == ()
    assert parse_spec({"url": URL}).to_dict()["sources"] == []


@pytest.mark.parametrize(
    "sources, field",
    [
        (["Magento"], "sources[0]"),
        (["ok", ""], "sources[1]"),
        (["a" * 31], "sources[0]"),
        (["1erp"], "sources[0]"),
        (["erp\x00"], "sources[0]"),
        ([7], "sources[0]"),
        ("magento", "sources"),
        (["s"] * (MAX_SOURCES + 1), "sources"),
    ],
)
def test_bad_sources_are_refused_by_item(sources: Any, field: str) -> None:
    assert field in refused({"sources": sources})


@pytest.mark.parametrize(
    "name",
    [
        "object.created",
        "webhook.endpoint_disabled",
        "magento.order.placed",
        "erp.stock_level.changed",
        "magento.*",
        "magento.order.*",
        "erp-2.*",
    ],
)
def test_event_types_take_catalog_inbound_types_and_patterns(name: str) -> None:
    assert parse_spec({"url": URL, "eventTypes": [name]}).event_types == (name,)


@pytest.mark.parametrize(
    "name, says",
    [
        ("object.craeted", "is not one of"),  # a typo in the hub's own family
        ("object.moved", "is not one of"),
        ("object.*", "is not one of"),  # a pattern over the hub's own types
        ("webhook.*", "is not one of"),
        ("magento", "dotted lower-case"),
        ("Magento.Order", "dotted lower-case"),
        ("magento.order placed", "dotted lower-case"),
        ("magento." + "x" * 40, "longer than 40"),
        ("*", "dotted lower-case"),
        (".*", "not a pattern"),
        ("Magento.*", "not a pattern"),
        ("magento..*", "not a pattern"),
        ("magento.*.placed", "dotted lower-case"),
        ("m" * 39 + ".*", "not a pattern"),
    ],
)
def test_event_types_refuse_typos_and_bad_patterns(name: str, says: str) -> None:
    code, message = refused({"eventTypes": ["object.created", name]})["eventTypes[1]"]
    assert code == "option" and says in message


@pytest.mark.parametrize(
    "expression, says",
    [
        ("data.[", "incomplete"),
        ("a b", "unexpected 'b'"),
        ("`{", "Unclosed ` delimiter at character 1"),
        ("lenght(data)", "lenght(), which is not a JMESPath function"),
        ("length(data, type)", "it takes 1"),
        ("{a: merge()}", "at least 1"),
        ("   ", "must not be empty"),
        ("a" * (MAX_TRANSFORM + 1), f"longer than {MAX_TRANSFORM}"),
        ("data\x00", "NUL"),
        ("(" * 999 + "a" + ")" * 999, "nested too deeply"),  # the parser gives up
        ("a" + "|a" * 500, "nested too deeply"),  # parses, but would fail on every event
    ],
)
def test_a_bad_transform_is_refused_at_save_naming_why(expression: str, says: str) -> None:
    code, message = refused({"transform": expression})["transform"]
    assert says in message and "\n" not in message
    assert code == "syntax"


@pytest.mark.parametrize("value", [12, ["data"], {"a": 1}, True])
def test_a_transform_must_be_text_or_null(value: Any) -> None:
    assert refused({"transform": value})["transform"][0] == "type"


def test_expressions_are_compiled_once() -> None:
    expression = "{id: data.key, n: length(data.payload.items)}"
    assert transform_problem(expression) is None
    assert compiled(expression) is compiled(expression)
    # Real expressions are nowhere near the nesting limit.
    assert transform_problem("a" + ".a" * 60 + " | [0]" + " | b" * 30) is None


def test_applying_a_transform_gives_json_or_says_why_not() -> None:
    event = {"type": "magento.order.placed", "data": {"key": "1001", "payload": {"total": "x"}}}
    assert orjson.loads(apply_transform("{id: data.key, t: type}", event)) == {
        "id": "1001",
        "t": "magento.order.placed",
    }
    with pytest.raises(TransformFailed, match="invalid type for value: x"):
        apply_transform("abs(data.payload.total)", event)
    with pytest.raises(TransformFailed, match="gave null"):
        apply_transform("data.nothing", event)
    assert apply_transform("data.payload.total", event) == b'"x"'


def test_thin_shaping_comes_before_the_transform() -> None:
    stored = orjson.dumps(
        {"type": "object.updated", "data": {"uuid": "u-1", "object": {"fields": {"sku": "A"}}}}
    )
    assert orjson.loads(shaped_body(stored, PayloadMode.FULL, "keys(data)")) == ["uuid", "object"]
    assert orjson.loads(shaped_body(stored, PayloadMode.THIN, "keys(data)")) == ["uuid"]
    with pytest.raises(TransformFailed):
        shaped_body(stored, PayloadMode.THIN, "data.object")  # thin left no object
    # Without a transform, a full body is the stored bytes themselves.
    assert shaped_body(stored, PayloadMode.FULL) is stored


def spec(**given: Any) -> EndpointSpec:
    return EndpointSpec(url=URL, **given)


WANTS = [
    # (spec, event type, class or source, wanted)
    (spec(), "magento.order.placed", "magento", False),  # "all events" is all catalog events
    (spec(), "object.created", "Product", True),
    (spec(event_types=("object.created",)), "magento.order.placed", "magento", False),
    (spec(event_types=("magento.order.placed",)), "magento.order.placed", "magento", True),
    (spec(event_types=("magento.order.placed",)), "magento.order.paid", "magento", False),
    (spec(event_types=("magento.*",)), "magento.order.placed", "magento", True),
    (spec(event_types=("magento.order.*",)), "magento.order.placed", "magento", True),
    (spec(event_types=("magento.order.*",)), "magento.customer.created", "magento", False),
    (spec(event_types=("magento.*",)), "magentox.order.placed", "magento", False),
    (
        spec(event_types=("magento.*",), sources=("shop-b",)),
        "magento.order.placed",
        "magento",
        False,
    ),
    (
        spec(event_types=("magento.*",), sources=("shop-b", "magento")),
        "magento.order.placed",
        "magento",
        True,
    ),
    # Classes and changed fields narrow catalog events only; sources inbound ones only.
    (
        spec(event_types=("erp.*",), classes=("Product",), changed_fields=("price",)),
        "erp.stock.changed",
        "erp",
        True,
    ),
    (spec(sources=("magento",)), "object.created", "Product", True),
    (spec(event_types=("magento.*",)), "object.created", "Product", False),
    (spec(event_types=("magento.*",)), EventType.WEBHOOK_ENDPOINT_DISABLED.value, "", False),
]


@pytest.mark.parametrize("endpoint, event_type, source, wanted", WANTS)
def test_who_wants_inbound_and_catalog_events(
    endpoint: EndpointSpec, event_type: str, source: str, wanted: bool
) -> None:
    assert endpoint.wants(event_type, source, ()) is wanted


def test_type_patterns_match_whole_words() -> None:
    assert type_matches("magento.*", "magento.order.placed")
    assert not type_matches("magento.*", "magento")
    assert not type_matches("magento.*", "magentos.order")
    assert type_matches("erp.stock.changed", "erp.stock.changed")
    assert not type_matches("erp.stock", "erp.stock.changed")


def doubled(base: str, times: int, step: str = "[@,@]") -> str:
    return "|".join([base] + [step] * times)


EVENT = {"type": "magento.order.placed", "data": {"key": "1001", "note": "v" * 1000}}


@pytest.mark.parametrize(
    "expression",
    [
        doubled("data", 22),  # 136 characters; 4 GB of JSON when written out
        doubled("data", 40, "[@,@][]"),  # the flatten allocates every copy
        doubled("data", 40) + "|to_string(@)",
        f"join(',', {doubled('[data.note, data.note]', 30, '[@,@][]')})",
        f"({doubled('@', 40)}) == ({doubled('@', 40)})",  # compares every copy
        f"contains([`1`, ({doubled('@', 40)})], ({doubled('@', 40)}))",
        doubled("data", 40) + "|" + "[*]" * 40 + "|length(@)",
    ],
)
def test_a_multiplying_transform_fails_before_it_is_built(expression: str) -> None:
    assert transform_problem(expression) is None
    raw = orjson.dumps(EVENT)
    with pytest.raises(TransformFailed, match=r"^the result is larger than 1048576 bytes$"):
        shaped_body(raw, PayloadMode.FULL, expression)


def test_the_limit_grows_with_the_event() -> None:
    event = {"data": {"items": [{"sku": str(i), "name": "x" * 50} for i in range(5000)]}}
    raw = orjson.dumps(event)
    assert len(raw) > 300_000
    # Four times the event is allowed: over 1 MiB here, and the work of a projection.
    sent = shaped_body(raw, PayloadMode.FULL, "[data.items[*].{s: sku, n: name}, data, data]")
    assert len(sent) > 1_048_576
    with pytest.raises(TransformFailed, match=f"larger than {4 * len(raw)} bytes"):
        shaped_body(raw, PayloadMode.FULL, "[data, data, data, data, data]")


def test_metered_evaluation_answers_as_jmespath_does() -> None:
    document = {"a": [1, 2, [3, [4]]], "b": {"x": True}, "c": [1, 2, [3, [4]]], "s": ["p", "q"]}
    for expression in [
        "a == c",
        "a != c",
        "`1` == `true`",
        "[`1`] == [`true`]",
        "b == {x: `true`}",
        "contains(a, `2`)",
        "contains(a, [`3`, [`4`]])",
        "contains(s, 'q')",
        "contains('pq', 'q')",
        "a[]",
        "a[1:]",
        "join('-', s)",
        "to_string(b)",
        "sort(s)",
        "a[?@ == `2`]",
        "length(a)",
    ]:
        parsed = jmespath.compile(expression)
        assert bounded_search(parsed, document) == parsed.search(document), expression


def test_bounded_search_counts_shared_values_each_time() -> None:
    parsed = jmespath.compile(doubled("@", 10))  # 1024 references to one string
    assert json_size(parsed.search("x" * 98), 10**9) == 1024 * 100 + (2 + 2) * 1023
    assert len(bounded_search(parsed, "x" * 98, 200_000)) == 2
    with pytest.raises(ResultTooLarge, match="larger than 100000 bytes"):
        bounded_search(parsed, "x" * 98, 100_000)
