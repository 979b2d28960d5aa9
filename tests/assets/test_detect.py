"""Type detection from the bytes: every accepted type, refusals naming what a file looks
like, truncated images and decompression bombs refused before decoding."""

from __future__ import annotations

import io
import time

import pytest

from pimhub.assets.detect import detect
from pimhub.catalog.errors import PayloadTooLarge, UnsupportedMediaType
from tests.assets.images import HTML, PDF, SVG, png, png_claiming, raster, zip_file

LIMIT = 40_000_000


def _detect(data: bytes, max_pixels: int = LIMIT) -> tuple[str, int | None, int | None]:
    found = detect(io.BytesIO(data), max_pixels=max_pixels)
    return found.mimetype, found.width, found.height


@pytest.mark.parametrize(
    ("fmt", "mimetype"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_raster_images_with_their_size(fmt: str, mimetype: str) -> None:
    assert _detect(raster(fmt, (40, 30))) == (mimetype, 40, 30)


def test_svg_and_pdf() -> None:
    assert _detect(SVG) == ("image/svg+xml", 64, 32)
    assert _detect(b'<svg xmlns="http://www.w3.org/2000/svg" width="100%"/>') == (
        "image/svg+xml",
        None,
        None,
    )
    assert _detect(PDF) == ("application/pdf", None, None)


def test_detection_leaves_the_file_at_its_start() -> None:
    content = io.BytesIO(png())
    detect(content, max_pixels=LIMIT)
    assert content.tell() == 0


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (HTML, "text/html"),
        (zip_file(), "application/zip"),
        (b"just some words\n", "text/plain"),
        (b"", "application/x-empty"),
        (b"\x00\x01\x02\x03garbage", "application/octet-stream"),
        (raster("BMP"), "image/bmp"),
        (b'<?xml version="1.0"?><note>hi</note>', "application/xml"),
        (b"<svg><unclosed></svg>", "not well-formed XML"),
    ],
)
def test_refused_types_are_named(data: bytes, looks_like: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        _detect(data)
    assert looks_like in caught.value.detail
    assert "accepted types" in caught.value.detail


def test_svg_with_entity_expansion_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg">&b;</svg>'
    )
    with pytest.raises(UnsupportedMediaType):
        _detect(bomb)


def test_truncated_images_are_refused() -> None:
    for fmt in ("PNG", "JPEG"):
        whole = raster(fmt, (64, 64))
        with pytest.raises(UnsupportedMediaType) as caught:
            _detect(whole[: len(whole) * 2 // 3])
        assert "cannot be read" in caught.value.detail


def test_pixel_bomb_refused_without_decoding() -> None:
    bomb = png_claiming(100_000, 100_000)
    assert len(bomb) < 200
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge) as caught:
        _detect(bomb)
    assert time.perf_counter() - started < 0.5
    assert caught.value.errors[0].code == "too-many-pixels"


def test_pixel_limit_is_the_configured_one() -> None:
    data = png_claiming(5_000, 5_000)  # 25 MP: under Pillow's own limit
    with pytest.raises(PayloadTooLarge) as caught:
        _detect(data, max_pixels=1_000_000)
    assert "5000x5000" in caught.value.detail
    assert _detect(png((64, 48)), max_pixels=64 * 48) == ("image/png", 64, 48)
    with pytest.raises(PayloadTooLarge):
        _detect(png((64, 48)), max_pixels=64 * 48 - 1)


def test_oversized_svg_is_refused_unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pimhub.assets.detect.MAX_SVG_BYTES", len(SVG) - 1)
    with pytest.raises(PayloadTooLarge):
        _detect(SVG)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        # Pillow: "cannot identify image file <...SpooledTemporaryFile object at 0x...>"
        (b"GIF89a" + b"\x00" * 40, "its header is damaged or cut short"),
        (raster("PNG", (64, 64))[:-40], "the file is cut short"),
        (raster("GIF", (64, 64))[:30], "its header is damaged or cut short"),
    ],
)
def test_a_broken_image_is_named_without_pillows_words(data: bytes, why: str) -> None:
    import tempfile

    with tempfile.SpooledTemporaryFile() as upload:  # as the REST upload spools it
        upload.write(data)
        with pytest.raises(UnsupportedMediaType) as caught:
            detect(upload, max_pixels=LIMIT)
    detail = caught.value.detail
    assert detail.startswith("the upload starts like image/") and why in detail, detail
    said = detail + " ".join(e.message for e in caught.value.errors)
    for internal in ("object at", "0x", "<", "SpooledTemporaryFile", "cannot identify"):
        assert internal not in said, said


def test_an_svg_with_entities_says_so_without_a_repr() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    )
    with pytest.raises(UnsupportedMediaType) as caught:
        _detect(bomb)
    assert "declares XML entities" in caught.value.detail
    assert "EntitiesForbidden(" not in caught.value.detail
