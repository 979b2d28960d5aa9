"""A product's images as Magento media gallery entries, and only the hub's own entries touched.

The wanted entries come from the asset fields the configuration's `media` names, in gallery
order. What the hub created is kept per SKU in the connector's `media` section: Magento's entry
id, the asset and its checksum, and the roles, label and position last sent. An image is sent
(base64, `POST /V1/products/{sku}/media`) only when no recorded entry holds its content; an entry
whose roles, label or position changed is updated in place (`PUT .../media/{id}`); and an entry
the hub created that no image wants any more is deleted. Magento cannot replace an entry's
content in place (its update ignores `content`), so changed bytes are a new entry and the old
one's deletion. Entries made in Magento by people are in no record, so they are never touched.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from pimhub.assets.model import Asset
from pimhub.connectors.magento.client import MagentoError, sku_path
from pimhub.connectors.magento.config import MagentoConfig
from pimhub.connectors.ports import AssetReader
from pimhub.connectors.state import SectionState

MEDIA = "media"  # the section holding the record of the entries the hub created
# What Magento's ImageContentValidator accepts; WebP and TIFF are converted to PNG (lossless,
# alpha kept), anything else (SVG, PDF) is skipped with a logged reason.
SENDABLE = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}
CONVERTIBLE = frozenset({"image/webp", "image/tiff"})
PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})  # what PNG can hold
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
log = structlog.get_logger("pimhub.connectors")

Call = Callable[[str, str, Any], Awaitable[Any]]  # (method, path, body) -> Magento's answer


@dataclass(frozen=True, slots=True)
class WantedImage:
    """One image the product should show in Magento."""

    asset: Asset
    label: str
    types: tuple[str, ...]
    position: int

    @property
    def wanted(self) -> dict[str, Any]:
        """The parts an update may change, as the record keeps them."""
        return {"types": list(self.types), "label": self.label, "position": self.position}


@dataclass(slots=True)
class MediaPlan:
    create: list[WantedImage] = field(default_factory=list)
    update: list[tuple[str, WantedImage]] = field(default_factory=list)  # (entry id, image)
    delete: list[str] = field(default_factory=list)  # entry ids the hub created
    # Kept entries whose roles a deleted duplicate of theirs may hold in Magento (two pushes
    # of the SKU at once both uploaded it): their roles are set again after the deletion.
    refresh: list[tuple[str, WantedImage]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def asset_refs(config: MagentoConfig, values: Mapping[str, Any]) -> list[str]:
    """The asset uuids the configured media fields hold, in gallery order, once each."""
    refs: list[str] = []
    for media in config.media:
        value = values.get(media.field)
        items = value if isinstance(value, list) else [value] if value else []
        refs += [str(v) for v in items if v and str(v) not in refs]
    return refs


def wanted_images(
    config: MagentoConfig, values: Mapping[str, Any], assets: Mapping[str, Asset]
) -> tuple[list[WantedImage], list[tuple[str, str]]]:
    """The entries the product should have, and (asset, reason) for each image left out."""
    roles: dict[str, list[str]] = {}
    order: list[str] = []
    skipped: list[tuple[str, str]] = []
    for media in config.media:
        value = values.get(media.field)
        items = [str(v) for v in (value if isinstance(value, list) else [value]) if v]
        for index, ref in enumerate(items):
            if ref not in order:
                order.append(ref)
            if index == 0:  # a role names one image: the field's first
                roles.setdefault(ref, []).extend(media.roles)
    out: list[WantedImage] = []
    for ref in order:
        asset = assets.get(ref)
        if asset is None:
            skipped.append((ref, "no such asset"))
            continue
        if asset.mimetype not in SENDABLE and asset.mimetype not in CONVERTIBLE:
            skipped.append((ref, f"{asset.mimetype} is not an image type Magento accepts"))
            continue
        types = tuple(dict.fromkeys(roles.get(ref, [])))
        out.append(WantedImage(asset, _label(asset, config.default_language), types, len(out) + 1))
    return out, skipped


def _label(asset: Asset, language: str) -> str:
    alt = asset.metadata.get("alt") if isinstance(asset.metadata, Mapping) else None
    if isinstance(alt, Mapping):
        return str(alt.get(language) or "")
    return str(alt) if isinstance(alt, str) else ""


def recorded(state: SectionState | None) -> dict[str, dict[str, Any]]:
    """Entry id -> what the record says of an entry the hub created."""
    if state is None:
        return {}
    entries = state.sent.get("entries")
    return {str(k): dict(v) for k, v in entries.items()} if isinstance(entries, Mapping) else {}


def plan(wanted: Sequence[WantedImage], record: Mapping[str, Mapping[str, Any]]) -> MediaPlan:
    """What brings the hub's entries to `wanted`: an image keeps the recorded entry of the same
    asset and content (else of the same content), so unchanged bytes are never sent again."""
    result = MediaPlan()
    # A key that is no number (a damaged record) names no entry of Magento's: never kept,
    # only forgotten (see MediaSync.sync), so it cannot stop the plan or reach a request.
    free = {i: e for i, e in record.items() if is_entry_id(i)}
    kept: dict[str, tuple[str, WantedImage]] = {}  # checksum -> the entry kept for it
    for image in wanted:
        checksum = image.asset.checksum
        match = next(
            (
                i
                for i, e in free.items()
                if e.get("checksum") == checksum and e.get("asset") == image.asset.uuid
            ),
            None,
        ) or next((i for i, e in free.items() if e.get("checksum") == checksum), None)
        if match is None:
            result.create.append(image)
            continue
        entry = free.pop(match)
        kept[checksum] = (match, image)
        if {k: entry.get(k) for k in ("types", "label", "position")} != image.wanted:
            result.update.append((match, image))
    result.delete = sorted(free, key=int)
    twins = {str(free[i].get("checksum")) for i in result.delete} & set(kept)
    result.refresh = [kept[c] for c in sorted(twins) if kept[c][1].types]
    result.delete += sorted(i for i in record if not is_entry_id(i))
    return result


def is_entry_id(key: str) -> bool:
    """Whether a record key can be Magento's entry id (a number)."""
    return key.isascii() and key.isdigit()


