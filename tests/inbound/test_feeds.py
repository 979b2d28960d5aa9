"""Inbound feeds applied to the catalog (inbound.feeds), on both backends: an ERP stock feed
updates products by SKU, authored by the source, versioned and with outbox events; refused
items are listed with their reasons and replayed after a fix; a retried delivery refuses
nothing twice; parallel feeds of the same SKUs lose no update; the deadline is kept."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from pimhub.bootstrap import Hub, build_dispatcher, dispatcher_config
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import CatalogError, WriteConflict
from pimhub.events.deliveries import AttemptResult, Delivery, DeliveryFilter, DeliveryStatus
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.ports import HttpReply
from pimhub.inbound import feeds as feeds_module
from pimhub.inbound.errors import InvalidSource, RefusalNotFound, SourceNotFound
from pimhub.inbound.feeds import FeedDestination, FeedService
from pimhub.inbound.ports import Refusal
from pimhub.inbound.sources import (
    Extract,
    FeedSpec,
    Scheme,
    SourceSpec,
    StoredSource,
    TypeRule,
    feed_endpoint_id,
)
from pimhub.storage.inbound_refusals import SqlRefusalStore
from pimhub.storage.tables import outbox
from pimhub.transfer.mapping import InvalidMapping

STOCK = "erp.stock.changed"
MAPPING: dict[str, Any] = {
    "class": "Product",
    "fields": {"sku": "sku", "stock": {"column": "qty", "number": True}},
}
_ids = count(1)


def erp(
    mapping: dict[str, Any] | None = None, *, items: str | None = "items", create: bool = False
) -> SourceSpec:
    return SourceSpec(
        name="erp",
        scheme=Scheme.SHARED_SECRET,
        event_type=TypeRule(Extract(value=STOCK)),
        key=Extract(path="warehouse"),
        apply=FeedSpec((STOCK,), mapping or MAPPING, items=items, create=create),
    )


class MemorySources:
    """The part of a source repository that feeds read: the stored source by name."""

    def __init__(self) -> None:
        self.stored: dict[str, StoredSource] = {}

    def put(self, spec: SourceSpec) -> None:
        old = self.stored.get(spec.name)
        now = utc_now()
        version = old.version + 1 if old else 1
        self.stored[spec.name] = StoredSource(spec, version, now, now, has_secret=True)

    def get(self, name: str) -> StoredSource | None:
        return self.stored.get(name)


class FlakyRefusals(SqlRefusalStore):
    """Fails the next `fail` records as a database that went away would."""

    fail = 0

    def record(self, refused: Sequence[Refusal]) -> None:
        if self.fail:
            self.fail -= 1
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        super().record(refused)


@pytest.fixture
def sources() -> MemorySources:
    found = MemorySources()
    found.put(erp())
    return found


@pytest.fixture
def service(hub: Hub, sources: MemorySources) -> FeedService:
    return FeedService(sources, FlakyRefusals(hub.engine), hub.catalog, clock=utc_now)  # type: ignore[arg-type]


def product(hub: Hub, sku: str, stock: int | None = 5) -> None:
    values: dict[str, Any] = {"sku": sku, "name": {"en": sku}}
    if stock is not None:
        values["stock"] = stock
    hub.catalog.create("Product", values, author="test")


def endpoint(source: str = "erp") -> WebhookEndpoint:
    spec = erp().feed_endpoint()
    assert spec is not None
    now = utc_now()
    return WebhookEndpoint(1, feed_endpoint_id(source), spec, now, now, kind="catalog-feed")


def delivery(payload: Any, *, event_type: str = STOCK, event_id: str | None = None) -> Delivery:
    body = {
        "type": event_type,
        "timestamp": "2026-12-05T00:00:00Z",
        "data": {"source": "erp", "messageId": "m-1", "key": "main", "payload": payload},
    }
    n = next(_ids)
    return Delivery(
        id=n,
        endpoint=1,
        event_id=event_id or f"evt_{n}",
        body=orjson.dumps(body),
        attempts=0,
        lease_until=utc_now() + timedelta(seconds=60),
        event_type=event_type,
        class_name="erp",
    )


def deliver(
    destination: FeedDestination, *deliveries: Delivery, deadline: datetime | None = None
) -> list[AttemptResult]:
    due = deadline or utc_now() + timedelta(seconds=59)
    return asyncio.run(destination.deliver(list(deliveries), due))


def destination(service: FeedService) -> FeedDestination:
    built = service.destination(endpoint(), "")
    assert isinstance(built, FeedDestination)
    return built


def stock(hub: Hub, sku: str) -> Any:
    return hub.catalog.get_object("Product", sku, include_drafts=True).values.get("stock")


def versions(hub: Hub, sku: str) -> list[tuple[int, str]]:
    found = hub.catalog.list_versions("Product", sku, include_drafts=True)
    return sorted((v.version, v.author) for v in found)


def updated_events(hub: Hub, sku: str) -> list[tuple[int, list[str]]]:
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.version, outbox.c.changed_fields)
            .where(outbox.c.business_key == sku, outbox.c.event_type == "object.updated")
            .order_by(outbox.c.id)
        )
        return [(r.version, list(r.changed_fields)) for r in rows]


THREE = {
    "warehouse": "main",
    "items": [
        {"sku": "MH01", "qty": 42},
        {"sku": "MH02", "qty": "lots"},
        {"sku": "NEW-1", "qty": 3},
    ],
}


def test_a_feed_updates_known_skus_and_lists_the_refused_items(
    hub: Hub, service: FeedService
) -> None:
    product(hub, "MH01")
    product(hub, "MH02")
    [result] = deliver(destination(service), delivery(THREE, event_id="evt_three"))
    assert result.ok, result
    assert result.response_excerpt == "applied 1 (1 changed), refused 2"
    assert stock(hub, "MH01") == 42
    assert stock(hub, "MH02") == 5
    assert versions(hub, "MH01") == [(1, "test"), (2, "inbound:erp")]
    assert versions(hub, "MH02") == [(1, "test")]
    assert updated_events(hub, "MH01") == [(2, ["stock"])]
    refused = service.refused("erp")
    assert [(r.event_id, r.item_index, r.key) for r in refused] == [
        ("evt_three", 1, "MH02"),
        ("evt_three", 2, "NEW-1"),
    ]
    bad_value, unknown = refused
    assert [(e.field, e.code) for e in bad_value.errors] == [("qty", "transform")]
    assert "'lots' is not a number" in bad_value.errors[0].message
    assert bad_value.item == {"sku": "MH02", "qty": "lots"}
    assert [(e.field, e.code) for e in unknown.errors] == [("sku", "not-found")]
    assert unknown.errors[0].message == "no Product with sku 'NEW-1' to update"


def test_replay_applies_what_the_catalog_and_the_mapping_now_accept(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    product(hub, "MH01")
    product(hub, "MH02")
    deliver(destination(service), delivery(THREE))
    # The catalog fixed: the SKU exists now. The bad value is still refused, with its reason.
    product(hub, "NEW-1", stock=None)
    assert service.replay("erp") == (1, 1, 0)
    assert stock(hub, "NEW-1") == 3
    assert versions(hub, "NEW-1") == [(1, "test"), (2, "inbound:erp")]
    [still] = service.refused("erp")
    assert still.key == "MH02"
    assert [r.resolved_at is not None for r in service.refused("erp", open_only=False)] == [
        False,
        True,
    ]
    # The mapping fixed: the source's current mapping is used.
    lots = {"column": "qty", "map": {"lots": "100"}, "number": True}
    sources.put(erp({"class": "Product", "fields": {"sku": "sku", "stock": lots}}))
    assert service.replay("erp", [still.id]) == (1, 0, 0)
    assert stock(hub, "MH02") == 100
    assert service.refused("erp") == []
    assert service.replay("erp") == (0, 0, 0)
    assert service.replay("erp", [still.id]) == (0, 0, 0)  # resolved already: left alone


def test_replay_skips_items_the_source_wrote_since_as_superseded(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    """Refused at T1 (MH01's stock 'lots'), then a later message of the source sets MH01's
    stock to 7: after the mapping is fixed, replaying T1's item would bring back a stale
    value. It is resolved as superseded instead; an item whose object the source has not
    written since (MH02: only another author did) is applied."""
    product(hub, "MH01")
    product(hub, "MH02")
    target = destination(service)
    bad = {
        "warehouse": "main",
        "items": [{"sku": "MH01", "qty": "lots"}, {"sku": "MH02", "qty": "lots"}],
    }
    deliver(target, delivery(bad))
    [later] = deliver(target, delivery({"warehouse": "main", "items": [{"sku": "MH01", "qty": 7}]}))
    assert later.response_excerpt == "applied 1 (1 changed), refused 0"
    hub.catalog.patch("Product", "MH02", {"stock": 8}, author="someone")
    lots = {"column": "qty", "map": {"lots": "100"}, "number": True}
    sources.put(erp({"class": "Product", "fields": {"sku": "sku", "stock": lots}}))
    assert service.replay("erp") == (1, 0, 1)
    assert stock(hub, "MH01") == 7  # the newer value stays
    assert stock(hub, "MH02") == 100
    assert service.refused("erp") == []
    first, second = service.refused("erp", open_only=False)
    assert first.key == "MH01" and first.resolved_at is not None
    assert [e.code for e in first.errors][-1] == "superseded"
    assert "superseded: erp wrote this object" in first.errors[-1].message
    assert [e.code for e in second.errors] != [] and "superseded" not in [
        e.code for e in second.errors
    ]
    # Still the newest: a refusal replayed by id with no later write of its object applies.
    deliver(target, delivery({"warehouse": "main", "items": [{"sku": "MH01", "qty": "x"}]}))
    [fresh] = service.refused("erp")
    sources.put(
        erp({"class": "Product", "fields": {"sku": "sku", "stock": {**lots, "map": {"x": "9"}}}})
    )
    assert service.replay("erp", [fresh.id]) == (1, 0, 0)
    assert stock(hub, "MH01") == 9


def test_replay_refuses_unknown_ids_and_sources(hub: Hub, service: FeedService) -> None:
    product(hub, "MH01")
    deliver(destination(service), delivery(THREE))
    [first, _] = service.refused("erp")
    with pytest.raises(RefusalNotFound):
        service.replay("erp", [first.id, 10**9])
    with pytest.raises(RefusalNotFound):
        service.replay("erp", [2**70])
    with pytest.raises(SourceNotFound):
        service.replay("nope")
    assert len(service.refused("erp")) == 2  # nothing replayed by the refused calls


def test_a_retried_delivery_refuses_nothing_twice_and_writes_nothing_twice(
    hub: Hub, service: FeedService
) -> None:
    product(hub, "MH01")
    product(hub, "MH02")
    target = destination(service)
    same = delivery(THREE)
    assert isinstance(service.refusals, FlakyRefusals)
    # The catalog write committed, then the database went away before the refusals were kept.
    service.refusals.fail = 1
    [failed] = deliver(target, same)
    assert not failed.ok and failed.receiver_fault
    assert failed.error is not None and "server closed the connection" in failed.error
    assert service.refused("erp") == []
    [again] = deliver(target, same)
    assert again.ok
    assert again.response_excerpt == "applied 1 (0 changed), refused 2"
    [third] = deliver(target, same)  # a lease that ran out: delivered once more
    assert third.ok
    assert len(service.refused("erp", open_only=False)) == 2
    assert versions(hub, "MH01") == [(1, "test"), (2, "inbound:erp")]
    assert updated_events(hub, "MH01") == [(2, ["stock"])]


def test_a_delivery_applied_again_after_a_fix_resolves_what_applies_now(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    product(hub, "MH01")
    product(hub, "MH02")
    target = destination(service)
    same = delivery(THREE)
    deliver(target, same)
    product(hub, "NEW-1", stock=None)
    [again] = deliver(target, same)  # an operator replays the delivery after the fix
    assert again.response_excerpt == "applied 2 (1 changed), refused 1"
    assert [r.key for r in service.refused("erp")] == ["MH02"]
    assert [r.resolved_at is None for r in service.refused("erp", open_only=False)] == [
        True,
        False,
    ]
    # Its items no longer found (the source's items expression changed): the message is
    # refused as a whole, and that one refusal is what is listed.
    sources.put(erp(items="lines"))
    deliver(destination(service), same)
    assert [(r.item_index, r.event_id) for r in service.refused("erp")] == [(-1, same.event_id)]


def test_a_database_failure_in_the_write_fails_the_delivery(
    hub: Hub, service: FeedService, monkeypatch: pytest.MonkeyPatch
) -> None:
    product(hub, "MH01")

    def away(*_: Any, **__: Any) -> Any:
        raise OperationalError("BEGIN", {}, Exception("could not connect to server"))

    monkeypatch.setattr(hub.catalog, "batch_writer", away)
    [result] = deliver(destination(service), delivery(THREE))
    assert not result.ok and result.receiver_fault
    assert result.error is not None and "could not connect" in result.error
    assert service.refused("erp") == []
    monkeypatch.undo()
    [result] = deliver(destination(service), delivery(THREE))
    assert result.ok and stock(hub, "MH01") == 42


def test_a_lost_race_is_run_again_within_the_attempt(
    hub: Hub, service: FeedService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock or serialization failure (WriteConflict) is retried in place, as the
    catalog's own writes are: the delivery succeeds at its first attempt."""
    product(hub, "MH01")
    real = hub.catalog.batch_writer
    lost = [WriteConflict("deadlock detected")]

    def racing(*args: Any, **kwargs: Any) -> Any:
        if lost:
            raise lost.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(hub.catalog, "batch_writer", racing)
    [result] = deliver(destination(service), delivery(THREE))
    assert result.ok and lost == []
    assert versions(hub, "MH01") == [(1, "test"), (2, "inbound:erp")]


def test_no_items_found_refuses_the_message_and_replay_looks_again(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    product(hub, "MH01")
    payload = {"warehouse": "main", "lines": [{"sku": "MH01", "qty": 7}, {"sku": "NO", "qty": 1}]}
    [result] = deliver(destination(service), delivery(payload))
    assert result.ok
    assert result.response_excerpt is not None
    assert "refused the message" in result.response_excerpt
    [whole] = service.refused("erp")
    assert whole.item_index == -1 and whole.item == payload
    assert whole.errors[0].field == "apply.items"
    assert "'items' found nothing" in whole.errors[0].message
    assert service.replay("erp") == (0, 1, 0)
    sources.put(erp(items="lines"))
    # Found now: the message's refusal resolved, its unknown SKU refused on its own (once).
    assert service.replay("erp") == (1, 1, 0)
    assert stock(hub, "MH01") == 7
    assert [(r.item_index, r.key, r.message) for r in service.refused("erp")] == [
        (1, "NO", whole.message)
    ]
    assert service.replay("erp") == (0, 1, 0)


def test_item_shapes(hub: Hub, service: FeedService, sources: MemorySources) -> None:
    """No expression: the payload is the item; an object found: one item; items that are
    no objects are refused one by one; one SKU twice in a message: the later one wins."""
    product(hub, "MH01")
    sources.put(erp(items=None))
    target = destination(service)
    [one] = deliver(target, delivery({"sku": "MH01", "qty": 1}))
    assert one.response_excerpt == "applied 1 (1 changed), refused 0"
    sources.put(erp(items="item"))
    deliver(target, delivery({"item": {"sku": "MH01", "qty": 2}}))
    assert stock(hub, "MH01") == 2
    sources.put(erp())
    twice = [{"sku": "MH01", "qty": 8}, 7, {"sku": "MH01", "qty": 9}, ["MH01"], None]
    [result] = deliver(target, delivery({"items": twice}, event_id="evt_shapes"))
    assert result.response_excerpt == "applied 2 (2 changed), refused 3"
    assert stock(hub, "MH01") == 9
    assert versions(hub, "MH01")[-2:] == [(4, "inbound:erp"), (5, "inbound:erp")]
    refused = service.refused("erp")
    assert [r.item_index for r in refused] == [1, 3, 4]
    assert [r.errors[0].message for r in refused] == [
        "an item is a JSON object of columns, not a number",
        "an item is a JSON object of columns, not a list",
        "an item is a JSON object of columns, not a null",
    ]
    # A nested value is passed as it is: the number field refuses an object.
    deliver(target, delivery({"items": [{"sku": "MH01", "qty": {"free": 5}}]}))
    nested = service.refused("erp")[-1]
    assert nested.key == "MH01" and nested.errors[0].field == "qty"


def test_create_true_creates_unknown_keys(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    mapping = {
        "class": "Product",
        "fields": {"sku": "sku", "name.en": "title", "stock": {"column": "qty", "number": True}},
    }
    sources.put(erp(mapping, create=True))
    items = [{"sku": "NEW-2", "title": "New", "qty": 4}, {"sku": "NEW-3", "qty": 1}]
    [result] = deliver(destination(service), delivery({"items": items}))
    assert result.response_excerpt == "applied 1 (1 changed), refused 1"
    assert versions(hub, "NEW-2") == [(1, "inbound:erp")]
    [missing_name] = service.refused("erp")
    assert missing_name.key == "NEW-3"
    assert [e.code for e in missing_name.errors] == ["required"]


def test_other_events_and_unusable_deliveries(hub: Hub, service: FeedService) -> None:
    target = destination(service)
    [other] = deliver(target, delivery(THREE, event_type="erp.price.changed"))
    assert other.ok and other.response_excerpt is not None
    assert "does not apply erp.price.changed" in other.response_excerpt
    broken = Delivery(1, 1, "evt_x", b"{not json", 0, utc_now() + timedelta(minutes=1))
    [not_json] = deliver(target, broken)
    assert not not_json.ok and not not_json.receiver_fault
    catalog_event = delivery(THREE)
    catalog_event = Delivery(
        catalog_event.id,
        1,
        "evt_y",
        b'{"type": "object.updated", "data": {}}',
        0,
        catalog_event.lease_until,
    )
    [not_inbound] = deliver(target, catalog_event)
    assert not_inbound.error is not None and "not an inbound event" in not_inbound.error
    problem = Delivery(9, 1, "evt_z", b"{}", 0, utc_now() + timedelta(minutes=1), problem="x")
    [transform] = deliver(target, problem)
    assert transform.error == "x" and not transform.receiver_fault
    assert service.refused("erp") == []


def test_the_destination_is_refused_for_an_unusable_source(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    sources.put(erp({"class": "Product", "fields": {"stock": {"column": "qty", "bogus": 1}}}))
    with pytest.raises(InvalidMapping) as bad:
        service.destination(endpoint(), "")
    assert [e.field for e in bad.value.errors] == ["fields.stock.bogus"]
    asset = {"column": "img", "asset": {"base": "https://example.com/"}}
    sources.put(erp({"class": "Product", "fields": {"sku": "sku", "image": asset}}))
    with pytest.raises(CatalogError, match="assets"):
        service.destination(endpoint(), "")
    sources.put(
        SourceSpec(
            name="erp", scheme=Scheme.SHARED_SECRET, event_type=TypeRule(Extract(value=STOCK))
        )
    )
    with pytest.raises(InvalidSource):
        service.destination(endpoint(), "")
    del sources.stored["erp"]
    with pytest.raises(SourceNotFound):
        service.destination(endpoint(), "")


def test_a_saved_mapping_is_used_by_a_destination_built_before(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    product(hub, "MH01")
    target = destination(service)
    sources.put(erp({"class": "Product", "fields": {"sku": "code", "stock": "n"}}))
    deliver(target, delivery({"items": [{"code": "MH01", "n": 11}]}))
    assert stock(hub, "MH01") == 11
    # A source no longer applying events fails its deliveries (until its row is gone).
    del sources.stored["erp"]
    [result] = deliver(target, delivery({"items": []}))
    assert result.error is not None and "the feed cannot be used" in result.error


def test_the_deadline_is_kept(
    hub: Hub, service: FeedService, monkeypatch: pytest.MonkeyPatch
) -> None:
    product(hub, "MH01")
    target = destination(service)
    # Too little time left, or none: the first delivery is applied all the same (handed
    # back, it would be due again at once and never applied under a short lease).
    for left in (timedelta(milliseconds=100), timedelta(seconds=-1)):
        [late] = deliver(target, delivery(THREE), deadline=utc_now() + left)
        assert not late.skipped and late.status_code == 200, late
    assert stock(hub, "MH01") == 42
    # A write that outlasts the deadline: failed (to be retried), the rest not started.
    release = threading.Event()
    started = threading.Event()
    real = feeds_module.apply_items

    finished = threading.Event()

    def slow(*args: Any) -> Any:
        started.set()
        release.wait(30)
        try:
            return real(*args)
        finally:
            finished.set()

    monkeypatch.setattr(feeds_module, "apply_items", slow)
    first, second = delivery(THREE), delivery(THREE)
    # Not asyncio.run: it would wait for the blocked thread before returning.
    loop = asyncio.new_event_loop()
    try:
        due = utc_now() + timedelta(seconds=1.5)
        results = loop.run_until_complete(target.deliver([first, second], due))
    finally:
        release.set()
        loop.close()
    assert started.is_set()
    assert results[0].error is not None and "not finished within" in results[0].error
    assert results[1].skipped  # handed back unstarted
    # The write finishes in its thread after all; the pipeline's retry then changes nothing.
    assert finished.wait(30)
    monkeypatch.undo()
    [retried] = deliver(target, first)
    assert retried.response_excerpt == "applied 1 (0 changed), refused 2"
    assert versions(hub, "MH01") == [(1, "test"), (2, "inbound:erp")]


def test_parallel_feeds_of_the_same_skus_lose_no_update(hub: Hub, service: FeedService) -> None:
    """Threads, each its own connection, write overlapping SKUs in different orders: no
    failed delivery, and every change is one version and one event, gap-free."""
    skus = [f"P-{n}" for n in range(6)]
    for sku in skus:
        product(hub, sku, stock=None)
    writers, rounds = 6, 4
    start = threading.Barrier(writers)
    results: list[AttemptResult] = []
    failures: list[BaseException] = []

    def work(w: int) -> None:
        target = destination(service)
        try:
            start.wait()
            for r in range(rounds):
                order = skus[w % 3 :] + skus[: w % 3]
                if w % 2:
                    order.reverse()
                items = [{"sku": s, "qty": 1000 * w + 10 * r + n} for n, s in enumerate(order)]
                results.extend(deliver(target, delivery({"items": items})))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert [r.error for r in results if not r.ok] == []
    assert all(r.response_excerpt == "applied 6 (6 changed), refused 0" for r in results)
    for sku in skus:
        found = versions(hub, sku)
        assert [v for v, _ in found] == list(range(1, writers * rounds + 2))
        assert [v for v, _ in updated_events(hub, sku)] == list(range(2, writers * rounds + 2))
    mine = select(func.count()).select_from(outbox).where(outbox.c.business_key.in_(skus))
    with hub.engine.connect() as conn:
        assert conn.execute(mine).scalar_one() == len(skus) * (writers * rounds + 1)


# -- through the real pipeline: /inbound's service, the outbox, the dispatcher ----------------

ERP_SOURCE: dict[str, Any] = {
    "name": "erp",
    "scheme": "shared-secret",
    "eventType": {"value": STOCK},
    "key": {"path": "warehouse"},
    "apply": {"eventTypes": [STOCK], "items": "items", "mapping": MAPPING},
}


class Shop:
    """A webhook receiver that answers 200 and keeps what it got."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        self.bodies.append(orjson.loads(body))
        return HttpReply(200, "ok", None)

    def updated(self) -> dict[str, int]:
        return {
            b["data"]["businessKey"]: b["data"]["version"]
            for b in self.bodies
            if b["type"] == "object.updated"
        }


def undispatched(hub: Hub) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.dispatched_at.is_(None))
    with hub.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def drain(hub: Hub, shop: Shop, lease_seconds: float | None = None) -> None:
    """Runs the dispatcher until every event is fanned out and nothing due is left (with
    the settings' lease, or `lease_seconds` as PIMHUB_WEBHOOK_LEASE_SECONDS would set it)."""
    dispatcher = build_dispatcher(hub, shop)
    if lease_seconds is not None:
        settings = hub.settings.model_copy(update={"webhook_lease_seconds": lease_seconds})
        dispatcher.config = dispatcher_config(settings)

    async def run() -> None:
        for _ in range(10_000):
            if not await dispatcher.run_once():
                if not undispatched(hub):
                    break
                await asyncio.sleep(0.005)
        for target in list(dispatcher._targets.values()):
            if target.destination is not None:
                await target.destination.aclose()

    asyncio.run(run())


def send(hub: Hub, secret: str | None, payload: Any, message_id: str) -> int:
    headers = {
        "x-webhook-secret": secret or "",
        "idempotency-key": message_id,
        "content-type": "application/json",
    }
    receipt = hub.inbound.receive("erp", headers, orjson.dumps(payload), "127.0.0.1")
    return receipt.message


def test_a_received_feed_goes_through_the_pipeline_and_onwards(hub: Hub) -> None:
    product(hub, "MH01")
    product(hub, "MH02")
    _, secret = hub.inbound.add_source(ERP_SOURCE)
    hub.webhooks.create({"url": "http://127.0.0.1:9/shop", "eventTypes": ["object.updated"]})
    shop = Shop()
    audited = send(hub, secret, THREE, "stock-0001")
    drain(hub, shop)
    assert stock(hub, "MH01") == 42
    assert versions(hub, "MH01") == [(1, "test"), (2, "inbound:erp")]
    # The feed's change went onwards, as any change does (a Magento connector hears it so).
    assert shop.updated() == {"MH01": 2}
    [feed_delivery] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=feed_endpoint_id("erp")))
    assert feed_delivery.status == DeliveryStatus.DELIVERED
    _, [attempt] = hub.webhooks.delivery(feed_delivery.id)
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "applied 1 (1 changed), refused 2"
    refused = hub.feeds.refused("erp")
    assert [(r.key, r.message, r.event_id) for r in refused] == [
        ("MH02", audited, feed_delivery.event_id),
        ("NEW-1", audited, feed_delivery.event_id),
    ]
    # Fixed, replayed: applied and delivered onwards too.
    product(hub, "NEW-1", stock=None)
    assert hub.feeds.replay("erp") == (1, 1, 0)
    drain(hub, shop)
    assert shop.updated() == {"MH01": 2, "NEW-1": 2}
    # A delivery replayed by an operator (the pipeline's replay) refuses nothing twice.
    assert hub.webhooks.replay_one(feed_delivery.id) == 1
    drain(hub, shop)
    assert [r.key for r in hub.feeds.refused("erp", open_only=False)] == ["MH02", "NEW-1"]
    assert [r.key for r in hub.feeds.refused("erp")] == ["MH02"]  # NEW-1 applies now
    assert versions(hub, "MH01") == [(1, "test"), (2, "inbound:erp")]


def test_a_two_second_lease_still_applies_the_feed(hub: Hub) -> None:
    """PIMHUB_WEBHOOK_LEASE_SECONDS=2 gives the feed a deadline 1 s away, less than its
    MIN_SECONDS by the time it runs: the batch was handed back unsent, due again at once,
    for ever (0 attempts, nothing logged). Now its first delivery is applied."""
    product(hub, "MH01")
    _, secret = hub.inbound.add_source(ERP_SOURCE)
    send(hub, secret, THREE, "stock-short-lease")
    drain(hub, Shop(), lease_seconds=2)
    assert stock(hub, "MH01") == 42
    [record] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=feed_endpoint_id("erp")))
    assert record.status == DeliveryStatus.DELIVERED and record.attempts == 1


def test_an_unusable_mapping_fails_only_the_feed_row(hub: Hub) -> None:
    """The class the mapping names is gone: the feed's deliveries fail with the reason and
    are retried; other destinations go on."""
    product(hub, "MH01")
    body = {**ERP_SOURCE, "apply": {**ERP_SOURCE["apply"], "mapping": {**MAPPING, "class": "Nope"}}}
    _, secret = hub.inbound.add_source(body)
    send(hub, secret, THREE, "stock-0002")
    drain(hub, Shop())
    [record] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=feed_endpoint_id("erp")))
    assert record.status == DeliveryStatus.PENDING and record.attempts == 1
    assert record.last_error is not None and "Nope" in record.last_error
    assert stock(hub, "MH01") == 5


