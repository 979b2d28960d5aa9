"""Assets in the read APIs: the product view (/api/v1/products/{sku}) and Simple REST show
asset fields as {uuid, path, url, mimetype, width, height, alt, thumbnails} read with one
statement; /api/v1/objects keeps the uuids, as it keeps relation targets' uuids."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from pimhub.assets.model import Asset, asset_url
from pimhub.assets.presets import BUILTIN_PRESETS, ThumbnailPreset
from pimhub.bootstrap import Hub
from pimhub.catalog.product_view import asset_view
from tests.conftest import bearer, statements_run

BASE = "http://testserver"
PARTNER: dict[str, Any] = {
    "name": "partner",
    "classes": {
        "Product": {"fields": ["sku", "name", "image", "gallery", "brand"]},
        "Brand": {"fields": ["code", "name", "logo"]},
    },
}
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="4"><rect width="8"/></svg>'


def _png(color: str) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    out.seek(0)
    return out


@pytest.fixture
def pictured(sample: Hub) -> dict[str, Asset]:
    add = sample.assets.add
    red = add(
        _png("red"), "/products/red.png", author="t", metadata={"alt": {"en": "Red", "de": "Rot"}}
    ).asset
    blue = add(_png("blue"), "/products/blue.png", author="t").asset
    logo = add(io.BytesIO(SVG), "/brands/acme.svg", author="t").asset
    sample.catalog.create(
        "Product",
        {
            "sku": "PIC-1",
            "name": {"en": "Shirt"},
            "image": red.uuid,
            "gallery": [blue.path, red.path],
        },
        author="t",
    )
    sample.catalog.patch("Brand", "acme", {"logo": logo.path}, author="t")
    sample.datahub.create(PARTNER, author="t")
    return {"red": red, "blue": blue, "logo": logo}


def _view(asset: Asset, alt: str | None, thumbnails: bool = True) -> dict[str, Any]:
    names = ("large", "product_detail", "product_list", "thumbnail")
    return {
        "uuid": asset.uuid,
        "path": asset.path,
        "url": asset_url(BASE, asset),
        "mimetype": asset.mimetype,
        "width": asset.width,
        "height": asset.height,
        "alt": alt,
        "thumbnails": {n: asset_url(BASE, asset, BUILTIN_PRESETS[n]) for n in names}
        if thumbnails
        else {},
    }


def test_the_product_view_shows_its_images(
    pictured: dict[str, Asset], client: TestClient, admin: dict[str, str]
) -> None:
    red, blue = pictured["red"], pictured["blue"]
    response = client.get("/api/v1/products/PIC-1?lang=de", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["image"] == _view(red, "Rot")
    assert body["gallery"] == [_view(blue, None), _view(red, "Rot")]
    assert body["image"]["thumbnails"]["product_list"].endswith(
        f"?thumbnail=product_list&v={red.checksum[:16]}-"
        + BUILTIN_PRESETS["product_list"].fingerprint[:8]
    )
    plain = client.get("/api/v1/products/TS-1", headers=admin).json()
    assert plain["image"] is None and plain["gallery"] == []


@contextmanager
def asset_statements(hub: Hub) -> Iterator[list[str]]:
    """The statements on assets run in the block, through SQLAlchemy or as driver SQL on
    the point reader's connection (which SQLAlchemy's events do not see)."""
    reader = hub.graph_reads.reader
    driver: list[str] = []
    run_all = reader.all

    def recorded(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        driver.append(sql)
        return run_all(sql, args)

    found: list[str] = []
    reader.all = recorded  # type: ignore[method-assign]
    try:
        with statements_run(hub.engine) as seen:
            yield found
    finally:
        del reader.all
    found += [s for s in [*seen, *driver] if "FROM assets" in s]


def test_the_product_view_reads_its_assets_with_one_statement(
    pictured: dict[str, Asset], client: TestClient, admin: dict[str, str], hub: Hub
) -> None:
    client.get("/api/v1/products/PIC-1", headers=admin)
    with asset_statements(hub) as seen:
        assert client.get("/api/v1/products/PIC-1", headers=admin).status_code == 200
    assert len(seen) == 1
    with asset_statements(hub) as seen:
        assert client.get("/api/v1/products/TS-1", headers=admin).status_code == 200
    assert not seen  # no image: no read


def test_the_product_view_reads_its_assets_without_a_pooled_connection(
    pictured: dict[str, Asset], client: TestClient, admin: dict[str, str], hub: Hub
) -> None:
    """The asset read runs on the point reader's connection: a pool checkout and
    SQLAlchemy's result machinery cost more than the statement."""
    client.get("/api/v1/products/PIC-1", headers=admin)
    with statements_run(hub.engine) as seen:
        assert client.get("/api/v1/products/PIC-1", headers=admin).status_code == 200
    assert not [s for s in seen if "FROM assets" in s]


