"""What a file is, told from its bytes (never its name or a Content-Type): the accepted
types, their dimensions, and a refusal naming what anything else looks like."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from pimhub.catalog.errors import FieldError, PayloadTooLarge, UnsupportedMediaType

# Pillow format name -> the media type the hub stores and serves.
RASTER_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
}
SVG = "image/svg+xml"
PDF = "application/pdf"
ACCEPTED = frozenset({*RASTER_TYPES.values(), SVG, PDF})
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
_SNIFF_BYTES = 4096
MAX_SVG_BYTES = 10 << 20
# Magic numbers of refused types, so the refusal can say what the file looks like.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!", "application/vnd.rar"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
    (b"BM", "image/bmp"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"8BPS", "image/vnd.adobe.photoshop"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"\xd0\xcf\x11\xe0", "application/x-ole-storage"),
    (b"{\\rtf", "application/rtf"),
)
_LENGTH = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(px)?\s*")


@dataclass(frozen=True, slots=True)
class Detected:
    mimetype: str
    width: int | None = None
    height: int | None = None


def detect(content: IO[bytes], *, max_pixels: int) -> Detected:
    """The type (and an image's size) of the seekable `content`, read from its start.
    UnsupportedMediaType for anything not accepted or not readable as what it claims to
    be; PayloadTooLarge for an image over `max_pixels`, refused before it is decoded."""
    content.seek(0)
    head = content.read(_SNIFF_BYTES)
    content.seek(0)
    if head.startswith(b"%PDF-"):
        return Detected(PDF)
    raster = _raster_format(head)
    if raster is not None:
        return _raster(content, raster, max_pixels)
    if _looks_like_xml(head):
        return _svg(content, head)
    raise _unsupported(_guess(head))


def _raster_format(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    return None


def _raster(content: IO[bytes], fmt: str, max_pixels: int) -> Detected:
    mimetype = RASTER_TYPES[fmt]
    try:
        # Opening reads the header only; the pixels are decoded by load() below, after
        # the size check, so a small file claiming a huge image is never decompressed.
        with Image.open(content, formats=[fmt]) as image:
            width, height = image.size
            _check_pixels(mimetype, width, height, max_pixels)
            _decode(image)
    except (PayloadTooLarge, UnsupportedMediaType):
        raise
    except Image.DecompressionBombError:
        raise _too_many_pixels(mimetype, None, None, max_pixels) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, EOFError...
        why = damage(exc)
        raise UnsupportedMediaType(
            f"the upload starts like {mimetype} but cannot be read as one ({why})",
            [FieldError("file", f"unreadable {mimetype}: {why}", "unreadable-image")],
        ) from None
    finally:
        content.seek(0)
    return Detected(mimetype, width, height)


def damage(exc: BaseException) -> str:
    """What is wrong with an image Pillow could not read, in words of our own: Pillow's
    messages may hold internals (`cannot identify image file <...SpooledTemporaryFile
    object at 0x7f...>`), so they never reach a client."""
    if isinstance(exc, UnidentifiedImageError):
        return "its header is damaged or cut short"
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return "the file is cut short"
    return "its data is damaged"


def _check_pixels(mimetype: str, width: int, height: int, max_pixels: int) -> None:
    # Pillow's own bomb limit (it warns above it) counts too, whichever is lower.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if width <= 0 or height <= 0:
        raise UnsupportedMediaType(
            f"the {mimetype} image claims a size of {width}x{height}",
            [FieldError("file", "an image without pixels", "unreadable-image")],
        )
    if width * height > limit:
        raise _too_many_pixels(mimetype, width, height, limit)


def _decode(image: Image.Image) -> None:
    """Decode the (first frame's) pixels, so a truncated or corrupt file is refused now
    and not when a thumbnail is first asked for."""
    if image.format == "JPEG":
        # JPEG decodes at 1/8 scale straight from its coefficients: the whole stream is
        # still read (truncation shows) at a fraction of the memory and time.
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def _too_many_pixels(
    mimetype: str, width: int | None, height: int | None, limit: int
) -> PayloadTooLarge:
    size = f"{width}x{height} ({width * height:,} pixels)" if width and height else "larger"
    return PayloadTooLarge(
        f"the {mimetype} image is {size}; at most {limit:,} pixels are allowed",
        [FieldError("file", f"more than {limit:,} pixels", "too-many-pixels")],
    )


def _looks_like_xml(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<")


def _svg(content: IO[bytes], head: bytes) -> Detected:
    size = content.seek(0, 2)
    content.seek(0)
    if size > MAX_SVG_BYTES:
        # A parsed XML tree takes many times its text in memory.
        raise PayloadTooLarge(
            f"an SVG file may hold at most {MAX_SVG_BYTES:,} bytes; this one has {size:,}",
            [FieldError("file", f"an SVG over {MAX_SVG_BYTES:,} bytes", "too-large")],
        )
    data = content.read()
    content.seek(0)
    try:
        # defusedxml refuses entity expansion (billion laughs) and external references.
        root = SafeElementTree.fromstring(data)
    except DefusedXmlException:
        # Its str() is a repr of the refused declaration.
        why = "it declares XML entities or external references, which are refused"
        raise _unsupported(_guess(head), why) from None
    except (ParseError, ValueError) as exc:
        # expat's own words: a position in the file ("line 1, column 5"), no internals.
        raise _unsupported(_guess(head), f"not well-formed XML: {exc}") from None
    if root.tag not in (f"{SVG_NAMESPACE}svg", "svg"):
        raise _unsupported(_guess(head, xml=True))
    return Detected(SVG, _svg_length(root.get("width")), _svg_length(root.get("height")))


def _svg_length(value: str | None) -> int | None:
    """A plain width or height ("64", "64px"); None for relative ones ("100%", "2em")."""
    match = _LENGTH.fullmatch(value or "")
    return round(float(match.group(1))) if match else None


def _guess(head: bytes, *, xml: bool = False) -> str:
    """A name for what refused bytes look like."""
    for magic, mimetype in _MAGIC:
        if head.startswith(magic):
            return mimetype
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"
        return "image/avif" if brand in (b"avif", b"avis") else "video/mp4"
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:1024]:
        return "text/html"
    if xml or lowered.startswith(b"<?xml"):
        return "application/xml"
    if not head:
        return "application/x-empty"
    return "text/plain" if _text(head) else "application/octet-stream"


def _text(head: bytes) -> bool:
    """UTF-8 without control characters but tabs and line ends."""
    # Not final: the sniffed bytes may end in the middle of a character.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 0x20 and c not in "\t\r\n\f" for c in text)


def _unsupported(looks_like: str, why: str = "") -> UnsupportedMediaType:
    accepted = ", ".join(sorted(ACCEPTED))
    detail = f"the file is {looks_like}" + (f" ({why})" if why else "")
    return UnsupportedMediaType(
        f"{detail}; accepted types: {accepted}",
        [FieldError("file", f"{looks_like} is not accepted", "unsupported-type")],
    )
