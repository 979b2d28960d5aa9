"""Webhook endpoints and deliveries as operators manage them (REST and CLI both use this)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pimhub.access.audit import Auditor
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import FieldError
from pimhub.catalog.objects import iso
from pimhub.catalog.retry import retrying
from pimhub.events.deliveries import (
    AttemptRecord,
    Backlog,
    DeliveryFilter,
    DeliveryRecord,
    DeliveryStatus,
    EndpointActivity,
    EndpointStats,
)
from pimhub.events.destinations import blocked_address
from pimhub.events.endpoints import EndpointSpec, WebhookEndpoint, parse_spec
from pimhub.events.errors import (
    DeliveryNotFound,
    EndpointChanged,
    EndpointNotFound,
    InvalidEndpoint,
)
from pimhub.events.ports import DeliveryQueue, EndpointRepository, Sealer, WebhookSender
from pimhub.events.sent_requests import SentRequest, sent_requests
from pimhub.events.signing import generate_secret, signed_headers

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class PingResult:
    webhook_id: str
    status_code: int | None
    duration_ms: float
    response_excerpt: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_dict(self) -> dict[str, Any]:
        return {
            "webhookId": self.webhook_id,
            "ok": self.ok,
            "statusCode": self.status_code,
            "durationMs": round(self.duration_ms, 2),
            "responseExcerpt": self.response_excerpt,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class PreparedPing:
    """A signed ping ready to send; `refused`: why its address may not be called."""

    ping_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    refused: str | None


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str


class WebhookService:
    def __init__(
        self,
        endpoints: EndpointRepository,
        queue: DeliveryQueue,
        sealer: Sealer,
        *,
        allow_private: bool = False,
        rotation_overlap: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = utc_now,
        audit: Auditor | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.queue = queue
        self.sealer = sealer
        self.allow_private = allow_private
        self.rotation_overlap = rotation_overlap
        self.clock = clock
        self.audit = audit  # records each change after it committed

    def _record(
        self,
        verb: str,
        endpoint_id: str,
        before: WebhookEndpoint | None,
        after: WebhookEndpoint | None,
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                f"webhook.{verb}",
                "webhook",
                endpoint_id,
                before=before.to_dict() if before else None,
                after=after.to_dict() if after else None,
            )

    # -- endpoints ---------------------------------------------------------------------------

    def create(self, body: Any) -> CreatedEndpoint:
        """Register an endpoint; its secret is generated here and returned once in full."""
        spec = parse_spec(body)
        self._check_destination(spec)
        secret = generate_secret()
        endpoint_id = "ep_" + os.urandom(10).hex()
        endpoint = self.endpoints.add(endpoint_id, spec, self.sealer.encrypt(secret), self.clock())
        self._record("created", endpoint_id, None, endpoint)
        return CreatedEndpoint(endpoint, secret)

    def update(
        self, endpoint_id: str, body: Any, *, expected: datetime | None = None
    ) -> WebhookEndpoint:
        """Change the given settings only (PATCH semantics). Saying `"enabled": true` also
        clears the failure record and any open circuit: the operator says the receiver is
        fixed, so it starts with a clean slate. Other changes leave the record alone.
        With `expected` (the updatedAt the caller's form was made from), the save happens
        only if nobody changed the endpoint since, else EndpointChanged; without it, never
        a conflict."""
        before = self.get(endpoint_id)
        spec = parse_spec(body, before.spec)
        self._check_destination(spec)
        reset = isinstance(body, dict) and body.get("enabled") is True
        saved = self.endpoints.save_spec(
            endpoint_id, spec, self.clock(), reset_health=reset, expected=expected
        )
        if not saved:
            current = self.get(endpoint_id)  # EndpointNotFound when it was deleted meanwhile
            raise EndpointChanged(
                f"the webhook endpoint was changed at {iso(current.updated_at)}, "
                "after the version this save started from"
            )
        after = self.get(endpoint_id)
        self._record("updated", endpoint_id, before, after)
        return after

    def set_enabled(self, endpoint_id: str, enabled: bool) -> WebhookEndpoint:
        return self.update(endpoint_id, {"enabled": enabled})

    def resume(self, endpoint_id: str) -> WebhookEndpoint:
        """Ends the endpoint's pause now (the operator says the receiver is fixed, say after a
        successful ping): its waiting deliveries are due at once, and the run of failures that
        lengthens each pause starts again from nothing. A disabled endpoint stays disabled."""
        before = self.get(endpoint_id)
        if not retrying(lambda: self.endpoints.resume(endpoint_id, self.clock())):
            raise EndpointNotFound(f"no webhook endpoint '{endpoint_id}'")
        after = self.get(endpoint_id)
        self._record("resumed", endpoint_id, before, after)
        return after

    def destinations(self) -> dict[str, WebhookEndpoint]:
        """Every destination of the pipeline (webhooks and connectors) by id, for the delivery
        log: what each is called, and whether it is paused."""
        return {e.endpoint_id: e for e in self.endpoints.all()}

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        """A webhook endpoint. A connector's destination row is not one: its settings and
        credentials are managed (and shown) only through the connectors service."""
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.kind != "webhook":
            raise EndpointNotFound(f"no webhook endpoint '{endpoint_id}'")
        return endpoint

    def _destination(self, endpoint_id: str) -> None:
        """Any destination's row, a connector's too: the delivery log, dead letters and replay
        are the same for every destination of the pipeline."""
        if self.endpoints.get(endpoint_id) is None:
            raise EndpointNotFound(f"no webhook endpoint or connector '{endpoint_id}'")

    def all(self) -> list[WebhookEndpoint]:
        return [e for e in self.endpoints.all() if e.kind == "webhook"]

    def delete(self, endpoint_id: str) -> None:
        """Remove an endpoint with its deliveries and their log."""
        before = self.get(endpoint_id)
        if not self.endpoints.remove(endpoint_id):
            raise EndpointNotFound(f"no webhook endpoint '{endpoint_id}'")
        self._record("deleted", endpoint_id, before, None)

    def secret(self, endpoint_id: str) -> str:
        self.get(endpoint_id)
        stored = self.endpoints.secrets(endpoint_id)
        if stored is None:
            raise EndpointNotFound(f"no webhook endpoint '{endpoint_id}'")
        return self.sealer.decrypt(stored.sealed)

    async def ping(self, endpoint_id: str, sender: WebhookSender) -> PingResult:
        """Sends a signed `webhook.ping` to the endpoint now, outside the queue, so an operator
        can check a receiver's URL, reachability and signature check before real events flow.
        The reads and the address check (DNS) run in a thread, off the caller's event loop."""
        prepared = await asyncio.to_thread(self.prepare_ping, endpoint_id)
        return await self.send_ping(prepared, sender)

    def prepare_ping(self, endpoint_id: str) -> PreparedPing:
        """The signed ping for the endpoint (blocking: database reads, DNS). Signed like a
        delivery (with both secrets during a rotation overlap)."""
        endpoint = self.get(endpoint_id)
        stored = self.endpoints.secrets(endpoint_id)
        assert stored is not None
        now = self.clock()
        keys = stored.signing_keys(self.sealer.decrypt, now)
        ping_id = "ping_" + os.urandom(12).hex()
        body = orjson.dumps(
            {"type": "webhook.ping", "timestamp": iso(now), "data": {"endpoint": endpoint_id}}
        )
        refused = None if self.allow_private else blocked_address(endpoint.spec.url)
        headers = signed_headers(keys, ping_id, int(now.timestamp()), body)
        return PreparedPing(ping_id, endpoint.spec.url, body, headers, refused)

    async def send_ping(self, prepared: PreparedPing, sender: WebhookSender) -> PingResult:
        """Sends a prepared ping and reports the answer (the only part that waits on the
        network)."""
        if prepared.refused:
            return PingResult(
                prepared.ping_id, None, 0.0, None, f"destination refused: {prepared.refused}"
            )
        started = time.perf_counter()
        try:
            reply = await sender.post(prepared.url, prepared.body, prepared.headers)
        except (OSError, TimeoutError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return PingResult(prepared.ping_id, None, elapsed, None, str(exc) or type(exc).__name__)
        elapsed = (time.perf_counter() - started) * 1000
        return PingResult(prepared.ping_id, reply.status, elapsed, reply.body_excerpt, None)

    def rotate_secret(self, endpoint_id: str, overlap: timedelta | None = None) -> str:
        """A new secret; the old one keeps signing alongside it for the overlap window."""
        before = self.get(endpoint_id)
        secret = generate_secret()
        now = self.clock()
        until = now + (self.rotation_overlap if overlap is None else overlap)
        sealed = self.sealer.encrypt(secret)
        if not retrying(lambda: self.endpoints.rotate(endpoint_id, sealed, until, now)):
            raise EndpointNotFound(f"no webhook endpoint '{endpoint_id}'")
        self._record("rotated", endpoint_id, before, self.endpoints.get(endpoint_id))
        return secret

    def _check_destination(self, spec: EndpointSpec) -> None:
        if self.allow_private:
            return
        reason = blocked_address(spec.url)
        if reason:
            raise InvalidEndpoint(
                "webhook URLs must reach a public address",
                [
                    FieldError(
                        "url",
                        f"{reason}; set PIMHUB_WEBHOOKS_ALLOW_PRIVATE=true to allow it",
                        "private-address",
                    )
                ],
            )

    # -- deliveries --------------------------------------------------------------------------

    def deliveries(
        self,
        where: DeliveryFilter,
        limit: int = 100,
        after_id: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[DeliveryRecord]:
        if where.endpoint_id is not None:
            self._destination(where.endpoint_id)
        page = max(1, min(limit, MAX_PAGE))
        return self.queue.deliveries(where, page, after_id, newest_first=newest_first)

    def delivery(self, delivery_id: int) -> tuple[DeliveryRecord, list[AttemptRecord]]:
        record = self.queue.delivery(delivery_id)
        if record is None:
            raise DeliveryNotFound(f"no delivery {delivery_id}")
        return record, self.queue.attempts(delivery_id)

    def sent_requests(
        self, record: DeliveryRecord, attempts: Sequence[AttemptRecord]
    ) -> list[SentRequest] | None:
        """The request each attempt sent, rebuilt; None for a connector's delivery (it speaks
        another system's API, and its row's secret is the connector's credentials)."""
        endpoint = self.endpoints.get(record.endpoint_id)
        stored = self.endpoints.secrets(record.endpoint_id)
        body = self.queue.sent_body(record.id)
        if endpoint is None or endpoint.kind != "webhook" or stored is None or body is None:
            return None
        return sent_requests(endpoint, stored, self.sealer.decrypt, record.event_id, body, attempts)

    def replayable(self, where: DeliveryFilter) -> int:
        """How many deliveries `replay(where)` would queue again now."""
        if where.endpoint_id is not None:
            self._destination(where.endpoint_id)
        return self.queue.replayable(where)

    def replay_one(self, delivery_id: int) -> int:
        """Send one delivery again: a dead one, or a delivered one once more."""
        record, _ = self.delivery(delivery_id)
        where = (
            DeliveryFilter(status=record.status)
            if record.status == DeliveryStatus.DELIVERED
            else DeliveryFilter()
        )
        return self.replay(where, [delivery_id])

    def activity(self, hours: int = 24) -> dict[str, EndpointActivity]:
        """Every destination's attempts per hour over the last `hours` (the current hour last),
        succeeded and failed, with its latest attempt in that window: two grouped queries."""
        now = self.clock().astimezone(UTC)
        first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
        starts = tuple(first + timedelta(hours=i) for i in range(hours))
        counts: dict[str, tuple[list[int], list[int]]] = {}
        for endpoint_id, hour, ok, count in self.queue.hourly_attempts(first):
            slot = int((hour - first) / timedelta(hours=1))
            if 0 <= slot < hours:
                good, bad = counts.setdefault(endpoint_id, ([0] * hours, [0] * hours))
                (good if ok else bad)[slot] += count
        last = self.queue.last_attempts(first)
        return {
            e.endpoint_id: EndpointActivity(
                e.endpoint_id,
                starts,
                tuple(counts.get(e.endpoint_id, ([0] * hours, []))[0]),
                tuple(counts.get(e.endpoint_id, ([], [0] * hours))[1]),
                last.get(e.endpoint_id),
            )
            for e in self.endpoints.all()
        }

    def replay(self, where: DeliveryFilter, ids: Sequence[int] | None = None) -> int:
        """Send matching finished deliveries again (dead ones unless a status is given), with
        their original webhook-id and a fresh timestamp and signature."""
        if where.endpoint_id is not None:
            self._destination(where.endpoint_id)
        # Setting deliveries back to pending is the same whoever goes first, so a replay that
        # deadlocked with the dispatcher or another replay simply runs again.
        return retrying(lambda: self.queue.replay(where, ids, self.clock()))

    def prune(self, older_than: timedelta) -> tuple[int, int]:
        return self.queue.prune(self.clock() - older_than)

    def stats(self) -> list[EndpointStats]:
        return self.queue.stats()

    def backlog(self) -> Backlog:
        return self.queue.backlog()
