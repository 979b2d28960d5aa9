"""InboundService.receive on both backends: each scheme accepted and refused, every refusal
audited (but unknown sources), duplicates named, one outbox event per accepted message."""

from __future__ import annotations

import base64
import hmac
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import CatalogError, NulCharacter, PayloadTooLarge, StaleVersion
from pimhub.events.secret_box import SecretBox
from pimhub.inbound.errors import (
    InvalidMessage,
    InvalidSource,
    MessageUnverified,
    SourceDisabled,
    SourceExists,
    SourceNotFound,
)
from pimhub.inbound.messages import MessageFilter, Outcome, Verification
from pimhub.inbound.service import InboundService
from pimhub.storage.inbound import SqlInbox, SqlSourceRepository
from pimhub.storage.tables import inbound_messages, outbox, webhook_endpoints
from tests.conftest import statements_run

JSON = {"content-type": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(bare_hub: Hub, clock: Clock) -> InboundService:
    engine = bare_hub.engine
    return InboundService(
        SqlSourceRepository(engine),
        SqlInbox(engine),
        SecretBox("test-passphrase"),
        bare_hub.access.authenticate,
        clock=clock,
        rotation_overlap=timedelta(hours=1),
        cache_seconds=60,
    )


def signed(secret: str, body: bytes, msg_id: str, at: datetime) -> dict[str, str]:
    stamp = str(int(at.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = base64.b64encode(hmac.digest(key, f"{msg_id}.{stamp}.".encode() + body, "sha256"))
    return {
        **JSON,
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + mac.decode(),
    }


def mageos(secret: str, body: bytes) -> dict[str, str]:
    return {**JSON, "x-magento-signature": hmac.new(secret.encode(), body, "sha256").hexdigest()}


def audited(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(inbound_messages).order_by(inbound_messages.c.id)).all()


def events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def refused(call: Callable[[], Any], error: type[CatalogError]) -> CatalogError:
    with pytest.raises(error) as caught:
        call()
    return caught.value


ORDER = orjson.dumps({"type": "order.placed", "data": {"id": 7, "total": 18446744073709551615}})


def test_standard_webhooks_accept_then_duplicate(service: InboundService, clock: Clock) -> None:
    source, secret = service.add_source(
        {"name": "shop", "scheme": "standard-webhooks", "key": {"path": "data.id"}}
    )
    assert secret is not None and source.has_secret
    engine = service.inbox.engine  # type: ignore[attr-defined]
    headers = signed(secret, ORDER, "msg-1", clock.now)
    first = service.receive("shop", headers, ORDER, "10.0.0.1")
    assert first.outcome is Outcome.ACCEPTED and first.event_id
    [event] = events(engine)
    assert (event.event_id, event.event_type, event.class_name) == (
        first.event_id,
        "order.placed",
        "shop",
    )
    assert (event.business_key, event.order_key, event.version) == ("7", "in:shop:7", 0)
    assert event.payload["data"]["payload"]["data"]["total"] == 2**64 - 1
    assert event.payload["data"]["messageId"] == "msg-1"
    again = service.receive("shop", headers, ORDER, "10.0.0.2")
    assert again.outcome is Outcome.DUPLICATE
    assert (again.event_id, again.duplicate_of) == (first.event_id, first.message)
    assert len(events(engine)) == 1
    rows = audited(engine)
    assert [r.outcome for r in rows] == ["accepted", "duplicate"]
    assert rows[0].body == ORDER.decode() and rows[1].body is None
    assert rows[1].duplicate_of == rows[0].id and rows[1].remote == "10.0.0.2"


def test_standard_webhooks_refusals_are_audited(service: InboundService, clock: Clock) -> None:
    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert secret is not None
    engine = service.inbox.engine  # type: ignore[attr-defined]
    good = signed(secret, ORDER, "m", clock.now)
    cases = [
        {**good, "webhook-signature": "v1,AAAA"},
        {k: v for k, v in good.items() if k != "webhook-signature"},
        signed(secret, ORDER, "m", clock.now - timedelta(seconds=301)),
        signed(secret, ORDER, "m", clock.now + timedelta(seconds=301)),
        signed(
            "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode(), ORDER, "m", clock.now
        ),
    ]
    details = [
        refused(lambda h=h: service.receive("shop", h, ORDER, None), MessageUnverified).detail
        for h in cases
    ]
    assert "matches no secret" in details[0] and "missing" in details[1]
    assert "in the past" in details[2] and "in the future" in details[3]
    assert "matches no secret" in details[4]
    rows = audited(engine)
    assert [(r.outcome, r.verification, r.problem) for r in rows] == [
        ("rejected", "failed", "inbound-unverified")
    ] * 5
    assert [r.reason for r in rows] == details and all(r.body is None for r in rows)
    assert events(engine) == []


def test_rotation_keeps_the_previous_secret_for_the_overlap(
    service: InboundService, clock: Clock
) -> None:
    _, old = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert old is not None
    new = service.rotate_secret("shop")
    assert new != old
    assert service.get_source("shop").previous_secret_until == clock.now + timedelta(hours=1)
    accepted = service.receive("shop", signed(old, ORDER, "a", clock.now), ORDER, None)
    assert accepted.outcome is Outcome.ACCEPTED
    assert service.receive("shop", signed(new, ORDER, "b", clock.now), ORDER, None).event_id
    clock.now += timedelta(hours=1, seconds=1)
    refused(
        lambda: service.receive("shop", signed(old, ORDER, "c", clock.now), ORDER, None),
        MessageUnverified,
    )
    assert service.receive("shop", signed(new, ORDER, "d", clock.now), ORDER, None).event_id


def test_mageos_and_shared_secret(service: InboundService) -> None:
    _, token = service.add_source({"name": "magento", "scheme": "mageos"})
    assert token is not None
    cloud = orjson.dumps(
        {"specversion": "1.0", "id": "ce-1", "type": "sales.order.place", "data": {}}
    )
    receipt = service.receive("magento", mageos(token, cloud), cloud, None)
    assert receipt.outcome is Outcome.ACCEPTED
    [message] = service.messages(MessageFilter(source="magento"))
    assert (message.message_id, message.event_type) == ("ce-1", "magento.sales.order.place")
    refused(
        lambda: service.receive("magento", mageos("x" * 20, cloud), cloud, None), MessageUnverified
    )
    refused(lambda: service.receive("magento", JSON, cloud, None), MessageUnverified)

    _, shared = service.add_source(
        {"name": "erp", "scheme": "shared-secret", "header": "X-Feed-Token"},
        secret="erp-secret-0123456789",
    )
    assert shared == "erp-secret-0123456789"
    body = b'{"type":"erp.stock.changed","sku":"A"}'
    ok = {**JSON, "x-feed-token": shared}
    first = service.receive("erp", ok, body, None)
    # No Idempotency-Key: the body's hash is the id, so the same body is a duplicate.
    assert service.receive("erp", ok, body, None).duplicate_of == first.message
    keyed = service.receive("erp", {**ok, "idempotency-key": "k-1"}, body, None)
    assert keyed.outcome is Outcome.ACCEPTED
    refused(
        lambda: service.receive("erp", {**ok, "x-feed-token": "nope"}, body, None),
        MessageUnverified,
    )


def test_api_key_scheme(service: InboundService, bare_hub: Hub) -> None:
    service.add_source(
        {"name": "erp", "scheme": "api-key", "eventType": {"value": "erp.stock.changed"}}
    )
    body = b'{"sku":"A"}'
    for scopes in (["inbound"], ["inbound:erp"]):
        _key, token = bare_hub.access.create("k", scopes, environment="test")
        assert service.receive(
            "erp", {**JSON, "authorization": f"Bearer {token}"}, body + b" " * len(scopes[0]), None
        )
    _, wrong = bare_hub.access.create("w", ["inbound:other", "read"], environment="test")
    assert (
        "inbound:erp"
        in refused(
            lambda: service.receive("erp", {**JSON, "x-api-key": wrong}, body, None),
            MessageUnverified,
        ).detail
    )
    revoked, token = bare_hub.access.create("r", ["inbound"], environment="test")
    bare_hub.access.revoke(revoked.key_id)
    assert (
        "revoked"
        in refused(
            lambda: service.receive("erp", {**JSON, "x-api-key": token}, body, None),
            MessageUnverified,
        ).detail
    )
    refused(lambda: service.receive("erp", JSON, body, None), MessageUnverified)


def test_order_of_checks_and_audit(service: InboundService, clock: Clock) -> None:
    engine = service.inbox.engine  # type: ignore[attr-defined]
    refused(lambda: service.receive("nobody", JSON, ORDER, None), SourceNotFound)
    refused(lambda: service.receive("Not A Name", JSON, ORDER, None), SourceNotFound)
    assert audited(engine) == []  # unknown sources are not audited
    _, secret = service.add_source(
        {"name": "shop", "scheme": "standard-webhooks", "maxBytes": 100, "enabled": False}
    )
    assert secret is not None
    huge = b'{"a":"' + b"x" * 200 + b'"}'
    disabled = refused(lambda: service.receive("shop", {}, huge, None), SourceDisabled)
    assert disabled.retry_after > 0  # type: ignore[attr-defined]
    service.update_source("shop", {"enabled": True})
    refused(lambda: service.receive("shop", {}, huge, None), PayloadTooLarge)
    refused(lambda: service.receive("shop", {}, ORDER, None), MessageUnverified)
    nul = b'{"type":"order.placed","a":"\\u0000"}'
    refused(
        lambda: service.receive("shop", signed(secret, nul, "n", clock.now), nul, None),
        NulCharacter,
    )
    rows = audited(engine)
    assert [(r.problem, r.verification) for r in rows] == [
        ("source-disabled", "not-checked"),
        ("payload-too-large", "not-checked"),
        ("inbound-unverified", "failed"),
        ("nul-character", "passed"),
    ]
    assert rows[1].size == len(huge)


def test_ids_types_and_schemas(service: InboundService, clock: Clock) -> None:
    schema = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "properties": {"lines": {"type": "array", "items": {"type": "integer"}}},
            }
        },
    }
    _, secret = service.add_source(
        {
            "name": "shop",
            "scheme": "standard-webhooks",
            "eventType": {
                "path": "type",
                "map": {"order.placed": "shop.order.placed"},
                "prefix": "shop.",
            },
            "eventTypes": ["shop.order.*"],
            "key": {"path": "data.id"},
            "schemas": {"shop.order.placed": schema},
        }
    )
    assert secret is not None

    def send(body: Any, msg_id: str = "m") -> Any:
        raw = orjson.dumps(body)
        return service.receive("shop", signed(secret, raw, msg_id, clock.now), raw, None)

    lines = list(range(30))
    bad = refused(
        lambda: send({"type": "order.placed", "data": {"lines": ["x"] * 25 + lines}}),
        InvalidMessage,
    )
    assert len(bad.errors) == 20 and bad.errors[0].field == "/data/lines/0"
    assert "shop.order.placed" in bad.detail
    assert "does not take" in refused(lambda: send({"type": "refund"}), InvalidMessage).detail
    assert "no event type" in refused(lambda: send({"kind": "x"}), InvalidMessage).detail
    assert (
        "key"
        in refused(
            lambda: send({"type": "order.placed", "data": {"id": {"o": 1}}}), InvalidMessage
        ).detail
    )
    assert send({"type": "order.placed", "data": {"id": "A-1", "lines": [1]}}).event_id
    engine = service.inbox.engine  # type: ignore[attr-defined]
    rows = audited(engine)
    assert rows[0].problem == "invalid-message" and rows[0].event_type == "shop.order.placed"
    assert rows[0].message_id == "m" and rows[-1].outcome == "accepted"
    assert [e.event_type for e in events(engine)] == ["shop.order.placed"]


