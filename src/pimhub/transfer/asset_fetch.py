"""Resolving the files an import's `asset` step names (transfer.asset_step) to assets.

Each distinct file is fetched once per run (a URL many rows share downloads once, a URL
that failed is not tried again), through transfer.fetching's guard: no internal address
unless allowed, redirects checked at every hop, a size limit (the asset limit) and a
deadline. A file imported before is asked for again with its validator (If-None-Match /
If-Modified-Since): a 304 reuses the asset, nothing is downloaded; a 200 with the same bytes
stores no new version (the asset service's de-duplication by SHA-256).

Downloads run a few at a time, before the batch's unit of work opens, so no transaction
holds a lock while a server sends a file. A dry run downloads and stores nothing: it reuses
the assets already imported from a source and counts the files it would fetch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import httpx

from pimhub.assets.model import Asset
from pimhub.assets.paths import normalize_path
from pimhub.assets.service import AssetService
from pimhub.catalog.errors import AssetNotFound, CatalogError
from pimhub.events.destinations import blocked_address
from pimhub.transfer.asset_step import AssetSource
from pimhub.transfer.fetching import Downloaded, FetchFailed, download, shown_url
from pimhub.transfer.mapping import ImportMapping

MAX_FILE_NAME = 200  # characters of a file name taken from a URL or a file
SHOWN_TO_FETCH = 20  # locations a dry run lists


@dataclass(frozen=True, slots=True)
class AssetFetchPolicy:
    """What an import may fetch. `local_files`: only the CLI, run by someone who may read
    the disk anyway; an import over REST or a schedule must never read the server's files."""

    max_bytes: int
    allow_private: bool = False
    local_files: bool = False
    parallel: int = 4  # downloads at once
    timeout: float = 30.0  # each connect or read
    file_deadline: float = 300.0  # one download
    run_deadline: float = 3600.0  # all of a run's downloads


@dataclass(slots=True)
class AssetCounts:
    fetched: int = 0  # downloaded or read (200)
    not_modified: int = 0  # 304: the asset was reused without a download
    created: int = 0
    updated: int = 0  # new content for an asset imported before
    unchanged: int = 0  # downloaded again, but the same bytes: no new version
    refused: int = 0  # files that could not be fetched or stored
    to_fetch: int = 0  # a dry run: files it would fetch
    shown: list[str] = field(default_factory=list)  # the first of them

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fetched": self.fetched,
            "notModified": self.not_modified,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
        }
        if self.to_fetch:
            out["wouldFetch"] = self.to_fetch
            out["wouldFetchFirst"] = self.shown
        return out


class AssetRefused(Exception):
    """A file that could not become an asset; the message names it, never a secret."""


@dataclass(frozen=True, slots=True)
class AssetOutcome:
    """The outcome of one file: the asset's uuid, or why not (None and no error: a dry
    run's file to fetch, which the row leaves out)."""

    uuid: str | None = None
    error: str | None = None


