"""Small files of every kind, made in memory for the asset tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

from PIL import Image

SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32">'
    b'<rect width="64" height="32" fill="red"/></svg>'
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body>hi</body></html>\n"


def raster(fmt: str, size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    """An image in Pillow format `fmt` (PNG, JPEG, GIF, WEBP, TIFF)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    return raster("PNG", size, color)


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "hello")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims `width` x `height` pixels: a
    decompression bomb's calling card (its IDAT holds one compressed row, not the image)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * 16)
    chunks = _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def add_images(hub: Any, *paths: str) -> dict[str, str]:
    """Upload a small PNG at each path through the hub's AssetService, for tests whose
    objects name images in asset fields; path -> asset uuid."""
    return {
        path: hub.assets.add(io.BytesIO(png()), path, author="test").asset.uuid for path in paths
    }
