"""Where asset content is kept: the blob store protocol (filesystem, S3-compatible)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol


class BlobStore(Protocol):
    """Immutable blobs by key (`assets.model.blob_key`, `thumbnail_prefix`). Writes are
    whole-or-nothing: a reader never sees half a blob. Calls block; async callers run them
    in a thread."""

    def put(self, key: str, content: BinaryIO, size: int, content_type: str) -> None:
        """Store `size` bytes read from `content` under `key`, replacing what was there."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None when there is none."""

    def read(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The blob's bytes in chunks; raises KeyError when there is none."""

    def local_path(self, key: str) -> Path | None:
        """A file holding the blob, when the store keeps it on this machine's disk (the
        server then sends the file itself); None otherwise."""

    def modified_at(self, key: str) -> datetime | None:
        """When the blob was last written or touched; None when there is none."""

    def touch(self, key: str) -> bool:
        """Mark the blob as just written, so that garbage collection counts it as young
        (an upload reusing stored bytes); False when there is none."""

    def delete(self, key: str) -> None:
        """Remove the blob; nothing when there is none."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob whose key starts with `prefix`; how many there were."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with `prefix` (for garbage collection)."""
