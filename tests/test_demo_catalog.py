from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery
from pimhub.cli.server import seed_demo
from pimhub.demo_catalog import ADJECTIVES, COLORS, KINDS, LINES, generate


def test_generation_is_deterministic_and_varied() -> None:
    first, second = generate(200), generate(200)
    assert first == second
    assert len({p["sku"] for p in first.products}) == 200
    assert len({p["brand"] for p in first.products}) > 10
    assert len({p["category"] for p in first.products}) > 10
    assert generate(200, seed=7).products != first.products


def test_seeding_loads_every_object_once_and_is_idempotent(hub: Hub) -> None:
    seed_demo(hub, 60)
    seed_demo(hub, 60)
    catalog = generate(60)
    page = hub.catalog.list_objects("Product", ListQuery(first=200))
    assert catalog.variants and page.total == 60 + len(catalog.variants)
    parent_sku, own = catalog.variants[0]
    variant = hub.catalog.get_object("Product", own["sku"], include_drafts=False)
    parent = hub.catalog.get_object("Product", parent_sku, include_drafts=False)
    assert variant.parent == parent.uuid and variant.values["name"] == parent.values["name"]
    assert variant.values["size"] == own["size"] and "price" in variant.inherited
    product = hub.catalog.product("PH-00060", language="de", include_drafts=False)
    expected = catalog.products[-1]
    assert product["price"] == expected["price"]["amount"]
    assert product["name"] == expected["name"]["de"]
    assert product["category"] is not None and product["brand"] is not None
    assert all(o.version == 1 for o in page.items)


def test_every_product_fits_its_category_and_brand() -> None:
    catalog = generate(1000)
    brand_names = {b["code"]: b["name"] for b in catalog.brands}
    for product in catalog.products:
        category = product["category"]
        kind = KINDS[category]
        brand = brand_names[product["brand"]]
        assert category in LINES[brand], (product["sku"], brand, category)
        for language, nouns in (
            ("en", {n[0] for n in kind.nouns}),
            ("de", {n[1] for n in kind.nouns}),
        ):
            made_by, _, rest = product["name"][language].partition(" ")
            adjective, _, noun = rest.partition(" ")
            assert made_by == brand and noun in nouns, (product["sku"], product["name"])
            assert adjective in ADJECTIVES[category.split("-")[0]]
        assert set(product["material"]) <= set(kind.materials)
        assert kind.price[0] <= product["price"]["amount"] <= kind.price[1]
        assert kind.weight[0] <= product["weight"] <= kind.weight[1]
        assert product.get("size") in (kind.sizes or (None,))
        assert product["color"] in COLORS
    for parent, own in catalog.variants:
        category = next(p["category"] for p in catalog.products if p["sku"] == parent)
        assert own["size"] in KINDS[category].variant_sizes


def test_towels_stay_out_of_shoes() -> None:
    catalog = generate(1000)
    shoes = [p for p in catalog.products if p["category"].endswith("-shoes")]
    assert shoes and not any("Towel" in p["name"]["en"] for p in shoes)
    towels = {p["category"] for p in catalog.products if "Towel" in p["name"]["en"]}
    assert towels == {"home-textiles"}


def test_every_category_has_products_and_two_makers() -> None:
    catalog = generate(1000)
    leaves = {c["code"] for c in catalog.categories if "parent" in c}
    assert leaves == set(KINDS) == {p["category"] for p in catalog.products}
    for leaf in leaves:
        assert sum(leaf in lines for lines in LINES.values()) >= 2
    assert {b["name"] for b in catalog.brands} == set(LINES)


def test_the_readme_family_exists() -> None:
    catalog = generate(1000)
    assert catalog.products[0]["category"] == "men-tops"
    sizes = [own["size"] for parent, own in catalog.variants if parent == "PH-00001"]
    assert sizes == ["S", "M", "L"]


def test_demo_images_are_distinct_jpegs_stored_as_assets(hub: Hub) -> None:
    import io

    from PIL import Image

    from pimhub.demo_catalog import IMAGE_SIZE, product_image, upload_images

    products = [p for p in generate(8).products if "image" in p]
    assert upload_images(hub.assets, products) == len(products) == 6
    asset = hub.assets.get(products[0]["image"])
    assert (asset.mimetype, asset.width, asset.height) == ("image/jpeg", IMAGE_SIZE, IMAGE_SIZE)
    assert len({hub.assets.get(p["image"]).checksum for p in products}) == 6
    image = Image.open(io.BytesIO(b"".join(hub.assets.read(asset))))
    assert image.format == "JPEG" and image.size == (IMAGE_SIZE, IMAGE_SIZE)
    assert product_image("PH-1", "men-tops") != product_image("PH-1", "home-decor")
