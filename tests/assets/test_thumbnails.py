"""Thumbnails: sizes, fits and formats read back with Pillow; caching; refusals."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile

from pimhub.assets.filesystem import FilesystemBlobStore
from pimhub.assets.model import Asset, blob_key, thumbnail_prefix
from pimhub.assets.presets import BUILTIN_PRESETS, ThumbnailPreset, parse_presets
from pimhub.assets.s3 import S3BlobStore
from pimhub.assets.thumbnails import Thumbnailer, UnknownThumbnail
from pimhub.catalog.errors import AssetNotFound, InvalidInput, PayloadTooLarge, UnsupportedMediaType

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def image_bytes(
    size: tuple[int, int] = (64, 32),
    mode: str = "RGB",
    color: Any = (200, 30, 30),
    fmt: str = "PNG",
    **save: Any,
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def store_asset(
    store: FilesystemBlobStore | S3BlobStore,
    data: bytes,
    mimetype: str = "image/png",
    path: str = "/products/a.png",
) -> Asset:
    checksum = hashlib.sha256(data).hexdigest()
    store.put(blob_key(checksum), io.BytesIO(data), len(data), mimetype)
    return Asset(
        uuid=str(uuid.uuid4()),
        path=path,
        mimetype=mimetype,
        filesize=len(data),
        checksum=checksum,
        width=None,
        height=None,
        metadata={},
        version=1,
        created_at=NOW,
        modified_at=NOW,
    )


def open_thumbnail(store: FilesystemBlobStore | S3BlobStore, key: str) -> Image.Image:
    image = Image.open(io.BytesIO(b"".join(store.read(key))))
    image.load()
    return image


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "assets")


def thumbnailer(store: Any, *presets: ThumbnailPreset, max_pixels: int = 10_000) -> Thumbnailer:
    return Thumbnailer(store, {p.name: p for p in presets}, max_pixels=max_pixels)


@pytest.mark.parametrize(
    ("fit", "source", "expected"),
    [
        ("contain", (64, 32), (40, 20)),  # fits inside, keeps the aspect
        ("contain", (32, 64), (20, 40)),
        ("contain", (20, 10), (20, 10)),  # never enlarged
        ("cover", (128, 64), (40, 40)),  # fills and crops
        ("cover", (64, 32), (40, 32)),  # a side shorter than the target is not enlarged
        ("cover", (30, 60), (30, 40)),
        ("stretch", (64, 32), (40, 32)),
        ("stretch", (80, 80), (40, 40)),
    ],
)
def test_fit_sizes(
    store: FilesystemBlobStore, fit: str, source: tuple[int, int], expected: tuple[int, int]
) -> None:
    preset = ThumbnailPreset("t", 40, 40, fit, "png")  # type: ignore[arg-type]
    asset = store_asset(store, image_bytes(source))
    thumb = thumbnailer(store, preset).ensure(asset, "t")
    assert open_thumbnail(store, thumb.key).size == expected


def test_cover_keeps_the_centre(store: FilesystemBlobStore) -> None:
    # Red left third, green middle, blue right third: cover to a square keeps the green.
    image = Image.new("RGB", (90, 30), (255, 0, 0))
    image.paste((0, 255, 0), (30, 0, 60, 30))
    image.paste((0, 0, 255), (60, 0, 90, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    asset = store_asset(store, out.getvalue())
    thumb = thumbnailer(store, ThumbnailPreset("sq", 30, 30, "cover", "png")).ensure(asset, "sq")
    result = open_thumbnail(store, thumb.key).convert("RGB")
    assert result.size == (30, 30)
    for x in (2, 15, 27):
        red, green, blue = result.getpixel((x, 15))  # type: ignore[misc]
        assert green > 200 and red < 60 and blue < 60


@pytest.mark.parametrize(
    ("fmt", "pil_format", "mimetype", "ext"),
    [
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("png", "PNG", "image/png", "png"),
        ("webp", "WEBP", "image/webp", "webp"),
    ],
)
def test_formats(
    store: FilesystemBlobStore, fmt: str, pil_format: str, mimetype: str, ext: str
) -> None:
    preset = ThumbnailPreset("f", 16, 16, "contain", fmt, 80)  # type: ignore[arg-type]
    asset = store_asset(store, image_bytes((64, 64)))
    thumb = thumbnailer(store, preset).ensure(asset, "f")
    image = open_thumbnail(store, thumb.key)
    assert (image.format, image.size) == (pil_format, (16, 16))
    assert thumb.mimetype == mimetype
    assert thumb.key == f"{thumbnail_prefix(asset.checksum)}f-{preset.fingerprint}.{ext}"
    assert thumb.size == store.size(thumb.key)
    assert thumb.etag.startswith('"') and asset.checksum[:16] in thumb.etag


@pytest.mark.parametrize(
    ("source_format", "mimetype", "expected"),
    [("JPEG", "image/jpeg", "JPEG"), ("GIF", "image/gif", "PNG"), ("WEBP", "image/webp", "WEBP")],
)
def test_original_format(
    store: FilesystemBlobStore, source_format: str, mimetype: str, expected: str
) -> None:
    asset = store_asset(store, image_bytes((32, 32), fmt=source_format), mimetype)
    preset = ThumbnailPreset("o", 8, 8, "contain", "original")
    thumb = thumbnailer(store, preset).ensure(asset, "o")
    assert open_thumbnail(store, thumb.key).format == expected


def test_png_with_alpha_to_jpeg_lies_on_white(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes((32, 32), "RGBA", (255, 0, 0, 0)))
    preset = ThumbnailPreset("j", 16, 16, "contain", "jpeg")
    image = open_thumbnail(store, thumbnailer(store, preset).ensure(asset, "j").key)
    assert image.mode == "RGB"
    assert all(channel > 245 for channel in image.getpixel((8, 8)))  # type: ignore[union-attr]


def test_png_with_alpha_to_webp_keeps_it(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes((32, 32), "RGBA", (255, 0, 0, 0)))
    preset = ThumbnailPreset("w", 16, 16, "contain", "png")
    image = open_thumbnail(store, thumbnailer(store, preset).ensure(asset, "w").key)
    assert image.mode == "RGBA" and image.getpixel((8, 8))[3] == 0  # type: ignore[index]


def test_exif_orientation_is_applied(store: FilesystemBlobStore) -> None:
    # Stored 64 x 32 with "rotate 90" in EXIF: shown (and thumbnailed) 32 x 64.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = image_bytes((64, 32), fmt="JPEG", exif=exif.tobytes())
    asset = store_asset(store, data, "image/jpeg")
    preset = ThumbnailPreset("e", 40, 40, "contain", "png")
    image = open_thumbnail(store, thumbnailer(store, preset).ensure(asset, "e").key)
    assert image.size == (20, 40)


def test_large_jpeg_is_drawn_with_draft(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes((1200, 800), fmt="JPEG"), "image/jpeg")
    preset = ThumbnailPreset("d", 100, 100, "cover", "jpeg")
    thumb = thumbnailer(store, preset, max_pixels=10**7).ensure(asset, "d")
    assert open_thumbnail(store, thumb.key).size == (100, 100)


def test_animated_gif_gives_its_first_frame(store: FilesystemBlobStore) -> None:
    frames = [Image.new("RGB", (32, 32), color) for color in ((0, 0, 255), (255, 0, 0))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    asset = store_asset(store, out.getvalue(), "image/gif")
    preset = ThumbnailPreset("g", 16, 16, "contain", "png")
    image = open_thumbnail(store, thumbnailer(store, preset).ensure(asset, "g").key)
    red, _green, blue = image.convert("RGB").getpixel((8, 8))  # type: ignore[misc]
    assert blue > 200 and red < 50


def test_second_request_is_served_from_the_store(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset = store_asset(store, image_bytes())
    maker = thumbnailer(store, BUILTIN_PRESETS["thumbnail"])
    first = maker.ensure(asset, "thumbnail")
    puts: list[str] = []
    real_put = store.put
    monkeypatch.setattr(store, "put", lambda key, *a: puts.append(key) or real_put(key, *a))
    monkeypatch.setattr(store, "read", lambda *a: pytest.fail("the blob was read again"))
    assert maker.ensure(asset, "thumbnail") == first
    assert puts == []


def test_changed_preset_makes_a_new_key(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes())
    old = thumbnailer(store, ThumbnailPreset("p", 40, 40)).ensure(asset, "p")
    new = thumbnailer(store, ThumbnailPreset("p", 20, 20)).ensure(asset, "p")
    assert new.key != old.key and new.etag != old.etag
    assert open_thumbnail(store, new.key).size == (20, 10)
    assert store.exists(old.key)  # the old one stays until garbage collection


def test_concurrent_first_requests_agree(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes((64, 64)))
    maker = thumbnailer(store, ThumbnailPreset("c", 32, 32, "contain", "webp"))
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(maker.ensure(asset, "c"))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.key for r in results}) == 1 and len(results) == 4
    assert open_thumbnail(store, results[0].key).size == (32, 32)
    assert list(store.keys(thumbnail_prefix(asset.checksum))) == [results[0].key]


def test_remote_store_thumbnails(s3_client: Any, s3_bucket: str) -> None:
    s3 = S3BlobStore(s3_bucket, client=s3_client)
    asset = store_asset(s3, image_bytes((64, 32)))
    thumb = Thumbnailer(s3).ensure(asset, "product_list")
    image = open_thumbnail(s3, thumb.key)
    assert (image.format, image.size) == ("WEBP", (64, 32))  # not enlarged to 300


@pytest.mark.parametrize(
    ("mimetype", "path"),
    [("application/pdf", "/docs/x.pdf"), ("image/svg+xml", "/logos/x.svg")],
)
def test_non_raster_assets_are_refused(
    store: FilesystemBlobStore, mimetype: str, path: str
) -> None:
    asset = store_asset(store, b"%PDF-1.4 or <svg/>", mimetype, path)
    with pytest.raises(UnsupportedMediaType) as error:
        Thumbnailer(store).ensure(asset, "thumbnail")
    assert str(error.value) == f"thumbnails are made of images; {path} is {mimetype}"
    assert list(store.keys("thumbnails/")) == []


def test_unknown_preset_lists_the_known_ones(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes())
    with pytest.raises(UnknownThumbnail, match="no thumbnail preset 'huge'; known: large, "):
        Thumbnailer(store).ensure(asset, "huge")
    assert isinstance(UnknownThumbnail("x"), InvalidInput)


def test_too_many_pixels_are_refused_before_decoding(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset = store_asset(store, image_bytes((200, 100)))
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(PayloadTooLarge, match=r"200 x 100 pixels; .* up to 10000 pixels"):
        thumbnailer(store, ThumbnailPreset("t", 10, 10)).ensure(asset, "t")


def test_missing_blob_is_not_found(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, image_bytes(), path="/lost.png")
    store.delete(asset.blob_key)
    with pytest.raises(AssetNotFound, match=r"the file of /lost\.png is missing from the store"):
        Thumbnailer(store).ensure(asset, "thumbnail")


def test_a_blob_collected_between_finding_and_opening_it_is_not_found(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The draw found the blob's file, then gc removed it (the asset was deleted while the
    draw waited for a slot) before it opened it: a 404 naming it, never a 500."""
    asset = store_asset(store, image_bytes(), path="/gone.png")
    local_path = FilesystemBlobStore.local_path

    def collected_after_the_look(self: FilesystemBlobStore, key: str) -> Path | None:
        found = local_path(self, key)
        self.delete(key)
        return found

    monkeypatch.setattr(FilesystemBlobStore, "local_path", collected_after_the_look)
    with pytest.raises(AssetNotFound, match=r"the file of /gone\.png is missing from the store"):
        Thumbnailer(store).ensure(asset, "thumbnail")