def test_a_warm_request_is_one_write_transaction(service: InboundService, clock: Clock) -> None:
    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert secret is not None
    engine = service.inbox.engine  # type: ignore[attr-defined]
    service.receive("shop", signed(secret, ORDER, "warm", clock.now), ORDER, None)
    inbox = service.inbox
    batches: list[int] = []
    write = inbox._writer_batch  # type: ignore[attr-defined]

    def counted(messages: Any) -> Any:
        batches.append(len(messages))
        return write(messages)

    inbox._group.run_batch = counted  # type: ignore[attr-defined]
    with statements_run(engine) as seen:
        service.receive("shop", signed(secret, ORDER, "hot", clock.now), ORDER, None)
    # No source query (the cache) and no other statement through SQLAlchemy: one
    # transaction of the inbox's writer, on its own connection, holds the two inserts.
    assert seen == [] and batches == [1]
    assert len(events(engine)) == 2 and len(audited(engine)) == 2


def test_committed_hooks_run_for_accepted_messages_only(
    service: InboundService, clock: Clock
) -> None:
    calls: list[int] = []
    service.committed.append(lambda: calls.append(1))
    service.committed.append(lambda: 1 / 0)  # a failing hook does not fail the message
    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert secret is not None
    headers = signed(secret, ORDER, "x", clock.now)
    service.receive("shop", headers, ORDER, None)
    service.receive("shop", headers, ORDER, None)
    assert calls == [1]


