"""/metrics for Prometheus: webhook delivery state per endpoint and the inbound backlog, read
at scrape time; inbound messages and rejections counted as they are audited."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from pimhub.api.auth import hub_of
from pimhub.bootstrap import Hub
from pimhub.events.deliveries import DeliveryStatus
from pimhub.events.service import WebhookService
from pimhub.inbound.messages import (
    AcceptedMessage,
    InboundMessage,
    MessageFilter,
    Outcome,
    Receipt,
    RejectedMessage,
)
from pimhub.inbound.ports import Inbox
from pimhub.storage.inbound_backlog import SqlInboundBacklog

router = APIRouter(tags=["operations"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class WebhookCollector(Collector):
    """Counts come from the database on each scrape, so every worker and every API process
    reports the same numbers and nothing is lost when a process restarts."""

    def __init__(self, webhooks: WebhookService) -> None:
        self.webhooks = webhooks

    def collect(self) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "pimhub_webhook_deliveries",
            "Deliveries by endpoint and status (dead = dead-lettered)",
            labels=["endpoint", "status"],
        )
        failed = GaugeMetricFamily(
            "pimhub_webhook_failed_attempts",
            "Failed attempts in the delivery log (since its last pruning)",
            labels=["endpoint"],
        )
        oldest = GaugeMetricFamily(
            "pimhub_webhook_oldest_pending_age_seconds",
            "Age of the oldest delivery not yet delivered or dead-lettered",
            labels=["endpoint"],
        )
        enabled = GaugeMetricFamily(
            "pimhub_webhook_endpoint_enabled", "1 if the endpoint is enabled", labels=["endpoint"]
        )
        now = datetime.now(UTC)
        for stats in self.webhooks.stats():
            for status in DeliveryStatus:
                deliveries.add_metric([stats.endpoint_id, status.value], stats.counts[status.value])
            failed.add_metric([stats.endpoint_id], stats.failed_attempts)
            age = (now - stats.oldest_pending_at).total_seconds() if stats.oldest_pending_at else 0
            oldest.add_metric([stats.endpoint_id], max(age, 0.0))
            enabled.add_metric([stats.endpoint_id], 1.0 if stats.enabled else 0.0)
        yield from (deliveries, failed, oldest, enabled)


class InboundCounters:
    """Inbound messages by source and outcome, and rejections by source and problem, counted
    in this process (Prometheus sums the API processes). Only audited messages are counted:
    a request to an unknown source is not, so no stranger can add label values."""

    def __init__(self) -> None:
        self.messages = Counter(
            "pimhub_inbound_messages",
            "Inbound messages received, by source and outcome (accepted, duplicate, rejected)",
            ["source", "outcome"],
            registry=None,
        )
        self.rejections = Counter(
            "pimhub_inbound_rejections",
            "Inbound messages refused, by source and problem code",
            ["source", "problem"],
            registry=None,
        )
        # Each label pair's child, looked up once: Counter.labels costs a few microseconds
        # (checks and a lock), several times the increment, on the receive hot path.
        self._message_children: dict[tuple[str, str], Any] = {}

    def message(self, source: str, outcome: str) -> None:
        child = self._message_children.get((source, outcome))
        if child is None:
            child = self._message_children[source, outcome] = self.messages.labels(source, outcome)
        child.inc()

    def known(self, sources: Iterable[str]) -> None:
        """Every outcome of these sources shown from now on, at 0 until counted: a series
        that appears only at its first increment loses that increment to rate()."""
        for source in sources:
            for outcome in Outcome:
                if (source, outcome.value) not in self._message_children:
                    self._message_children[source, outcome.value] = self.messages.labels(
                        source, outcome.value
                    )

    def rejection(self, source: str, problem: str) -> None:
        self.rejections.labels(source, problem).inc()  # refusals are not the hot path


class CountingInbox:
    """The inbox, counting each message it audits: one counter increment on the receive path,
    after the row is stored (a failed write is not counted: the sender was not answered)."""

    def __init__(self, inner: Inbox, counters: InboundCounters) -> None:
        self.inner = inner
        self.counters = counters

    def accept(self, message: AcceptedMessage) -> Receipt:
        receipt = self.inner.accept(message)
        self.counters.message(message.source, receipt.outcome.value)
        return receipt

    def submit(self, message: AcceptedMessage) -> asyncio.Future[Receipt]:
        future = self.inner.submit(message)

        def count(done: asyncio.Future[Receipt]) -> None:
            if not done.cancelled() and done.exception() is None:
                outcome = done.result().outcome.value
                self.counters.message(message.source, outcome)

        future.add_done_callback(count)
        return future

    def reject(self, message: RejectedMessage) -> int:
        row = self.inner.reject(message)
        self.counters.message(message.source, Outcome.REJECTED.value)
        self.counters.rejection(message.source, message.problem)
        return row

    def messages(
        self, where: MessageFilter, limit: int, before_id: int | None
    ) -> list[InboundMessage]:
        return self.inner.messages(where, limit, before_id)

    def message(self, message_id: int) -> InboundMessage | None:
        return self.inner.message(message_id)

    def body(self, message_id: int) -> str | None:
        return self.inner.body(message_id)

    def counts(self, since: datetime) -> dict[tuple[str, str], int]:
        return self.inner.counts(since)

    def prune(self, before: datetime, keep_accepted_after: datetime) -> int:
        return self.inner.prune(before, keep_accepted_after)

    def __getattr__(self, name: str) -> Any:
        # Anything else the storage offers beyond the Inbox protocol (its engine): every
        # protocol method is defined above, which a test checks, so none escapes counting.
        return getattr(self.inner, name)


def count_inbound(hub: Hub) -> InboundCounters:
    """Counts the hub's inbound messages from now on; called once per hub (again: the same
    counters)."""
    inbox = hub.inbound.inbox
    if isinstance(inbox, CountingInbox):
        return inbox.counters
    counting = CountingInbox(inbox, InboundCounters())
    hub.inbound.inbox = counting
    return counting.counters


class InboundCollector(Collector):
    """The inbound counters and the backlog per source. The backlog's query lists every
    configured source, so each of their outcome counters is shown, at 0 when nothing came."""

    def __init__(self, counters: InboundCounters, backlog: SqlInboundBacklog) -> None:
        self.counters = counters
        self.backlog = backlog

    def collect(self) -> Iterator[Metric]:
        waiting = self.backlog.by_source()
        self.counters.known(waiting)
        yield from self.counters.messages.collect()
        yield from self.counters.rejections.collect()
        gauge = GaugeMetricFamily(
            "pimhub_inbound_backlog",
            "Inbound events still on their way, by source: open deliveries (pending or being "
            "delivered) plus events not yet fanned out to their destinations",
            labels=["source"],
        )
        for source, count in sorted(waiting.items()):
            gauge.add_metric([source], count)
        yield gauge


class KeyExpiryCollector(Collector):
    """API keys about to expire, read from the database at each scrape: how many active keys
    expire within key_expiry_warning_days, and each active key's seconds left (keys are few,
    so a series per key is cheap; alert on it before clients start getting 401s)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        window = timedelta(days=self.hub.settings.key_expiry_warning_days)
        now = datetime.now(UTC)
        soon = GaugeMetricFamily(
            "pimhub_api_keys_expiring_soon",
            "Active API keys that expire within key_expiry_warning_days",
        )
        left = GaugeMetricFamily(
            "pimhub_api_key_expiry_seconds",
            "Seconds until an active API key with an expiry expires",
            labels=["key", "name"],
        )
        count = 0
        for key in self.hub.access.all():
            if key.expires_at is None or not key.is_active(now):
                continue
            left.add_metric([key.key_id, key.name], (key.expires_at - now).total_seconds())
            count += key.expiry_warning(now, window) is not None
        soon.add_metric([], count)
        yield from (soon, left)


def build_registry(hub: Hub) -> CollectorRegistry:
    """The registry /metrics reads; built with the app, so inbound messages are counted from
    the first one on, not from the first scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WebhookCollector(hub.webhooks))
    registry.register(InboundCollector(count_inbound(hub), SqlInboundBacklog(hub.engine)))
    registry.register(KeyExpiryCollector(hub))
    return registry


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = build_registry(hub_of(request))
        request.app.state.metrics = registry
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE)
