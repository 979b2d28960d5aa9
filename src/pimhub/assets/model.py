"""An asset: a file the catalog refers to, known by its path and its uuid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pimhub.catalog.objects import iso

if TYPE_CHECKING:
    from pimhub.assets.presets import ThumbnailPreset

# The class name asset versions and events carry (object_versions, outbox).
ASSET_CLASS = "Asset"


def blob_key(checksum: str) -> str:
    """Where an asset's content lives in the blob store: named by its SHA-256, so that
    assets with the same bytes share one blob and a changed asset never overwrites one."""
    return f"blobs/{checksum[:2]}/{checksum}"


def thumbnail_prefix(checksum: str) -> str:
    """The folder of every thumbnail made from one content; dropped when no asset holds
    that content any more."""
    return f"thumbnails/{checksum[:2]}/{checksum}/"


@dataclass(frozen=True, slots=True)
class Asset:
    uuid: str
    path: str  # "/products/shirt.jpg": the folder, a slash and the file name; unique
    mimetype: str  # detected from the content, never from the name
    filesize: int
    checksum: str  # SHA-256 of the content, hex
    width: int | None  # images only
    height: int | None
    # {"alt": {"en": "...", "de": "..."}, ...}: localized alt text and free metadata
    metadata: dict[str, Any]
    version: int
    created_at: datetime
    modified_at: datetime
    source: str | None = None  # the URL or file an import took it from
    source_validator: str | None = None  # that source's ETag or Last-Modified
    id: int | None = field(default=None, compare=False)

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0] or "/"

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def blob_key(self) -> str:
        return blob_key(self.checksum)

    def to_dict(self) -> dict[str, Any]:
        """The public envelope: no internal id; URLs are added by the API, which knows the
        base URL."""
        return {
            "uuid": self.uuid,
            "path": self.path,
            "folder": self.folder,
            "filename": self.filename,
            "mimetype": self.mimetype,
            "filesize": self.filesize,
            "checksum": self.checksum,
            "width": self.width,
            "height": self.height,
            "metadata": self.metadata,
            "version": self.version,
            "createdAt": iso(self.created_at),
            "modifiedAt": iso(self.modified_at),
        }


def url_version(asset: Asset, preset: ThumbnailPreset | None = None) -> str:
    """The `v` of a URL: the content's checksum, and for a thumbnail the preset's
    fingerprint too, so that a changed asset or a redefined preset gets a new URL."""
    if preset is None:
        return asset.checksum[:16]
    return f"{asset.checksum[:16]}-{preset.fingerprint[:8]}"


def asset_url(base_url: str, asset: Asset, thumbnail: ThumbnailPreset | None = None) -> str:
    """The public URL of an asset or one of its thumbnails. `v` names what is drawn (see
    url_version), so a client may cache the answer for good."""
    query: dict[str, str] = {}
    if thumbnail is not None:
        query["thumbnail"] = thumbnail.name
    query["v"] = url_version(asset, thumbnail)
    return f"{base_url.rstrip('/')}/assets{quote(asset.path)}?{urlencode(query)}"