def record_entry(image: WantedImage) -> dict[str, Any]:
    return {
        "asset": image.asset.uuid,
        "checksum": image.asset.checksum,
        **image.wanted,
        "created_by_hub": True,
    }


def entry_body(image: WantedImage, content: tuple[str, str, str] | None) -> dict[str, Any]:
    """A `POST .../media` body; `content` is (base64 data, mime type, file name)."""
    entry: dict[str, Any] = {
        "media_type": "image",
        "label": image.label,
        "position": image.position,
        "disabled": False,
        "types": list(image.types),
    }
    if content is not None:
        data, mimetype, name = content
        entry["content"] = {"base64_encoded_data": data, "type": mimetype, "name": name}
    return {"entry": entry}


def encode(asset: Asset, chunks: Sequence[bytes]) -> tuple[str, str, str]:
    """(base64 data, mime type, file name) for an asset's bytes, converted to PNG when Magento
    does not take its type; raises UnreadableImage when they cannot be converted."""
    data = b"".join(chunks)
    mimetype = asset.mimetype
    if mimetype in CONVERTIBLE:
        data, mimetype = _png(data, mimetype), "image/png"
    stem = asset.filename.rsplit(".", 1)[0] if "." in asset.filename else asset.filename
    stem = UNSAFE_NAME.sub("-", stem).strip("-.")[:90] or asset.checksum[:16]
    return base64.b64encode(data).decode("ascii"), mimetype, f"{stem}.{SENDABLE[mimetype]}"


class UnreadableImage(ValueError):
    """An asset's bytes that cannot be turned into an image Magento takes."""


def _png(data: bytes, mimetype: str) -> bytes:
    from PIL import Image  # only when converting: Pillow is slow to import

    try:
        with Image.open(io.BytesIO(data)) as picture:
            frame: Image.Image = picture
            if picture.mode not in PNG_MODES:  # CMYK, YCbCr, LAB...: PNG has no such mode
                frame = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
            out = io.BytesIO()
            frame.save(out, format="PNG")
    # Pillow reports damaged files as any of these, depending on the format's plugin.
    except (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"{mimetype} could not be converted to PNG: {exc}") from exc
    return out.getvalue()


