"""Completeness through the catalog service on both backends: computed on every write (single
saves and batches, as imports write), recomputed for a whole class when its channels change,
stored with the object, and usable in filters and sorts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.completeness import completeness_of
from pimhub.catalog.errors import IncompatibleClassChange, InvalidQuery
from pimhub.catalog.service import ListQuery
from pimhub.storage.tables import objects
from pimhub.transfer.importer import ImportOptions, run_import
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, from_text
from tests.assets.images import add_images
from tests.storage.test_parallel_writers import errors_of, in_parallel

FULL = {
    "sku": "FULL",
    "name": {"en": "Lamp", "de": "Lampe"},
    "description": {"en": "Bright", "de": "Hell"},
    "price": {"amount": 20, "currency": "EUR"},
    "image": "lamp.png",
}
EN_ONLY = {
    "sku": "EN",
    "name": {"en": "Chair"},
    "description": {"en": "Sturdy"},
    "price": {"amount": 50, "currency": "EUR"},
    "image": "chair.png",
}
BARE = {"sku": "BARE", "name": {"en": "Box"}}


@pytest.fixture
def hub(hub: Hub) -> Hub:
    """The commerce hub with the images these products name (asset fields refer to
    stored assets)."""
    add_images(hub, "/lamp.png", "/chair.png", "/box.png", "/x.png", "/l.png", "/d.png")
    return hub


def stored(hub: Hub, key: str) -> dict[str, Any]:
    """The completeness column itself, not what a write returned."""
    with hub.engine.connect() as conn:
        value: dict[str, Any] = conn.execute(
            select(objects.c.completeness).where(objects.c.business_key == key)
        ).scalar_one()
    return value


def ratios(hub: Hub, key: str) -> tuple[int, int]:
    ecommerce = stored(hub, key)["ecommerce"]
    return ecommerce["en"]["ratio"], ecommerce["de"]["ratio"]


def keys(hub: Hub, filter: str | None = None, sort: tuple[str, ...] = ()) -> list[str]:
    page = hub.catalog.list_objects("Product", ListQuery(filter=filter, sort=sort))
    return [o.key for o in page.items]


def product_class(hub: Hub) -> dict[str, Any]:
    return hub.classes.get("Product").to_dict(with_version=False)


def test_each_write_stores_the_completeness_with_the_object(hub: Hub) -> None:
    created = hub.catalog.create("Product", BARE, author="t")
    assert created.completeness == {
        "ecommerce": {
            "en": {"ratio": 25, "missing": ["description", "price", "image"]},
            "de": {"ratio": 0, "missing": ["name", "description", "price", "image"]},
        }
    }
    assert stored(hub, "BARE") == created.completeness
    hub.catalog.patch("Product", "BARE", {"image": "box.png", "name": {"de": "Kiste"}}, author="t")
    assert ratios(hub, "BARE") == (50, 50)
    got = hub.catalog.get_object("Product", "BARE", include_drafts=True)
    assert got.completeness == stored(hub, "BARE")
    assert got.to_dict()["completeness"]["ecommerce"]["de"]["missing"] == ["description", "price"]
    hub.catalog.put("Product", "BARE", {**FULL, "sku": "BARE"}, author="t")
    assert ratios(hub, "BARE") == (100, 100)
    hub.catalog.upsert("Product", {"sku": "BARE", "image": None}, author="t")
    assert stored(hub, "BARE")["ecommerce"]["en"] == {"ratio": 75, "missing": ["image"]}


def test_a_class_without_channels_stores_an_empty_completeness(hub: Hub) -> None:
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")
    assert stored(hub, "acme") == {}


def test_batches_store_completeness_for_created_and_updated_objects(hub: Hub) -> None:
    with hub.catalog.batch_writer("Product", mode=WriteMode.UPSERT, author="t") as writer:
        writer.save([FULL, BARE])
        writer.commit()
    assert ratios(hub, "FULL") == (100, 100)
    assert ratios(hub, "BARE") == (25, 0)
    with hub.catalog.batch_writer("Product", mode=WriteMode.UPSERT, author="t") as writer:
        writer.save([{"sku": "FULL", "image": None}, {"sku": "BARE", "price": FULL["price"]}])
        writer.commit()
    assert ratios(hub, "FULL") == (75, 75)
    assert ratios(hub, "BARE") == (50, 25)


def test_the_product_view_shows_completeness_in_its_language(hub: Hub) -> None:
    hub.catalog.create("Product", EN_ONLY, author="t")
    english = hub.catalog.product("EN", language="en", include_drafts=False)
    assert english["completeness"] == {"ecommerce": {"ratio": 100, "missing": []}}
    german = hub.catalog.product("EN", language="de", include_drafts=False)
    assert german["completeness"]["ecommerce"] == {"ratio": 50, "missing": ["name", "description"]}
    french = hub.catalog.product("EN", language="fr", include_drafts=False)
    assert french["completeness"] == {}  # the channel does not publish in French


def test_adding_a_required_field_recomputes_every_object_of_the_class(hub: Hub) -> None:
    for values in (FULL, EN_ONLY, BARE):
        hub.catalog.create("Product", values, author="t")
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")
    raw = product_class(hub)
    raw["completeness"]["channels"]["ecommerce"]["required"].append("ean")
    hub.classes.replace("Product", raw, author="t")
    assert ratios(hub, "FULL") == (80, 80)
    assert stored(hub, "FULL")["ecommerce"]["de"]["missing"] == ["ean"]
    assert ratios(hub, "EN") == (80, 40)
    assert ratios(hub, "BARE") == (20, 0)
    assert stored(hub, "acme") == {}  # other classes are left alone
    # A new channel and language through YAML apply (the class API's other write).
    raw["completeness"]["channels"]["print"] = {"languages": ["fr"], "required": ["name"]}
    assert hub.classes.apply([raw], author="t") == [("Product", "updated")]
    assert stored(hub, "FULL")["print"] == {"fr": {"ratio": 0, "missing": ["name"]}}
    del raw["completeness"]
    hub.classes.replace("Product", raw, author="t")
    assert stored(hub, "FULL") == {}


def test_a_class_change_that_keeps_the_channels_rewrites_nothing(hub: Hub) -> None:
    hub.catalog.create("Product", BARE, author="t")
    with hub.engine.begin() as conn:  # a marker that a recomputation would overwrite
        conn.execute(update(objects).values(completeness={"marker": {}}))
    raw = product_class(hub)
    raw["completeness"]["channels"]["ecommerce"]["title"] = "Web shop"
    raw["fields"].append({"name": "notes", "type": "textarea"})
    hub.classes.replace("Product", raw, author="t")
    assert stored(hub, "BARE") == {"marker": {}}


def test_filter_and_sort_by_completeness(hub: Hub) -> None:
    for values in (FULL, EN_ONLY, BARE):
        hub.catalog.create("Product", values, author="t")
    assert keys(hub, '{"completeness.ecommerce.en": {"$gte": 100}}') == ["FULL", "EN"]
    assert keys(hub, '{"completeness.ecommerce.de": 100}') == ["FULL"]
    assert keys(hub, '{"completeness.ecommerce.de": {"$lt": 100}}') == ["EN", "BARE"]
    assert keys(hub, '{"$not": {"completeness.ecommerce.en": {"$gte": 50}}}') == ["BARE"]
    assert keys(hub, sort=("completeness.ecommerce.de", "-key")) == ["BARE", "EN", "FULL"]
    assert keys(hub, sort=("-completeness.ecommerce.en", "key")) == ["EN", "FULL", "BARE"]
    # Cursor paging over a completeness sort key.
    first = hub.catalog.list_objects(
        "Product", ListQuery(sort=("completeness.ecommerce.de",), first=2)
    )
    rest = hub.catalog.list_objects(
        "Product", ListQuery(sort=("completeness.ecommerce.de",), first=2, after=first.next_cursor)
    )
    assert [o.key for o in first.items + rest.items] == ["BARE", "EN", "FULL"]
    for bad, says in [
        ('{"completeness.web.en": 100}', "unknown channel 'web'"),
        ('{"completeness.ecommerce.fr": 100}', "unknown language 'fr'"),
    ]:
        with pytest.raises(InvalidQuery) as caught:
            keys(hub, bad)
        assert says in caught.value.errors[0].message


def test_a_change_of_channels_only_skips_validating_the_stored_objects(hub: Hub) -> None:
    hub.catalog.create("Product", BARE, author="t")
    with hub.engine.begin() as conn:  # a stored object the class would refuse: no name
        conn.execute(update(objects).values(data={"sku": "BARE", "image": "x.png"}))
    raw = product_class(hub)
    raw["completeness"]["channels"]["ecommerce"]["languages"] = ["en"]
    hub.classes.replace("Product", raw, author="t")  # channels only: accepted, recomputed
    assert stored(hub, "BARE")["ecommerce"] == {
        "en": {"ratio": 25, "missing": ["name", "description", "price"]}
    }
    raw["fields"].append({"name": "notes", "type": "textarea"})
    with pytest.raises(IncompatibleClassChange):  # any other change validates them all
        hub.classes.replace("Product", raw, author="t")


def test_a_variant_counts_what_it_inherits_and_follows_its_parent(hub: Hub) -> None:
    parent = {k: v for k, v in FULL.items() if k != "image"}
    hub.catalog.create("Product", {**parent, "color": "red", "size": "M"}, author="t")
    child = {"sku": "FULL-S", "color": "red", "size": "S"}
    created = hub.catalog.create("Product", child, parent="FULL", author="t")
    assert created.completeness == stored(hub, "FULL-S")
    assert stored(hub, "FULL-S")["ecommerce"]["en"] == {"ratio": 75, "missing": ["image"]}
    hub.catalog.patch("Product", "FULL", {"image": "lamp.png"}, author="t")
    assert ratios(hub, "FULL-S") == (100, 100)  # rewritten with its parent, same transaction


def test_an_import_stores_completeness_for_every_row(hub: Hub) -> None:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {"sku": "sku", "name.en": "name", "name.de": "name_de", "image": "image"},
        }
    )
    text = "sku,name,name_de,image\nI-1,Lamp,Lampe,l.png\nI-2,Desk,,\n"

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    summary = run_import(writer, from_text(text, Format.CSV), mapping, ImportOptions())
    assert summary.created == 2
    assert ratios(hub, "I-1") == (50, 50)
    assert stored(hub, "I-2")["ecommerce"]["de"] == {
        "ratio": 0,
        "missing": ["name", "description", "price", "image"],
    }
    again = "sku,name,name_de,image\nI-2,Desk,Tisch,d.png\n"
    run_import(writer, from_text(again, Format.CSV), mapping, ImportOptions())
    assert ratios(hub, "I-2") == (50, 50)


def test_object_writes_racing_a_channel_change_end_current(hub: Hub) -> None:
    """Writers of objects hold the class lock shared and a class change holds it exclusive,
    so no object keeps a completeness computed against the definition being replaced."""
    for n in range(10):
        hub.catalog.create("Product", {"sku": f"R-{n}", "name": {"en": "Old"}}, author="t")
    raw = product_class(hub)
    raw["completeness"]["channels"]["ecommerce"]["required"].append("ean")

    def work(n: int) -> Any:
        if n == 0:
            return hub.classes.replace("Product", raw, author="t")
        if n % 2:
            return hub.catalog.create(
                "Product", {"sku": f"N-{n}", "name": {"en": "New"}}, author="t"
            )
        return hub.catalog.patch("Product", f"R-{n}", {"image": "x.png"}, author="t")

    assert errors_of(in_parallel(10, work)) == []
    definition = hub.classes.get("Product")
    with hub.engine.connect() as conn:
        rows = conn.execute(select(objects.c.data, objects.c.completeness)).all()
    assert len(rows) == 15
    for row in rows:
        assert row.completeness == completeness_of(definition, row.data)
        assert "ean" in row.completeness["ecommerce"]["en"]["missing"]
