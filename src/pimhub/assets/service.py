"""Asset reads and writes: one unit of work each, like the catalog service.

The signatures are what the REST, CLI, GraphQL, import and connector code call. Content is
hashed and checked before any unit of work opens; the blob is stored (once per SHA-256)
before the row that names it commits, so a committed asset always has its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import structlog

from pimhub.assets.detect import detect
from pimhub.assets.gc import DEFAULT_GRACE, GcReport, collect_garbage
from pimhub.assets.metadata import check_metadata
from pimhub.assets.model import Asset, blob_key, thumbnail_prefix
from pimhub.assets.paths import normalize_folder, normalize_path
from pimhub.assets.ports import BlobStore
from pimhub.assets.records import (
    ALL_CHANGED,
    MAX_REFERRERS_SHOWN,
    asset_in_use,
    changed_parts,
    check_version,
    lost_race,
    record,
)
from pimhub.catalog.batch import merge_patch
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import (
    AssetNotFound,
    DuplicateKey,
    FieldError,
    InvalidInput,
    PayloadTooLarge,
)
from pimhub.catalog.ids import new_uuid
from pimhub.catalog.objects import ChangeAction, ObjectVersion
from pimhub.catalog.ports import UnitOfWork, UnitOfWorkFactory
from pimhub.catalog.relations import looks_like_uuid
from pimhub.catalog.retry import write_retrying
from pimhub.catalog.validation import NUL, spell_nul
from pimhub.catalog.writer import ObjectWriter

log = structlog.get_logger("pimhub.assets")
MAX_PAGE_SIZE = 1000
_CHUNK = 1 << 20


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

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        store: BlobStore,
        *,
        limits: AssetLimits = AssetLimits(),
        languages: frozenset[str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        writer: ObjectWriter | None = None,
    ) -> None:
        self.uow = uow
        self.store = store
        self.limits = limits
        self.languages = languages
        self.clock = clock
        # The catalog's writer, so that a forced delete changes referrers as any write does.
        self.writer = writer or ObjectWriter(languages=languages, clock=clock)

    # -- writes --------------------------------------------------------------------------
    #
    # Each write locks the asset's path before it reads the row, so that on PostgreSQL
    # writers of one path take turns; a write that still loses a race (a deadlock, an
    # insert of the same path) runs again as a whole: a caller naming no version never
    # sees a conflict.

    def add(
        self,
        content: IO[bytes],
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
        in one transaction. Same bytes and metadata as stored: nothing is written.
        `metadata`, when given, replaces the stored metadata; None keeps it."""
        path = normalize_path(path)
        meta = None if metadata is None else check_metadata(metadata, self.languages)
        _check_text("source", source, 2048)
        _check_text("sourceValidator", source_validator, 255)
        checksum, size = self._digest(content)
        found = detect(content, max_pixels=self.limits.max_pixels)
        key = blob_key(checksum)
        # Touching a blob that is already there makes it young, so that garbage collection
        # (assets.gc, which spares young blobs) cannot take it before this row commits.
        if not self.store.touch(key):
            self._put(key, content, size, found.mimetype)
        content.seek(0)

        def work(uow: UnitOfWork) -> tuple[AssetSave, str | None]:
            uow.assets.lock([path])
            before = uow.assets.get_by_path(path)
            if before is None and expected_version is not None:
                raise AssetNotFound(f"no asset at '{path}' to update")
            check_version(before, expected_version)
            now = self.clock()
            after = Asset(
                uuid=before.uuid if before else new_uuid(),
                path=path,
                mimetype=found.mimetype,
                filesize=size,
                checksum=checksum,
                width=found.width,
                height=found.height,
                metadata=meta if meta is not None else (before.metadata if before else {}),
                version=before.version + 1 if before else 1,
                created_at=before.created_at if before else now,
                modified_at=now,
                source=source if source is not None else (before.source if before else None),
                source_validator=source_validator
                if source is not None or source_validator is not None
                else (before.source_validator if before else None),
            )
            save = self._store(uow, before, after, author)
            return save, _dropped_content(before, save)

        save, dropped = write_retrying(self.uow, work)
        if save.changed and not self.store.exists(key):
            # A collection that began before the touch may still have removed it.
            self._put(key, content, size, found.mimetype)
        self._drop_thumbnails(dropped)
        return save

    def _put(self, key: str, content: IO[bytes], size: int, mimetype: str) -> None:
        content.seek(0)
        self.store.put(key, cast(BinaryIO, content), size, mimetype)

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
        new_path = None if path is None else normalize_path(path)
        if metadata is not None and not isinstance(metadata, Mapping):
            check_metadata(metadata, self.languages)  # raises: not an object

        def work(uow: UnitOfWork) -> AssetSave:
            before = self._locked(uow, ref)
            check_version(before, expected_version)
            merged = before.metadata
            if metadata is not None:
                merged = check_metadata(merge_patch(before.metadata, metadata), self.languages)
            target = new_path or before.path
            if target != before.path:
                uow.assets.lock([target])
                if uow.assets.get_by_path(target) is not None:
                    raise DuplicateKey(
                        f"there is already an asset at '{target}'",
                        [FieldError("path", "taken by another asset", "unique")],
                    )
            now = self.clock()
            after = replace(
                before, path=target, metadata=merged, version=before.version + 1, modified_at=now
            )
            return self._store(uow, before, after, author)

        return write_retrying(self.uow, work)

    def delete(
        self,
        ref: str,
        *,
        author: str,
        force: bool = False,
        may_unlink: Callable[[set[str]], None] | None = None,
    ) -> Asset:
        """Delete the asset; refused with AssetInUse naming the referrers while objects use
        it, unless `force`, which removes those references first (a version each). A forced
        delete first shows `may_unlink` the referrers' classes; it raises to refuse (the
        API checks the key's write scope on each), before anything is changed."""

        def work(uow: UnitOfWork) -> Asset:
            asset = self._locked(uow, ref)
            # Writers referring to the asset hold it shared until they commit; once this
            # holds it, every reference is committed and visible to the check below.
            uow.assets.hold([asset.uuid], exclusive=True)
            referrers = uow.objects.referrers(asset.uuid, MAX_REFERRERS_SHOWN + 1)
            if referrers and not force:
                raise asset_in_use(asset, referrers)
            if referrers:
                if may_unlink is not None:
                    may_unlink(uow.assets.referrer_classes(asset.uuid))
                self.writer.unlink_referrers(uow, asset.uuid, author)
            uow.assets.delete(asset)
            gone = replace(asset, version=asset.version + 1, modified_at=self.clock())
            record(uow, gone, [], ChangeAction.DELETED, author)
            return gone

        gone = write_retrying(self.uow, work)
        self._drop_thumbnails(gone.checksum)
        return gone

    def _store(self, uow: UnitOfWork, before: Asset | None, after: Asset, author: str) -> AssetSave:
        """Insert or compare-and-set the row, with a version and an event, when anything
        a reader sees changed; bookkeeping alone (an import's source validator) is kept
        without either."""
        if before is None:
            asset = uow.assets.insert(after)
            record(uow, asset, list(ALL_CHANGED), ChangeAction.CREATED, author)
            return AssetSave(asset, created=True, changed=True)
        changed = changed_parts(before, after)
        if not changed:
            if (after.source, after.source_validator) != (
                before.source,
                before.source_validator,
            ):
                kept = replace(before, source=after.source, source_validator=after.source_validator)
                if not uow.assets.update(kept, before.version):
                    raise lost_race(before)
                return AssetSave(kept, created=False, changed=False)
            return AssetSave(before, created=False, changed=False)
        if not uow.assets.update(after, before.version):
            raise lost_race(before)
        asset = replace(after, id=before.id)
        record(uow, asset, changed, ChangeAction.UPDATED, author)
        return AssetSave(asset, created=False, changed=True)

    def _digest(self, content: IO[bytes]) -> tuple[str, int]:
        """SHA-256 (hex) and size of `content`, refused past `limits.max_bytes`."""
        content.seek(0)
        digest = hashlib.sha256()
        size = 0
        while chunk := content.read(_CHUNK):
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise PayloadTooLarge(
                    f"the file is larger than {self.limits.max_bytes:,} bytes",
                    [FieldError("file", f"over {self.limits.max_bytes:,} bytes", "too-large")],
                )
            digest.update(chunk)
        content.seek(0)
        return digest.hexdigest(), size

    def _drop_thumbnails(self, checksum: str | None) -> None:
        """Thumbnails of a content no asset holds any more; after the commit, so a rolled
        back change keeps them. The blob stays for `pimhub assets gc` (a reader may still
        be sending it)."""
        if checksum is None:
            return
        with self.uow() as uow:
            if uow.assets.count_with_checksum(checksum):
                return
        try:
            self.store.delete_prefix(thumbnail_prefix(checksum))
        except Exception:
            # The change is committed; stale thumbnails are unreachable (their URLs name
            # the old checksum) and gc removes them.
            log.exception("assets.thumbnail_drop_failed", checksum=checksum)

    def collect_garbage(
        self, *, grace: timedelta = DEFAULT_GRACE, dry_run: bool = False
    ) -> GcReport:
        """Delete the stored files and thumbnails no asset holds, unless written within
        `grace` (assets.gc); with `dry_run`, only count them."""

        def held(checksums: set[str]) -> set[str]:
            with self.uow() as uow:
                return uow.assets.held_checksums(checksums)

        return collect_garbage(self.store, held, grace=grace, dry_run=dry_run)

    def _locked(self, uow: UnitOfWork, ref: str) -> Asset:
        """The asset `ref` names, read again after locking its path."""
        asset = self._find(uow, ref)
        uow.assets.lock([asset.path])
        again = uow.assets.get_by_uuid(asset.uuid)
        if again is None:
            raise AssetNotFound(f"no asset at '{asset.path}'")
        if again.path != asset.path:
            raise lost_race(asset)  # moved meanwhile: run again under the new path's lock
        return again

    # -- reads ---------------------------------------------------------------------------

    def get(self, ref: str) -> Asset:
        with self.uow() as uow:
            return self._find(uow, ref)

    def get_by_uuid(self, uuid: str) -> Asset:
        """The asset with this uuid (any letter case); never one found by path."""
        if not isinstance(uuid, str) or not looks_like_uuid(uuid):
            raise AssetNotFound(f"no asset with uuid '{spell_nul(str(uuid))[:64]}'")
        with self.uow() as uow:
            found = uow.assets.get_by_uuid(uuid.lower())
        if found is None:
            raise AssetNotFound(f"no asset with uuid '{uuid.lower()}'")
        return found

    def get_many(self, uuids: Sequence[str]) -> dict[str, Asset]:
        """The assets with these uuids, by uuid, read with one statement (views, GraphQL)."""
        wanted = [u for u in uuids if isinstance(u, str) and looks_like_uuid(u)]
        if not wanted:
            return {}
        with self.uow() as uow:
            return uow.assets.get_many(wanted)

    def list_page(
        self, *, folder: str | None = None, first: int = 50, after: str | None = None
    ) -> AssetPage:
        """Assets in `folder` and below (None: all), by path; `after` is a page's
        next_cursor."""
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"first must be between 1 and {MAX_PAGE_SIZE}",
                [FieldError("first", f"got {first}")],
            )
        where = "/" if folder is None else normalize_folder(folder)
        with self.uow() as uow:
            items, total, cursor = uow.assets.list_page(where, first, after)
        return AssetPage(items, total, cursor)

    def versions(self, ref: str) -> list[ObjectVersion]:
        with self.uow() as uow:
            return uow.versions.for_object(self._find(uow, ref).uuid)

    def find_by_source(self, source: str) -> Asset | None:
        """The asset an import took from `source` (URL or file), for conditional
        re-downloads."""
        if NUL in source:
            return None
        with self.uow() as uow:
            return uow.assets.find_by_source(source)

    def read(self, asset: Asset) -> Iterator[bytes]:
        """The asset's bytes in chunks."""
        return self.store.read(asset.blob_key)

    def local_path(self, asset: Asset) -> Path | None:
        """A file holding the asset's bytes when the store is on this machine's disk."""
        return self.store.local_path(asset.blob_key)

    def _find(self, uow: UnitOfWork, ref: str) -> Asset:
        if isinstance(ref, str) and looks_like_uuid(ref):
            found = uow.assets.get_by_uuid(ref.lower())
            if found is not None:
                return found
        try:
            path = normalize_path(ref)
        except InvalidInput:
            raise AssetNotFound(f"no asset at '{spell_nul(str(ref))}'") from None
        found = uow.assets.get_by_path(path)
        if found is None:
            raise AssetNotFound(f"no asset at '{path}'")
        return found


def _dropped_content(before: Asset | None, save: AssetSave) -> str | None:
    """The checksum a save replaced, whose thumbnails may go once it commits."""
    if before is None or not save.changed or before.checksum == save.asset.checksum:
        return None
    return before.checksum


def _check_text(name: str, value: str | None, limit: int) -> None:
    """Bookkeeping texts must fit their columns and hold no NUL (PostgreSQL refuses it)."""
    if value is None:
        return
    if not isinstance(value, str) or NUL in value or len(value) > limit:
        raise InvalidInput(
            f"{name} must be a text of at most {limit} characters without NUL",
            [FieldError(name, f"not a text of at most {limit} characters", "invalid")],
        )
