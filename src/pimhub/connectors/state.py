"""What a connector remembers about the system it keeps in sync, and the port to store it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.catalog.objects import iso


@dataclass(frozen=True, slots=True)
class SectionState:
    """What was last sent for one section of one SKU: its hash and the flat values."""

    hash: str
    sent: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ItemState:
    """One SKU as the other system has it, as far as the connector knows."""

    sku: str
    object_uuid: str | None
    remote_id: int | None
    created_by_hub: bool
    state: str  # synced | failed | disabled | deleted | pending
    synced_version: int | None = None
    synced_at: datetime | None = None
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "uuid": self.object_uuid,
            "remoteId": self.remote_id,
            "createdByHub": self.created_by_hub,
            "state": self.state,
            "syncedVersion": self.synced_version,
            "syncedAt": iso(self.synced_at) if self.synced_at else None,
            "lastError": self.last_error,
        }


class ConnectorState(Protocol):
    def sections(
        self, connector: str, skus: Sequence[str]
    ) -> dict[str, dict[str, SectionState]]: ...
    def save_sections(
        self, connector: str, sent: Mapping[str, Mapping[str, SectionState]], now: datetime
    ) -> None: ...
    def merge_record(
        self,
        connector: str,
        sku: str,
        section: str,
        added: Mapping[str, Any],
        removed: Sequence[str],
        now: datetime,
    ) -> None:
        """Sets `added` and drops `removed` entries of a section's `sent["entries"]`, on the
        stored value, atomically (a record of what exists in the other system)."""

    def forget_sections(
        self, connector: str, skus: Sequence[str], keep: Sequence[str] = ()
    ) -> None: ...
    def items(self, connector: str, skus: Sequence[str]) -> dict[str, ItemState]: ...
    def save_items(self, connector: str, states: Iterable[ItemState], now: datetime) -> None: ...
    def skus_of_uuids(self, connector: str, uuids: Sequence[str]) -> dict[str, list[str]]: ...
    def page_items(
        self, connector: str, *, state: str | None, after: str | None, limit: int
    ) -> list[ItemState]: ...
    def counts(self, connector: str) -> dict[str, int]: ...
    def remote_ids(self, connector: str, kind: str, codes: Sequence[str]) -> dict[str, int]: ...
    def remember_ids(self, connector: str, kind: str, found: Mapping[str, int]) -> None: ...
    def all_ids(self, connector: str, kind: str) -> dict[str, int]: ...
    def claim_id(self, connector: str, kind: str, code: str) -> bool: ...
    def release_claim(self, connector: str, kind: str, code: str) -> None: ...
    def checkpoint(self, connector: str, name: str) -> Any: ...
    def save_checkpoint(self, connector: str, name: str, value: Any, now: datetime) -> None: ...
    def forget(self, connector: str) -> None: ...
