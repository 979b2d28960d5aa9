"""What the inbound side needs from storage, as protocols."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pimhub.catalog.errors import FieldError
from pimhub.events.endpoints import EndpointSpec
from pimhub.inbound.messages import (
    AcceptedMessage,
    InboundMessage,
    MessageFilter,
    Receipt,
    RejectedMessage,
)
from pimhub.inbound.sources import SourceSecrets, SourceSpec, StoredSource


class SourceRepository(Protocol):
    """Source rows, each with its feed destination row (webhook_endpoints, kind catalog-feed,
    endpoint id feed-<name>) when `feed` is given, written in the same transaction."""

    def add(
        self,
        spec: SourceSpec,
        config: dict[str, Any],
        sealed: str | None,
        feed: EndpointSpec | None,
        now: datetime,
        *,
        feed_sealed: str | None = None,
    ) -> StoredSource | None:
        """None when a source of that name exists. `feed_sealed`: the feed row's secret
        (sealed; the dispatcher decrypts every row's), else the source's."""

    def get(self, name: str) -> StoredSource | None: ...
    def all(self) -> list[StoredSource]: ...
    def save(
        self,
        spec: SourceSpec,
        config: dict[str, Any],
        feed: EndpointSpec | None,
        now: datetime,
        *,
        expected_version: int | None = None,
        feed_sealed: str | None = None,
    ) -> bool:
        """False when the source is gone, or its version is not `expected_version`."""

    def remove(self, name: str) -> bool:
        """The source and its feed destination (with that row's deliveries, by cascade); its
        audited messages stay until they are pruned."""

    def secrets(self, name: str) -> SourceSecrets | None: ...
    def with_secrets(self, name: str) -> tuple[StoredSource, SourceSecrets] | None:
        """get and secrets from one read of the row (consistent with each other)."""

    def rotate(self, name: str, sealed: str, previous_until: datetime, now: datetime) -> bool:
        """A new secret; the current one becomes the previous, valid until `previous_until`."""


class Inbox(Protocol):
    def accept(self, message: AcceptedMessage) -> Receipt:
        """Stores the message and its outbox event in one transaction, unless the source
        already accepted this message id: then a duplicate row is audited and the receipt
        names the original. Parallel identical messages make exactly one event."""

    def submit(self, message: AcceptedMessage) -> asyncio.Future[Receipt]:
        """accept for the running event loop: the future holds the receipt once committed."""

    def reject(self, message: RejectedMessage) -> int:
        """Audits a refused request; returns its row id."""

    def messages(
        self, where: MessageFilter, limit: int, before_id: int | None
    ) -> list[InboundMessage]:
        """Newest first."""

    def message(self, message_id: int) -> InboundMessage | None: ...
    def body(self, message_id: int) -> str | None: ...
    def counts(self, since: datetime) -> dict[tuple[str, str], int]:
        """Messages received since `since`, by (source, outcome)."""

    def prune(self, before: datetime, keep_accepted_after: datetime) -> int:
        """Deletes rows received before `before`; accepted rows only once they are also older
        than `keep_accepted_after` (the longest dedupe window), so de-duplication holds."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """One item of a feed the catalog refused."""

    id: int
    source: str
    message: int
    event_id: str
    item_index: int
    key: str | None
    errors: tuple[FieldError, ...]
    item: Any
    created_at: datetime
    resolved_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        from pimhub.catalog.objects import iso

        return {
            "id": self.id,
            "source": self.source,
            "message": self.message,
            "eventId": self.event_id,
            "item": self.item_index,
            "key": self.key,
            "errors": [e.as_dict() for e in self.errors],
            "value": self.item,
            "createdAt": iso(self.created_at),
            "resolvedAt": iso(self.resolved_at) if self.resolved_at else None,
        }


class RefusalStore(Protocol):
    def record(self, refusals: Sequence[Refusal]) -> None:
        """Stores refused items (ids ignored); an item already recorded for the same event and
        index is replaced (a retried delivery refuses it again)."""

    def resolve(self, ids: Sequence[int], now: datetime) -> None: ...
    def settle(self, event_id: str, refused: Collection[int], now: datetime) -> None:
        """Resolves the event's open refusals but those of the item indexes in `refused`:
        a delivery applied again (retried, replayed) whose items the catalog takes now."""

    def page(
        self,
        source: str | None,
        *,
        open_only: bool,
        limit: int,
        after_id: int | None,
        message: int | None = None,
    ) -> list[Refusal]: ...
    def count_of_message(self, message: int) -> tuple[int, int]:
        """(refused, still open) items of an audited message."""

    def get(self, refusal_id: int) -> Refusal | None: ...
    def prune(self, resolved_before: datetime) -> int:
        """Deletes refusals resolved before `resolved_before` (open ones are kept, whatever
        their age: they wait for an operator); returns how many."""

    def supersede(self, refusals: Sequence[Refusal], now: datetime) -> int:
        """Resolves these refusals, with their errors as given (the superseded note added),
        those still open only; returns how many it resolved."""

    def last_written(
        self, class_name: str, author: str, keys: Collection[str], before: datetime
    ) -> dict[str, datetime]:
        """The time of the newest version written by `author` before `before`, of each of
        these objects of the class (by business key) that has one."""
