"""Managing inbound sources: add, change, rotate and remove them (InboundService's first half;
the receiving half stays in inbound.service)."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from pimhub.access.audit import Auditor
from pimhub.catalog.errors import (
    FieldError,
    StaleVersion,
)
from pimhub.catalog.retry import RETRY_PAUSE_SECONDS, WRITE_ATTEMPTS, retrying
from pimhub.events.ports import Sealer
from pimhub.inbound import schemes
from pimhub.inbound.errors import InvalidSource, SourceExists, SourceNotFound, StoreBusy
from pimhub.inbound.ports import SourceRepository
from pimhub.inbound.source_cache import SourceCache
from pimhub.inbound.source_parser import parse_source
from pimhub.inbound.sources import Scheme, StoredSource

log = structlog.get_logger("pimhub.inbound")


class SourceManagement:
    """The source side of InboundService, which sets these attributes."""

    sources: SourceRepository
    sealer: Sealer
    clock: Callable[[], datetime]
    rotation_overlap: timedelta
    cache: SourceCache
    audit: Auditor | None = None  # records each change after it committed

    def _audit_source(
        self, verb: str, name: str, before: StoredSource | None, after: StoredSource | None
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                f"source.{verb}",
                "source",
                name,
                before=before.to_dict() if before else None,
                after=after.to_dict() if after else None,
            )

    # -- sources ---------------------------------------------------------------------------

    def add_source(self, body: Any, secret: str | None = None) -> tuple[StoredSource, str | None]:
        """A new source; returns it and the secret to give the sender (generated unless
        `secret` is given, here or as the body's "secret"; None for the api-key scheme). The
        secret is shown only here."""
        if isinstance(body, Mapping) and "secret" in body:
            body = dict(body)
            given = body.pop("secret")
            secret = secret if secret is not None else given
        spec = parse_source(body)
        plain = self._secret(spec.scheme, secret)
        sealed = self.sealer.encrypt(plain) if plain is not None else None
        feed = spec.feed_endpoint()
        now = self.clock()
        stored = retrying(
            lambda: self.sources.add(
                spec, spec.to_dict(), sealed, feed, now, feed_sealed=self._feed_secret(feed)
            )
        )
        self.cache.drop(spec.name)
        if stored is None:
            raise SourceExists(f"an inbound source named '{spec.name}' exists")
        log.info("inbound.source_added", source=spec.name, scheme=spec.scheme.value)
        self._audit_source("created", spec.name, None, stored)
        return stored, plain

    def update_source(
        self, name: str, body: Any, *, expected_version: int | None = None
    ) -> StoredSource:
        """The given keys of `body` changed (the rest kept). With `expected_version`, a source
        saved meanwhile is a StaleVersion; without, never a conflict: the change is applied
        to the version read (compare-and-set, so another writer's change is not reverted by
        a merge with an older read), and when that lost a race (a change, or a remove and
        add of the name) the source is read again and the change applied to it
        (SourceNotFound when none is there). Races lost every time: StoreBusy (retry)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            current = self.get_source(name)
            if self._save_source(name, current, body, expected_version):
                saved = self.get_source(name)
                self._audit_source("updated", name, current, saved)
                return saved
            if expected_version is not None:
                latest = self.get_source(name)  # SourceNotFound when it went away meanwhile
                raise StaleVersion(
                    f"the source '{name}' is at version {latest.version}, not {expected_version}",
                    latest.version,
                )
            # Parallel writers of one source: apart, they stop meeting each other.
            time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * 2**attempt))
        raise StoreBusy(
            f"the source '{name}' kept changing while this change was applied; nothing was "
            "saved, try again"
        )

    def _save_source(
        self, name: str, current: StoredSource, body: Any, expected_version: int | None
    ) -> bool:
        """One compare-and-set of `body` applied to `current`: False when the source is no
        longer at `expected_version` (or, without one, at the version read)."""
        spec = parse_source(body, current.spec)
        if spec.scheme is not current.spec.scheme:
            detail = "a source's scheme cannot change (its secret is the scheme's); add a new one"
            raise InvalidSource(detail, [FieldError("scheme", detail, "immutable")])
        feed = spec.feed_endpoint()
        now = self.clock()
        version = current.version if expected_version is None else expected_version
        saved = retrying(
            lambda: self.sources.save(
                spec,
                spec.to_dict(),
                feed,
                now,
                expected_version=version,
                feed_sealed=self._feed_secret(feed),
            )
        )
        self.cache.drop(name)
        return saved

    def get_source(self, name: str) -> StoredSource:
        stored = self.sources.get(name)
        if stored is None:
            raise SourceNotFound(f"no inbound source named '{name}'")
        return stored

    def all_sources(self) -> list[StoredSource]:
        return self.sources.all()

    def remove_source(self, name: str) -> None:
        before = self.sources.get(name)
        removed = retrying(lambda: self.sources.remove(name))
        self.cache.drop(name)
        if not removed:
            raise SourceNotFound(f"no inbound source named '{name}'")
        self._audit_source("deleted", name, before, None)

    def rotate_secret(
        self, name: str, secret: str | None = None, overlap: timedelta | None = None
    ) -> str:
        """A new secret (generated unless given); the old one stays valid for `overlap`."""
        current = self.get_source(name)
        plain = self._secret(current.spec.scheme, secret)
        if plain is None:
            detail = "api-key sources have no secret: revoke or create hub API keys instead"
            raise InvalidSource(detail, [FieldError("scheme", detail, "no-secret")])
        overlap = self.rotation_overlap if overlap is None else overlap
        if overlap < timedelta(0):
            raise InvalidSource("the overlap cannot be negative", [FieldError("overlap", "< 0")])
        now = self.clock()
        sealed = self.sealer.encrypt(plain)
        rotated = retrying(lambda: self.sources.rotate(name, sealed, now + overlap, now))
        self.cache.drop(name)
        if not rotated:
            raise SourceNotFound(f"no inbound source named '{name}'")
        log.info("inbound.secret_rotated", source=name, overlap_seconds=overlap.total_seconds())
        self._audit_source("rotated", name, current, self.sources.get(name))
        return plain

    def _secret(self, scheme: Scheme, given: str | None) -> str | None:
        if given is None:
            return schemes.new_secret(scheme)
        problem = (
            schemes.secret_problem(scheme, given) if isinstance(given, str) else "must be a text"
        )
        if problem is not None:
            raise InvalidSource(f"secret: {problem}", [FieldError("secret", problem)])
        return given

    def _feed_secret(self, feed: object) -> str | None:
        # The feed row is a pipeline destination, whose secret every worker decrypts; it
        # signs nothing, so a random one will do.
        return self.sealer.encrypt(secrets.token_urlsafe(24)) if feed is not None else None
