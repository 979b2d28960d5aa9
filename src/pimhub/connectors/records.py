"""A connector as stored, and the port to store it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.catalog.objects import iso
from pimhub.events.endpoints import EndpointSpec


@dataclass(frozen=True, slots=True)
class StoredConnector:
    name: str
    kind: str
    config: dict[str, Any]
    version: int
    endpoint_id: str  # its destination row in the delivery pipeline (deliveries, replay)
    enabled: bool
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
            "config": self.config,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


class ConnectorRepository(Protocol):
    def add(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        sealed: str,
        now: datetime,
    ) -> StoredConnector | None: ...
    def get(self, name: str) -> StoredConnector | None: ...
    def by_endpoint(self, endpoint: int) -> StoredConnector | None: ...
    def all(self) -> list[StoredConnector]: ...
    def save(
        self,
        name: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        now: datetime,
        sealed: str | None = None,
    ) -> bool: ...
    def remove(self, name: str) -> bool: ...
    def sealed_secret(self, name: str) -> str | None: ...
