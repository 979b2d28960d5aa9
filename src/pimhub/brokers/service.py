"""Broker destinations: settings, the pipeline row they deliver through, and the destination
the dispatcher builds from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.ports import Destination, Sealer


class BrokerService:
    def __init__(
        self,
        repository: Any,
        sealer: Sealer,
        *,
        clock: Callable[[], datetime],
        allow_private: bool = False,
    ) -> None:
        self.repository = repository
        self.sealer = sealer
        self.clock = clock
        self.allow_private = allow_private

    def destination(self, endpoint: WebhookEndpoint, secret: str) -> Destination | None:
        """The pipeline destination of a broker's row (the dispatcher's factory)."""
        raise NotImplementedError
