"""One conformance suite for every BlobStore: the filesystem and S3 (moto's server)."""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pimhub.assets.filesystem import FilesystemBlobStore
from pimhub.assets.s3 import S3BlobStore

Store = FilesystemBlobStore | S3BlobStore


def put(store: Store, key: str, data: bytes, content_type: str = "image/png") -> None:
    store.put(key, io.BytesIO(data), len(data), content_type)


def test_put_then_read_size_exists(blob_store: Store) -> None:
    put(blob_store, "blobs/ab/abc", b"hello world")
    assert blob_store.exists("blobs/ab/abc")
    assert blob_store.size("blobs/ab/abc") == 11
    assert b"".join(blob_store.read("blobs/ab/abc", chunk_size=4)) == b"hello world"
    assert list(blob_store.read("blobs/ab/abc", chunk_size=4)) == [b"hell", b"o wo", b"rld"]


def test_missing_blob(blob_store: Store) -> None:
    assert not blob_store.exists("blobs/ab/nope")
    assert blob_store.size("blobs/ab/nope") is None
    assert blob_store.modified_at("blobs/ab/nope") is None
    with pytest.raises(KeyError):
        blob_store.read("blobs/ab/nope")
    blob_store.delete("blobs/ab/nope")  # nothing to do, no error


def test_put_replaces_whole(blob_store: Store) -> None:
    put(blob_store, "k/one", b"first version, longer")
    put(blob_store, "k/one", b"second")
    assert b"".join(blob_store.read("k/one")) == b"second"
    assert blob_store.size("k/one") == 6


def test_put_takes_only_size_bytes_and_refuses_short_content(blob_store: Store) -> None:
    blob_store.put("k/cut", io.BytesIO(b"0123456789"), 4, "text/plain")
    assert b"".join(blob_store.read("k/cut")) == b"0123"
    with pytest.raises(ValueError, match="expected 20 bytes, got 10"):
        blob_store.put("k/short", io.BytesIO(b"0123456789"), 20, "text/plain")
    assert not blob_store.exists("k/short")
    assert list(blob_store.keys("k/")) == ["k/cut"]  # no temp file left behind


def test_large_blob_round_trips(blob_store: Store) -> None:
    # Above boto3's 8 MiB multipart threshold, so S3 uploads it in parts.
    data = os.urandom(1 << 16) * 140
    put(blob_store, "blobs/bi/big", data, "application/pdf")
    assert blob_store.size("blobs/bi/big") == len(data)
    assert b"".join(blob_store.read("blobs/bi/big")) == data


def test_keys_and_delete_prefix(blob_store: Store) -> None:
    for key in ["thumbnails/ab/abc/a.webp", "thumbnails/ab/abc/b.jpg", "thumbnails/ab/abd/a.webp"]:
        put(blob_store, key, b"x")
    put(blob_store, "blobs/ab/abc", b"blob")
    assert sorted(blob_store.keys("thumbnails/ab/abc/")) == [
        "thumbnails/ab/abc/a.webp",
        "thumbnails/ab/abc/b.jpg",
    ]
    assert sorted(blob_store.keys("thumbnails/ab/ab")) == [
        "thumbnails/ab/abc/a.webp",
        "thumbnails/ab/abc/b.jpg",
        "thumbnails/ab/abd/a.webp",
    ]
    assert len(list(blob_store.keys(""))) == 4
    assert blob_store.delete_prefix("thumbnails/ab/abc/") == 2
    assert sorted(blob_store.keys("")) == ["blobs/ab/abc", "thumbnails/ab/abd/a.webp"]
    assert blob_store.delete_prefix("thumbnails/zz/") == 0
    blob_store.delete("blobs/ab/abc")
    assert list(blob_store.keys("blobs/")) == []


def test_modified_at_is_recent(blob_store: Store) -> None:
    put(blob_store, "blobs/ab/new", b"x")
    stamp = blob_store.modified_at("blobs/ab/new")
    assert stamp is not None
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)


