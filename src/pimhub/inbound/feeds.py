"""Inbound feeds into the catalog: a source's events of the types its `apply` names are written
to objects by business key with the import mapping language, authored by `inbound:<source>`;
refused items are kept with their reasons and can be applied again after a fix.

The writing happens in a pipeline destination (kind catalog-feed), so it gets per-key order,
retries (a deadlock, a database away), dead letters and replay like any destination."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pimhub.catalog.service import CatalogService
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.ports import Destination
from pimhub.inbound.ports import Refusal, RefusalStore, SourceRepository


class FeedService:
    def __init__(
        self,
        sources: SourceRepository,
        refusals: RefusalStore,
        catalog: CatalogService,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.sources = sources
        self.refusals = refusals
        self.catalog = catalog
        self.clock = clock

    def destination(self, endpoint: WebhookEndpoint, secret: str) -> Destination | None:
        """The pipeline destination of a source's feed row (the dispatcher's factory)."""
        raise NotImplementedError

    def refused(
        self,
        source: str | None = None,
        *,
        open_only: bool = True,
        limit: int = 100,
        after_id: int | None = None,
    ) -> list[Refusal]:
        raise NotImplementedError

    def replay(self, source: str, ids: Sequence[int] | None = None) -> tuple[int, int]:
        """Applies open refused items again (all of the source's, or `ids`); returns how many
        were applied and how many are still refused."""
        raise NotImplementedError
