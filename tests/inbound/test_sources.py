"""parse_source: defaults per scheme, every problem at once by path, schemas checked at save."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.inbound.errors import InvalidSource
from pimhub.inbound.source_parser import parse_source
from pimhub.inbound.sources import (
    Extract,
    Scheme,
    SourceSpec,
    feed_endpoint_id,
)


def fields_of(body: Any, base: SourceSpec | None = None) -> dict[str, str]:
    with pytest.raises(InvalidSource) as caught:
        parse_source(body, base)
    return {e.field: e.message for e in caught.value.errors}


def test_minimal_source_takes_the_scheme_defaults() -> None:
    spec = parse_source({"name": "magento", "scheme": "mageos"})
    assert spec.scheme is Scheme.MAGEOS
    assert spec.event_type.extract == Extract(path="type")
    assert spec.event_type.prefix == "magento."
    assert (spec.max_bytes, spec.dedupe_days, spec.tolerance, spec.enabled) == (
        1_048_576,
        7,
        300,
        True,
    )
    assert spec.message_id is None  # the scheme's default, read at receive time


def test_full_configuration_round_trips_through_to_dict() -> None:
    body = {
        "name": "erp",
        "scheme": "shared-secret",
        "description": "ERP stock",
        "header": "X-Feed-Token",
        "maxBytes": 2048,
        "dedupeDays": 30,
        "messageId": {"path": "id"},
        "eventType": {"path": "kind", "prefix": "erp.", "map": {"stock": "erp.stock.changed"}},
        "eventTypes": ["erp.stock.changed", "erp.price.*"],
        "key": {"path": "sku"},
        "schemas": {"erp.stock.changed": {"type": "object", "required": ["sku"]}},
        "apply": {
            "eventTypes": ["erp.stock.changed"],
            "items": "items",
            "mapping": {"class": "Product", "fields": {"sku": "sku"}},
        },
    }
    spec = parse_source(body)
    assert spec.header == "x-feed-token"  # headers arrive lower-cased
    again = parse_source({k: v for k, v in spec.to_dict().items()})
    assert again == spec
    feed = spec.feed_endpoint()
    assert feed is not None and feed.sources == ("erp",)
    assert feed.url == "hub:catalog-feed/erp" and feed_endpoint_id("erp") == "feed-erp"


def test_read_only_keys_of_a_get_are_ignored_in_a_put() -> None:
    spec = parse_source({"name": "a", "scheme": "api-key"})
    stored = {**spec.to_dict(), "url": "/inbound/a", "version": 3, "createdAt": "x"}
    assert parse_source(stored) == spec


def test_every_problem_is_reported_at_once_by_path() -> None:
    errors = fields_of(
        {
            "name": "Bad Name",
            "scheme": "carrier-pigeon",
            "bogus": 1,
        }
    )
    assert set(errors) == {"name", "scheme", "bogus"}


def test_field_problems_name_their_paths() -> None:
    errors = fields_of(
        {
            "name": "shop",
            "scheme": "standard-webhooks",
            "maxBytes": 10**12,
            "tolerance": True,
            "dedupeDays": 0,
            "messageId": {"value": "fixed"},
            "eventType": {"path": "type[", "prefix": "Shop."},
            "eventTypes": ["object.created", "fine.type"],
            "key": {"header": "bad header"},
            "enabled": "yes",
        }
    )
    assert {
        "maxBytes",
        "tolerance",
        "dedupeDays",
        "messageId",
        "eventType.path",
        "eventTypes[0]",
        "key.header",
        "enabled",
    } <= set(errors)
    assert "eventTypes[1]" not in errors


def test_header_only_for_shared_secret() -> None:
    assert "header" in fields_of({"name": "a", "scheme": "mageos", "header": "X-T"})


def test_nul_anywhere_is_refused() -> None:
    errors = fields_of({"name": "a", "scheme": "mageos", "description": "x\x00y"})
    assert list(errors) == ["description"]


def test_base_changes_only_the_given_keys() -> None:
    base = parse_source({"name": "a", "scheme": "mageos", "key": {"path": "data.id"}})
    changed = parse_source({"enabled": False}, base)
    assert changed.enabled is False and changed.key == base.key
    assert "name" in fields_of({"name": "b"}, base)


def test_mapped_types_must_be_inbound_types() -> None:
    errors = fields_of(
        {
            "name": "a",
            "scheme": "mageos",
            "eventType": {"path": "type", "map": {"x": "object.updated", "y": "NotDotted"}},
        }
    )
    assert {"eventType.map.x", "eventType.map.y"} <= set(errors)


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "strnig"}, "invalid-schema"),  # fails the 2020-12 meta-schema
        ({"$ref": "https://example.com/schema.json"}, "remote-reference"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "remote-reference"),
        ({"$ref": "#/$defs/missing"}, "bad-ref"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "invalid"),
        ({"type": "object", "description": "x" * 70_000}, "too-large"),
        ("not an object", "invalid-schema"),
    ],
)
def test_schemas_are_checked_at_save(schema: Any, problem: str) -> None:
    with pytest.raises(InvalidSource) as caught:
        parse_source({"name": "a", "scheme": "mageos", "schemas": {"magento.order.placed": schema}})
    assert problem in {e.code for e in caught.value.errors}, caught.value.errors


def test_local_references_are_fine() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"sku": {"type": "string"}},
        "properties": {"sku": {"$ref": "#/$defs/sku"}},
    }
    spec = parse_source({"name": "a", "scheme": "mageos", "schemas": {"magento.x.y": schema}})
    assert spec.schemas["magento.x.y"]["properties"]["sku"] == {"$ref": "#/$defs/sku"}


def test_apply_is_checked_with_the_mapping_language() -> None:
    errors = fields_of(
        {
            "name": "erp",
            "scheme": "api-key",
            "apply": {"eventTypes": ["erp.stock.changed"], "items": "[", "mapping": {"fields": 1}},
        }
    )
    assert "apply.items" in errors
    assert any(f.startswith("apply.mapping") for f in errors)
