"""Images the hub cannot send as they are: a colour mode PNG has not, a file gone from the
asset store, bytes no image library reads. Each is converted or skipped on its own; the
product's other images and the batch's other SKUs go through."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from pimhub.assets.model import Asset
from pimhub.bootstrap import Hub
from pimhub.connectors.magento import media
from pimhub.connectors.magento.client import MagentoUnavailable
from pimhub.connectors.magento.media import UnreadableImage, encode, plan
from pimhub.connectors.magento.push import Outcome, Pusher

from .double import MagentoDouble
from .test_media import PNG_MAGIC, ROLES, asset, picture, record
from .test_push import CONFIG, CREDENTIALS, push, tee


class Warnings:
    """Stands in for the module's logger: the warnings it was given, as dicts."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> Warnings:
    found = Warnings()
    monkeypatch.setattr(media, "log", found)
    return found


@pytest.fixture
def double() -> Any:
    double = MagentoDouble(stores={"default": 1, "de": 1}, bulk_delay=0.01)
    yield double
    assert double.violations == []


@pytest.fixture
def shop(hub: Hub, double: MagentoDouble) -> Hub:
    hub.connectors.transport = httpx.ASGITransport(app=double)
    hub.connectors.add(CONFIG, CREDENTIALS)
    hub.catalog.create("Category", {"code": "men-tops", "name": {"en": "Tops"}}, author="t")
    return hub


def tiff(mode: str, color: Any) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (16, 16), color).save(out, format="TIFF")
    return out.getvalue()


def decoded(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data)))


def a_tiff(name: str) -> Asset:
    """An asset as the store describes it (encode needs no hub)."""
    now = datetime.now(UTC)
    return Asset("u", f"/p/{name}.tif", "image/tiff", 1, "0" * 64, 16, 16, {}, 1, now, now)


def test_a_cmyk_tiff_is_sent_as_an_rgb_png_next_to_the_other_images(
    shop: Hub, double: MagentoDouble
) -> None:
    front = asset(shop, "/p/front.png", picture("red"), {"en": "Front"})
    print_ready = asset(shop, "/p/print.tif", tiff("CMYK", (0, 255, 255, 0)), {"en": "Print"})
    tee(shop, image=front.uuid, gallery=[print_ready.uuid])
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    entries = {e["label"]: e for e in double.media("TS-1")}
    assert set(entries) == {"Front", "Print"}
    content = double.media_content(entries["Print"]["id"]) or b""
    assert content.startswith(PNG_MAGIC) and entries["Print"]["file"].endswith("/print.png")
    with Image.open(io.BytesIO(content)) as sent:
        assert sent.mode == "RGB"
        assert sent.getpixel((0, 0)) == (255, 0, 0)  # CMYK (0, 255, 255, 0) is red


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [("CMYK", (0, 0, 0, 0), "RGB"), ("LAB", (50, 0, 0), "RGB"), ("LA", (9, 200), "LA")],
)
def test_encode_converts_modes_png_cannot_hold(mode: str, color: Any, expected: str) -> None:
    data, mimetype, name = encode(a_tiff(mode), [tiff(mode, color)])
    assert (mimetype, name) == ("image/png", f"{mode}.png")
    with decoded(data) as sent:
        assert sent.mode == expected


def test_encode_refuses_bytes_no_image_library_reads() -> None:
    with pytest.raises(UnreadableImage, match="image/tiff could not be converted to PNG"):
        encode(a_tiff("damaged"), [b"II*\x00", b"\x00" * 20])


def damage(hub: Hub, target: Asset, content: bytes | None) -> None:
    """The asset's blob replaced by `content`, or gone from the store."""
    if content is None:
        hub.assets.store.delete(target.blob_key)
    else:
        hub.assets.store.put(target.blob_key, io.BytesIO(content), len(content), target.mimetype)


