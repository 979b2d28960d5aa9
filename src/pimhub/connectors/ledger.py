"""Bulk operations as the ledger keeps them, and the port to keep them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.catalog.objects import iso

# Magento's operation status codes (AsynchronousOperations): what each becomes here.
MAGENTO_STATUS = {1: "complete", 2: "retrying", 3: "failed", 4: "open", 5: "rejected"}


@dataclass(frozen=True, slots=True)
class NewOperation:
    sku: str
    store: str
    payload_hash: str
    # {"body": what is sent, "section": the flat values it brings, "version": hub version}
    payload: dict[str, Any]
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class OpenBulk:
    bulk_uuid: str
    open_operations: int
    oldest: datetime  # when its oldest open operation was submitted


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    bulk_uuid: str
    request_index: int
    sku: str
    store: str
    payload_hash: str
    payload: dict[str, Any]
    status: str
    message: str | None
    attempts: int
    submitted_at: datetime
    checked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bulkUuid": self.bulk_uuid,
            "requestIndex": self.request_index,
            "sku": self.sku,
            "store": self.store,
            "payloadHash": self.payload_hash,
            "status": self.status,
            "message": self.message,
            "attempts": self.attempts,
            "submittedAt": iso(self.submitted_at),
            "checkedAt": iso(self.checked_at) if self.checked_at else None,
        }


class BulkLedger(Protocol):
    def add(
        self, connector: str, operations: Sequence[NewOperation], now: datetime
    ) -> list[int]: ...
    def submitted(
        self,
        ids: Sequence[int],
        bulk_uuid: str,
        outcomes: Sequence[tuple[str, str | None]],
        now: datetime,
        next_check: datetime,
    ) -> None: ...
    def settle(self, changes: Sequence[tuple[int, str, str | None]], now: datetime) -> None: ...
    def postpone(self, ids: Sequence[int], now: datetime, next_check: datetime) -> None: ...
    def open_bulks(self, connector: str) -> list[OpenBulk]: ...
    def operations(self, bulk_uuid: str) -> list[LedgerEntry]: ...
    def unsent(self, connector: str) -> list[LedgerEntry]: ...
    def pending_hashes(self, connector: str, skus: Sequence[str]) -> dict[tuple[str, str], str]: ...
    def open_skus(self, connector: str, skus: Sequence[str]) -> set[str]: ...
    def failed_skus(self, connector: str, skus: Sequence[str]) -> dict[str, str]: ...
    def counts(self, connector: str) -> dict[str, int]: ...
    def forget(self, connector: str) -> None: ...
    def page(
        self, connector: str, *, status: str | None, after: int | None, limit: int
    ) -> list[LedgerEntry]: ...