@pytest.mark.parametrize(("cut", "what"), [(40, "read"), (-2000, "decoded")])
def test_damaged_image_is_a_clear_error(store: FilesystemBlobStore, cut: int, what: str) -> None:
    gradient = io.BytesIO()
    Image.radial_gradient("L").save(gradient, format="PNG")  # 256 x 256, about 5 kB
    asset = store_asset(store, gradient.getvalue()[:cut], path="/broken.png")
    with pytest.raises(UnsupportedMediaType, match=rf"/broken\.png: the image cannot be {what}"):
        thumbnailer(store, ThumbnailPreset("t", 10, 10), max_pixels=10**6).ensure(asset, "t")


# --- presets from the settings ---------------------------------------------------------------


def test_builtin_presets() -> None:
    presets = parse_presets(None)
    assert set(presets) >= {"product_list", "product_detail", "thumbnail", "large"}
    assert presets["thumbnail"] == ThumbnailPreset("thumbnail", 150, 150, "cover", "jpeg", 85)


def test_settings_add_and_override_presets() -> None:
    presets = parse_presets(
        {
            "banner": {"width": 1200, "height": 400, "fit": "cover", "format": "webp"},
            "thumbnail": {"format": "webp", "quality": 70},
        }
    )
    assert presets["banner"] == ThumbnailPreset("banner", 1200, 400, "cover", "webp")
    assert presets["thumbnail"] == ThumbnailPreset("thumbnail", 150, 150, "cover", "webp", 70)
    assert presets["thumbnail"].fingerprint != BUILTIN_PRESETS["thumbnail"].fingerprint


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"banner": {"width": 0, "height": 10}}, "assets_thumbnails.banner.width: must be 1..4000"),
        ({"banner": {"width": 10}}, "assets_thumbnails.banner.height: required"),
        ({"banner": {"width": "9", "height": 9}}, "assets_thumbnails.banner.width: must be"),
        ({"b": {"width": 9, "height": 9, "fit": "fill"}}, "assets_thumbnails.b.fit: must be one"),
        ({"b": {"width": 9, "height": 9, "format": "gif"}}, "assets_thumbnails.b.format: must"),
        ({"b": {"width": 9, "height": 9, "quality": 101}}, "assets_thumbnails.b.quality: must"),
        ({"b": {"width": 9, "height": 9, "colour": 1}}, "assets_thumbnails.b.colour: unknown"),
        ({"../x": {"width": 9, "height": 9}}, "assets_thumbnails.../x: a preset name is"),
        ({"b": 5}, "assets_thumbnails.b: must be an object"),
    ],
)
def test_bad_presets_name_the_path(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_presets(raw)
    assert message in str(error.value)
    assert error.value.errors[0].field == message.split(":")[0]


def _counting_draws(monkeypatch: pytest.MonkeyPatch, release: threading.Event) -> dict[str, int]:
    """Replaces Thumbnailer._draw by one that counts calls and the most running at once,
    each holding until `release` (or a short while) so that callers pile up."""
    seen = {"calls": 0, "running": 0, "peak": 0}
    lock = threading.Lock()
    original = Thumbnailer._draw

    def counted(self: Thumbnailer, *args: Any) -> bytes:
        with lock:
            seen["calls"] += 1
            seen["running"] += 1
            seen["peak"] = max(seen["peak"], seen["running"])
        try:
            release.wait(2)
            return original(self, *args)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(Thumbnailer, "_draw", counted)
    return seen


def _in_threads(count: int, work: Any, release: threading.Event) -> list[Any]:
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.3)  # lets them all arrive (no assertion depends on timing)
    release.set()
    for thread in threads:
        thread.join()
    return results


