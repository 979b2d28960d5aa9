"""A broker destination as stored, and the port to store it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.events.endpoints import EndpointSpec
from pimhub.events.stored_destination import DestinationRepository, StoredDestination


def endpoint_id_of(name: str) -> str:
    """The public id of a broker's pipeline row (deliveries, dead letters, replay)."""
    return f"broker-{name}"


@dataclass(frozen=True, slots=True)
class StoredBroker(StoredDestination):
    def shown_config(self) -> dict[str, Any]:
        # A broker's `enabled` is part of its configuration (PUT takes it there).
        return {**self.config, "enabled": self.enabled}


class BrokerRepository(DestinationRepository[StoredBroker], Protocol):
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