def test_parallel_replays_apply_each_item_once(hub: Hub, service: FeedService) -> None:
    """Operators replaying the same source at once: no error, one new version per item."""
    product(hub, "MH01")
    product(hub, "MH02")
    target = destination(service)
    for n in range(3):
        items = [{"sku": f"R-{n}-{i}", "qty": i + 1} for i in range(4)]
        items += [{"sku": "MH02"}, {"sku": "MH01", "qty": "x"}]
        deliver(target, delivery({"items": items}))
    assert len(service.refused("erp")) == 15
    for n in range(3):
        for i in range(4):
            product(hub, f"R-{n}-{i}", stock=None)
    start = threading.Barrier(6)
    outcomes: list[tuple[int, int, int]] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            outcomes.append(service.replay("erp"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert all(refused in (0, 3) for _, refused, _ in outcomes)
    assert [r.key for r in service.refused("erp")] == ["MH01"] * 3
    for n in range(3):
        for i in range(4):
            assert versions(hub, f"R-{n}-{i}") == [(1, "test"), (2, "inbound:erp")]


def test_the_documented_stock_and_price_feed(
    hub: Hub, service: FeedService, sources: MemorySources
) -> None:
    """docs/inbound.md's ERP feed: a static currency without a price leaves the price as it
    is (the import's rule), a price with its currency is written."""
    fields = {
        "sku": "sku",
        "stock": {"column": "qty", "number": True},
        "price.amount": {"column": "price", "number": True},
        "price.currency": {"value": "EUR"},
    }
    sources.put(erp({"class": "Product", "fields": fields}))
    hub.catalog.create(
        "Product",
        {"sku": "PH-2", "name": {"en": "x"}, "price": {"amount": 9.5, "currency": "EUR"}},
        author="test",
    )
    product(hub, "PH-1")
    items = [{"sku": "PH-1", "qty": 12, "price": 24.90}, {"sku": "PH-2", "qty": 0}]
    [result] = deliver(destination(service), delivery({"items": items}))
    assert result.response_excerpt == "applied 2 (2 changed), refused 0"
    one = hub.catalog.get_object("Product", "PH-1", include_drafts=True).values
    two = hub.catalog.get_object("Product", "PH-2", include_drafts=True).values
    assert (one["stock"], one["price"]) == (12, {"amount": 24.9, "currency": "EUR"})
    assert (two["stock"], two["price"]) == (0, {"amount": 9.5, "currency": "EUR"})
