"""Thumbnails: made with Pillow on first request, kept in the blob store by content and
preset, and served from there afterwards."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import IO

from PIL import Image, UnidentifiedImageError

from pimhub.assets.detect import damage
from pimhub.assets.flights import FLIGHTS, draw_slots
from pimhub.assets.model import Asset, thumbnail_prefix
from pimhub.assets.ports import BlobStore
from pimhub.assets.presets import BUILTIN_PRESETS, ThumbnailPreset, parse_presets
from pimhub.catalog.errors import (
    AssetNotFound,
    FieldError,
    InvalidInput,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
)

__all__ = [
    "BUILTIN_PRESETS",
    "RASTER_TYPES",
    "Thumbnail",
    "ThumbnailPreset",
    "Thumbnailer",
    "UnknownThumbnail",
    "parse_presets",
]

# The asset types a thumbnail is drawn from, and the format `original` keeps for each.
RASTER_TYPES: dict[str, str] = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "png",  # the first frame
    "image/tiff": "png",  # browsers do not show TIFF
}
_MIMETYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}
_SWAPPED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that turn the image by 90 degrees
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SPOOL_LIMIT = 8 << 20
# How Pillow reports damaged data while decoding (a broken PNG raises SyntaxError).
_DAMAGED = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class UnknownThumbnail(InvalidInput):
    code = "unknown-thumbnail"
    title = "Unknown thumbnail preset"


@dataclass(frozen=True, slots=True)
class Thumbnail:
    key: str  # in the blob store
    mimetype: str
    size: int
    etag: str  # quoted; names the content and the preset, so it changes with either


class Thumbnailer:
    """Makes and finds thumbnails. Blocking; async callers run `ensure` in a thread.
    Several requests for the same new thumbnail wait for one draw (flights.FLIGHTS), and at
    most `concurrency` draws (default: the CPU count) run at once in the process."""

    slot_wait = 30.0  # seconds a draw waits for a free slot before 503

    def __init__(
        self,
        store: BlobStore,
        presets: Mapping[str, ThumbnailPreset] | None = None,
        max_pixels: int = 40_000_000,
        concurrency: int | None = None,
    ) -> None:
        self.store = store
        self.presets = dict(BUILTIN_PRESETS if presets is None else presets)
        self.max_pixels = max_pixels
        self.slots = draw_slots(concurrency)

    def preset(self, name: str) -> ThumbnailPreset:
        """The preset called `name`; UnknownThumbnail listing the known ones otherwise."""
        preset = self.presets.get(name)
        if preset is None:
            known = ", ".join(sorted(self.presets))
            raise UnknownThumbnail(
                f"no thumbnail preset {name!r}; known: {known}",
                [FieldError("thumbnail", f"unknown preset; known: {known}", "unknown")],
            )
        return preset

    def plan(self, asset: Asset, preset_name: str) -> tuple[ThumbnailPreset, str, str]:
        """The preset, the store key and the format of one thumbnail, without drawing it;
        refuses assets that are not raster images."""
        preset = self.preset(preset_name)
        source_format = RASTER_TYPES.get(asset.mimetype)
        if source_format is None:
            raise UnsupportedMediaType(
                f"thumbnails are made of images; {asset.path} is {asset.mimetype}",
                [FieldError("thumbnail", f"{asset.mimetype} has no thumbnails", "unsupported")],
            )
        out_format = source_format if preset.format == "original" else preset.format
        name = f"{preset.name}-{preset.fingerprint}.{_EXTENSIONS[out_format]}"
        return preset, thumbnail_prefix(asset.checksum) + name, out_format

    def stored(self, asset: Asset, preset_name: str) -> Thumbnail | None:
        """The thumbnail if it is in the store already, None when it is to be drawn; never
        draws (a caller on an event loop must not)."""
        preset, key, out_format = self.plan(asset, preset_name)
        size = self.store.size(key)
        return None if size is None else self._thumbnail(asset, preset, key, out_format, size)

    def _thumbnail(
        self, asset: Asset, preset: ThumbnailPreset, key: str, out_format: str, size: int
    ) -> Thumbnail:
        etag = f'"{asset.checksum[:16]}-{preset.fingerprint}"'
        return Thumbnail(key=key, mimetype=_MIMETYPES[out_format], size=size, etag=etag)

    def ensure(self, asset: Asset, preset_name: str) -> Thumbnail:
        """The thumbnail of `asset` in preset `preset_name`, drawn and stored on the first
        call and found in the store on later ones."""
        preset, key, out_format = self.plan(asset, preset_name)
        mimetype = _MIMETYPES[out_format]
        size = self.store.size(key)
        while size is None:

            def draw_and_store() -> int:
                # Another flight may have stored it between our look and our turn.
                stored = self.store.size(key)
                if stored is not None:
                    return stored
                if not self.slots.acquire(timeout=self.slot_wait):
                    # Waiting requests hold server threads: past a while, shed them.
                    raise Unavailable(
                        f"{asset.path}: every thumbnail drawing slot stayed busy for "
                        f"{self.slot_wait:g} s; retry later"
                    )
                try:
                    data = self._draw(asset, preset, out_format)
                finally:
                    self.slots.release()
                self.store.put(key, io.BytesIO(data), len(data), mimetype)
                return len(data)

            # Waiters get None and read what the leader stored (a later gc may have
            # removed it again: then the loop draws once more).
            size = FLIGHTS.run((id(self.store), key), draw_and_store)
            if size is None:
                size = self.store.size(key)
        return self._thumbnail(asset, preset, key, out_format, size)

    def _draw(self, asset: Asset, preset: ThumbnailPreset, out_format: str) -> bytes:
        with self._open_blob(asset) as source:
            try:
                image = Image.open(source)
            except (Image.DecompressionBombError, UnidentifiedImageError, OSError) as exc:
                raise UnsupportedMediaType(
                    f"{asset.path}: the image cannot be read ({damage(exc)})"
                ) from exc
            with image:
                self._check_pixels(asset, image)
                try:
                    return render(image, preset, out_format)
                except _DAMAGED as exc:
                    raise UnsupportedMediaType(
                        f"{asset.path}: the image cannot be decoded ({damage(exc)})"
                    ) from exc

    def _check_pixels(self, asset: Asset, image: Image.Image) -> None:
        # Image.open reads only the header; refuse before the pixels are decoded.
        width, height = image.size
        if width * height > self.max_pixels:
            raise PayloadTooLarge(
                f"{asset.path} has {width} x {height} pixels; thumbnails are made of images "
                f"up to {self.max_pixels} pixels"
            )

    @contextmanager
    def _open_blob(self, asset: Asset) -> Iterator[IO[bytes]]:
        missing = AssetNotFound(f"the file of {asset.path} is missing from the store")
        local = self.store.local_path(asset.blob_key)
        if local is not None:
            try:
                handle = local.open("rb")
            except FileNotFoundError:
                # Found, then collected (`pimhub assets gc` after the asset was deleted or
                # replaced while this draw waited for its slot): as a blob found missing.
                raise missing from None
            with handle:
                yield handle
            return
        # Pillow needs to seek: a remote blob is spooled (to disk when large).
        try:
            chunks = self.store.read(asset.blob_key)
        except KeyError:
            # Only a damaged store (files removed by hand) gets here: say so, not a 500.
            raise missing from None
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_LIMIT) as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            yield spool


def render(image: Image.Image, preset: ThumbnailPreset, out_format: str) -> bytes:
    """Draw `image` (opened, not yet decoded) per `preset` and encode it as `out_format`.
    Memory: the decoded source is the only full-size image (JPEG decodes reduced); it is
    scaled first, and turned and converted only once small."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animations and multi-page TIFFs: the first frame
    orientation = image.getexif().get(0x0112)
    if orientation in _SWAPPED_ORIENTATIONS:
        # Scaled before it is turned: the target's sides swap (a centred crop commutes
        # with turning and flipping).
        preset = replace(preset, width=preset.height, height=preset.width)
    icc = image.info.get("icc_profile")
    _draft(image, preset)
    source, image = image, _resampleable(image)
    if image is not source:
        source.close()  # frees the decoded palette (or CMYK...) image before scaling
    image = _resize(image, preset)
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    image = _normalise_mode(image, out_format)
    out = io.BytesIO()
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc  # colours stay as the photographer saw them
    if out_format in ("jpeg", "webp"):
        options["quality"] = preset.quality
    image.save(out, format=out_format.upper(), **options)
    return out.getvalue()


