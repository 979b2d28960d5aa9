"""A broker destination as stored, and the port to store it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.catalog.objects import iso
from pimhub.events.endpoints import EndpointSpec


def endpoint_id_of(name: str) -> str:
    """The public id of a broker's pipeline row (deliveries, dead letters, replay)."""
    return f"broker-{name}"


@dataclass(frozen=True, slots=True)
class StoredBroker:
    name: str
    kind: str
    config: dict[str, Any]  # BrokerConfig.to_dict(), without credentials
    version: int
    endpoint_id: str
    enabled: bool  # the pipeline row's: also false once its circuit disabled it
    disabled_reason: str | None
    consecutive_failures: int
    paused_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "endpoint": self.endpoint_id,
            "enabled": self.enabled,
            "health": {
                "consecutiveFailures": self.consecutive_failures,
                "pausedUntil": iso(self.paused_until) if self.paused_until else None,
                "disabledReason": self.disabled_reason,
            },
            "config": {**self.config, "enabled": self.enabled},
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


class BrokerRepository(Protocol):
    def add(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        sealed: str,
        now: datetime,
    ) -> StoredBroker | None:
        """None when a broker of that name exists."""

    def get(self, name: str) -> StoredBroker | None: ...
    def by_endpoint(self, endpoint: int) -> StoredBroker | None: ...
    def all(self) -> list[StoredBroker]: ...
    def save(
        self,
        name: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        now: datetime,
        sealed: str | None = None,
        *,
        expected: int | None = None,
        reset_health: bool = False,
    ) -> bool:
        """New settings (and credentials when given); with `expected`, only while the
        broker's version is still that; `reset_health` clears the pipeline row's failure
        record. False when nothing matched."""

    def remove(self, name: str) -> bool: ...
    def sealed_secret(self, name: str) -> str | None: ...
