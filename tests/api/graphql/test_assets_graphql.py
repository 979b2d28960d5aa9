"""Asset fields in the GraphQL datahub: Pimcore's `asset` type on both execution paths
(compiled plans and graphql-core's resolvers), thumbnails' URLs, getAsset, and a page of
products reading its assets with one statement."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from pimhub.assets.model import Asset, asset_url
from pimhub.assets.presets import BUILTIN_PRESETS
from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import Gql
from tests.conftest import bearer, statements_run

BASE = "http://testserver"
MEDIA: dict[str, Any] = {
    "name": "media",
    "classes": {"Product": {"fields": "*"}, "Category": {"fields": "*"}, "Brand": {"fields": "*"}},
}
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b'<rect width="8" height="8"/></svg>'
)


def _image(color: str, kind: str = "PNG", size: tuple[int, int] = (64, 32)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, kind)
    out.seek(0)
    return out


@pytest.fixture
def pictures(storefront: Hub) -> dict[str, Asset]:
    """Three assets (a PNG with alt text, a JPEG, an SVG) and the product PIC-1 using them."""
    add = storefront.assets.add
    red = add(
        _image("red"),
        "/products/red shirt.png",
        author="t",
        metadata={"alt": {"en": "Red shirt", "de": "Rotes Hemd"}, "credit": "Studio"},
    ).asset
    blue = add(_image("blue", "JPEG", (16, 16)), "/products/blue.jpg", author="t").asset
    logo = add(io.BytesIO(SVG), "/brands/logo.svg", author="t").asset
    storefront.catalog.create(
        "Product",
        {
            "sku": "PIC-1",
            "name": {"en": "Shirt"},
            "image": red.path,
            "gallery": [blue.uuid, red.path],
        },
        author="t",
    )
    storefront.catalog.create(
        "Brand", {"code": "svg", "name": "Svg", "logo": logo.path}, author="t"
    )
    return {"red": red, "blue": blue, "logo": logo}


FULL = """query($t: String) { getProduct(sku: "PIC-1") {
  sku
  image {
    __typename id path filename mimetype type filesize creationDate
    fullpath
    list: fullpath(thumbnail: "product_list")
    byVariable: fullpath(thumbnail: $t)
    dimensions { width height }
    ... on asset { metadata { name type data language } }
    ...german
  }
  gallery { filename }
} }
fragment german on asset { de: metadata(language: "de") { name data language } }"""


@pytest.mark.parametrize("plans", [True, False])
def test_asset_fields_in_pimcores_shape(
    pictures: dict[str, Asset], client: TestClient, gql: Gql, plans: bool
) -> None:
    service = client.app.state.graphql  # type: ignore[attr-defined]
    service.use_plans = plans
    used = service.plans_used
    body = gql(FULL, {"t": "thumbnail"})
    assert "errors" not in body, body
    assert service.plans_used == used + (1 if plans else 0)
    red, blue = pictures["red"], pictures["blue"]
    product = body["data"]["getProduct"]
    assert product["image"] == {
        "__typename": "asset",
        "id": red.uuid,
        "path": "/products/red shirt.png",
        "filename": "red shirt.png",
        "mimetype": "image/png",
        "type": "image",
        "filesize": red.filesize,
        "creationDate": int(red.created_at.timestamp()),
        "fullpath": asset_url(BASE, red),
        "list": asset_url(BASE, red, BUILTIN_PRESETS["product_list"]),
        "byVariable": asset_url(BASE, red, BUILTIN_PRESETS["thumbnail"]),
        "dimensions": {"width": 64, "height": 32},
        "metadata": [
            {"name": "alt", "type": "input", "data": "Rotes Hemd", "language": "de"},
            {"name": "alt", "type": "input", "data": "Red shirt", "language": "en"},
            {"name": "credit", "type": "input", "data": "Studio", "language": None},
        ],
        "de": [
            {"name": "alt", "data": "Rotes Hemd", "language": "de"},
            {"name": "credit", "data": "Studio", "language": None},
        ],
    }
    assert "%20" in product["image"]["fullpath"]  # the path is quoted in the URL
    assert product["gallery"] == [{"filename": "blue.jpg"}, {"filename": "red shirt.png"}]
    assert blue.uuid != red.uuid


def test_the_seed_query_fetches_a_thumbnail_url(pictures: dict[str, Asset], gql: Gql) -> None:
    body = gql(
        "{ getProductListing { edges { node {"
        ' sku image { fullpath(thumbnail: "product_list") } } } } }'
    )
    nodes = {e["node"]["sku"]: e["node"] for e in body["data"]["getProductListing"]["edges"]}
    assert nodes["PIC-1"]["image"] == {
        "fullpath": asset_url(BASE, pictures["red"], BUILTIN_PRESETS["product_list"])
    }
    assert nodes["TS-1"]["image"] is None  # no image


@pytest.mark.parametrize("plans", [True, False])
def test_an_unknown_preset_is_an_error_naming_the_presets(
    pictures: dict[str, Asset], client: TestClient, gql: Gql, plans: bool
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    body = gql(
        '{ getProduct(sku: "PIC-1") { sku image { filename fullpath(thumbnail: "huge") } } }'
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNKNOWN_THUMBNAIL"
    assert "product_list" in error["extensions"]["thumbnails"]
    assert "'huge'" in error["message"] and "product_list" in error["message"]
    assert error["path"] == ["getProduct", "image", "fullpath"]
    # Only that field is null; the rest of the answer stands.
    assert body["data"]["getProduct"] == {
        "sku": "PIC-1",
        "image": {"filename": "red shirt.png", "fullpath": None},
    }


@pytest.mark.parametrize("plans", [True, False])
def test_svg_has_a_url_but_no_thumbnails(
    pictures: dict[str, Asset], client: TestClient, storefront: Hub, plans: bool
) -> None:
    storefront.datahub.create(MEDIA, author="t")
    key = bearer(storefront, "datahub:media", name="media")
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    query = """{ getBrand(code: "svg") { logo {
        type mimetype fullpath thumb: fullpath(thumbnail: "thumbnail") dimensions { width } } } }"""
    body = client.post("/graphql/media", json={"query": query}, headers=key).json()
    assert body["data"]["getBrand"]["logo"] == {
        "type": "image",
        "mimetype": "image/svg+xml",
        "fullpath": asset_url(BASE, pictures["logo"]),
        "thumb": None,
        "dimensions": pictures["logo"].width and {"width": pictures["logo"].width},
    }


def test_get_asset_by_uuid_path_or_url(pictures: dict[str, Asset], gql: Gql) -> None:
    red = pictures["red"]
    query = """query($id: String, $path: String) { getAsset(id: $id, fullpath: $path) {
        id filename } }"""
    expected = {"id": red.uuid, "filename": "red shirt.png"}
    assert gql(query, {"id": red.uuid})["data"]["getAsset"] == expected
    assert gql(query, {"id": red.uuid.upper()})["data"]["getAsset"] == expected
    assert gql(query, {"path": red.path})["data"]["getAsset"] == expected
    assert gql(query, {"path": "products/red shirt.png"})["data"]["getAsset"] == expected
    url = asset_url(BASE, red, BUILTIN_PRESETS["product_list"])
    assert gql(query, {"path": url})["data"]["getAsset"] == expected
    assert gql(query, {"path": "/products/none.png"})["data"]["getAsset"] is None
    assert gql(query, {"id": "0" * 36})["data"]["getAsset"] is None
    assert gql(query, {"id": "/products/red shirt.png"})["data"]["getAsset"] is None


@pytest.mark.parametrize(
    ("variables", "wrong"),
    [
        ({}, "exactly one"),
        ({"id": "x", "path": "/a.png"}, "exactly one"),
        ({"path": "/a/../b.png"}, "'..'"),
        ({"path": "https://elsewhere.example/files/a.png"}, "no asset URL"),
        ({"path": "/" + "a" * 2000}, "longer than 1024"),
    ],
)
def test_get_asset_refuses_bad_arguments(
    pictures: dict[str, Asset], gql: Gql, variables: dict[str, str], wrong: str
) -> None:
    query = "query($id: String, $path: String) { getAsset(id: $id, fullpath: $path) { id } }"
    body = gql(query, variables)
    assert body["data"]["getAsset"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert wrong in body["errors"][0]["message"]


def test_only_configurations_with_asset_fields_have_get_asset(
    storefront: Hub, client: TestClient
) -> None:
    storefront.datahub.create(
        {"name": "plain", "classes": {"Category": {"fields": ["code", "name"]}}}, author="t"
    )
    key = bearer(storefront, "datahub:plain", name="plain")
    body = client.post(
        "/graphql/plain", json={"query": '{ getAsset(id: "x") { id } }'}, headers=key
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # A key of another configuration reads no asset through this one.
    media = client.post(
        "/graphql/storefront", json={"query": '{ getAsset(id: "x") { id } }'}, headers=key
    )
    assert media.status_code == 403


@pytest.mark.parametrize("plans", [True, False])
def test_an_asset_gone_meanwhile_reads_as_none(
    pictures: dict[str, Asset], storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    """A force-delete removes references; a reader racing it may still hold the uuid."""
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    with storefront.engine.begin() as conn:
        conn.execute(text("DELETE FROM assets WHERE uuid = :u"), {"u": pictures["blue"].uuid})
    body = gql('{ getProduct(sku: "PIC-1") { image { filename } gallery { filename } } }')
    assert body["data"]["getProduct"] == {
        "image": {"filename": "red shirt.png"},
        "gallery": [{"filename": "red shirt.png"}],
    }
    with storefront.engine.begin() as conn:
        conn.execute(text("DELETE FROM assets WHERE uuid = :u"), {"u": pictures["red"].uuid})
    body = gql('{ getProduct(sku: "PIC-1") { image { filename } gallery { filename } } }')
    assert body["data"]["getProduct"] == {"image": None, "gallery": []}


def _products_with_images(hub: Hub, count: int) -> list[Asset]:
    shots = [
        hub.assets.add(_image(c, size=(8, 8)), f"/shots/{c}.png", author="t").asset
        for c in ("red", "green", "blue", "white", "black", "cyan", "gray", "pink", "gold", "navy")
    ]
    for i in range(count):
        hub.catalog.create(
            "Product",
            {
                "sku": f"IMG-{i:03}",
                "name": {"en": f"Product {i}"},
                "category": "men-tops",
                "brand": "acme",
                # Images and galleries use different assets: each field's own read counts.
                "image": shots[i % 5].uuid,
                "gallery": [shots[5 + (i + 1) % 5].uuid, shots[5 + (i + 2) % 5].uuid],
            },
            author="t",
        )
    return shots


@pytest.mark.parametrize(
    ("plans", "selection", "object_reads", "asset_reads"),
    [
        # Plans join category and brand into the page's statement and read all assets once.
        (True, "image { fullpath } category { name } brand { name }", 1, 1),
        (True, 'image { fullpath } gallery { fullpath(thumbnail: "thumbnail") }', 1, 1),
        # Resolvers read each relation level batch-wise, and the selected asset fields at once.
        (False, "image { fullpath } category { name } brand { name }", 3, 1),
        (False, "image { fullpath } gallery { fullpath }", 1, 1),
        (False, "gallery { id } ...on object_Product { image { fullpath } }", 1, 1),
    ],
)
def test_a_page_reads_its_assets_with_one_statement(
    storefront: Hub,
    client: TestClient,
    gql: Gql,
    plans: bool,
    selection: str,
    object_reads: int,
    asset_reads: int,
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    shots = _products_with_images(storefront, 100)
    query = f"""query($filter: String) {{ getProductListing(first: 100, filter: $filter) {{
        edges {{ node {{ sku {selection} }} }} }} }}"""
    only = {"filter": '{"sku": {"$like": "IMG-%"}}'}
    gql(query, only)  # warm: schema, document and key caches
    service = client.app.state.graphql  # type: ignore[attr-defined]
    used = service.plans_used
    with statements_run(storefront.engine) as seen:
        body = gql(query, only)
    assert "errors" not in body, body
    assert service.plans_used == used + (1 if plans else 0)
    edges = body["data"]["getProductListing"]["edges"]
    assert len(edges) == 100
    assert edges[7]["node"]["image"]["fullpath"] == asset_url(BASE, shots[7 % 5])
    assets = [s for s in seen if "FROM assets" in s]
    objects = [s for s in seen if "objects" in s and "FROM assets" not in s]
    assert len(assets) == asset_reads, assets
    assert len(objects) == object_reads, objects


@pytest.mark.parametrize("plans", [True, False])
def test_assets_of_joined_relations_and_nested_listings(
    pictures: dict[str, Asset], storefront: Hub, client: TestClient, plans: bool
) -> None:
    """A brand's logo inside a product listing: joined into the page's row on the plan path
    (its assets read before the rows are shaped), batch-wise on the resolver path."""
    storefront.datahub.create(MEDIA, author="t")
    key = bearer(storefront, "datahub:media", name="media")
    storefront.catalog.create(
        "Product", {"sku": "PIC-2", "name": {"en": "Logo tee"}, "brand": "svg"}, author="t"
    )
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    query = """{ getProductListing(sortBy: ["sku"]) { edges { node {
        sku image { filename } brand { code logo { filename } } } } } }"""
    client.post("/graphql/media", json={"query": query}, headers=key)
    used = client.app.state.graphql.plans_used  # type: ignore[attr-defined]
    with statements_run(storefront.engine) as seen:
        body = client.post("/graphql/media", json={"query": query}, headers=key).json()
    assert client.app.state.graphql.plans_used == used + plans  # type: ignore[attr-defined]
    nodes = {e["node"]["sku"]: e["node"] for e in body["data"]["getProductListing"]["edges"]}
    assert nodes["PIC-1"]["image"] == {"filename": "red shirt.png"}
    assert nodes["PIC-2"]["brand"] == {"code": "svg", "logo": {"filename": "logo.svg"}}
    assert nodes["TS-1"]["brand"] == {"code": "acme", "logo": None}
    assert len([s for s in seen if "FROM assets" in s]) == (1 if plans else 2)


def test_galleries_cost_like_to_many_relations(pictures: dict[str, Asset], gql: Gql) -> None:
    one = gql("{ getProductListing(first: 10) { edges { node { image { id } } } } }")
    many = gql("{ getProductListing(first: 10) { edges { node { gallery { id } } } } }")
    assert one["extensions"]["cost"]["requested"] == 10 + 10
    assert many["extensions"]["cost"]["requested"] == 10 + 10 * 10


@pytest.mark.parametrize("plans", [True, False])
def test_variants_show_their_own_or_inherited_images(
    pictures: dict[str, Asset], storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    """Children shaped from rows on the plan path fall back to loaded objects when they
    select assets, so a page of parents reads its variants' assets with one statement."""
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    red, blue = pictures["red"], pictures["blue"]
    for sku in ("HOOD", "JACKET"):
        storefront.catalog.create(
            "Product", {"sku": sku, "name": {"en": sku}, "image": red.uuid}, author="t"
        )
        storefront.catalog.create(
            "Product",
            {"sku": f"{sku}-S", "color": "black", "size": "S", "image": blue.uuid},
            parent=sku,
            author="t",
        )
        storefront.catalog.create(
            "Product", {"sku": f"{sku}-M", "color": "black", "size": "M"}, parent=sku, author="t"
        )
    query = """query($filter: String) { getProductListing(filter: $filter, sortBy: ["sku"]) {
        edges { node { sku children { sku image { filename } } } } } }"""
    only = {"filter": '{"sku": {"$in": ["HOOD", "JACKET"]}}'}
    gql(query, only)
    with statements_run(storefront.engine) as seen:
        body = gql(query, only)
    assert "errors" not in body, body
    hood = body["data"]["getProductListing"]["edges"][0]["node"]
    assert hood == {
        "sku": "HOOD",
        "children": [
            {"sku": "HOOD-S", "image": {"filename": "blue.jpg"}},
            {"sku": "HOOD-M", "image": {"filename": "red shirt.png"}},  # the parent's
        ],
    }
    assert len([s for s in seen if "FROM assets" in s]) == 1


