"""A blob store in an S3-compatible bucket (AWS, MinIO, Ceph, ...), for several machines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from pimhub.assets.filesystem import check_key
from pimhub.catalog.errors import StoreUnavailable

_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_MISSING = {"404", "NoSuchKey", "NotFound"}
# Error codes S3 and compatible servers send when they shed load.
_UNAVAILABLE_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
}
log = structlog.get_logger("pimhub.assets")


def _boto3() -> Any:
    """boto3, imported on first use so the package works without it."""
    try:
        import boto3
    except ImportError as exc:
        raise RuntimeError("the S3 asset store needs boto3: pip install 'pimhub[s3]'") from exc
    return boto3


def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return str(response.get("Error", {}).get("Code")) in _MISSING


def _unavailable(exc: Exception) -> bool:
    """Whether `exc` says S3 cannot answer now (unreachable, timing out, a dropped
    connection, throttling or a 5xx) rather than that the request was wrong."""
    from botocore import exceptions

    if isinstance(exc, exceptions.ConnectionError | exceptions.HTTPClientError):
        return True  # endpoint unreachable, connect/read timeouts, connection closed
    if isinstance(exc, exceptions.IncompleteReadError):
        return True
    if isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500 or str(error.get("Code")) in _UNAVAILABLE_CODES
    return False


@contextmanager
def _reachable(action: str) -> Iterator[None]:
    """Turns S3 being down or throttling into StoreUnavailable (503 with Retry-After);
    the cause goes to the log, not to the client (it names the endpoint and keys)."""
    try:
        yield
    except Exception as exc:
        if not _unavailable(exc):
            raise
        log.warning("assets.store_unavailable", store="s3", action=action, error=str(exc))
        raise StoreUnavailable(
            f"the asset store cannot be reached now ({action} failed: "
            f"{type(exc).__name__}); retry later"
        ) from exc


class S3BlobStore:
    """Blobs as objects under `prefix` in `bucket`. S3 writes are whole-or-nothing by
    nature, so a reader never sees half a blob. `client` replaces the one built from the
    other arguments (tests, custom sessions)."""

    list_page_size = 1000  # keys per ListObjectsV2 page (S3's own maximum)

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            client = _boto3().client("s3", endpoint_url=endpoint_url, region_name=region)
        self.client = client

    def _key(self, key: str) -> str:
        check_key(key)
        return self.prefix + key

    def _full_prefix(self, prefix: str) -> str:
        if prefix:
            check_key(prefix.removesuffix("/"))
        return self.prefix + prefix

    def put(self, key: str, content: BinaryIO, size: int, content_type: str) -> None:
        """Store `size` bytes of `content` under `key`; large files go up in parts."""
        limited = _Limited(content, size)
        with _reachable("storing a file"):
            self.client.upload_fileobj(
                limited, self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
            )
        if limited.read_bytes != size:
            self.delete(key)
            raise ValueError(f"{key}: expected {size} bytes, got {limited.read_bytes}")

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            with _reachable("looking up a file"):
                head: dict[str, Any] = self.client.head_object(
                    Bucket=self.bucket, Key=self._key(key)
                )
        except StoreUnavailable:
            raise
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        return head

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None when there is none."""
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def modified_at(self, key: str) -> datetime | None:
        """When the blob was last written (garbage collection keeps young blobs)."""
        head = self._head(key)
        return None if head is None else head["LastModified"]

    def touch(self, key: str) -> bool:
        """Mark the blob as just written (a new asset reuses it, so garbage collection
        must count it as young): a copy onto itself, done inside S3; False when there is
        none."""
        head = self._head(key)
        if head is None:
            return False
        full_key = self._key(key)
        try:
            with _reachable("touching a file"):
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=full_key,
                    CopySource={"Bucket": self.bucket, "Key": full_key},
                    MetadataDirective="REPLACE",  # S3 refuses a copy onto itself changing nothing
                    ContentType=head.get("ContentType", "application/octet-stream"),
                    Metadata=head.get("Metadata", {}),
                )
        except StoreUnavailable:
            raise
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def read(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The blob's bytes in chunks, streamed; raises KeyError (at the call) when there
        is none."""
        try:
            with _reachable("reading a file"):
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except StoreUnavailable:
            raise
        except Exception as exc:
            if _is_missing(exc):
                raise KeyError(key) from None
            raise
        return _stream(response["Body"], chunk_size)

    def local_path(self, key: str) -> Path | None:
        """None: the blob is not on this machine's disk."""
        return None

    def delete(self, key: str) -> None:
        with _reachable("deleting a file"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob whose key starts with `prefix`, 1000 per request."""
        count = 0
        batch: list[str] = []
        for key in self._full_keys(prefix):
            batch.append(key)
            if len(batch) == _DELETE_BATCH:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, full_keys: list[str]) -> int:
        with _reachable("deleting files"):
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in full_keys], "Quiet": True},
            )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"S3 refused to delete {len(errors)} of {len(full_keys)} blobs, "
                f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )
        return len(full_keys)

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with `prefix`, page by page."""
        strip = len(self.prefix)
        for full_key in self._full_keys(prefix):
            yield full_key[strip:]

    def _full_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=self._full_prefix(prefix),
            PaginationConfig={"PageSize": self.list_page_size},
        )
        with _reachable("listing files"):
            for page in pages:
                for item in page.get("Contents") or []:
                    yield item["Key"]


class _Limited:
    """A reader that hands out at most `size` bytes of `source` and counts them."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source = source
        self.remaining = size
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        want = self.remaining if n is None or n < 0 else min(n, self.remaining)
        chunk = self.source.read(want)
        self.remaining -= len(chunk)
        self.read_bytes += len(chunk)
        return chunk


def _stream(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        # A connection lost mid-file: the answer has begun (its status is sent), but the
        # error still names the cause.
        with _reachable("reading a file"):
            while chunk := body.read(chunk_size):
                yield chunk
    finally:
        body.close()
