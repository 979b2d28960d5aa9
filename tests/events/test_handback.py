"""A destination that hands its deliveries back unsent (too little lease left for it: a
Magento connector needs 5 s, a 2 s lease leaves 1) must not stall them silently: a released
delivery is due again at once, and would loop for ever with no attempt recorded. Each
hand-back is logged, and the HANDBACK_LIMIT-th in a row is a failed attempt saying why."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from pimhub.bootstrap import Hub, dispatcher_config
from pimhub.events import dispatcher as dispatcher_module
from pimhub.events.deliveries import AttemptResult, Delivery, DeliveryFilter, DeliveryStatus
from pimhub.events.dispatcher import HANDBACK_LIMIT, Dispatcher
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.ports import Destination, HttpReply


class HandsBack:
    """Always finds too little time left."""

    def __init__(self) -> None:
        self.calls = 0

    async def deliver(
        self, deliveries: Sequence[Delivery], deadline: datetime
    ) -> list[AttemptResult]:
        self.calls += 1
        return [AttemptResult(d, deadline, 0.0, None, None, None, skipped=True) for d in deliveries]

    async def aclose(self) -> None:
        return None


class NoWebhooks:
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        raise AssertionError("no webhook here")


class _Log:
    """Stands in for the dispatcher's logger: structlog's capture_logs misses a logger that
    an earlier test in the session already bound (cache_logger_on_first_use)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, *args, **kw: self.events.append(event)


def test_a_delivery_handed_back_again_and_again_becomes_a_failed_attempt(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.brokers.add(
        {"name": "mq", "url": "amqp://93.184.216.34/", "eventTypes": ["object.created"]},
        {"username": "pim", "password": "secret"},
    )
    hub.catalog.create("Product", {"sku": "HB-1", "name": {"en": "x"}}, author="test")
    destination = HandsBack()

    def factory(endpoint: WebhookEndpoint, secret: str) -> Destination:
        return destination

    settings = hub.settings.model_copy(update={"webhook_lease_seconds": 2})
    config = dispatcher_config(settings)
    config.allow_private = True
    service = hub.webhooks
    dispatcher = Dispatcher(
        service.endpoints,
        service.queue,
        service.sealer,
        NoWebhooks(),
        config,
        destinations=factory,
    )

    async def rounds() -> None:
        for _ in range(HANDBACK_LIMIT):
            await dispatcher.run_once()

    logs = _Log()
    monkeypatch.setattr(dispatcher_module, "log", logs)
    asyncio.run(rounds())
    assert destination.calls == HANDBACK_LIMIT
    assert logs.events.count("connector.handed_back") == HANDBACK_LIMIT
    [record] = service.deliveries(DeliveryFilter())
    assert record.status == DeliveryStatus.PENDING and record.attempts == 1
    assert record.last_error is not None
    assert f"handed back unsent by the destination {HANDBACK_LIMIT} times" in record.last_error
    assert "PIMHUB_WEBHOOK_LEASE_SECONDS" in record.last_error
    _, [attempt] = service.delivery(record.id)
    assert attempt.error == record.last_error
