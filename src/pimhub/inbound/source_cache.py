"""The receive path's view of sources: each source read once per `ttl` seconds with its secrets
decrypted and its JSON Schemas compiled, so that a message costs no source query. The service
drops an entry whenever it changes the source; other processes' changes show within `ttl`."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pimhub.events.ports import Sealer
from pimhub.inbound.ports import SourceRepository
from pimhub.inbound.schemes import signing_key
from pimhub.inbound.sources import NAME_PATTERN, StoredSource
from pimhub.inbound.validation import compile_schemas

_NAME = re.compile(NAME_PATTERN)
MAX_ENTRIES = 1024  # names remembered, found or not (a flood of unknown names stays bounded)


@dataclass(frozen=True, slots=True)
class LoadedSource:
    source: StoredSource | None  # None: no source of that name
    key: bytes | None = None
    previous: bytes | None = None
    previous_until: datetime | None = None
    validators: dict[str, Any] = field(default_factory=dict)
    loaded_at: float = 0.0

    def keys(self, now: datetime) -> tuple[bytes, ...]:
        """The signing keys valid at `now`: the secret, and the previous one until its end."""
        current = (self.key,) if self.key is not None else ()
        if self.previous is not None and self.previous_until and now < self.previous_until:
            return (*current, self.previous)
        return current


class SourceCache:
    def __init__(
        self,
        sources: SourceRepository,
        sealer: Sealer,
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = sources
        self.sealer = sealer
        self.ttl = ttl
        self.monotonic = monotonic
        self._entries: dict[str, LoadedSource] = {}
        self._lock = threading.Lock()

    def fresh(self, name: str) -> LoadedSource | None:
        """The cached entry when it is still fresh, without reading anything."""
        entry = self._entries.get(name)
        if entry is not None and self.monotonic() - entry.loaded_at < self.ttl:
            return entry
        return None

    def get(self, name: str) -> LoadedSource:
        entry = self.fresh(name)
        if entry is not None:
            return entry
        if not _NAME.fullmatch(name):
            return LoadedSource(None, loaded_at=self.monotonic())  # never stored: no query
        entry = self._load(name)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[name] = entry
        return entry

    def reload(self, name: str) -> LoadedSource:
        """The source read again now, whatever the cache holds (a secret rotated, or the
        source removed and added again, by another process or between two reads)."""
        if not _NAME.fullmatch(name):
            return self.get(name)
        entry = self._load(name)
        with self._lock:
            self._entries[name] = entry
        return entry

    def drop(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)

    def _load(self, name: str) -> LoadedSource:
        loaded_at = self.monotonic()
        found = self.sources.with_secrets(name)  # one read: the secret is this source's
        if found is None:
            return LoadedSource(None, loaded_at=loaded_at)
        stored, sealed = found
        scheme = stored.spec.scheme
        key = previous = None
        until = None
        if sealed.sealed is not None:
            key = signing_key(scheme, self.sealer.decrypt(sealed.sealed))
            if sealed.previous_sealed is not None:
                previous = signing_key(scheme, self.sealer.decrypt(sealed.previous_sealed))
                until = sealed.previous_until
        return LoadedSource(
            stored, key, previous, until, compile_schemas(stored.spec.schemas), loaded_at
        )
