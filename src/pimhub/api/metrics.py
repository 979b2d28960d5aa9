"""/metrics for Prometheus: webhook delivery state per endpoint, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from pimhub.api.auth import hub_of
from pimhub.events.deliveries import DeliveryStatus
from pimhub.events.service import WebhookService

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


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(WebhookCollector(hub_of(request).webhooks))
        request.app.state.metrics = registry
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE)
