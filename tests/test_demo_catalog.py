from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery
from pimhub.cli.server import seed_demo
from pimhub.demo_catalog import generate


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