def test_asset_views_spell_their_urls_as_asset_url() -> None:
    """asset_view writes the URLs itself (once per asset, not per URL): the same as
    asset_url, odd path and preset names included."""
    asset = Asset(
        uuid="0" * 8 + "-0000-0000-0000-" + "0" * 12,
        path="/a b/ü&x?.png",
        mimetype="image/png",
        filesize=1,
        checksum="ab+/=" * 10,
        width=1,
        height=1,
        metadata={},
        version=1,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        modified_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    presets = {
        **BUILTIN_PRESETS,
        "a b&c": ThumbnailPreset("a b&c", 10, 10),
    }
    view = asset_view(
        asset,
        "http://x/base/",
        presets,
        thumbnail_types={"image/png"},
        language="en",
        default_language="en",
    )
    assert view["url"] == asset_url("http://x/base/", asset)
    assert view["thumbnails"] == {
        name: asset_url("http://x/base/", asset, presets[name]) for name in sorted(presets)
    }


def test_the_product_etag_changes_when_an_image_changes(
    pictured: dict[str, Asset], client: TestClient, admin: dict[str, str], hub: Hub
) -> None:
    before = client.get("/api/v1/products/PIC-1", headers=admin).headers["etag"]
    hub.assets.add(_png("green"), "/products/red.png", author="t")  # new content, same path
    after = client.get("/api/v1/products/PIC-1", headers=admin)
    assert after.headers["etag"] != before
    assert "v=" + pictured["red"].checksum[:16] not in after.json()["image"]["url"]


def test_a_product_whose_asset_is_gone_shows_none(
    pictured: dict[str, Asset], client: TestClient, admin: dict[str, str], hub: Hub
) -> None:
    with hub.engine.begin() as conn:  # a force-delete racing the read
        conn.execute(text("DELETE FROM assets WHERE uuid = :u"), {"u": pictured["red"].uuid})
    body = client.get("/api/v1/products/PIC-1", headers=admin).json()
    assert body["image"] is None
    assert [a["path"] for a in body["gallery"]] == ["/products/blue.png"]


def test_simple_rest_shows_assets_in_search_and_object_reads(
    pictured: dict[str, Asset], client: TestClient, hub: Hub
) -> None:
    key = bearer(hub, "datahub:partner", name="partner")
    red, blue, logo = pictured["red"], pictured["blue"], pictured["logo"]
    found = client.get("/simple-rest/partner/search?class=Product&lang=de", headers=key).json()
    items = {i["key"]: i["fields"] for i in found["items"]}
    assert items["PIC-1"]["image"] == _view(red, "Rot")
    assert items["PIC-1"]["gallery"] == [_view(blue, None), _view(red, "Rot")]
    assert "image" not in items["TS-1"]  # no value, no key (as other fields)
    one = client.get("/simple-rest/partner/objects/acme?class=Brand", headers=key).json()
    assert one["fields"]["logo"] == _view(logo, None, thumbnails=False)


def test_simple_rest_reads_a_pages_assets_with_one_statement(
    pictured: dict[str, Asset], client: TestClient, hub: Hub
) -> None:
    key = bearer(hub, "datahub:partner", name="partner")
    url = "/simple-rest/partner/search?class=Product"
    client.get(url, headers=key)
    with asset_statements(hub) as seen:
        assert client.get(url, headers=key).status_code == 200
    assert len(seen) == 1


def test_object_endpoints_keep_asset_uuids(
    pictured: dict[str, Asset], client: TestClient, admin: dict[str, str]
) -> None:
    body = client.get("/api/v1/objects/Product/PIC-1", headers=admin).json()
    assert body["fields"]["image"] == pictured["red"].uuid
    assert body["fields"]["gallery"] == [pictured["blue"].uuid, pictured["red"].uuid]
