"""Thumbnail presets: named sizes, fits and formats; built-in ones plus the settings'."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from pimhub.catalog.errors import FieldError, InvalidInput

Fit = Literal["contain", "cover", "stretch"]
Format = Literal["jpeg", "png", "webp", "original"]
FITS: tuple[str, ...] = get_args(Fit)
FORMATS: tuple[str, ...] = get_args(Format)
MAX_SIDE = 4000
SETTING = "assets_thumbnails"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # it goes into file keys and URLs
# Bumped when the drawing code changes what a preset produces, so old files are not reused.
_RENDERER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class ThumbnailPreset:
    """contain: fit inside width x height, keeping the aspect; cover: fill it and crop the
    centre; stretch: exactly that size. Images are never enlarged. `original` keeps the
    source's format where browsers show it (GIF and TIFF become PNG)."""

    name: str
    width: int
    height: int
    fit: Fit = "contain"
    format: Format = "webp"
    quality: int = 85  # JPEG and WebP

    @property
    def fingerprint(self) -> str:
        """A short hash of what the preset draws: a changed preset names new files."""
        spec = f"{self.width}x{self.height}|{self.fit}|{self.format}|{self.quality}"
        return hashlib.sha256(f"{spec}|r{_RENDERER_VERSION}".encode()).hexdigest()[:12]


BUILTIN_PRESETS: dict[str, ThumbnailPreset] = {
    preset.name: preset
    for preset in (
        ThumbnailPreset("product_list", 300, 300, "contain", "webp"),
        ThumbnailPreset("product_detail", 800, 800, "contain", "webp"),
        ThumbnailPreset("thumbnail", 150, 150, "cover", "jpeg"),
        ThumbnailPreset("large", 1600, 1600, "contain", "webp"),
    )
}

_FIELDS = {"width", "height", "fit", "format", "quality"}


def parse_presets(raw: Mapping[str, Any] | None) -> dict[str, ThumbnailPreset]:
    """The built-in presets with `raw` (settings.assets_thumbnails) added or overriding
    them field by field; InvalidInput naming each bad entry's path otherwise."""
    presets = dict(BUILTIN_PRESETS)
    errors: list[FieldError] = []
    for name, spec in (raw or {}).items():
        where = f"{SETTING}.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            errors.append(FieldError(where, "a preset name is 1-64 of a-z, 0-9, _ and -"))
            continue
        if not isinstance(spec, Mapping):
            errors.append(FieldError(where, "must be an object such as {width, height}"))
            continue
        preset = _parse_one(name, spec, presets.get(name), errors)
        if preset is not None:
            presets[name] = preset
    if errors:
        raise InvalidInput("; ".join(f"{error.field}: {error.message}" for error in errors), errors)
    return presets


def _parse_one(
    name: str, spec: Mapping[str, Any], base: ThumbnailPreset | None, errors: list[FieldError]
) -> ThumbnailPreset | None:
    where = f"{SETTING}.{name}"
    before = len(errors)
    for unknown in sorted(set(spec) - _FIELDS):
        errors.append(
            FieldError(f"{where}.{unknown}", f"unknown; known: {', '.join(sorted(_FIELDS))}")
        )
    values: dict[str, Any] = {}
    for side in ("width", "height"):
        if side in spec:
            values[side] = _int(spec[side], 1, MAX_SIDE, f"{where}.{side}", errors)
        elif base is None:
            errors.append(FieldError(f"{where}.{side}", "required", "required"))
    if "quality" in spec:
        values["quality"] = _int(spec["quality"], 1, 100, f"{where}.quality", errors)
    for key, allowed in (("fit", FITS), ("format", FORMATS)):
        if key in spec:
            if spec[key] in allowed:
                values[key] = spec[key]
            else:
                errors.append(FieldError(f"{where}.{key}", f"must be one of {', '.join(allowed)}"))
    if len(errors) > before:
        return None
    if base is not None:
        return replace(base, **values)
    return ThumbnailPreset(name=name, **values)


def _int(value: Any, low: int, high: int, where: str, errors: list[FieldError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append(FieldError(where, f"must be {low}..{high}"))
        return low
    return value
