"""Garbage collection: unheld blobs and thumbnails go, held and young ones stay."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pimhub.assets.filesystem import FilesystemBlobStore
from pimhub.assets.gc import collect_garbage
from pimhub.assets.model import blob_key, thumbnail_prefix
from pimhub.assets.s3 import S3BlobStore

Store = FilesystemBlobStore | S3BlobStore
LATER = datetime.now(UTC) + timedelta(hours=2)  # everything stored now is old by then


def content(store: Store, data: bytes, thumbnails: int = 1) -> str:
    checksum = hashlib.sha256(data).hexdigest()
    store.put(blob_key(checksum), io.BytesIO(data), len(data), "image/png")
    for n in range(thumbnails):
        store.put(f"{thumbnail_prefix(checksum)}t{n}.webp", io.BytesIO(b"t"), 1, "image/webp")
    return checksum


def test_unheld_old_contents_go_held_ones_stay(blob_store: Store) -> None:
    live = content(blob_store, b"live", thumbnails=2)
    dead = content(blob_store, b"dead!", thumbnails=2)
    asked: list[set[str]] = []

    def held(batch: set[str]) -> set[str]:
        asked.append(batch)
        return batch & {live}

    report = collect_garbage(blob_store, held, now=LATER)
    assert asked == [{live, dead}]
    assert (report.checksums, report.held, report.blobs_deleted) == (2, 1, 1)
    assert (report.bytes_freed, report.thumbnails_deleted, report.kept_young) == (5, 2, 0)
    assert sorted(blob_store.keys("")) == sorted(
        [blob_key(live), f"{thumbnail_prefix(live)}t0.webp", f"{thumbnail_prefix(live)}t1.webp"]
    )


def test_young_blobs_stay_with_their_thumbnails(blob_store: Store) -> None:
    young = content(blob_store, b"uploading")
    report = collect_garbage(blob_store, [], grace=timedelta(minutes=10))
    assert (report.kept_young, report.blobs_deleted, report.thumbnails_deleted) == (1, 0, 0)
    assert blob_store.exists(blob_key(young))
    # Once the grace period is over, they go.
    report = collect_garbage(blob_store, [], grace=timedelta(minutes=10), now=LATER)
    assert (report.blobs_deleted, report.thumbnails_deleted) == (1, 1)
    assert list(blob_store.keys("")) == []


def test_orphan_thumbnails_without_a_blob_go(blob_store: Store) -> None:
    checksum = hashlib.sha256(b"gone").hexdigest()
    blob_store.put(f"{thumbnail_prefix(checksum)}x.jpg", io.BytesIO(b"t"), 1, "image/jpeg")
    report = collect_garbage(blob_store, [])
    assert (report.checksums, report.blobs_deleted, report.thumbnails_deleted) == (1, 0, 1)
    assert list(blob_store.keys("")) == []


def test_dry_run_counts_and_deletes_nothing(blob_store: Store) -> None:
    content(blob_store, b"dead", thumbnails=3)
    report = collect_garbage(blob_store, set(), now=LATER, dry_run=True)
    assert (report.blobs_deleted, report.thumbnails_deleted, report.dry_run) == (1, 3, True)
    assert len(list(blob_store.keys(""))) == 4


def test_iterable_of_held_checksums_and_foreign_keys(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    live = content(store, b"live")
    store.put("blobs/zz/not-a-checksum", io.BytesIO(b"x"), 1, "text/plain")
    store.put("other/readme.txt", io.BytesIO(b"x"), 1, "text/plain")
    report = collect_garbage(store, iter([live]), now=LATER)
    assert (report.checksums, report.held, report.blobs_deleted) == (1, 1, 0)
    assert len(list(store.keys(""))) == 4


def test_touched_blob_counts_as_young(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    checksum = content(store, b"reused")
    path = store.local_path(blob_key(checksum))
    assert path is not None
    os.utime(path, (1e9, 1e9))  # stored long ago, then an upload finds the same bytes
    store.touch(blob_key(checksum))
    report = collect_garbage(store, [], grace=timedelta(minutes=5))
    assert report.kept_young == 1 and store.exists(blob_key(checksum))


def test_negative_grace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="grace"):
        collect_garbage(FilesystemBlobStore(tmp_path), [], grace=timedelta(seconds=-1))


def test_held_is_asked_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pimhub.assets.gc._BATCH", 2)
    store = FilesystemBlobStore(tmp_path)
    checksums = {content(store, bytes([n]), thumbnails=0) for n in range(5)}
    asked: list[int] = []
    report = collect_garbage(store, lambda batch: asked.append(len(batch)) or batch, now=LATER)
    assert asked == [2, 2, 1] and report.held == 5 == len(checksums)