def test_source_management(service: InboundService, clock: Clock) -> None:
    feed = {
        "eventTypes": ["erp.stock.changed"],
        "mapping": {"class": "Product", "fields": {"sku": "sku"}},
    }
    stored, secret = service.add_source({"name": "erp", "scheme": "api-key", "apply": feed})
    assert secret is None and not stored.has_secret and stored.version == 1
    refused(lambda: service.add_source({"name": "erp", "scheme": "mageos"}), SourceExists)
    refused(
        lambda: service.add_source({"name": "x", "scheme": "api-key"}, secret="s" * 20),
        InvalidSource,
    )
    refused(
        lambda: service.add_source({"name": "y", "scheme": "mageos", "secret": "short"}),
        InvalidSource,
    )
    refused(lambda: service.rotate_secret("erp"), InvalidSource)
    engine = service.inbox.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        [row] = conn.execute(select(webhook_endpoints)).all()
    assert (row.endpoint_id, row.kind, row.url, row.sources) == (
        "feed-erp",
        "catalog-feed",
        "hub:catalog-feed/erp",
        ["erp"],
    )
    assert SecretBox("test-passphrase").decrypt(row.secret)  # the dispatcher can open it
    updated = service.update_source("erp", {"description": "stock"}, expected_version=1)
    assert updated.version == 2 and updated.spec.description == "stock"
    stale = refused(
        lambda: service.update_source("erp", {"description": "z"}, expected_version=1), StaleVersion
    )
    assert stale.current_version == 2  # type: ignore[attr-defined]
    assert service.update_source("erp", {"description": "no version"}).version == 3
    refused(lambda: service.update_source("erp", {"scheme": "mageos"}), InvalidSource)
    service.update_source("erp", {"apply": None})
    with engine.connect() as conn:
        assert conn.execute(select(webhook_endpoints)).all() == []
    service.update_source("erp", {"apply": feed})
    with engine.connect() as conn:
        assert len(conn.execute(select(webhook_endpoints)).all()) == 1
    service.remove_source("erp")
    refused(lambda: service.get_source("erp"), SourceNotFound)
    refused(lambda: service.remove_source("erp"), SourceNotFound)
    with engine.connect() as conn:
        assert conn.execute(select(webhook_endpoints)).all() == []


