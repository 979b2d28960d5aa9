"""Product images as Magento media gallery entries, against the contract double (which checks
every request against Adobe's schema): what is sent once, what changes in place, and that only
entries the hub created are ever removed."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from pimhub.assets.model import Asset
from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.connectors.magento.client import MagentoClient
from pimhub.connectors.magento.config import InvalidConnector
from pimhub.connectors.magento.media import MEDIA, WantedImage, plan
from pimhub.events.deliveries import DeliveryFilter

from .double import DEFAULT_CREDENTIALS, MagentoDouble
from .server import DoubleServer
from .test_push import CONFIG, CREDENTIALS, push, tee

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>'
ROLES = ["image", "small_image", "thumbnail"]


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


def picture(color: str, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(out, format=kind)
    return out.getvalue()


def asset(hub: Hub, path: str, content: bytes, alt: dict[str, str] | None = None) -> Asset:
    metadata = {"alt": alt} if alt else None
    return hub.assets.add(io.BytesIO(content), path, author="t", metadata=metadata).asset


def media_requests(double: MagentoDouble, start: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in double.requests[start:] if "/media" in r.path]


def record(hub: Hub, sku: str = "TS-1") -> dict[str, Any]:
    state = hub.connectors.state.sections("shop", [sku]).get(sku, {}).get(MEDIA)
    return dict(state.sent["entries"]) if state else {}


def by_file(double: MagentoDouble, sku: str = "TS-1") -> dict[str, dict[str, Any]]:
    return {e["file"]: e for e in double.media(sku)}


def manual_entry(double: MagentoDouble, sku: str, types: list[str]) -> int:
    """An image someone adds in Magento's admin."""

    async def run() -> int:
        async with MagentoClient(
            "http://magento.test", DEFAULT_CREDENTIALS, transport=httpx.ASGITransport(app=double)
        ) as client:
            content = base64.b64encode(picture("yellow", "JPEG")).decode()
            entry = {
                "media_type": "image",
                "label": "by hand",
                "position": 9,
                "disabled": False,
                "types": types,
                "content": {
                    "base64_encoded_data": content,
                    "type": "image/jpeg",
                    "name": "hand.jpg",
                },
            }
            reply = await client.request(
                "POST", f"/V1/products/{sku}/media", store="all", json={"entry": entry}
            )
            return int(reply.data)

    return asyncio.run(run())


@pytest.fixture
def pictures(shop: Hub) -> dict[str, Asset]:
    return {
        "front": asset(shop, "/products/front.png", picture("red"), {"en": "Front", "de": "Vorne"}),
        "back": asset(shop, "/products/back.jpg", picture("blue", "JPEG"), {"en": "Back"}),
        "side": asset(shop, "/products/side.webp", picture("green", "WEBP")),
        "logo": asset(shop, "/products/logo.svg", SVG),
    }


def test_first_push_sends_the_images_with_roles_labels_and_positions_and_no_more(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid, p["side"].uuid, p["logo"].uuid])
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    entries = sorted(double.media("TS-1"), key=lambda e: e["position"])
    # The SVG is not an image type Magento takes: left out (and logged), the rest sent.
    assert [(e["label"], e["position"], e["types"]) for e in entries] == [
        ("Front", 1, ROLES),
        ("Back", 2, []),
        ("", 3, []),
    ]
    assert all(e["disabled"] is False and e["media_type"] == "image" for e in entries)
    # The WebP was converted to PNG; the others arrive byte for byte.
    assert double.media_content(entries[0]["id"]) == b"".join(shop.assets.read(p["front"]))
    assert b"".join(shop.assets.read(p["back"])) == double.media_content(entries[1]["id"])
    assert (double.media_content(entries[2]["id"]) or b"").startswith(PNG_MAGIC)
    assert entries[2]["file"].endswith("/side.png")
    # The product shows them too, as GET /V1/products/{sku} answers.
    product = double.product("TS-1")
    assert product is not None and len(product["media_gallery_entries"]) == 3
    # The record: Magento's entry ids, each with its asset's checksum, all the hub's.
    kept = record(shop)
    assert sorted(int(i) for i in kept) == sorted(e["id"] for e in entries)
    assert {e["checksum"] for e in kept.values()} == {
        p[name].checksum for name in ("front", "back", "side")
    }
    assert all(e["created_by_hub"] is True for e in kept.values())

    start = len(double.requests)
    [again] = push(shop, "TS-1")
    assert again.ok and again.calls == 0
    assert media_requests(double, start) == []