class MediaSync:
    """Brings one SKU's hub-created entries to the wanted ones, keeping the record as it goes
    (an entry created before a later call fails is remembered, never orphaned)."""

    def __init__(self, config: MagentoConfig, assets: AssetReader | None) -> None:
        self.config = config
        self.assets = assets

    @property
    def enabled(self) -> bool:
        return bool(self.config.media) and self.assets is not None

    async def images(self, values: Mapping[str, Any], sku: str) -> list[WantedImage]:
        assert self.assets is not None
        refs = asset_refs(self.config, values)
        found = await asyncio.to_thread(self.assets.get_many, refs) if refs else {}
        wanted, skipped = wanted_images(self.config, values, found)
        for ref, reason in skipped:
            log.warning(
                "connector.media_skipped",
                connector=self.config.name,
                sku=sku,
                asset=ref,
                reason=reason,
            )
        return wanted

    async def sync(
        self,
        sku: str,
        values: Mapping[str, Any],
        record: dict[str, dict[str, Any]],
        call: Call,
        dry_run: bool,
    ) -> bool:
        """Sends what differs and edits `record` in place; True when the record changed."""
        wanted = await self.images(values, sku)
        todo = plan(wanted, record)
        if todo.empty:
            return False
        base = f"/V1/products/{sku_path(sku)}/media"
        for image in todo.create:
            await self._create(sku, base, image, record, call, dry_run)
        # Roles gained before roles lost, so the product always has its main image.
        for entry_id, image in sorted(todo.update, key=lambda u: not u[1].types):
            await self._update(sku, base, entry_id, image, record, call, dry_run)
        for entry_id in todo.delete:
            try:
                if is_entry_id(entry_id):  # a damaged key is only forgotten
                    await call("DELETE", f"{base}/{entry_id}", None)
            except MagentoError as exc:
                if exc.status != 404:  # already gone in Magento: nothing left to do
                    raise
            record.pop(entry_id, None)
        for entry_id, image in todo.refresh:
            await self._update(sku, base, entry_id, image, record, call, dry_run)
        return True

    async def _update(
        self,
        sku: str,
        base: str,
        entry_id: str,
        image: WantedImage,
        record: dict[str, dict[str, Any]],
        call: Call,
        dry_run: bool,
    ) -> None:
        """Roles, label and position in place. The entry is read first: its `file` goes
        along, and one deleted in Magento meanwhile is uploaded again instead."""
        try:
            current = await call("GET", f"{base}/{entry_id}", None)
        except MagentoError as exc:
            if exc.status != 404:
                raise
            record.pop(entry_id, None)
            await self._create(sku, base, image, record, call, dry_run)
            return
        body = entry_body(image, None)
        kept = {k: v for k, v in (current or {}).items() if k in ("file", "media_type")}
        body["entry"] = {**kept, **body["entry"], "id": int(entry_id)}
        await call("PUT", f"{base}/{entry_id}", body)
        record[entry_id] = record_entry(image)

    async def _create(
        self,
        sku: str,
        base: str,
        image: WantedImage,
        record: dict[str, dict[str, Any]],
        call: Call,
        dry_run: bool,
    ) -> None:
        if dry_run:  # the exact request, without megabytes of base64 in the listing
            name = image.asset.filename
            content = (
                f"<{image.asset.filesize} bytes of {image.asset.path}>",
                image.asset.mimetype,
                name,
            )
        else:
            try:
                content = await self._content(image.asset)
            except (OSError, KeyError, ValueError) as exc:
                # One damaged or missing file must not hold back the product's other images
                # (nor, through the delivery's retries, the other SKUs of its batch).
                log.warning(
                    "connector.media_skipped",
                    connector=self.config.name,
                    sku=sku,
                    asset=image.asset.uuid,
                    reason=_unreadable(exc),
                )
                return
        answer = await call("POST", base, entry_body(image, content))
        if isinstance(answer, int) and not isinstance(answer, bool):
            record[str(answer)] = record_entry(image)
        elif isinstance(answer, str) and answer.isdigit():
            record[answer] = record_entry(image)

    async def _content(self, asset: Asset) -> tuple[str, str, str]:
        assert self.assets is not None
        reader = self.assets
        chunks = await asyncio.to_thread(lambda: list(reader.read(asset)))
        return await asyncio.to_thread(encode, asset, chunks)


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return "the asset's file is missing from the asset store"
    if isinstance(exc, UnreadableImage):
        return str(exc)
    return f"the asset's file could not be read: {exc}"