def _draft(image: Image.Image, preset: ThumbnailPreset) -> None:
    """Let JPEG decode at 1/2, 1/4 or 1/8 scale when the result stays larger than needed:
    much less work and memory for big photos. `preset` has the source's orientation."""
    if image.format != "JPEG":
        return
    width, height = image.size
    scale = _scale(width, height, preset.width, preset.height, preset)
    needed = (max(1, int(width * scale) + 1), max(1, int(height * scale) + 1))
    image.draft(image.mode, needed)


def _resampleable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resamples well (palettes and bilevel would be scaled by
    nearest neighbour; CMYK and 16-bit are not shown by browsers anyway)."""
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    has_alpha = image.mode == "PA" or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def _scale(width: int, height: int, target_w: int, target_h: int, p: ThumbnailPreset) -> float:
    if p.fit == "cover":
        return min(1.0, max(target_w / width, target_h / height))
    if p.fit == "contain":
        return min(1.0, target_w / width, target_h / height)
    return min(1.0, max(target_w / width, target_h / height))  # stretch: the larger side


def _normalise_mode(image: Image.Image, out_format: str) -> Image.Image:
    if image.mode in ("RGBA", "LA"):
        image = image.convert("RGBA")
        if out_format == "jpeg":  # JPEG has no alpha: lay the image on white
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            return background
        return image
    if image.mode in ("RGB", "L"):
        return image
    return image.convert("RGB")  # CMYK, palettes, 16-bit and the rest


def _resize(image: Image.Image, preset: ThumbnailPreset) -> Image.Image:
    width, height = image.size
    if preset.fit == "stretch":
        size = (min(preset.width, width), min(preset.height, height))
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    scale = _scale(width, height, preset.width, preset.height, preset)
    if preset.fit == "contain":
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if size == image.size:
            return image
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    # cover: the centre of the source that, scaled, fills the target (or all of a small
    # image's side: never enlarged)
    out_w = min(preset.width, max(1, round(width * scale)))
    out_h = min(preset.height, max(1, round(height * scale)))
    box_w, box_h = out_w / scale, out_h / scale
    left, top = (width - box_w) / 2, (height - box_h) / 2
    box = (left, top, left + box_w, top + box_h)
    return image.resize((out_w, out_h), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