def test_changed_content_is_a_new_entry_and_the_old_one_goes(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid])
    push(shop, "TS-1")
    old = {e["label"]: e["id"] for e in double.media("TS-1")}
    changed = asset(shop, "/products/front.png", picture("purple"), {"en": "Front"})
    assert changed.uuid == p["front"].uuid and changed.checksum != p["front"].checksum
    start = len(double.requests)
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    assert media_requests(double, start) == [
        ("POST", "/V1/products/TS-1/media"),
        ("DELETE", f"/V1/products/TS-1/media/{old['Front']}"),
    ]
    entries = {e["label"]: e for e in double.media("TS-1")}
    assert entries["Front"]["id"] != old["Front"] and entries["Front"]["types"] == ROLES
    assert entries["Back"]["id"] == old["Back"]
    assert double.media_content(entries["Front"]["id"]) == picture("purple")


def test_roles_and_order_move_in_place_and_a_removed_image_is_deleted(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid, p["side"].uuid])
    push(shop, "TS-1")
    ids = {e["label"] or "side": e["id"] for e in double.media("TS-1")}
    shop.catalog.patch(
        "Product", "TS-1", {"image": p["back"].uuid, "gallery": [p["front"].uuid]}, author="t"
    )
    start = len(double.requests)
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    sent = media_requests(double, start)
    assert not any(method == "POST" for method, _ in sent)  # nothing uploaded again
    assert ("DELETE", f"/V1/products/TS-1/media/{ids['side']}") in sent
    entries = {e["label"]: e for e in double.media("TS-1")}
    assert set(entries) == {"Front", "Back"}
    assert (entries["Back"]["types"], entries["Back"]["position"]) == (ROLES, 1)
    assert (entries["Front"]["types"], entries["Front"]["position"]) == ([], 2)
    assert {e["id"] for e in entries.values()} == {ids["Front"], ids["Back"]}
    assert len(record(shop)) == 2


def test_an_entry_made_in_magento_survives_every_change(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid])
    push(shop, "TS-1")
    mine = manual_entry(double, "TS-1", ["swatch_image"])
    asset(shop, "/products/front.png", picture("orange"), {"en": "Front"})
    shop.catalog.patch("Product", "TS-1", {"gallery": []}, author="t")
    push(shop, "TS-1")
    shop.catalog.patch("Product", "TS-1", {"image": None}, author="t")
    push(shop, "TS-1")
    assert [e["id"] for e in double.media("TS-1")] == [mine]
    assert record(shop) == {}
    # Taken offline and back: the hub still never removes what it did not create.
    shop.catalog.patch("Product", "TS-1", {}, published=False, author="t")
    push(shop, "TS-1")
    shop.catalog.patch("Product", "TS-1", {"image": p["back"].uuid}, published=True, author="t")
    push(shop, "TS-1")
    entries = {e["id"]: e for e in double.media("TS-1")}
    assert mine in entries and entries[mine]["types"] == ["swatch_image"]
    assert len(entries) == 2


def test_a_disabled_product_keeps_the_record_so_nothing_is_uploaded_twice(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    tee(shop, image=pictures["front"].uuid)
    push(shop, "TS-1")
    shop.catalog.patch("Product", "TS-1", {}, published=False, author="t")
    push(shop, "TS-1")
    assert double.product("TS-1")["status"] == 2  # type: ignore[index]
    shop.catalog.patch("Product", "TS-1", {}, published=True, author="t")
    start = len(double.requests)
    push(shop, "TS-1")
    assert media_requests(double, start) == []
    assert len(double.media("TS-1")) == 1


def test_an_entry_deleted_in_magento_is_sent_again_when_it_must_change(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid])
    push(shop, "TS-1")
    back = next(e["id"] for e in double.media("TS-1") if e["label"] == "Back")
    with double._lock:
        entries = double._products["TS-1"].entity["media_gallery_entries"]
        entries[:] = [e for e in entries if e["id"] != back]
    shop.catalog.patch("Product", "TS-1", {"image": p["back"].uuid, "gallery": []}, author="t")
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    entries = {e["label"]: e for e in double.media("TS-1")}
    assert set(entries) == {"Back"} and entries["Back"]["types"] == ROLES


