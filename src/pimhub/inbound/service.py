"""Managing inbound sources and receiving their messages (the /inbound/{source} route calls
`receive` on a worker thread; nothing is processed beyond verifying and storing)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NoReturn

import anyio.to_thread
import structlog

from pimhub.access.audit import Auditor
from pimhub.access.keys import ApiKey
from pimhub.catalog.errors import (
    CatalogError,
    FieldError,
    InvalidInput,
    PayloadTooLarge,
    WriteConflict,
)
from pimhub.catalog.retry import RETRY_PAUSE_SECONDS, WRITE_ATTEMPTS, retrying
from pimhub.events.endpoints import type_matches
from pimhub.events.ports import Sealer
from pimhub.inbound import decode, extract, schemes
from pimhub.inbound.errors import (
    InvalidMessage,
    MessageNotFound,
    MessageUnverified,
    SourceDisabled,
    SourceNotFound,
    StoreBusy,
)
from pimhub.inbound.messages import (
    AcceptedMessage,
    InboundMessage,
    MessageFilter,
    Outcome,
    Receipt,
    RejectedMessage,
    Verification,
    payload_hash,
)
from pimhub.inbound.ports import Inbox, SourceRepository
from pimhub.inbound.source_cache import LoadedSource, SourceCache
from pimhub.inbound.source_management import SourceManagement
from pimhub.inbound.sources import Scheme, SourceSpec
from pimhub.inbound.validation import validate

log = structlog.get_logger("pimhub.inbound")

DISABLED_RETRY_AFTER = 60  # seconds a sender should wait before trying a disabled source again
MAX_AUDITED_SIZE = 2**31 - 1  # inbound_messages.size is a 32-bit integer
DEFAULT_DEDUPE_DAYS = 7
INLINE_BYTES = 64 * 1024  # larger bodies are checked on a worker thread, off the event loop


def _busy(conflict: WriteConflict) -> StoreBusy:
    busy = StoreBusy("the message could not be stored now (write conflicts); send it again")
    busy.__cause__ = conflict
    return busy


class _Refused(Exception):
    """Internal: a refusal and the audit row it makes; the caller records the row where
    database writes belong (a thread), then raises the refusal."""

    def __init__(self, error: CatalogError, rejected: RejectedMessage) -> None:
        super().__init__(error.detail)
        self.error = error
        self.rejected = rejected


class InboundService(SourceManagement):
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
        committed: list[Callable[[], None]] | None = None,
        audit: Auditor | None = None,
    ) -> None:
        self.audit = audit
        self.sources = sources
        self.inbox = inbox
        self.sealer = sealer
        self.authenticate = authenticate  # AccessService.authenticate: raises Unauthorized
        self.clock = clock
        self.rotation_overlap = rotation_overlap
        self.cache_seconds = cache_seconds
        # Called after an accepted message commits (an in-process dispatcher's notify), the
        # list itself kept so that hooks added later are called too.
        self.committed = committed if committed is not None else []
        self.cache = SourceCache(sources, sealer, cache_seconds)

    # -- receiving -------------------------------------------------------------------------

    def max_bytes(self, name: str) -> int | None:
        """The source's body limit, from the cache (None: no such source), so the route can
        refuse an oversized body before reading it."""
        source = self.cache.get(name).source
        return source.spec.max_bytes if source is not None else None

    def known_max_bytes(self, name: str) -> int | None:
        """max_bytes when the cache holds the source fresh, else None, reading nothing (the
        route calls it on the event loop, and max_bytes on a thread only when it is None)."""
        entry = self.cache.fresh(name)
        return entry.source.spec.max_bytes if entry and entry.source else None

    def refuse_too_large(self, name: str, size: int, remote: str | None) -> NoReturn:
        """Audits and raises the refusal of a body over the limit that the route did not
        (entirely) read: SourceDisabled first when the source is off, else PayloadTooLarge."""
        hashed = payload_hash(b"")
        try:
            spec = self._enabled(self._known(name), name, hashed, size, remote, self.clock())
            raise self._too_large(spec, name, hashed, size, remote, self.clock())
        except _Refused as refused:
            self._record(refused)
            raise refused.error from None

    def refuse_incomplete(
        self, name: str, size: int, remote: str | None, error: CatalogError
    ) -> NoReturn:
        """Audits a body that stopped arriving (`error`, a BodyTimeout: the sender is told
        408) under the problem "body-timeout", then raises `error`. Nothing of the body is
        kept. An unknown source raises SourceNotFound (not audited, as always)."""
        self._known(name)
        refused = self._refused(
            error, name, Verification.NOT_CHECKED, payload_hash(b""), size, remote, self.clock()
        )
        refused.rejected = replace(refused.rejected, problem="body-timeout")
        self._record(refused)
        raise error

    def refuse_repeated_header(self, name: str, header: str, remote: str | None) -> NoReturn:
        """Audits and raises the refusal (400) of a request that sent a header the checks
        read twice: which of the two the sender meant is ambiguous, and reading the first
        silently let a wrong second secret, id or content type through."""
        detail = f"header {header} sent twice; send it once"
        error = InvalidInput(detail, [FieldError(header, detail, "repeated")])
        entry = self._known(name)
        hashed = payload_hash(b"")
        try:
            self._enabled(entry, name, hashed, 0, remote, self.clock())
        except _Refused as disabled:
            self._record(disabled)
            raise disabled.error from None
        refused = self._refused(
            error, name, Verification.NOT_CHECKED, hashed, 0, remote, self.clock()
        )
        refused.rejected = replace(refused.rejected, problem="header-repeated")
        self._record(refused)
        raise error

    def receive(
        self,
        name: str,
        headers: Mapping[str, str],
        body: bytes,
        remote: str | None,
        principal: Callable[[str | None], ApiKey] | None = None,
    ) -> Receipt:
        """Verifies, validates, de-duplicates and stores one message with its outbox event.
        `headers` have lower-case names. Raises SourceNotFound, SourceDisabled,
        MessageUnverified, InvalidMessage, PayloadTooLarge or NulCharacter (each refusal is
        audited first, but for unknown sources). `principal` gives an api-key source the key
        of the request's credentials as the API already authenticated them (its allowlist
        and rate limit applied); without it the key is authenticated here."""
        try:
            try:
                accepted = self._accepted(name, headers, body, remote, principal)
            except _Refused as refused:
                accepted = self._recheck(refused, name, headers, body, remote, principal)
        except _Refused as refused:
            self._record(refused)
            raise refused.error from None
        try:
            receipt = retrying(lambda: self.inbox.accept(accepted))
        except WriteConflict as exc:
            raise _busy(exc) from None
        if receipt.outcome is Outcome.ACCEPTED:
            self._notify()
        return receipt

    def receives_inline(self, name: str, size: int) -> bool:
        """Whether receive_async may check this message on the event loop: its source is in
        the cache, the check needs no database (not an API key) and the body is small enough
        to verify and parse in well under a millisecond."""
        entry = self.cache.fresh(name)
        return (
            entry is not None
            and entry.source is not None
            and entry.source.spec.scheme is not Scheme.API_KEY
            and size <= INLINE_BYTES
        )

    async def receive_async(
        self,
        name: str,
        headers: Mapping[str, str],
        body: bytes,
        remote: str | None,
        principal: Callable[[str | None], ApiKey] | None = None,
    ) -> Receipt:
        """receive for an event loop, when receives_inline says so: the checks run in the
        loop (CPU only), the write goes to the inbox's writer (batched with other messages,
        answered after its commit), and only a refusal's audit takes a worker thread. No
        thread hop per message: the hop cost more than everything else together."""
        if not self.receives_inline(name, len(body)):  # the entry just expired: read it there
            return await anyio.to_thread.run_sync(
                self.receive, name, headers, body, remote, principal
            )
        try:
            try:
                accepted = self._accepted(name, headers, body, remote)
            except _Refused as refused:
                accepted = await anyio.to_thread.run_sync(
                    self._recheck, refused, name, headers, body, remote
                )
        except _Refused as refused:
            await anyio.to_thread.run_sync(self._record, refused)
            raise refused.error from None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                receipt = await self.inbox.submit(accepted)
                break
            except CatalogError as exc:
                if not exc.retryable:
                    raise
                if attempt == WRITE_ATTEMPTS:
                    raise _busy(exc) if isinstance(exc, WriteConflict) else exc from None
            await asyncio.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * 2**attempt))
        if receipt.outcome is Outcome.ACCEPTED:
            self._notify()
        return receipt

    def _recheck(
        self,
        refused: _Refused,
        name: str,
        headers: Mapping[str, str],
        body: bytes,
        remote: str | None,
        principal: Callable[[str | None], ApiKey] | None = None,
    ) -> AcceptedMessage:
        """A message that failed verification, checked again against the source read anew
        (bypassing the cache), or `refused` again: the cache may hold a secret rotated by
        another process since, or a source removed and added again. A 401 tells the sender
        not to retry, so it must not come from a stale cache. A refusal is audited anyway
        (a write): one more read per refused message is cheap next to it."""
        if refused.rejected.verification is not Verification.FAILED:
            raise refused
        self.cache.reload(name)
        return self._accepted(name, headers, body, remote, principal)

    def _accepted(
        self,
        name: str,
        headers: Mapping[str, str],
        body: bytes,
        remote: str | None,
        principal: Callable[[str | None], ApiKey] | None = None,
    ) -> AcceptedMessage:
        """The message as the inbox stores it, or _Refused with what to audit."""
        received = self.clock()
        entry = self._known(name)
        hashed = payload_hash(body)
        spec = self._enabled(entry, name, hashed, len(body), remote, received)
        if len(body) > spec.max_bytes:
            raise self._too_large(spec, name, hashed, len(body), remote, received)
        try:
            authenticate = principal or self.authenticate
            schemes.verify(spec, entry.keys(received), headers, body, received, authenticate)
        except MessageUnverified as exc:
            raise self._refused(
                exc, name, Verification.FAILED, hashed, len(body), remote, received
            ) from None
        found: dict[str, str | None] = {}
        try:
            return self._read(entry, spec, headers, body, hashed, remote, received, found)
        except CatalogError as exc:
            raise self._refused(
                exc, name, Verification.PASSED, hashed, len(body), remote, received, **found
            ) from None

    def _known(self, name: str) -> LoadedSource:
        entry = self.cache.get(name)
        if entry.source is None:
            raise SourceNotFound(f"no inbound source named '{name}'")
        return entry

    def _enabled(
        self,
        entry: LoadedSource,
        name: str,
        hashed: str,
        size: int,
        remote: str | None,
        received: datetime,
    ) -> SourceSpec:
        assert entry.source is not None
        spec = entry.source.spec
        if not spec.enabled:
            refusal = SourceDisabled(
                f"the inbound source '{name}' is disabled; send the message again later"
            )
            refusal.retry_after = DISABLED_RETRY_AFTER
            raise self._refused(
                refusal, name, Verification.NOT_CHECKED, hashed, size, remote, received
            )
        return spec

    def _too_large(
        self,
        spec: SourceSpec,
        name: str,
        hashed: str,
        size: int,
        remote: str | None,
        received: datetime,
    ) -> _Refused:
        detail = f"the body is larger than the source's limit of {spec.max_bytes} bytes"
        refusal = PayloadTooLarge(detail, [FieldError("body", detail, "payload-too-large")])
        return self._refused(
            refusal, name, Verification.NOT_CHECKED, hashed, size, remote, received
        )

    def _read(
        self,
        entry: LoadedSource,
        spec: SourceSpec,
        headers: Mapping[str, str],
        body: bytes,
        hashed: str,
        remote: str | None,
        received: datetime,
        found: dict[str, str | None],
    ) -> AcceptedMessage:
        """The message as the inbox stores it; `found` collects the id, type and key as they
        are read, so that a later refusal audits them."""
        decode.check_media_type(headers)
        text, payload = decode.decode(body)
        message_id = found["message_id"] = extract.message_id(spec, headers, payload, hashed)
        event_type = found["event_type"] = extract.event_type(spec, headers, payload, hashed)
        found["key"] = extract.message_key(spec, headers, payload, hashed)
        if spec.event_types and not any(
            type_matches(pattern, event_type) for pattern in spec.event_types
        ):
            detail = f"the source '{spec.name}' does not take events of type '{event_type}'"
            raise InvalidMessage(detail, [FieldError("eventType", detail, "type-not-allowed")])
        validator = entry.validators.get(event_type)
        if validator is not None:
            validate(validator, payload, event_type)
        return AcceptedMessage(
            source=spec.name,
            message_id=message_id,
            event_type=event_type,
            key=found["key"],
            received_at=received,
            body=text,
            payload=payload,
            payload_hash=hashed,
            size=len(body),
            remote=remote,
        )

    def _refused(
        self,
        refusal: CatalogError,
        name: str,
        verification: Verification,
        hashed: str,
        size: int,
        remote: str | None,
        received: datetime,
        **found: str | None,
    ) -> _Refused:
        return _Refused(
            refusal,
            RejectedMessage(
                source=name,
                received_at=received,
                verification=verification,
                problem=refusal.code,
                reason=refusal.detail,
                payload_hash=hashed,
                size=min(size, MAX_AUDITED_SIZE),
                remote=remote,
                message_id=found.get("message_id"),
                event_type=found.get("event_type"),
                key=found.get("key"),
            ),
        )

    def _record(self, refused: _Refused) -> None:
        retrying(lambda: self.inbox.reject(refused.rejected))

    def _notify(self) -> None:
        for hook in self.committed:
            try:
                hook()
            except Exception:
                # The message is stored; a failing listener must not make it look refused.
                log.exception("inbound.commit_hook_failed")

    # -- audit -----------------------------------------------------------------------------

    def messages(
        self, where: MessageFilter, *, limit: int = 100, before_id: int | None = None
    ) -> list[InboundMessage]:
        return self.inbox.messages(where, max(1, min(limit, 1000)), before_id)

    def message(self, message_id: int) -> InboundMessage:
        found = self.inbox.message(message_id)
        if found is None:
            raise MessageNotFound(f"no inbound message with id {message_id}")
        return found

    def message_body(self, message_id: int) -> str | None:
        """The body of an accepted message as received (None for others)."""
        return self.inbox.body(message_id)

    def counts(self, since: datetime) -> dict[tuple[str, str], int]:
        """Messages received since `since` by (source, outcome), for /metrics."""
        return self.inbox.counts(since)

    def prune(self, before: datetime) -> int:
        """Deletes audit rows received before `before`; accepted ones are kept for the longest
        dedupe window of any source, so that repeats are still recognised."""
        days = max((s.spec.dedupe_days for s in self.sources.all()), default=DEFAULT_DEDUPE_DAYS)
        keep_after = min(before, self.clock() - timedelta(days=days))
        return retrying(lambda: self.inbox.prune(before, keep_after))
