"""Broker settings as parsed (no database, no broker) and the routing keys and headers of what
is published."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from pimhub.brokers.errors import InvalidBroker
from pimhub.brokers.routing import Subject, subject_of
from pimhub.brokers.spec import Credentials, parse_config, parse_credentials
from pimhub.events.deliveries import Delivery

BASE = {"name": "mq", "url": "amqp://rabbit.example.com"}


def fields(body: object) -> dict[str, str]:
    with pytest.raises(InvalidBroker) as caught:
        parse_config(body)
    return {e.field: e.message for e in caught.value.errors}


def test_defaults() -> None:
    config = parse_config(BASE)
    assert (config.exchange, config.exchange_type) == ("pimhub.events", "topic")
    assert config.declare and config.mandatory and config.routing_key_prefix is None
    assert (config.host, config.port, config.vhost, config.tls) == (
        "rabbit.example.com",
        5672,
        "/",
        False,
    )
    spec = config.subscription
    assert spec.url == BASE["url"] and spec.enabled and spec.event_types == ()
    assert parse_config(config.to_dict()) == config  # what is stored reads back the same


def test_addresses() -> None:
    tls = parse_config({**BASE, "url": "amqps://mq.example.com:5673/%2Fshop"})
    assert (tls.port, tls.vhost, tls.tls) == (5673, "/shop", True)
    assert parse_config({**BASE, "url": "amqps://mq.example.com/"}).port == 5671
    assert parse_config({**BASE, "url": "amqp://mq.example.com/eu"}).vhost == "eu"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "9mq"}, "name", "starting with a letter"),
        ({"name": None}, "name", "is required"),
        ({"name": "new"}, "name", "reserved"),
        ({"url": None}, "url", "is required"),
        ({"url": "amqp://u@h.example.com"}, "url", "credentials"),
        ({"url": "amqp://h.example.com:0"}, "url", "port"),
        ({"url": "amqp://h.example.com/%00"}, "url", "control characters"),
        ({"url": "amqp://h.example.com#x"}, "url", "fragment"),
        ({"exchange": "bad name"}, "exchange", "A-Z"),
        ({"exchange": "amq.topic"}, "exchange", "declare to false"),
        ({"exchangeType": "x-delayed"}, "exchangeType", "topic, direct, fanout, headers"),
        ({"mandatory": 1}, "mandatory", "true or false"),
        ({"routingKeyPrefix": "a.#"}, "routingKeyPrefix", "dot-separated words"),
        ({"routingKeyPrefix": "a" * 101}, "routingKeyPrefix", "at most 100"),
        ({"enabled": "yes"}, "enabled", "true or false"),
        ({"url": 5}, "url", "non-empty string"),
        ({"urls": "x"}, "urls", "unknown field"),
    ],
)
def test_each_refusal_names_its_field(changes: dict[str, object], field: str, words: str) -> None:
    found = fields({**BASE, **changes})
    assert field in found and words in found[field], found


def test_an_existing_broker_exchange_may_be_used_without_declaring_it() -> None:
    config = parse_config({**BASE, "exchange": "amq.topic", "declare": False})
    assert config.exchange == "amq.topic" and not config.declare


def test_not_an_object() -> None:
    with pytest.raises(InvalidBroker):
        parse_config(["mq"])


def test_credentials() -> None:
    found = parse_credentials({"username": "hub", "password": "p w ü"})
    assert Credentials.from_json(found.to_json()) == found
    for bad in (
        {"username": "hub", "password": "\ud800"},
        {"username": "hub", "password": "a\x00b"},
        {"username": 5, "password": "p"},
        {"username": "hub", "password": "p" * 1025},
    ):
        with pytest.raises(InvalidBroker):
            parse_credentials(bad)


@pytest.mark.parametrize(
    ("event_type", "class_name", "key"),
    [
        ("object.updated", "Product", "catalog.Product.updated"),
        ("object.created", "Product", "catalog.Product.created"),
        ("object.deleted", "Brand", "catalog.Brand.deleted"),
        ("object.published", "Product", "catalog.Product.published"),
        ("asset.created", "Asset", "catalog.Asset.created"),
        ("asset.deleted", "", "catalog.Asset.deleted"),
        ("class.changed", "Product", "catalog.Product.changed"),
        ("workflow.transitioned", "Product", "catalog.Product.transitioned"),
        ("magento.order.placed", "magento", "magento.order.placed"),
        ("erp.stock.changed", "erp", "erp.stock.changed"),
        ("webhook.endpoint_disabled", "", "hub.webhook.endpoint_disabled"),
    ],
)
def test_routing_keys(event_type: str, class_name: str, key: str) -> None:
    subject = Subject(event_type, class_name)
    assert subject.routing_key() == key
    assert subject.routing_key("eu.shop") == f"eu.shop.{key}"


def test_headers_name_the_class_or_the_source() -> None:
    assert Subject("object.updated", "Product").headers() == {
        "pimhub-event-type": "object.updated",
        "pimhub-class": "Product",
    }
    assert Subject("magento.order.placed", "magento").headers() == {
        "pimhub-event-type": "magento.order.placed",
        "pimhub-source": "magento",
    }


def delivery(body: object, event_type: str = "", class_name: str = "") -> Delivery:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    now = datetime.now(UTC)
    return Delivery(1, 1, "evt_1", raw, 0, now, event_type=event_type, class_name=class_name)


def test_the_subject_comes_from_the_claim_else_from_the_body() -> None:
    claimed = delivery({"transformed": True}, "object.updated", "Product")
    assert subject_of(claimed) == Subject("object.updated", "Product")
    catalog = {"type": "object.created", "data": {"objectType": "Brand"}}
    assert subject_of(delivery(catalog)).routing_key() == "catalog.Brand.created"
    inbound = {"type": "magento.order.placed", "data": {"source": "magento"}}
    assert subject_of(delivery(inbound)).headers()["pimhub-source"] == "magento"
    for unreadable in (b"not json", b"[1]", {"type": 5}, {"type": "object.created", "data": 1}):
        assert subject_of(delivery(unreadable)).routing_key().count(".") >= 1
