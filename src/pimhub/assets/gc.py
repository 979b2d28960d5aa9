"""Garbage collection of the blob store: blobs and thumbnails no asset holds any more.

Requests never delete blobs (another asset may share the content, and a transaction may
still roll back); `pimhub assets gc` calls `collect_garbage` instead.

Why a grace period, and how: an upload puts its blob *before* it commits the asset row,
so for a moment a blob exists that no row holds. A blob is therefore deleted only when it
is older than `grace` by the store's own modification time. An upload that finds its
content already stored must `touch` the blob (both stores have it) so that it counts as
young again; and it should check the blob still exists after its commit (and put it again
if not), which closes the last window between this module's age check and its delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pimhub.assets.model import blob_key, thumbnail_prefix
from pimhub.assets.ports import BlobStore

_CHECKSUM = re.compile(r"[0-9a-f]{64}")
_BATCH = 500  # checksums per question to `held`: one SQL IN list (storage.assets)
DEFAULT_GRACE = timedelta(hours=1)

# Either the checksums some asset holds, or a function answering "which of these are
# held?" for a batch (scales to any number of assets).
Held = Callable[[set[str]], Collection[str]] | Iterable[str]


class DatedBlobStore(BlobStore, Protocol):
    def modified_at(self, key: str) -> datetime | None:
        """When the blob was last written or touched; None when there is none."""


@dataclass(slots=True)
class GcReport:
    checksums: int = 0  # contents found in the store (blobs or thumbnail folders)
    held: int = 0  # of those, still held by an asset
    blobs_deleted: int = 0
    bytes_freed: int = 0  # of the deleted blobs (thumbnails not counted)
    thumbnails_deleted: int = 0
    kept_young: int = 0  # unheld, but written within the grace period
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_garbage(
    store: DatedBlobStore,
    held: Held,
    *,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
    dry_run: bool = False,
) -> GcReport:
    """Delete the blobs and thumbnail folders of contents no asset holds, unless the blob
    was written within `grace`; with `dry_run`, only count what would go."""
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    report = GcReport(dry_run=dry_run)
    found = _contents(store)
    report.checksums = len(found)
    # Asked after the listing: an asset committed while the store was listed is seen.
    is_held = _held_lookup(held)
    cutoff = (now or datetime.now(UTC)) - grace
    checksums = sorted(found)
    for start in range(0, len(checksums), _BATCH):
        batch = checksums[start : start + _BATCH]
        live = is_held(set(batch))
        report.held += sum(1 for checksum in batch if checksum in live)
        for checksum in batch:
            if checksum not in live:
                _collect(store, checksum, found[checksum], cutoff, dry_run, report)
    return report


def _collect(
    store: DatedBlobStore,
    checksum: str,
    has_blob: bool,
    cutoff: datetime,
    dry_run: bool,
    report: GcReport,
) -> None:
    key = blob_key(checksum)
    if has_blob:
        written = store.modified_at(key)
        if written is not None and written > cutoff:
            report.kept_young += 1
            return  # maybe an upload that has not committed yet
        size = store.size(key)
        if size is not None:
            report.blobs_deleted += 1
            report.bytes_freed += size
            if not dry_run:
                store.delete(key)
    # Thumbnails are drawn again on request, so they never need a grace period.
    prefix = thumbnail_prefix(checksum)
    if dry_run:
        report.thumbnails_deleted += sum(1 for _ in store.keys(prefix))
    else:
        report.thumbnails_deleted += store.delete_prefix(prefix)


def _contents(store: BlobStore) -> dict[str, bool]:
    """Every checksum with a blob or thumbnails in the store -> whether it has a blob.
    Keys of other shapes (not made by pimhub) are left alone."""
    found: dict[str, bool] = {}
    for checksum in _checksums(store.keys("blobs/"), blobs=True):
        found[checksum] = True
    for checksum in _checksums(store.keys("thumbnails/"), blobs=False):
        found.setdefault(checksum, False)
    return found


def _checksums(keys: Iterable[str], *, blobs: bool) -> Iterator[str]:
    for key in keys:
        parts = key.split("/")
        if len(parts) != (3 if blobs else 4):
            continue
        checksum = parts[2]
        if _CHECKSUM.fullmatch(checksum) and parts[1] == checksum[:2]:
            yield checksum


def _held_lookup(held: Held) -> Callable[[set[str]], Collection[str]]:
    if callable(held):
        return held
    everything = frozenset(held)
    return lambda batch: everything