class AssetFetcher:
    """One import run's resolver: a cache of each file's outcome and the run's counts."""

    def __init__(
        self,
        store: AssetService,
        policy: AssetFetchPolicy,
        *,
        author: str,
        dry_run: bool = False,
        transport: httpx.BaseTransport | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.store = store
        self.policy = policy
        self.author = author
        self.dry_run = dry_run
        self.transport = transport
        self.clock = clock
        self.until = clock() + policy.run_deadline
        self.counts = AssetCounts()
        self._done: dict[AssetSource, AssetOutcome] = {}

    def resolve(self, sources: Iterable[AssetSource]) -> dict[AssetSource, AssetOutcome]:
        """The outcome of each source; the ones not met before this run are fetched now,
        `policy.parallel` at a time, and stored one after the other."""
        wanted = [s for s in dict.fromkeys(sources) if s not in self._done]
        if wanted:
            with tempfile.TemporaryDirectory(prefix="pimhub-assets-") as folder:
                self._fetch_all(wanted, Path(folder))
        return self._done

    def _fetch_all(self, wanted: list[AssetSource], folder: Path) -> None:
        known = {s: self._known(s) for s in wanted}
        if self.dry_run:
            for source in wanted:
                self._done[source] = self._dry(source, known[source])
            return
        with ThreadPoolExecutor(max(1, self.policy.parallel)) as pool:
            pending = []
            for n, source in enumerate(wanted):
                target = folder / f"{n}.part"
                pending.append(
                    (source, target, pool.submit(self._fetch, source, target, known[source]))
                )
            # Stored in this thread, in the cells' order: the asset service's units of work
            # never run side by side for one import.
            for source, target, future in pending:
                try:
                    got = future.result()
                    self._done[source] = self._store(source, got, target, known[source])
                except AssetRefused as exc:
                    self.counts.refused += 1
                    self._done[source] = AssetOutcome(error=str(exc))

    def _known(self, source: AssetSource) -> Asset | None:
        return self.store.find_by_source(_source_key(source))

    def _dry(self, source: AssetSource, known: Asset | None) -> AssetOutcome:
        if source.local and not self.policy.local_files:
            return AssetOutcome(error=_NO_LOCAL)
        if known is not None:
            return AssetOutcome(uuid=known.uuid)
        # What the download would refuse first: a name lookup, no request.
        guarded = not source.local and not self.policy.allow_private
        if guarded and (why := blocked_address(source.location)):
            return AssetOutcome(error=f"{_shown(source)}: {why}")
        self.counts.to_fetch += 1
        if len(self.counts.shown) < SHOWN_TO_FETCH:
            self.counts.shown.append(_shown(source))
        return AssetOutcome()

    def _fetch(self, source: AssetSource, target: Path, known: Asset | None) -> Downloaded:
        """Downloads (or copies) one file to `target`; runs on a pool thread."""
        if source.local:
            return self._copy(source, target, known)
        left = self.until - self.clock()
        if left <= 0:
            raise AssetRefused(f"{_shown(source)}: the import's downloads ran out of time")
        try:
            return download(
                source.location,
                target,
                transport=self.transport,
                allow_private=self.policy.allow_private,
                max_bytes=self.policy.max_bytes,
                deadline=min(self.policy.file_deadline, left),
                timeout=self.policy.timeout,
                validator=known.source_validator if known is not None else None,
            )
        except FetchFailed as exc:
            raise AssetRefused(_with_location(str(exc), source)) from None

    def _copy(self, source: AssetSource, target: Path, known: Asset | None) -> Downloaded:
        """A local file (the CLI only): its modification time and size stand for an ETag."""
        if not self.policy.local_files:
            raise AssetRefused(_NO_LOCAL)
        try:
            stat = os.stat(source.location)
            validator = f"file:{stat.st_mtime_ns}:{stat.st_size}"
            if known is not None and known.source_validator == validator:
                return Downloaded(304, validator)
            if stat.st_size > self.policy.max_bytes:
                raise AssetRefused(
                    f"{source.location} is larger than {self.policy.max_bytes:,} bytes"
                )
            with open(source.location, "rb") as src, target.open("wb") as out:
                copied = _copy_limited(src, out, self.policy.max_bytes)
        except OSError as exc:
            raise AssetRefused(f"{source.location}: {exc.strerror or type(exc).__name__}") from None
        if copied > self.policy.max_bytes:
            raise AssetRefused(f"{source.location} is larger than {self.policy.max_bytes:,} bytes")
        return Downloaded(200, validator, None, copied)

    def _store(
        self, source: AssetSource, got: Downloaded, target: Path, known: Asset | None
    ) -> AssetOutcome:
        if got.status == 304 and known is not None:
            self.counts.not_modified += 1
            return AssetOutcome(uuid=known.uuid)
        self.counts.fetched += 1
        key = _source_key(source)
        try:
            # An asset imported before stays where it is (someone may have moved it).
            path = known.path if known is not None else self._free_path(source, key)
            with target.open("rb") as content:
                saved = self.store.add(
                    content,
                    path,
                    author=self.author,
                    source=key,
                    source_validator=got.validator,
                )
        except CatalogError as exc:
            raise AssetRefused(f"{_shown(source)}: {refusal(exc)}") from None
        finally:
            target.unlink(missing_ok=True)
        if saved.created:
            self.counts.created += 1
        elif saved.changed:
            self.counts.updated += 1
        else:
            self.counts.unchanged += 1
        return AssetOutcome(uuid=saved.asset.uuid)

    def _free_path(self, source: AssetSource, key: str) -> str:
        """folder/name, unless an asset from elsewhere (another URL, an upload) holds that
        path: then the name gains a short hash of the source, so neither replaces the
        other."""
        name = file_name(source)
        # Checked whole before the lookup: a long folder and a long name may each pass
        # and not together (InvalidInput: a row error).
        path = normalize_path(f"{source.folder.rstrip('/')}/{name}")
        try:
            holder = self.store.get(path)
        except AssetNotFound:
            return path
        if holder.source == key:
            return path
        stem, dot, suffix = name.rpartition(".")
        if not dot:
            stem, suffix = name, ""
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        return normalize_path(f"{source.folder.rstrip('/')}/{stem}-{digest}{dot}{suffix}")


def asset_fetcher(
    mapping: ImportMapping,
    store: AssetService,
    policy: AssetFetchPolicy,
    *,
    author: str,
    dry_run: bool = False,
) -> AssetFetcher | None:
    """A fetcher for one run of `mapping`, or None when it has no `asset` step."""
    if not any(fm.asset for fm in mapping.fields):
        return None
    return AssetFetcher(store, policy, author=author, dry_run=dry_run)


_NO_LOCAL = (
    "an import over the API or a schedule reads no files of the server; give an http(s) URL "
    "(local paths work with the pimhub import command)"
)


def _source_key(source: AssetSource) -> str:
    """What an asset records as its source: the URL, or the local file as a file: URI."""
    return source.location if not source.local else Path(source.location).absolute().as_uri()


def _shown(source: AssetSource) -> str:
    return source.location if source.local else shown_url(source.location)


def _with_location(message: str, source: AssetSource) -> str:
    """FetchFailed names the URL in most messages, not in all (too large, a redirect)."""
    shown = _shown(source)
    return message if shown in message else f"{shown}: {message}"


def _copy_limited(src: BinaryIO, out: BinaryIO, limit: int) -> int:
    copied = 0
    while chunk := src.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            break
        out.write(chunk)
    return copied


def file_name(source: AssetSource) -> str:
    """The asset's file name: the last segment of the URL's path (percent-decoded) or of the
    file's path, without control characters, slashes or backslashes, at most MAX_FILE_NAME
    characters (its extension kept); "file" when nothing is left."""
    raw = urlsplit(source.location).path if not source.local else source.location
    name = unquote(PurePosixPath(raw).name if raw else "")
    name = "".join(c if c.isprintable() and c not in "/\\" else "-" for c in name).strip()
    if len(name) > MAX_FILE_NAME:
        stem, dot, suffix = name.rpartition(".")
        if not dot or len(suffix) > 16:
            stem, dot, suffix = name, "", ""
        name = stem[: MAX_FILE_NAME - len(dot) - len(suffix)] + dot + suffix
    return "file" if name.strip(".") == "" else name


def refusal(exc: CatalogError) -> str:
    """A domain error of the asset service as a row error's text: its detail, and what
    its field errors add."""
    extra = [e.message for e in exc.errors if e.message not in exc.detail]
    return "; ".join([exc.detail, *extra])
