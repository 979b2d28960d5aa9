"""Asset fields of classes hold asset uuids: written as a path or uuid, a missing asset is a
field error, references protect assets from deletion unless forced."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import Outcome
from pimhub.catalog.errors import AssetInUse, ValidationFailed
from pimhub.storage.tables import outbox
from tests.assets.images import png

NAME = {"en": "Shirt"}


def asset_uuid(hub: Hub, path: str, color: str = "red") -> str:
    return hub.assets.add(io.BytesIO(png(color=color)), path, author="t").asset.uuid


def test_paths_and_uuids_resolve_to_uuids(hub: Hub) -> None:
    red = asset_uuid(hub, "/p/red.png")
    blue = asset_uuid(hub, "/p/blue.png", "blue")
    product = hub.catalog.create(
        "Product",
        {"sku": "S1", "name": NAME, "image": "p/red.png", "gallery": [blue, "/p/red.png"]},
        author="t",
    )
    assert product.values["image"] == red
    assert product.values["gallery"] == [blue, red]
    brand = hub.catalog.create("Brand", {"code": "b", "name": "B", "logo": red.upper()}, author="t")
    assert brand.values["logo"] == red
    with hub.units_of_work() as uow:
        used_by = {(r.class_name, r.key, r.field) for r in uow.objects.referrers(red, 10)}
    assert used_by == {
        ("Product", "S1", "image"),
        ("Product", "S1", "gallery"),
        ("Brand", "b", "logo"),
    }


def test_missing_and_malformed_assets_are_field_errors(hub: Hub) -> None:
    asset_uuid(hub, "/p/red.png")
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.create(
            "Product",
            {
                "sku": "S1",
                "name": NAME,
                "image": "/x.jpg",
                "gallery": ["/p/red.png", "01a24240-98ce-7057-8dbb-bc0774ab0df5", "/a/../b"],
            },
            author="t",
        )
    errors = {(e.field, e.code): e.message for e in caught.value.errors}
    assert errors[("image", "unknown-asset")] == "no asset at '/x.jpg'"
    assert errors[("gallery[1]", "unknown-asset")] == (
        "no asset with uuid '01a24240-98ce-7057-8dbb-bc0774ab0df5' "
        "(nor at the path '/01a24240-98ce-7057-8dbb-bc0774ab0df5')"
    )
    assert "not an asset path or uuid" in errors[("gallery[2]", "unknown-asset")]
    assert ("gallery[0]", "unknown-asset") not in errors
    with pytest.raises(ValidationFailed) as twice:
        uuid = hub.assets.get("/p/red.png").uuid
        hub.catalog.create(
            "Product", {"sku": "S2", "name": NAME, "gallery": ["/p/red.png", uuid]}, author="t"
        )
    assert twice.value.errors[0].code == "duplicate"


def test_batch_writes_resolve_assets_per_item(hub: Hub) -> None:
    red = asset_uuid(hub, "/p/red.png")
    with hub.catalog.batch_writer("Product", author="t") as writer:
        results = writer.save(
            [
                {"sku": "B1", "name": NAME, "image": "/p/red.png", "gallery": ["p/red.png"]},
                {"sku": "B2", "name": NAME, "image": "/p/missing.png"},
            ]
        )
        writer.commit()
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.FAILED]
    assert results[1].errors[0].field == "image"
    assert results[1].errors[0].message == "no asset at '/p/missing.png'"
    stored = hub.catalog.get_object("Product", "B1", include_drafts=True)
    assert (stored.values["image"], stored.values["gallery"]) == (red, [red])
    # The same row again changes nothing: the path reads as the uuid it stored.
    with hub.catalog.batch_writer("Product", author="t") as writer:
        again = writer.save([{"sku": "B1", "image": "/p/red.png"}])
        writer.commit()
    assert again[0].outcome == Outcome.UNCHANGED
    with hub.units_of_work() as uow:
        assert [r.key for r in uow.objects.referrers(red, 10)] == ["B1", "B1"]


def test_moving_an_asset_keeps_references(hub: Hub) -> None:
    red = asset_uuid(hub, "/p/red.png")
    hub.catalog.create("Product", {"sku": "S1", "name": NAME, "image": "/p/red.png"}, author="t")
    hub.assets.update(red, author="t", path="/q/red.png")
    product = hub.catalog.patch("Product", "S1", {"name": {"en": "New"}}, author="t")
    assert product.object.values["image"] == red


def test_used_assets_are_protected_unless_forced(hub: Hub) -> None:
    red = asset_uuid(hub, "/p/red.png")
    blue = asset_uuid(hub, "/p/blue.png", "blue")
    hub.catalog.create(
        "Product", {"sku": "S1", "name": NAME, "image": red, "gallery": [red, blue]}, author="t"
    )
    hub.catalog.create("Brand", {"code": "b", "name": "B", "logo": red}, author="t")
    with pytest.raises(AssetInUse) as caught:
        hub.assets.delete("/p/red.png", author="t")
    named = sorted((e.field, e.message) for e in caught.value.errors)
    # One object using it in two fields is one user, named once.
    assert named == [
        ("Brand/b", "uses it in field 'logo'"),
        ("Product/S1", "uses it in fields 'gallery', 'image'"),
    ]
    assert "used by 2 object(s)" in caught.value.detail
    assert hub.assets.get(red).version == 1
    hub.assets.delete("/p/red.png", author="t", force=True)
    product = hub.catalog.get_object("Product", "S1", include_drafts=True)
    assert "image" not in product.values and product.values["gallery"] == [blue]
    assert product.version == 2
    assert "logo" not in hub.catalog.get_object("Brand", "b", include_drafts=True).values
    with hub.engine.connect() as conn:
        types = conn.execute(select(outbox.c.event_type).order_by(outbox.c.id)).scalars().all()
    assert types[-3:] == ["object.updated", "object.updated", "asset.deleted"]
    with hub.units_of_work() as uow:
        assert uow.objects.referrers(red, 10) == []
