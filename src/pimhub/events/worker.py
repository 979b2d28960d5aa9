"""The worker: the dispatcher, periodic pruning of the delivery log, of the inbound audit and
of the audit log of administrative actions, and scheduled imports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from pimhub.events.dispatcher import Dispatcher
from pimhub.events.service import WebhookService

if TYPE_CHECKING:
    from pimhub.access.audit import Auditor
    from pimhub.inbound.feeds import FeedService
    from pimhub.inbound.service import InboundService

log = structlog.get_logger("pimhub.worker")


def prune_inbound(inbound: InboundService, retention: timedelta) -> int:
    """Deletes audited inbound messages older than `retention`; accepted ones only once they
    are also older than the longest de-duplication window of any source, since their rows are
    what recognizes a sender's retry as a duplicate (InboundService.prune keeps them)."""
    return inbound.prune(inbound.clock() - retention)


class Worker:
    def __init__(
        self,
        dispatcher: Dispatcher,
        webhooks: WebhookService,
        *,
        retention: timedelta,
        prune_every: timedelta = timedelta(hours=1),
        scheduled_imports: Callable[[], object] | None = None,
        schedule_every: timedelta = timedelta(seconds=30),
        inbound: InboundService | None = None,
        inbound_retention: timedelta = timedelta(days=30),
        feeds: FeedService | None = None,
        audit: Auditor | None = None,
        audit_retention: timedelta = timedelta(days=365),
    ) -> None:
        self.audit = audit
        self.audit_retention = audit_retention
        self.dispatcher = dispatcher
        self.webhooks = webhooks
        self.retention = retention
        self.prune_every = prune_every
        self.scheduled_imports = scheduled_imports
        self.schedule_every = schedule_every
        self.inbound = inbound
        self.inbound_retention = inbound_retention
        self.feeds = feeds

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set. Deliveries in flight finish; their outcome is recorded."""
        log.info(
            "worker.started",
            retention_days=self.retention / timedelta(days=1),
            inbound_retention_days=self.inbound_retention / timedelta(days=1),
        )
        pruning = asyncio.create_task(self._prune_periodically(stop))
        importing = asyncio.create_task(self._import_when_due(stop))
        try:
            await self.dispatcher.run(stop)
        finally:
            pruning.cancel()
            importing.cancel()
            log.info("worker.stopped")

    async def _prune_periodically(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                attempts, deliveries = await asyncio.to_thread(self.webhooks.prune, self.retention)
                if attempts or deliveries:
                    log.info("webhooks.pruned", attempts=attempts, deliveries=deliveries)
            except Exception:
                log.exception("webhooks.prune_failed")
            await self._prune_inbound()
            try:
                entries = await asyncio.to_thread(self.prune_audit_log)
                if entries:
                    log.info("audit.pruned", entries=entries)
            except Exception:
                log.exception("audit.prune_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.prune_every.total_seconds())

    def prune_audit_log(self) -> int:
        """Deletes audit log entries older than the retention; returns how many."""
        if self.audit is None:
            return 0
        return self.audit.log.prune(self.audit.clock() - self.audit_retention)

    async def _prune_inbound(self) -> None:
        if self.inbound is None:
            return
        try:
            messages = await asyncio.to_thread(prune_inbound, self.inbound, self.inbound_retention)
            if messages:
                log.info("inbound.pruned", messages=messages)
        except Exception:
            log.exception("inbound.prune_failed")
        if self.feeds is None:
            return
        try:
            # Resolved refused items go with the audit they belong to; open ones stay.
            items = await asyncio.to_thread(self.feeds.prune, self.inbound_retention)
            if items:
                log.info("inbound.refusals_pruned", items=items)
        except Exception:
            log.exception("inbound.refusals_prune_failed")

    async def _import_when_due(self, stop: asyncio.Event) -> None:
        """Runs scheduled imports that are due; an import runs in a thread, so deliveries
        go on meanwhile."""
        if self.scheduled_imports is None:
            return
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.scheduled_imports)
            except Exception:
                log.exception("imports.schedule_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.schedule_every.total_seconds())