def test_parallel_first_requests_share_one_draw(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    seen = _counting_draws(monkeypatch, release)
    asset = store_asset(store, image_bytes((64, 64)))
    thumbs = thumbnailer(store, BUILTIN_PRESETS["thumbnail"])
    results = _in_threads(8, lambda _: thumbs.ensure(asset, "thumbnail"), release)
    assert seen["calls"] == 1
    assert len({(r.key, r.size) for r in results}) == 1
    assert store.size(results[0].key) == results[0].size


def test_a_failed_draw_fails_its_waiters_without_more_draws(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    seen = _counting_draws(monkeypatch, release)
    asset = store_asset(store, image_bytes((64, 64))[:-40])  # cut: cannot be decoded

    def ask(_: int) -> str:
        try:
            thumbnailer(store, BUILTIN_PRESETS["thumbnail"]).ensure(asset, "thumbnail")
        except UnsupportedMediaType:
            return "refused"
        return "drawn"

    assert _in_threads(4, ask, release) == ["refused"] * 4
    assert seen["calls"] == 1


def test_draws_at_once_are_bounded(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    seen = _counting_draws(monkeypatch, release)
    assets = [
        store_asset(store, image_bytes((64, 64), color=(i, 0, 0)), path=f"/p/{i}.png")
        for i in range(6)
    ]
    thumbs = Thumbnailer(store, {"thumbnail": BUILTIN_PRESETS["thumbnail"]}, concurrency=2)
    _in_threads(6, lambda i: thumbs.ensure(assets[i], "thumbnail"), release)
    assert seen["calls"] == 6
    assert seen["peak"] == 2


def test_concurrency_setting_reaches_the_app_thumbnailer() -> None:
    from pimhub.api.app import thumbnailer as app_thumbnailer
    from pimhub.assets.flights import default_concurrency, draw_slots

    assert default_concurrency() >= 1
    hub: Any = type("HubStub", (), {})()
    hub.assets = type("Assets", (), {"store": None})()
    hub.settings = type(
        "S",
        (),
        {"assets_thumbnails": {}, "assets_max_pixels": 100, "assets_thumbnail_concurrency": 3},
    )()
    assert app_thumbnailer(hub).slots is draw_slots(3)


def test_a_damaged_image_names_the_asset_not_pillows_words(store: FilesystemBlobStore) -> None:
    asset = store_asset(store, b"GIF89a" + b"\x00" * 40, mimetype="image/gif", path="/b.gif")
    with pytest.raises(UnsupportedMediaType) as caught:
        thumbnailer(store, BUILTIN_PRESETS["thumbnail"]).ensure(asset, "thumbnail")
    assert caught.value.detail == (
        "/b.gif: the image cannot be read (its header is damaged or cut short)"
    )


def test_a_draw_that_finds_no_free_slot_is_unavailable(store: FilesystemBlobStore) -> None:
    from pimhub.catalog.errors import Unavailable

    thumbs = thumbnailer(store, BUILTIN_PRESETS["thumbnail"])
    thumbs.slots = threading.BoundedSemaphore(1)
    thumbs.slot_wait = 0.01
    asset = store_asset(store, image_bytes((64, 64)))
    held, done = threading.Event(), threading.Event()

    def other_draw() -> None:  # holds the only slot (for 2 s at most, should ensure wait)
        with thumbs.slots:
            held.set()
            done.wait(2)

    other = threading.Thread(target=other_draw, daemon=True)
    other.start()
    held.wait()
    try:
        with pytest.raises(Unavailable) as caught:
            thumbs.ensure(asset, "thumbnail")
    finally:
        done.set()
        other.join()
    assert "retry later" in caught.value.detail and caught.value.retry_after > 0
    assert thumbs.ensure(asset, "thumbnail").size > 0  # free again: drawn
