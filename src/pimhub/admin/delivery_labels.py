"""How the delivery log names a destination and says what an open delivery waits for."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pimhub.events.deliveries import DeliveryRecord
from pimhub.events.endpoints import WebhookEndpoint

MAX_LABEL = 60
# A destination that is no webhook, named by what it is (the pipeline's kinds).
KIND_LABELS = {
    "webhook": "webhook endpoint",
    "magento": "Magento connector",
    "rabbitmq": "RabbitMQ broker",
    "catalog-feed": "catalog feed",
}


def label(endpoint: WebhookEndpoint | None, endpoint_id: str) -> str:
    """The endpoint's description, else its URL's host and path; another destination by its
    kind (a Magento connector, a RabbitMQ broker, a catalog feed); the bare id when the row
    is gone."""
    if endpoint is None:
        return endpoint_id
    if endpoint.kind != "webhook":
        return KIND_LABELS.get(endpoint.kind, f"{endpoint.kind} destination")
    if endpoint.spec.description.strip():
        return _cut(endpoint.spec.description.strip())
    parts = urlsplit(endpoint.spec.url)
    return _cut(f"{parts.hostname or ''}{parts.path}") or endpoint_id


def waiting_for(
    record: DeliveryRecord, endpoint: WebhookEndpoint | None, now: datetime
) -> str | None:
    """Why a pending delivery has not gone out, or when it will; None for one that is due
    and free to go (it goes with the next claim)."""
    if endpoint is not None and not endpoint.spec.enabled:
        return "waits: endpoint disabled"
    due = record.next_attempt_at
    paused = endpoint.paused_until if endpoint is not None else None
    if paused is not None and paused > now and (due is None or paused >= due):
        return f"waits: endpoint paused until {paused:%H:%M:%S} UTC"
    if due is not None and due > now:
        return f"next {due:%H:%M:%S} UTC"
    return None


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
