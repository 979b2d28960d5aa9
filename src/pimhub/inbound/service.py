"""Managing inbound sources and receiving their messages (the /inbound/{source} route calls
`receive` on a worker thread; nothing is processed beyond verifying and storing)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pimhub.access.keys import ApiKey
from pimhub.events.ports import Sealer
from pimhub.inbound.messages import InboundMessage, MessageFilter, Receipt
from pimhub.inbound.ports import Inbox, SourceRepository
from pimhub.inbound.sources import StoredSource


class InboundService:
    def __init__(
        self,
        sources: SourceRepository,
        inbox: Inbox,
        sealer: Sealer,
        authenticate: Callable[[str | None], ApiKey],
        *,
        clock: Callable[[], datetime],
        rotation_overlap: timedelta = timedelta(hours=24),
        cache_seconds: float = 2.0,
    ) -> None:
        self.sources = sources
        self.inbox = inbox
        self.sealer = sealer
        self.authenticate = authenticate  # AccessService.authenticate: raises Unauthorized
        self.clock = clock
        self.rotation_overlap = rotation_overlap
        self.cache_seconds = cache_seconds

    # -- sources ---------------------------------------------------------------------------

    def add_source(self, body: Any, secret: str | None = None) -> tuple[StoredSource, str | None]:
        """A new source; returns it and the secret to give the sender (generated unless
        `secret` is given; None for the api-key scheme). The secret is shown only here."""
        raise NotImplementedError

    def update_source(
        self, name: str, body: Any, *, expected_version: int | None = None
    ) -> StoredSource:
        raise NotImplementedError

    def get_source(self, name: str) -> StoredSource:
        raise NotImplementedError

    def all_sources(self) -> list[StoredSource]:
        raise NotImplementedError

    def remove_source(self, name: str) -> None:
        raise NotImplementedError

    def rotate_secret(
        self, name: str, secret: str | None = None, overlap: timedelta | None = None
    ) -> str:
        """A new secret (generated unless given); the old one stays valid for `overlap`."""
        raise NotImplementedError

    # -- receiving -------------------------------------------------------------------------

    def max_bytes(self, name: str) -> int | None:
        """The source's body limit, from the cache (None: no such source), so the route can
        refuse an oversized body before reading it."""
        raise NotImplementedError

    def receive(
        self, name: str, headers: Mapping[str, str], body: bytes, remote: str | None
    ) -> Receipt:
        """Verifies, validates, de-duplicates and stores one message with its outbox event.
        `headers` have lower-case names. Raises SourceNotFound, SourceDisabled,
        MessageUnverified, InvalidMessage, PayloadTooLarge or NulCharacter (each refusal is
        audited first, but for unknown sources)."""
        raise NotImplementedError

    # -- audit -----------------------------------------------------------------------------

    def messages(
        self, where: MessageFilter, *, limit: int = 100, before_id: int | None = None
    ) -> list[InboundMessage]:
        raise NotImplementedError

    def message(self, message_id: int) -> InboundMessage:
        raise NotImplementedError
