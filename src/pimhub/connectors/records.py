"""A connector as stored, and the port to store it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.events.endpoints import EndpointSpec
from pimhub.events.stored_destination import DestinationRepository, StoredDestination


@dataclass(frozen=True, slots=True)
class StoredConnector(StoredDestination):
    """A connector; its API document shows the configuration as stored."""


class ConnectorRepository(DestinationRepository[StoredConnector], Protocol):
    def save(
        self,
        name: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        now: datetime,
        sealed: str | None = None,
    ) -> bool: ...