def test_the_cache_sees_own_changes_at_once_and_others_after_the_ttl(
    service: InboundService, bare_hub: Hub, clock: Clock
) -> None:
    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert secret is not None
    assert service.max_bytes("shop") == 1_048_576
    service.update_source("shop", {"maxBytes": 5000})
    assert service.max_bytes("shop") == 5000 == service.known_max_bytes("shop")
    # Another process (its own service) changes the source: seen once the entry is old.
    other = InboundService(
        service.sources, service.inbox, service.sealer, bare_hub.access.authenticate, clock=clock
    )
    other.update_source("shop", {"maxBytes": 6000})
    assert service.max_bytes("shop") == 5000
    ticks = [0.0]
    service.cache.monotonic = lambda: ticks[0]
    service.cache.drop("shop")
    assert service.max_bytes("shop") == 6000
    other.update_source("shop", {"maxBytes": 7000})
    ticks[0] = 59.0
    assert service.max_bytes("shop") == 6000
    ticks[0] = 61.0
    assert service.max_bytes("shop") == 7000


def test_prune_keeps_accepted_ids_for_the_dedupe_window(
    service: InboundService, clock: Clock
) -> None:
    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks", "dedupeDays": 3})
    assert secret is not None
    headers = signed(secret, ORDER, "kept", clock.now)
    service.receive("shop", headers, ORDER, None)
    refused(lambda: service.receive("shop", {}, ORDER, None), MessageUnverified)
    clock.now += timedelta(days=2)
    assert service.prune(clock.now - timedelta(days=1)) == 1  # the refusal only
    clock.now += timedelta(days=2)
    assert service.prune(clock.now) == 1  # now past the dedupe window


