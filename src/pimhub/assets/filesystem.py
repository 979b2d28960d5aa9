"""A blob store on the local disk: one file per key under a root directory."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import structlog

from pimhub.catalog.errors import StoreUnavailable

_FILE_MODE = 0o644
_TEMP_PREFIX = ".tmp-"  # half-written files; never listed as keys
# The disk cannot serve now (full, over quota, failing, read-only, a lost network mount):
# the request is not at fault, and may succeed once an operator has acted.
_UNAVAILABLE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ESTALE, errno.ETIMEDOUT}
)
log = structlog.get_logger("pimhub.assets")


@contextlib.contextmanager
def _disk(action: str) -> Iterator[None]:
    """Turns a full or failing disk into StoreUnavailable (503 with Retry-After); the
    cause goes to the log, not to the client (it names files of the server)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _UNAVAILABLE_ERRNOS:
            raise
        log.error("assets.store_unavailable", store="filesystem", action=action, error=str(exc))
        reason = os.strerror(exc.errno)
        raise StoreUnavailable(
            f"the asset store cannot be used now ({action} failed: {reason}); retry later"
        ) from exc


def check_key(key: str) -> list[str]:
    """The key's parts; refuses keys that could leave the store's root. Keys are made by
    the code (blob_key, thumbnail_prefix), so this is defence in depth, not validation."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") or part.startswith(_TEMP_PREFIX) for part in parts)
    ):
        raise ValueError(f"not a blob key: {key!r}")
    return parts


def _check_prefix(prefix: str) -> list[str]:
    """A prefix's parts: a key, a folder ending in "/", or "" for everything."""
    if prefix == "":
        return []
    return check_key(prefix.removesuffix("/") if prefix.endswith("/") else prefix)


class FilesystemBlobStore:
    """Blobs as files under `root`; a put writes a temporary file in the target's folder
    and renames it over the target, so a reader sees the old blob or the new one, whole."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

    def put(self, key: str, content: BinaryIO, size: int, content_type: str) -> None:
        """Store `size` bytes of `content` under `key` (the type is not kept: blobs are
        named by content and the asset row knows its type)."""
        with _disk("storing a file"):
            self._put(key, content, size)

    def _put(self, key: str, content: BinaryIO, size: int) -> None:
        target = self._path(key)
        fd, temp_name = _temp_beside(target)
        try:
            with os.fdopen(fd, "wb") as out:
                written = _copy(content, out, size)
                if written != size:
                    raise ValueError(f"{key}: expected {size} bytes, got {written}")
                out.flush()
                os.fsync(out.fileno())  # the rename must not land before the bytes do
            os.chmod(temp_name, _FILE_MODE)  # mkstemp makes 0600
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    def exists(self, key: str) -> bool:
        with _disk("looking up a file"):
            return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None when there is none."""
        try:
            with _disk("looking up a file"):
                return self._path(key).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def modified_at(self, key: str) -> datetime | None:
        """When the blob was last written (garbage collection keeps young blobs)."""
        try:
            with _disk("looking up a file"):
                return datetime.fromtimestamp(self._path(key).stat().st_mtime, UTC)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def touch(self, key: str) -> bool:
        """Mark the blob as just written (a new asset reuses it, so garbage collection
        must count it as young); False when there is none."""
        try:
            with _disk("touching a file"):
                os.utime(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def read(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The blob's bytes in chunks; raises KeyError (at the call) when there is none."""
        try:
            with _disk("reading a file"):
                handle = self._path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None
        return _chunks(handle, chunk_size)

    def local_path(self, key: str) -> Path | None:
        """The file holding the blob, or None when there is none."""
        path = self._path(key)
        with _disk("looking up a file"):
            return path if path.is_file() else None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._path(key).unlink()

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob whose key starts with `prefix`; how many there were."""
        count = 0
        for key in list(self.keys(prefix)):
            self.delete(key)
            count += 1
        if prefix.endswith("/"):
            # A thumbnail folder goes with its files (empty ones would pile up); rmdir
            # only removes empty folders, so a concurrent writer's temp file stays.
            _remove_empty_dirs(self.root.joinpath(*_check_prefix(prefix)))
        return count

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with `prefix`, in no particular order."""
        parts = _check_prefix(prefix)
        # Walk the deepest folder the prefix names fully; filter the rest by string.
        folder_parts = parts if prefix.endswith("/") else parts[:-1]
        start = self.root.joinpath(*folder_parts)
        if not start.is_dir():
            return
        for dirpath, _dirs, files in os.walk(start):
            relative = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if relative == "." else relative + "/"
            for name in files:
                if name.startswith(_TEMP_PREFIX):
                    continue
                key = base + name
                if key.startswith(prefix):
                    yield key


def _temp_beside(target: Path, attempts: int = 5) -> tuple[int, str]:
    """A new temporary file in the target's folder, made if needed. A delete_prefix may
    remove that folder (empty) between the mkdir and the temp file's creation (a thumbnail
    drawn while its asset's content is replaced): the folder is made again."""
    for attempt in range(attempts):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _copy(source: BinaryIO, out: BinaryIO, size: int) -> int:
    written = 0
    while written < size:
        chunk = source.read(min(1 << 20, size - written))
        if not chunk:
            break
        out.write(chunk)
        written += len(chunk)
    return written


def _chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle, _disk("reading a file"):
        while chunk := handle.read(chunk_size):
            yield chunk


def _remove_empty_dirs(folder: Path) -> None:
    if not folder.is_dir():
        return
    for dirpath, _dirs, _files in os.walk(folder, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)
