"""How the delivery log says what an open delivery waits for."""

from __future__ import annotations

from datetime import datetime

from pimhub.events.deliveries import DeliveryRecord
from pimhub.events.endpoints import WebhookEndpoint


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