def test_a_missing_or_damaged_file_is_skipped_and_the_rest_of_the_batch_goes_through(
    shop: Hub, double: MagentoDouble, warnings: Warnings
) -> None:
    front = asset(shop, "/p/front.png", picture("red"), {"en": "Front"})
    back = asset(shop, "/p/back.jpg", picture("blue", "JPEG"), {"en": "Back"})
    gone = asset(shop, "/p/gone.png", picture("green"), {"en": "Gone"})
    broken = asset(shop, "/p/broken.tif", tiff("RGB", "white"), {"en": "Broken"})
    other = asset(shop, "/p/other.png", picture("gray"), {"en": "Other"})
    damage(shop, gone, None)
    damage(shop, broken, b"II*\x00" + b"\x00" * 40)
    tee(shop, "TS-1", image=gone.uuid, gallery=[front.uuid, broken.uuid, back.uuid])
    tee(shop, "TS-2", ean=None, image=other.uuid)

    outcomes = push(shop, "TS-1", "TS-2")

    assert [(o.sku, o.error) for o in outcomes] == [("TS-1", None), ("TS-2", None)]
    assert sorted(e["label"] for e in double.media("TS-1")) == ["Back", "Front"]
    assert [(e["label"], e["types"]) for e in double.media("TS-2")] == [("Other", ROLES)]
    assert {e["asset"] for e in record(shop).values()} == {front.uuid, back.uuid}
    skipped = {w["asset"]: w for w in warnings.lines if w["event"] == "connector.media_skipped"}
    assert set(skipped) == {gone.uuid, broken.uuid}
    assert skipped[gone.uuid]["sku"] == "TS-1" and skipped[gone.uuid]["connector"] == "shop"
    assert "missing from the asset store" in skipped[gone.uuid]["reason"]
    assert "could not be converted to PNG" in skipped[broken.uuid]["reason"]
    assert shop.connectors.item("shop", "TS-1").state == "synced"

    # The file is back: the next push sends it, and only it.
    damage(shop, gone, picture("green"))
    start = len(double.requests)
    [again] = push(shop, "TS-1")
    assert again.ok, again.error
    sent = [(r.method, r.path) for r in double.requests[start:] if "/media" in r.path]
    assert sent.count(("POST", "/V1/products/TS-1/media")) == 1
    labels = {e["label"]: e["types"] for e in double.media("TS-1")}
    assert labels == {"Front": [], "Back": [], "Gone": ROLES}


def test_an_upload_failing_before_it_is_logged_keeps_the_log_and_its_own_error(
    shop: Hub, double: MagentoDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log of an upload drops its base64 once sent; a call that failed before it was
    logged must neither take another request's place nor hide its error."""
    sent = Pusher._call

    async def unlogged(self: Pusher, outcome: Outcome, method: str, path: str, *rest: Any) -> Any:
        if method == "POST" and path.endswith("/media"):
            raise MagentoUnavailable("the shop went away before the upload")
        return await sent(self, outcome, method, path, *rest)

    monkeypatch.setattr(Pusher, "_call", unlogged)
    front = asset(shop, "/p/front.png", picture("red"), {"en": "Front"})
    tee(shop, image=front.uuid)
    [outcome] = push(shop, "TS-1")
    assert outcome.error == "the shop went away before the upload"
    assert [(m, p) for m, _, p, _ in outcome.requests] == [
        ("GET", "/V1/products/TS-1"),
        ("PUT", "/V1/products/TS-1"),
        ("PUT", "/V1/products/TS-1"),
        ("POST", "/V1/inventory/source-items"),
    ]
    assert all(body is not None for m, _, _, body in outcome.requests if m != "GET")


def test_the_plan_orders_deletions_even_with_a_record_key_that_is_no_number() -> None:
    entry = {"asset": "gone", "checksum": "0" * 64, "types": [], "label": "", "position": 1}
    damaged = {key: dict(entry) for key in ("10", "9", "x", "²", "")}
    assert plan([], damaged).delete == ["9", "10", "", "x", "²"]


def test_a_damaged_record_key_is_forgotten_without_a_request(
    shop: Hub, double: MagentoDouble
) -> None:
    front = asset(shop, "/p/front.png", picture("red"), {"en": "Front"})
    tee(shop, image=front.uuid)
    push(shop, "TS-1")
    [entry_id] = record(shop)
    # The same image under a key that is no entry id (a damaged record), wanting other roles.
    damaged = {**record(shop)[entry_id], "types": []}
    shop.connectors.state.merge_record(
        "shop", "TS-1", media.MEDIA, {"x/../1": damaged}, [], datetime.now(UTC)
    )
    start = len(double.requests)
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    assert [(r.method, r.path) for r in double.requests[start:] if "/media" in r.path] == []
    assert list(record(shop)) == [entry_id]
    assert [e["types"] for e in double.media("TS-1")] == [ROLES]
