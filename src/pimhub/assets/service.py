"""Asset reads and writes: one unit of work each, like the catalog service.

CONTRACT (issue 17 groundwork): the signatures below are what the REST, CLI, GraphQL, import
and connector code call. The bodies are being filled in; keep the signatures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pimhub.assets.model import Asset
from pimhub.catalog.objects import ObjectVersion

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class AssetLimits:
    max_bytes: int = 100 << 20  # one file
    max_pixels: int = 40_000_000  # width x height; a decompression bomb is refused unread


@dataclass(frozen=True, slots=True)
class AssetSave:
    asset: Asset
    created: bool
    changed: bool  # False: the same bytes and metadata were already there (no new version)


@dataclass(frozen=True, slots=True)
class AssetPage:
    items: list[Asset]
    total: int
    next_cursor: str | None


class AssetService:
    """`ref` arguments take an asset's path ("/products/a.jpg") or its uuid. Writers pass
    `author` (the API key name or CLI user). Errors come from catalog.errors:
    AssetNotFound (404), AssetInUse (409, with the referrers), UnsupportedMediaType (415),
    PayloadTooLarge (413), InvalidInput (bad path or metadata, 400), StaleVersion (409)."""

    def add(
        self,
        content: BinaryIO,
        path: str,
        *,
        author: str,
        metadata: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        source: str | None = None,
        source_validator: str | None = None,
    ) -> AssetSave:
        """Create the asset at `path`, or replace its content. `content` is a seekable file
        holding the whole upload (the caller spooled it, counting bytes against
        `limits.max_bytes`). The type is detected from the bytes; the blob is stored once
        per SHA-256; the row, a version and an `asset.created|updated` event are written
        in one transaction. Same bytes and metadata as stored: nothing is written."""
        raise NotImplementedError

    def update(
        self,
        ref: str,
        *,
        author: str,
        metadata: Mapping[str, Any] | None = None,
        path: str | None = None,
        expected_version: int | None = None,
    ) -> AssetSave:
        """Merge `metadata` (e.g. {"alt": {"de": "..."}}; null removes a key) and/or move
        the asset to `path`; references from objects follow it (they hold its uuid)."""
        raise NotImplementedError

    def get(self, ref: str) -> Asset:
        raise NotImplementedError

    def get_many(self, uuids: Sequence[str]) -> dict[str, Asset]:
        """The assets with these uuids, by uuid, read with one statement (views, GraphQL)."""
        raise NotImplementedError

    def list_page(
        self, *, folder: str | None = None, first: int = 50, after: str | None = None
    ) -> AssetPage:
        """Assets in `folder` and below (None: all), by path; `after` is a page's
        next_cursor."""
        raise NotImplementedError

    def delete(self, ref: str, *, author: str, force: bool = False) -> Asset:
        """Delete the asset; refused with AssetInUse naming the referrers while objects use
        it, unless `force`, which removes those references first (a version each)."""
        raise NotImplementedError

    def versions(self, ref: str) -> list[ObjectVersion]:
        raise NotImplementedError

    def find_by_source(self, source: str) -> Asset | None:
        """The asset an import took from `source` (URL or file), for conditional
        re-downloads."""
        raise NotImplementedError

    def read(self, asset: Asset) -> Iterator[bytes]:
        """The asset's bytes in chunks."""
        raise NotImplementedError

    def local_path(self, asset: Asset) -> Path | None:
        """A file holding the asset's bytes when the store is on this machine's disk."""
        raise NotImplementedError