def test_a_long_preset_name_is_cut_in_the_message(pictures: dict[str, Asset], gql: Gql) -> None:
    body = gql(
        'query($t: String) { getProduct(sku: "PIC-1") { image { fullpath(thumbnail: $t) } } }',
        {"t": "x" * 5000},
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNKNOWN_THUMBNAIL"
    assert len(error["message"]) < 300


@pytest.mark.parametrize("plans", [True, False])
def test_assets_are_read_on_the_requests_own_connection(
    pictures: dict[str, Asset],
    storefront: Hub,
    client: TestClient,
    gql: Gql,
    plans: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request holding two connections at once stalls a server whose every request
    waits for its second one: assets come through the request's read session, never the
    asset service (which takes a connection of its own)."""
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]

    def refuse(*_: Any) -> None:
        raise AssertionError("GraphQL read assets through a second connection")

    monkeypatch.setattr(storefront.assets, "get_many", refuse)
    monkeypatch.setattr(storefront.assets, "get", refuse)
    body = gql("{ getProductListing { edges { node { image { id } gallery { id } } } } }")
    found = gql('{ getAsset(fullpath: "/products/blue.jpg") { id } }')
    assert "errors" not in body and "errors" not in found
    assert found["data"]["getAsset"] == {"id": pictures["blue"].uuid}


@pytest.mark.parametrize("plans", [True, False])
def test_a_filesize_beyond_32_bits_is_null_with_an_error(
    pictures: dict[str, Asset], storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    with storefront.engine.begin() as conn:
        conn.execute(
            text("UPDATE assets SET filesize = :n WHERE uuid = :u"),
            {"n": 5 * 2**30, "u": pictures["red"].uuid},
        )
    body = gql('{ getProduct(sku: "PIC-1") { image { filename filesize } } }')
    assert body["data"]["getProduct"]["image"] == {"filename": "red shirt.png", "filesize": None}
    assert body["errors"][0]["extensions"]["code"] == "VALUE_OUT_OF_RANGE"
    assert body["errors"][0]["path"] == ["getProduct", "image", "filesize"]


def test_a_mutation_sets_an_image_by_path_and_answers_the_asset(
    pictures: dict[str, Asset], gql: Gql
) -> None:
    """Writes take a path or a uuid (the field's input stays a string); the output shows
    the asset, read after the write."""
    body = gql(
        """mutation { updateProduct(sku: "TS-1", input: {image: "products/blue.jpg",
            gallery: ["/products/red shirt.png"]}) {
            success output { image { id filename } gallery { filename } } } }"""
    )
    result = body["data"]["updateProduct"]
    assert result["success"], body
    assert result["output"] == {
        "image": {"id": pictures["blue"].uuid, "filename": "blue.jpg"},
        "gallery": [{"filename": "red shirt.png"}],
    }
    missing = gql(
        'mutation { updateProduct(sku: "TS-1", input: {image: "/nope.png"})'
        " { success errors { field code } } }"
    )
    assert missing["data"]["updateProduct"] == {
        "success": False,
        "errors": [{"field": "image", "code": "unknown-asset"}],
    }