def test_parallel_identical_messages_make_one_event(service: InboundService, clock: Clock) -> None:
    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert secret is not None
    engine = service.inbox.engine  # type: ignore[attr-defined]
    headers = signed(secret, ORDER, "same", clock.now)
    service.max_bytes("shop")  # warm the cache: the threads start together
    receipts: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def send() -> None:
        start.wait()
        try:
            receipts.append(service.receive("shop", headers, ORDER, None))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.outcome.value for r in receipts) == ["accepted"] + ["duplicate"] * 11
    assert len({r.event_id for r in receipts}) == 1
    assert len(events(engine)) == 1
    assert sum(r.outcome == "accepted" for r in audited(engine)) == 1


def test_audit_queries(service: InboundService, clock: Clock) -> None:
    _, secret = service.add_source(
        {"name": "shop", "scheme": "standard-webhooks", "key": {"path": "data.id"}}
    )
    assert secret is not None
    for i in range(3):
        body = orjson.dumps({"type": "order.placed", "data": {"id": i}})
        service.receive("shop", signed(secret, body, f"m{i}", clock.now), body, None)
    refused(lambda: service.receive("shop", {}, ORDER, None), MessageUnverified)
    everything = service.messages(MessageFilter())
    assert [m.id for m in everything] == sorted((m.id for m in everything), reverse=True)
    assert [m.key for m in service.messages(MessageFilter(key="1"))] == ["1"]
    assert len(service.messages(MessageFilter(outcome=Outcome.REJECTED))) == 1
    page = service.messages(MessageFilter(source="shop"), limit=2)
    assert len(page) == 2
    rest = service.messages(MessageFilter(source="shop"), limit=2, before_id=page[-1].id)
    assert len(rest) == 2
    first = service.message(everything[-1].id)
    assert first.verification is Verification.PASSED
    assert service.message_body(first.id) is not None
    assert service.counts(clock.now - timedelta(minutes=1)) == {
        ("shop", "accepted"): 3,
        ("shop", "rejected"): 1,
    }


def test_receive_async_checks_inline_and_stores_through_the_writer(
    service: InboundService, clock: Clock
) -> None:
    import asyncio

    _, secret = service.add_source({"name": "shop", "scheme": "standard-webhooks"})
    service.add_source({"name": "erp", "scheme": "api-key"})
    assert secret is not None
    assert not service.receives_inline("shop", 10)  # not cached yet: a thread reads it
    service.max_bytes("shop")
    service.max_bytes("erp")
    assert service.receives_inline("shop", 10)
    assert not service.receives_inline("shop", 10**6)  # large: checked on a thread
    assert not service.receives_inline("erp", 10)  # an API key to look up

    async def send() -> list[Any]:
        headers = signed(secret, ORDER, "a", clock.now)
        same = [service.receive_async("shop", headers, ORDER, None) for _ in range(5)]
        return await asyncio.gather(*same, return_exceptions=True)

    receipts = asyncio.run(send())
    assert sorted(r.outcome.value for r in receipts) == ["accepted"] + ["duplicate"] * 4
    engine = service.inbox.engine  # type: ignore[attr-defined]
    assert len(events(engine)) == 1

    async def refuse() -> None:
        await service.receive_async("shop", JSON, ORDER, None)

    refused(lambda: asyncio.run(refuse()), MessageUnverified)
    assert audited(engine)[-1].problem == "inbound-unverified"