def test_a_failing_media_call_fails_the_push_and_the_retry_finishes_it(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid])
    double.fail_next(1, 503, path_contains="/media", retry_after=3)
    [failed] = push(shop, "TS-1")
    assert not failed.ok and failed.status == 503 and failed.retry_after == 3.0
    assert "/media" in (failed.error or "")
    item = shop.connectors.item("shop", "TS-1")
    assert item.state == "failed" and "503" in (item.last_error or "")
    [fixed] = push(shop, "TS-1")
    assert fixed.ok, fixed.error
    assert len(double.media("TS-1")) == 2

    # A deletion that fails after the new entry was made: the new one is remembered, so the
    # retry only deletes.
    asset(shop, "/products/back.jpg", picture("black", "JPEG"), {"en": "Back"})
    old = next(e["id"] for e in double.media("TS-1") if e["label"] == "Back")
    double.fail_next(1, 500, path_contains=f"/media/{old}")
    [failed] = push(shop, "TS-1")
    assert not failed.ok
    assert len(record(shop)) == 3
    start = len(double.requests)
    [fixed] = push(shop, "TS-1")
    assert fixed.ok
    assert media_requests(double, start) == [("DELETE", f"/V1/products/TS-1/media/{old}")]
    assert len(double.media("TS-1")) == 2


