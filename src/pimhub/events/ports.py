"""What the webhook side needs from storage and from the network, as protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pimhub.events.deliveries import (
    AttemptRecord,
    AttemptResult,
    Backlog,
    Delivery,
    DeliveryFilter,
    DeliveryRecord,
    EndpointStats,
)
from pimhub.events.endpoints import EndpointSpec, WebhookEndpoint
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.events.signing import secret_bytes


@dataclass(frozen=True, slots=True)
class StoredSecrets:
    """An endpoint's secrets as stored: encrypted."""

    sealed: str
    previous_sealed: str | None
    previous_until: datetime | None

    def signing_keys(self, decrypt: Callable[[str], str], now: datetime) -> list[bytes]:
        """The HMAC keys to sign with now: the current secret, and the previous one while its
        overlap lasts."""
        keys = [secret_bytes(decrypt(self.sealed))]
        if self.previous_sealed and self.previous_until and self.previous_until > now:
            keys.append(secret_bytes(decrypt(self.previous_sealed)))
        return keys


class EndpointRepository(Protocol):
    def add(
        self, endpoint_id: str, spec: EndpointSpec, sealed_secret: str, now: datetime
    ) -> WebhookEndpoint: ...
    def get(self, endpoint_id: str) -> WebhookEndpoint | None: ...
    def all(self) -> list[WebhookEndpoint]: ...
    def save_spec(
        self,
        endpoint_id: str,
        spec: EndpointSpec,
        now: datetime,
        *,
        reset_health: bool,
        expected: datetime | None = None,
    ) -> bool: ...
    def remove(self, endpoint_id: str) -> bool: ...
    def secrets(self, endpoint_id: str) -> StoredSecrets | None: ...
    def all_secrets(self) -> dict[int, StoredSecrets]: ...
    def rotate(
        self, endpoint_id: str, sealed_secret: str, previous_until: datetime, now: datetime
    ) -> bool: ...
    def resume(self, endpoint_id: str, now: datetime) -> bool:
        """Clear the pause and make the endpoint's waiting deliveries due at `now`."""


class DeliveryQueue(Protocol):
    """The delivery state machine in storage. Every method is one transaction."""

    def fan_out(self, now: datetime, limit: int) -> int:
        """Turn up to `limit` undispatched outbox events into deliveries for the endpoints that
        want them; returns how many events were taken."""

    def fan_out_and_claim(
        self, now: datetime, fan_out_limit: int, limit: int, lease_until: datetime
    ) -> tuple[int, list[Delivery]]:
        """`fan_out` then `claim`, in one transaction."""

    def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        """Due deliveries whose object has no earlier delivery still open, leased to the caller
        until `lease_until`; a lease that runs out (a crashed worker) makes them due again."""

    def record(
        self,
        results: Sequence[AttemptResult],
        retry: RetryPolicy,
        circuit: CircuitPolicy,
        now: datetime,
    ) -> list[str]:
        """Store the outcome of attempts and each endpoint's health; returns the public ids of
        endpoints this disabled."""

    def deliveries(
        self,
        where: DeliveryFilter,
        limit: int,
        after_id: int | None,
        *,
        newest_first: bool = False,
    ) -> list[DeliveryRecord]: ...
    def delivery(self, delivery_id: int) -> DeliveryRecord | None: ...
    def attempts(self, delivery_id: int) -> list[AttemptRecord]: ...
    def sent_body(self, delivery_id: int) -> bytes | None: ...
    def replayable(self, where: DeliveryFilter) -> int: ...
    def hourly_attempts(self, since: datetime) -> list[tuple[str, datetime, bool, int]]: ...
    def last_attempts(self, since: datetime) -> dict[str, AttemptRecord]: ...
    def replay(self, where: DeliveryFilter, ids: Sequence[int] | None, now: datetime) -> int:
        """Make matching dead (or delivered) deliveries pending again, due now."""

    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete attempts logged before `before`, and delivered deliveries (with their outbox
        rows once nothing refers to them) finished before it; returns both counts."""

    def stats(self) -> list[EndpointStats]: ...
    def backlog(self) -> Backlog:
        """The outbox's backlog over every endpoint (see Backlog)."""


class Sealer(Protocol):
    """Encryption at rest for secrets."""

    def encrypt(self, plain: str) -> str: ...
    def decrypt(self, token: str) -> str: ...


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body_excerpt: str
    retry_after: str | None


class Destination(Protocol):
    """A destination that is not a signed POST (a connector speaking another system's API).
    It gets every claimed delivery for it at once, so that it can batch, and answers one
    result per delivery by `deadline` (the leases run out soon after): work not finished by
    then is abandoned and its deliveries fail, to be retried."""

    async def deliver(
        self, deliveries: Sequence[Delivery], deadline: datetime
    ) -> list[AttemptResult]: ...
    async def aclose(self) -> None: ...


# Builds the destination of a non-webhook endpoint from its row and its decrypted secret
# (for a connector: its credentials); None when it cannot be built (the reason is logged).
DestinationFactory = Callable[[WebhookEndpoint, str], "Destination | None"]


class WebhookSender(Protocol):
    """POSTs one signed body; raises OSError or TimeoutError when no answer came."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply: ...