def test_touch_makes_a_blob_young(blob_store: Store) -> None:
    put(blob_store, "blobs/ab/old", b"content", "image/webp")
    local = blob_store.local_path("blobs/ab/old")
    if local is not None:
        os.utime(local, (1e9, 1e9))  # back to 2001
    else:
        time.sleep(1.1)  # S3 keeps whole seconds
    first = blob_store.modified_at("blobs/ab/old")
    assert first is not None
    assert blob_store.touch("blobs/ab/old")
    second = blob_store.modified_at("blobs/ab/old")
    assert second is not None and second > first
    assert b"".join(blob_store.read("blobs/ab/old")) == b"content"
    assert not blob_store.touch("blobs/ab/none")
    assert not blob_store.exists("blobs/ab/none")


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "/abs", "a/../b", "a\\b", "a//b", "", "a/./b", "nul\x00"]
)
def test_keys_that_could_escape_are_refused(blob_store: Store, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        put(blob_store, key, b"x")
    with pytest.raises(ValueError, match="not a blob key"):
        blob_store.exists(key)


def test_concurrent_puts_leave_one_whole_blob(blob_store: Store) -> None:
    versions = [bytes([n]) * 50_000 for n in range(4)]
    threads = [
        threading.Thread(target=put, args=(blob_store, "blobs/cc/same", data)) for data in versions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert b"".join(blob_store.read("blobs/cc/same")) in versions


# --- the filesystem store's own promises -------------------------------------------------


def test_filesystem_files_and_local_path(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "root")
    put(store, "blobs/ab/abc", b"data")
    path = store.local_path("blobs/ab/abc")
    assert path == tmp_path / "root" / "blobs" / "ab" / "abc"
    assert path.read_bytes() == b"data"
    assert path.stat().st_mode & 0o777 == 0o644
    assert store.local_path("blobs/ab/none") is None


def test_filesystem_put_failure_keeps_the_old_blob(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    put(store, "blobs/ab/abc", b"old")

    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        store.put("blobs/ab/abc", Broken(), 10, "image/png")
    assert (tmp_path / "blobs/ab/abc").read_bytes() == b"old"
    assert os.listdir(tmp_path / "blobs/ab") == ["abc"]


def test_filesystem_delete_prefix_removes_the_empty_folder(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    put(store, "thumbnails/ab/abc/a.webp", b"x")
    store.delete_prefix("thumbnails/ab/abc/")
    assert not (tmp_path / "thumbnails/ab/abc").exists()


def test_filesystem_put_while_its_folder_is_dropped_stores_the_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thumbnail drawn while its asset's content is replaced: the put made the folder,
    the replacement's delete_prefix removed it (empty), then the put made its temp file
    there (it was a FileNotFoundError, a 500 for the thumbnail's GET)."""
    store = FilesystemBlobStore(tmp_path)
    mkstemp = tempfile.mkstemp
    dropped: list[str] = []

    def folder_dropped_first(**kwargs: Any) -> tuple[int, str]:
        if not dropped:
            dropped.append(str(kwargs["dir"]))
            store.delete_prefix("thumbnails/ab/abc/")
        return mkstemp(**kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", folder_dropped_first)
    put(store, "thumbnails/ab/abc/a.webp", b"thumb")
    assert dropped == [str(tmp_path / "thumbnails/ab/abc")]
    assert (tmp_path / "thumbnails/ab/abc/a.webp").read_bytes() == b"thumb"


def test_filesystem_keys_skip_half_written_files(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    put(store, "blobs/ab/abc", b"x")
    (tmp_path / "blobs/ab/.tmp-123").write_bytes(b"half")
    assert list(store.keys("")) == ["blobs/ab/abc"]


# --- the S3 store's own promises -----------------------------------------------------------


def test_s3_stores_content_type_under_the_prefix(s3_client: Any, s3_bucket: str) -> None:
    store = S3BlobStore(s3_bucket, prefix="tenant", client=s3_client)
    put(store, "thumbnails/ab/abc/x.webp", b"img", "image/webp")
    head = s3_client.head_object(Bucket=s3_bucket, Key="tenant/thumbnails/ab/abc/x.webp")
    assert head["ContentType"] == "image/webp"
    assert store.local_path("thumbnails/ab/abc/x.webp") is None
    assert list(store.keys("")) == ["thumbnails/ab/abc/x.webp"]


def test_s3_lists_and_deletes_page_by_page(
    s3_client: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small pages and batches stand in for S3's 1000, so that paging is exercised fast.
    monkeypatch.setattr("pimhub.assets.s3._DELETE_BATCH", 2)
    store = S3BlobStore(s3_bucket, client=s3_client)
    store.list_page_size = 3
    for n in range(7):
        put(store, f"thumbnails/ab/abc/{n}.jpg", b"")
    put(store, "blobs/ab/abc", b"kept")
    calls: list[int] = []
    real = s3_client.delete_objects
    monkeypatch.setattr(
        s3_client,
        "delete_objects",
        lambda **kw: calls.append(len(kw["Delete"]["Objects"])) or real(**kw),
    )
    assert len(list(store.keys("thumbnails/"))) == 7
    assert store.delete_prefix("thumbnails/") == 7
    assert calls == [2, 2, 2, 1]
    assert list(store.keys("")) == ["blobs/ab/abc"]


@pytest.mark.usefixtures("s3_env")
def test_s3_builds_its_own_client(s3_endpoint: str, s3_bucket: str) -> None:
    store = S3BlobStore(s3_bucket, endpoint_url=s3_endpoint, region="us-east-1")
    put(store, "blobs/ab/abc", b"own client")
    assert b"".join(store.read("blobs/ab/abc")) == b"own client"


def test_s3_without_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_boto3(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "boto3" or name.startswith("boto3."):
            raise ImportError("No module named 'boto3'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_boto3)
    with pytest.raises(RuntimeError, match=r"pip install 'pimhub\[s3\]'"):
        S3BlobStore("bucket")
