"""An asset: a file the catalog refers to, known by its path and its uuid."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

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
    if thumbnail is None:
        return asset_urls(base_url, asset, {})[0]
    return asset_urls(base_url, asset, {thumbnail.name: thumbnail})[1][thumbnail.name]


def asset_urls(
    base_url: str, asset: Asset, presets: Mapping[str, ThumbnailPreset]
) -> tuple[str, dict[str, str]]:
    """The asset's URL and its thumbnails' for `presets`, by name in name order: the path is
    quoted and the checksum encoded once for them all, each preset's part of the query once
    per preset (a view of a page of products writes thousands of these)."""
    root = f"{base_url.rstrip('/')}/assets{quote(asset.path)}?"
    version = quote_plus(asset.checksum[:16], safe="")
    thumbnails: dict[str, str] = {}
    for name in sorted(presets):
        head, tail = _thumbnail_query(presets[name])
        thumbnails[name] = f"{root}{head}{version}{tail}"
    return f"{root}v={version}", thumbnails


@lru_cache(maxsize=256)
def _thumbnail_query(preset: ThumbnailPreset) -> tuple[str, str]:
    """A thumbnail URL's query around the asset's checksum, as urlencode writes it:
    `thumbnail=<name>&v=` and `-<fingerprint>` (url_version)."""
    name = quote_plus(preset.name, safe="")
    return f"thumbnail={name}&v=", quote_plus(f"-{preset.fingerprint[:8]}", safe="")
