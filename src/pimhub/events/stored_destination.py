"""A named pipeline destination as stored (a connector, a broker): its own settings row and
the health of the webhook_endpoints row it delivers through (storage/destination_rows.py
writes both), with the API document both kinds answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pimhub.catalog.objects import iso
from pimhub.events.endpoints import EndpointSpec


@dataclass(frozen=True, slots=True)
class StoredDestination:
    name: str
    kind: str
    config: dict[str, Any]  # the configuration's to_dict(), without credentials
    version: int
    endpoint_id: str  # its destination row in the delivery pipeline (deliveries, replay)
    enabled: bool  # the pipeline row's: also false once its circuit disabled it
    disabled_reason: str | None
    consecutive_failures: int
    paused_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def shown_config(self) -> dict[str, Any]:
        """The configuration as the API document shows it."""
        return self.config

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
            "config": self.shown_config(),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


S = TypeVar("S", bound=StoredDestination)


class DestinationRepository(Protocol[S]):
    """The port a kind of named destination is stored through; each kind adds its `save`."""

    def add(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        sealed: str,
        now: datetime,
    ) -> S | None:
        """None when a destination of that name exists."""

    def get(self, name: str) -> S | None: ...
    def by_endpoint(self, endpoint: int) -> S | None: ...
    def all(self) -> list[S]: ...
    def remove(self, name: str) -> bool: ...
    def sealed_secret(self, name: str) -> str | None: ...