def test_a_media_failure_is_retried_then_dead_lettered_by_the_pipeline(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    shop.settings = shop.settings.model_copy(update={"webhook_retry_schedule": [0.0]})
    dispatcher = build_dispatcher(shop)
    double.fail_next(2, 422, path_contains="/media")
    tee(shop, image=pictures["front"].uuid)

    async def drain() -> None:
        while await dispatcher.run_once():
            pass

    asyncio.run(drain())
    [delivery] = shop.webhooks.deliveries(DeliveryFilter(endpoint_id="connector-shop"))
    assert (delivery.status.value, delivery.attempts) == ("dead", 2)
    _, attempts = shop.webhooks.delivery(delivery.id)
    assert [a.status_code for a in attempts] == [422, 422]
    assert "/media" in (attempts[-1].error or "")
    # Fixed in Magento, replayed: the image arrives.
    assert shop.webhooks.replay(DeliveryFilter(endpoint_id="connector-shop")) == 1
    asyncio.run(drain())
    assert [e["label"] for e in double.media("TS-1")] == ["Front"]


def test_a_changed_asset_reaches_the_products_showing_it_through_the_worker(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    dispatcher = build_dispatcher(shop)

    async def drain() -> None:
        while await dispatcher.run_once():
            pass

    tee(shop, image=pictures["front"].uuid)
    tee(shop, "TS-2", ean=None, gallery=[pictures["front"].uuid])
    asset(shop, "/products/unused.png", picture("gray"))
    asyncio.run(drain())
    before = {e["id"] for sku in ("TS-1", "TS-2") for e in double.media(sku)}
    assert len(before) == 2
    asset(shop, "/products/front.png", picture("white"), {"en": "Front, new"})
    asset(shop, "/products/unused.png", picture("black"))  # shown by no product: ignored
    asyncio.run(drain())
    for sku in ("TS-1", "TS-2"):
        [entry] = double.media(sku)
        assert entry["id"] not in before and entry["label"] == "Front, new"
        assert double.media_content(entry["id"]) == picture("white")
    deliveries = shop.webhooks.deliveries(DeliveryFilter(endpoint_id="connector-shop"))
    assert {d.status.value for d in deliveries} == {"delivered"}
    types = [d.event_type for d in deliveries]
    assert types.count("asset.updated") == 2 and "asset.created" not in types


def test_reconcile_reports_the_hubs_missing_and_extra_images_and_fixes_them(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    p = pictures
    tee(shop, image=p["front"].uuid, gallery=[p["back"].uuid, p["side"].uuid])
    push(shop, "TS-1")
    manual_entry(double, "TS-1", [])
    clean = asyncio.run(shop.connectors.reconcile("shop"))
    assert clean.items == []
    entries = {e["label"] or "side": e for e in double.media("TS-1")}
    with double._lock:  # someone deletes the hub's "Back" image in Magento's admin
        gallery = double._products["TS-1"].entity["media_gallery_entries"]
        gallery[:] = [e for e in gallery if e["id"] != entries["Back"]["id"]]
    # ...and the hub drops "side" without a push yet.
    shop.catalog.patch("Product", "TS-1", {"gallery": [p["back"].uuid]}, author="t")
    report = asyncio.run(shop.connectors.reconcile("shop"))
    [drift] = report.items
    assert drift.kind == "different"
    assert drift.attributes["media"] == (["/products/back.jpg"], [entries["side"]["file"]])
    fixed = asyncio.run(shop.connectors.reconcile("shop", fix=True))
    assert fixed.fixed == 1 and fixed.errors == []
    labels = sorted(e["label"] for e in double.media("TS-1"))
    assert labels == ["Back", "Front", "by hand"]
    assert asyncio.run(shop.connectors.reconcile("shop")).items == []


def test_dry_run_lists_the_upload_without_its_bytes(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    tee(shop, image=pictures["front"].uuid)
    requests = asyncio.run(shop.connectors.dry_run("shop", "TS-1"))
    [upload] = [r for r in requests if r["path"] == "/V1/products/TS-1/media"]
    content = upload["body"]["entry"]["content"]
    assert content["base64_encoded_data"].startswith("<") and content["type"] == "image/png"
    assert double.media("TS-1") == [] and record(shop) == {}


def test_a_full_sync_sends_the_images_per_sku_after_the_bulk(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    for i in range(3):
        tee(shop, f"B-{i}", ean=None, image=pictures["front"].uuid, gallery=[pictures["back"].uuid])
    report = asyncio.run(shop.connectors.full_sync("shop", poll_interval=0.02))
    assert report.failed == 0, report.messages
    assert report.media_calls == 6
    for i in range(3):
        assert sorted(e["label"] for e in double.media(f"B-{i}")) == ["Back", "Front"]
    again = asyncio.run(shop.connectors.full_sync("shop", poll_interval=0.02))
    assert again.media_calls == 0


def test_a_backlog_sent_through_bulk_gets_its_images_per_sku_afterwards(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    shop.connectors.update("shop", {**CONFIG, "bulk": {"threshold": 3, "chunk": 3}})
    dispatcher = build_dispatcher(shop)
    for i in range(3):
        tee(shop, f"Q-{i}", ean=None, image=pictures["front"].uuid)

    async def deliver() -> None:
        while await dispatcher.run_once():
            pass
        for target in list(dispatcher._targets.values()):
            settling = getattr(target.destination, "_settling", None)
            if settling is not None:
                await settling
        for target in list(dispatcher._targets.values()):
            if target.destination is not None:
                await target.destination.aclose()

    asyncio.run(deliver())
    assert any(r.path == "/async/bulk/V1/products/bySku" for r in double.requests)
    for i in range(3):
        [entry] = double.media(f"Q-{i}")
        assert (entry["label"], entry["types"]) == ("Front", ROLES)
    assert shop.connectors.status("shop").counts == {"synced": 3}


def test_a_product_the_hub_deletes_in_magento_takes_its_record_along(
    shop: Hub, double: MagentoDouble, pictures: dict[str, Asset]
) -> None:
    shop.connectors.update("shop", {**CONFIG, "deletes": "delete"})
    tee(shop, image=pictures["front"].uuid)
    push(shop, "TS-1")
    assert record(shop) != {}
    shop.catalog.patch("Product", "TS-1", {}, published=False, author="t")
    push(shop, "TS-1")
    assert double.product("TS-1") is None and record(shop) == {}
    shop.catalog.patch("Product", "TS-1", {}, published=True, author="t")
    [outcome] = push(shop, "TS-1")  # created again, with its image uploaded again
    assert outcome.ok, outcome.error
    assert [e["label"] for e in double.media("TS-1")] == ["Front"]


@pytest.mark.parametrize(
    ("media", "field"),
    [
        ({"colour": ["image"]}, "media.colour"),
        ({"name": ["image"]}, "media.name"),
        ({"image": "image"}, "media.image"),
        ({"image": ["image"], "gallery": ["image"]}, "media.gallery"),
        (["image"], "media"),
    ],
)
def test_media_settings_refused_by_path(hub: Hub, media: Any, field: str) -> None:
    with pytest.raises(InvalidConnector) as caught:
        hub.connectors.check({**CONFIG, "media": media})
    assert field in [e.field for e in caught.value.errors]


def test_media_defaults_to_image_and_gallery_and_false_turns_it_off(hub: Hub) -> None:
    config = hub.connectors.check(CONFIG)
    assert [(m.field, m.roles) for m in config.media] == [
        ("image", ("image", "small_image", "thumbnail")),
        ("gallery", ()),
    ]
    assert hub.connectors.check({**CONFIG, "media": False}).media == ()


def test_workers_pushing_images_at_once_send_each_once(hub: Hub) -> None:
    """Four workers, twenty products sharing two images (PostgreSQL runs this with real
    parallel writers): each product gets its two entries once, and each record says so."""
    double = MagentoDouble()
    with DoubleServer(double) as server:
        hub.connectors.add({"name": "shop", "baseUrl": server.base_url}, CREDENTIALS)
        front = asset(hub, "/p/front.png", picture("red"), {"en": "Front"})
        back = asset(hub, "/p/back.png", picture("blue"))
        skus = [f"PIC-{i:02d}" for i in range(20)]
        for sku in skus:
            hub.catalog.create(
                "Product",
                {
                    "sku": sku,
                    "name": {"en": sku},
                    "price": {"amount": 5, "currency": "EUR"},
                    "image": front.uuid,
                    "gallery": [back.uuid],
                },
                author="t",
            )
        start = threading.Barrier(4)

        def worker(part: list[str]) -> list[Any]:
            start.wait()
            return asyncio.run(hub.connectors.push_skus("shop", part))

        with ThreadPoolExecutor(4) as pool:
            outcomes = [
                o for done in pool.map(worker, [skus[i::4] for i in range(4)]) for o in done
            ]
        assert [o.error for o in outcomes if not o.ok] == []
        sections = hub.connectors.state.sections("shop", skus)
        for sku in skus:
            entries = double.media(sku)
            assert sorted(e["label"] for e in entries) == ["", "Front"]
            kept = sections[sku][MEDIA].sent["entries"]
            assert sorted(int(i) for i in kept) == sorted(e["id"] for e in entries)
        assert double.violations == []


def test_the_same_skus_pushed_at_once_orphan_no_entry_and_converge(hub: Hub) -> None:
    """Pushes of one SKU at once (a full sync next to the worker) may both upload an image;
    each keeps what it created in the record (merged, not overwritten), so no entry is lost
    to the hub, and the next push removes the surplus."""
    double = MagentoDouble()
    with DoubleServer(double) as server:
        hub.connectors.add({"name": "shop", "baseUrl": server.base_url}, CREDENTIALS)
        front = asset(hub, "/p/front.png", picture("red"), {"en": "Front"})
        skus = [f"SAME-{i}" for i in range(5)]
        for sku in skus:
            hub.catalog.create(
                "Product",
                {"sku": sku, "name": {"en": sku}, "price": {"amount": 5, "currency": "EUR"}},
                author="t",
            )
        asyncio.run(hub.connectors.push_skus("shop", skus))
        for sku in skus:
            hub.catalog.patch("Product", sku, {"image": front.uuid}, author="t")
        start = threading.Barrier(4)

        def worker(_: int) -> list[Any]:
            start.wait()
            return asyncio.run(hub.connectors.push_skus("shop", skus))

        with ThreadPoolExecutor(4) as pool:
            outcomes = [o for done in pool.map(worker, range(4)) for o in done]
        assert [o.error for o in outcomes if not o.ok] == []
        sections = hub.connectors.state.sections("shop", skus)
        for sku in skus:
            kept = {int(i) for i in sections[sku][MEDIA].sent["entries"]}
            assert {e["id"] for e in double.media(sku)} == kept  # every upload is the hub's
        asyncio.run(hub.connectors.push_skus("shop", skus))
        sections = hub.connectors.state.sections("shop", skus)
        for sku in skus:
            [entry] = double.media(sku)
            assert entry["types"] == ROLES  # set again where a deleted twin held them
            assert list(sections[sku][MEDIA].sent["entries"]) == [str(entry["id"])]
        assert double.violations == []


def test_the_plan_keeps_one_entry_per_content_and_sets_its_roles_after_removing_twins(
    pictures: dict[str, Asset],
) -> None:
    front, back = pictures["front"], pictures["back"]
    wanted = [WantedImage(front, "Front", tuple(ROLES), 1), WantedImage(back, "Back", (), 2)]
    entry = {"created_by_hub": True, "label": "Front", "position": 1, "types": ROLES}
    record = {
        "7": {**entry, "asset": front.uuid, "checksum": front.checksum},
        "9": {**entry, "asset": front.uuid, "checksum": front.checksum, "types": []},
        "4": {**entry, "asset": "gone", "checksum": "0" * 64},
    }
    todo = plan(wanted, record)
    assert [image.asset.uuid for image in todo.create] == [back.uuid]
    assert todo.update == [] and todo.delete == ["4", "9"]
    assert [(i, image.asset.uuid) for i, image in todo.refresh] == [("7", front.uuid)]
    # Another asset with the same bytes reuses the entry: nothing is uploaded again.
    same = dataclasses.replace(front, uuid="other")
    again = plan([WantedImage(same, "Front", tuple(ROLES), 1)], record)
    assert again.create == [] and "7" not in again.delete
