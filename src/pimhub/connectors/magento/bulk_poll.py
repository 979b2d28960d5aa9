"""The bulk API's second half: operations written to the ledger and sent, then polled until
Magento has processed each (complete, failed with its message, or resubmitted with backoff).
BulkSync (bulk.py) plans what is sent; this is what it shares with every round of polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pimhub.connectors.ledger import (
    MAGENTO_STATUS,
    BulkLedger,
    LedgerEntry,
    NewOperation,
    OpenBulk,
)
from pimhub.connectors.magento.client import MagentoError, render_message
from pimhub.connectors.magento.mapping import GLOBAL
from pimhub.connectors.state import ItemState, SectionState

if TYPE_CHECKING:
    from pimhub.connectors.magento.push import Pusher

BULK_PATH = "/async/bulk/V1/products/bySku"


@dataclass
class SyncReport:
    considered: int = 0
    unchanged: int = 0
    submitted: int = 0
    complete: int = 0
    failed: int = 0
    retried: int = 0
    resubmitted: int = 0
    stock_items: int = 0
    tombstones: int = 0
    media_calls: int = 0  # image uploads, updates and deletions, sent per SKU after the bulk
    messages: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        if len(self.messages) < 50:
            self.messages.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "considered": self.considered,
            "unchanged": self.unchanged,
            "submitted": self.submitted,
            "complete": self.complete,
            "failed": self.failed,
            "retried": self.retried,
            "resubmitted": self.resubmitted,
            "stockItems": self.stock_items,
            "tombstones": self.tombstones,
            "mediaCalls": self.media_calls,
            "messages": self.messages,
        }


@dataclass(frozen=True, slots=True)
class Failed:
    """A failure found by the sync itself (no ledger entry behind it)."""

    sku: str
    store: str


class BulkRounds:
    """Sending operations through the ledger and polling them to their end."""

    def __init__(
        self,
        pusher: Pusher,
        ledger: BulkLedger,
        *,
        poll_interval: float = 1.0,
        open_limit: timedelta = timedelta(minutes=30),
        max_attempts: int = 4,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.pusher = pusher
        self.ledger = ledger
        self.config = pusher.config
        self.name = pusher.config.name
        self.poll_interval = poll_interval
        self.open_limit = open_limit
        self.max_attempts = max_attempts
        self.progress = progress or (lambda _stage, _count: None)
        self.report = SyncReport()
        self._failed_skus: set[str] = set()  # their deferred operations are not sent
        self._sent_versions: dict[str, int] = {}  # sku -> hub version its completed op sent

    async def _db(self, call: Callable[..., Any], *args: Any) -> Any:
        return await self.pusher._db(call, *args)

    async def _send_bulk(self, store: str, operations: Sequence[NewOperation]) -> None:
        now = self.pusher.clock()
        ids = await self._db(self.ledger.add, self.name, list(operations), now)
        bodies = [op.payload["body"] for op in operations]
        try:
            reply = await self.pusher.client.request("PUT", BULK_PATH, store=store, json=bodies)
        except MagentoError as exc:
            # The whole request was refused: every operation fails with the same message.
            message = f"{exc.status} {exc.message}"
            await self._db(self.ledger.settle, [(i, "failed", message) for i in ids], now)
            self.report.failed += len(ids)
            self.report.note(f"bulk request refused: {message}")
            return
        data = reply.data or {}
        answered = {
            item.get("id"): item
            for item in data.get("request_items") or []
            if isinstance(item, Mapping)
        }
        outcomes: list[tuple[str, str | None]] = []
        for index in range(len(operations)):
            item = answered.get(index) or {}
            if item.get("status") == "accepted":
                outcomes.append(("open", None))
            else:
                outcomes.append(("rejected", str(item.get("error_message") or "not accepted")))
        later = now + timedelta(seconds=self.poll_interval)
        bulk_uuid = str(data.get("bulk_uuid") or "")
        await self._db(self.ledger.submitted, ids, bulk_uuid, outcomes, now, later)
        self.report.submitted += len(ids)
        self.report.failed += sum(1 for status, _ in outcomes if status == "rejected")

    # -- polling ---------------------------------------------------------------------------

    async def wait(self, timeout: float | None = None) -> None:
        """Polls until no operation of the connector is open (or `timeout` seconds pass)."""
        loop = asyncio.get_running_loop()
        until = None if timeout is None else loop.time() + timeout
        while await self.poll():
            if until is not None and loop.time() > until:
                return
            await asyncio.sleep(self.poll_interval)

    async def poll(self) -> int:
        """One round over the open bulks, several at a time; returns how many operations are
        still open."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(bulk: OpenBulk) -> int:
            async with gate:
                return await self._poll_bulk(bulk)

        bulks = await self._db(self.ledger.open_bulks, self.name)
        return sum(await asyncio.gather(*(one(b) for b in bulks)))

    async def _poll_bulk(self, bulk: OpenBulk) -> int:
        """Asks for the count of the bulk's open operations first (a few bytes); only once
        none is open (or some were open too long) are the per-operation statuses read, which
        repeat every operation's data and would otherwise be fetched on every round."""
        now = self.pusher.clock()
        if now - bulk.oldest < self.open_limit:
            path = f"/V1/bulk/{bulk.bulk_uuid}/operation-status/4"
            reply = await self.pusher.client.request("GET", path)
            if isinstance(reply.data, int) and reply.data > 0:
                return reply.data
        listed = await self._db(self.ledger.operations, bulk.bulk_uuid)
        entries = [e for e in listed if e.status == "open"]
        if not entries:
            return 0
        bulk_uuid = bulk.bulk_uuid
        path = f"/V1/bulk/{bulk_uuid}/detailed-status"
        reply = await self.pusher.client.request("GET", path)
        statuses = _operation_statuses((reply.data or {}).get("operations_list") or [])
        now = self.pusher.clock()
        settled: list[tuple[int, str, str | None]] = []
        complete: list[LedgerEntry] = []
        again: list[LedgerEntry] = []
        failed: list[tuple[LedgerEntry, str]] = []
        still_open: list[int] = []
        for entry in entries:
            code, message = statuses.get(entry.request_index, (4, None))
            status = MAGENTO_STATUS.get(code, "open")
            if status == "complete":
                settled.append((entry.id, "complete", None))
                complete.append(entry)
            elif status == "retrying":
                settled.append((entry.id, "retrying", message))
                again.append(entry)
            elif status in ("failed", "rejected"):
                text = message or "failed in Magento"
                settled.append((entry.id, status, text))
                failed.append((entry, text))
            elif now - entry.submitted_at > self.open_limit:
                # Still open long after it was accepted: Magento's consumer is probably not
                # running. Said in the report and sent again.
                settled.append((entry.id, "resubmitted", "open past the time limit"))
                again.append(entry)
                self.report.note(f"{entry.sku}: still open after {self.open_limit}; resubmitted")
            else:
                still_open.append(entry.id)
        await self._db(self.ledger.settle, settled, now)
        await self._completed(complete)
        await self._failed(failed)
        await self._retry(again)
        if still_open:
            later = now + timedelta(seconds=self.poll_interval)
            await self._db(self.ledger.postpone, still_open, now, later)
        return len(still_open) + len(again)

    async def _completed(self, entries: Sequence[LedgerEntry]) -> None:
        if not entries:
            return
        now = self.pusher.clock()
        sent: dict[str, dict[str, SectionState]] = {}
        for entry in entries:
            section = entry.payload.get("section") or {}
            sent.setdefault(entry.sku, {})[entry.store] = SectionState(entry.payload_hash, section)
        await self._db(self.pusher.state.save_sections, self.name, sent, now)
        items = await self._db(self.pusher.state.items, self.name, list(sent))
        # Bulk answers carry no entity ids; they are read when a configurable needs them.
        states = []
        for entry in entries:
            version = entry.payload.get("version")
            if entry.store == GLOBAL and isinstance(version, int):
                self._sent_versions[entry.sku] = version
            item = items.get(entry.sku)
            if entry.store != GLOBAL or item is None:
                continue
            states.append(
                ItemState(
                    sku=entry.sku,
                    object_uuid=item.object_uuid,
                    remote_id=item.remote_id,
                    created_by_hub=item.created_by_hub,
                    state="synced",
                    synced_version=entry.payload.get("version"),
                    synced_at=now,
                )
            )
        await self._db(self.pusher.state.save_items, self.name, states, now)
        self.report.complete += len(entries)

    async def _failed(self, failures: Sequence[tuple[Failed | LedgerEntry, str]]) -> None:
        """Marks SKUs failed; each failure names the SKU and scope (a ledger entry or a
        `Failed` of the sync's own) and the message."""
        if not failures:
            return
        now = self.pusher.clock()
        items = await self._db(self.pusher.state.items, self.name, [e.sku for e, _ in failures])
        states = []
        for entry, message in failures:
            self._failed_skus.add(entry.sku)
            item = items.get(entry.sku)
            states.append(
                ItemState(
                    sku=entry.sku,
                    object_uuid=item.object_uuid if item else None,
                    remote_id=item.remote_id if item else None,
                    created_by_hub=bool(item and item.created_by_hub),
                    state="failed",
                    synced_version=item.synced_version if item else None,
                    synced_at=item.synced_at if item else None,
                    last_error=f"bulk operation ({entry.store}): {message}"[:2000],
                )
            )
            self.report.note(f"{entry.sku} ({entry.store}): {message}")
        await self._db(self.pusher.state.save_items, self.name, states, now)
        self.report.failed += len(failures)

    async def _retry(self, entries: Sequence[LedgerEntry]) -> None:
        """Status 2 (and open too long): resubmitted after a backoff, up to max_attempts."""
        if not entries:
            return
        give_up = [e for e in entries if e.attempts >= self.max_attempts]
        if give_up:
            await self._failed([(e, f"still failing after {e.attempts} attempts") for e in give_up])
        retry = [e for e in entries if e.attempts < self.max_attempts]
        if not retry:
            return
        delay = self.poll_interval * 2 ** min(max(e.attempts for e in retry), 6)
        await asyncio.sleep(min(delay, 30.0))
        by_store: dict[str, list[NewOperation]] = {}
        for entry in retry:
            by_store.setdefault(entry.store, []).append(resend_operation(entry))
        for store, operations in by_store.items():
            await self._send_bulk(store, operations)
        self.report.retried += len(retry)


def _operation_statuses(operations: Sequence[Any]) -> dict[int, tuple[int, str | None]]:
    """Request index -> (status code, rendered message). Magento names the index as
    `operation_key` where it has one; otherwise operations come back in request order."""
    found: dict[int, tuple[int, str | None]] = {}
    for position, op in enumerate(operations):
        if not isinstance(op, Mapping):
            continue
        key = op.get("operation_key", op.get("id", position))
        index = key if isinstance(key, int) and not isinstance(key, bool) else position
        status = op.get("status")
        code = status if isinstance(status, int) and not isinstance(status, bool) else 4
        message = op.get("result_message")
        found[index] = (code, render_message({"message": message}) if message else None)
    return found


def resend_operation(entry: LedgerEntry) -> NewOperation:
    """The ledger entry as a new operation, one attempt further."""
    return NewOperation(
        entry.sku, entry.store, entry.payload_hash, entry.payload, attempts=entry.attempts + 1
    )
