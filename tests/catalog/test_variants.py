"""Variants through the catalog service, on both backends: inheritance on read, a parent's
change reaching its children (values, versions, events), the family rules, refused parent
deletes, listings by family role, and imports of parent + children."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import Outcome
from pimhub.catalog.errors import (
    HasVariants,
    IncompatibleClassChange,
    ObjectNotFound,
    ValidationFailed,
)
from pimhub.catalog.service import ListQuery
from pimhub.catalog.variants import CHILDREN_ITEM_KEY, PARENT_ITEM_KEY, FamilyRole
from pimhub.storage.tables import outbox

HOODIE = {
    "sku": "MH01",
    "name": {"en": "Chaz Hoodie"},
    "description": {"en": "<p>Warm</p>"},
    "price": {"amount": 52, "currency": "USD"},
}


def child(sku: str, color: str, size: str, **more: Any) -> dict[str, Any]:
    return {"sku": sku, "color": color, "size": size, **more}


def family(hub: Hub) -> None:
    hub.catalog.create("Product", HOODIE, author="t")
    hub.catalog.create("Product", child("MH01-S-black", "black", "S"), parent="MH01", author="t")
    hub.catalog.create(
        "Product",
        child("MH01-M-black", "black", "M", price={"amount": 55, "currency": "USD"}),
        parent="MH01",
        author="t",
    )


def events_for(hub: Hub, key: str) -> list[tuple[str, int, list[str]]]:
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.event_type, outbox.c.version, outbox.c.changed_fields)
            .where(outbox.c.business_key == key)
            .order_by(outbox.c.id)
        )
        return [(r.event_type, r.version, list(r.changed_fields)) for r in rows]


def test_a_child_reads_its_parents_values_where_it_sets_none(hub: Hub) -> None:
    family(hub)
    small = hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True)
    parent = hub.catalog.get_object("Product", "MH01", include_drafts=True)
    assert small.parent == parent.uuid
    assert small.values["name"] == {"en": "Chaz Hoodie"}
    assert small.values["price"] == {"amount": 52, "currency": "USD"}
    assert small.inherited == ("name", "description", "price")
    assert small.own_values == {"sku": "MH01-S-black", "color": "black", "size": "S"}
    medium = hub.catalog.get_object("Product", "MH01-M-black", include_drafts=True)
    assert medium.values["price"] == {"amount": 55, "currency": "USD"}
    assert "price" not in medium.inherited
    assert medium.to_dict()["parent"] == {"uuid": parent.uuid}


def test_a_parent_change_reaches_the_children_that_inherit_it(hub: Hub) -> None:
    family(hub)
    hub.catalog.patch(
        "Product", "MH01", {"price": {"amount": 60, "currency": "USD"}}, author="editor"
    )
    small = hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True)
    medium = hub.catalog.get_object("Product", "MH01-M-black", include_drafts=True)
    assert small.values["price"] == {"amount": 60, "currency": "USD"}
    assert (small.version, medium.version) == (2, 1)  # medium sets its own price
    assert events_for(hub, "MH01-S-black")[-1] == ("object.updated", 2, ["price"])
    assert len(events_for(hub, "MH01-M-black")) == 1
    versions = hub.catalog.list_versions("Product", "MH01-S-black", include_drafts=True)
    assert versions[0].author == "editor" and versions[0].changed_fields == ("price",)


def test_removing_an_own_value_inherits_again_and_setting_one_stops_inheriting(
    hub: Hub,
) -> None:
    family(hub)
    hub.catalog.patch("Product", "MH01-M-black", {"price": None}, author="t")
    medium = hub.catalog.get_object("Product", "MH01-M-black", include_drafts=True)
    assert medium.values["price"] == {"amount": 52, "currency": "USD"}
    assert "price" in medium.inherited
    hub.catalog.patch("Product", "MH01-M-black", {"name": {"en": "Medium"}}, author="t")
    hub.catalog.patch("Product", "MH01", {"name": {"en": "Renamed"}}, author="t")
    medium = hub.catalog.get_object("Product", "MH01-M-black", include_drafts=True)
    assert medium.values["name"] == {"en": "Medium"}


def test_a_put_replaces_own_values_and_keeps_the_parent(hub: Hub) -> None:
    family(hub)
    hub.catalog.put("Product", "MH01-S-black", child("MH01-S-black", "black", "S"), author="t")
    small = hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True)
    assert small.parent is not None and small.version == 1  # nothing changed
    # Made standalone, it inherits nothing: its own values must satisfy the class alone.
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.put(
            "Product", "MH01-S-black", child("MH01-S-black", "black", "S"), parent=None, author="t"
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("name", "required")]
    alone = child("MH01-S-black", "black", "S", name={"en": "Alone"})
    result = hub.catalog.put("Product", "MH01-S-black", alone, parent=None, author="t")
    assert result.object.parent is None and result.object.inherited == ()
    assert "price" not in result.object.values
    assert (
        "parent"
        in hub.catalog.list_versions("Product", "MH01-S-black", include_drafts=True)[
            0
        ].changed_fields
    )


def test_siblings_cannot_share_axis_values(hub: Hub) -> None:
    family(hub)
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.create("Product", child("DUP", "black", "S"), parent="MH01", author="t")
    [error] = caught.value.errors
    assert error.code == "axes-taken" and "MH01-S-black" in error.message
    assert "color=black, size=S" in error.message
    # The same axes under another parent are fine.
    hub.catalog.create("Product", {**HOODIE, "sku": "MH02"}, author="t")
    hub.catalog.create("Product", child("MH02-S-black", "black", "S"), parent="MH02", author="t")


def test_the_family_rules_are_checked(hub: Hub) -> None:
    family(hub)

    def refused(values: dict[str, Any], parent: str | None) -> list[tuple[str, str]]:
        with pytest.raises(ValidationFailed) as caught:
            hub.catalog.create("Product", values, parent=parent, author="t")
        return [(e.field, e.code) for e in caught.value.errors]

    assert refused({"sku": "X1", "color": "red"}, "MH01") == [("size", "axis-required")]
    # Without a parent to inherit from, the class's required fields are missing too.
    assert refused(child("X2", "red", "S"), "NOPE") == [("parent", "parent"), ("name", "required")]
    grandchild = refused(child("X3", "red", "S"), "MH01-S-black")
    assert grandchild[0] == ("parent", "variant-level")
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.patch("Product", "MH01", {}, parent="MH01-S-black", author="t")
    assert caught.value.errors[0].code == "variant-level"
    assert hub.catalog.get_object("Product", "MH01", include_drafts=True).parent is None


def test_parent_only_fields_are_refused_on_children(hub: Hub) -> None:
    raw = hub.classes.get("Product").to_dict(with_version=False)
    raw["variants"] = {"axes": ["color", "size"], "parentOnly": ["description"]}
    hub.classes.replace("Product", raw, author="t")
    hub.catalog.create("Product", HOODIE, author="t")
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.create(
            "Product",
            child("C1", "red", "S", description={"en": "mine"}),
            parent="MH01",
            author="t",
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("description", "parent-only")]


def test_a_parent_with_variants_is_deleted_only_with_force(hub: Hub) -> None:
    family(hub)
    with pytest.raises(HasVariants) as caught:
        hub.catalog.delete("Product", "MH01", author="t")
    assert [e.field for e in caught.value.errors] == [
        "Product/MH01-S-black",
        "Product/MH01-M-black",
    ]
    hub.catalog.delete("Product", "MH01", force=True, author="t")
    assert hub.catalog.list_objects("Product", ListQuery(include_drafts=True)).total == 0
    assert events_for(hub, "MH01-S-black")[-1][0] == "object.deleted"


def test_listings_keep_parents_variants_standalone_or_one_family(hub: Hub) -> None:
    family(hub)
    hub.catalog.create("Product", {**HOODIE, "sku": "SOLO"}, author="t")

    def keys(**query: Any) -> list[str]:
        page = hub.catalog.list_objects("Product", ListQuery(include_drafts=True, **query))
        return sorted(o.key for o in page.items)

    assert keys(family=FamilyRole.PARENTS) == ["MH01"]
    assert keys(family=FamilyRole.VARIANTS) == ["MH01-M-black", "MH01-S-black"]
    assert keys(family=FamilyRole.STANDALONE) == ["SOLO"]
    assert keys(parent="MH01") == ["MH01-M-black", "MH01-S-black"]
    # Inherited values filter like own ones.
    assert keys(parent="MH01", filter='{"price.amount": 52}') == ["MH01-S-black"]


def test_the_variant_rules_cannot_change_under_stored_variants(hub: Hub) -> None:
    family(hub)
    raw = hub.classes.get("Product").to_dict(with_version=False)
    del raw["variants"]
    with pytest.raises(IncompatibleClassChange) as caught:
        hub.classes.replace("Product", raw, author="t")
    assert any(e.field == "variants" for e in caught.value.errors)


def test_an_import_links_the_variants_a_parent_row_lists(hub: Hub) -> None:
    rows: list[dict[str, Any]] = [
        {**child("MH01-S-black", "black", "S"), "name": {"en": "Hoodie S"}},
        {**child("MH01-M-black", "black", "M"), "name": {"en": "Hoodie M"}},
        {**HOODIE, CHILDREN_ITEM_KEY: ["MH01-S-black", "MH01-M-black"]},
        {**child("MH01-L-black", "black", "L"), PARENT_ITEM_KEY: "MH01"},
        {**HOODIE, "sku": "BAD", CHILDREN_ITEM_KEY: ["NOPE"]},
    ]
    with hub.catalog.batch_writer("Product", author="import") as writer:
        results = writer.save(rows)
        writer.commit()
    assert [r.outcome for r in results] == [
        Outcome.CREATED, Outcome.CREATED, Outcome.CREATED, Outcome.CREATED, Outcome.FAILED,
    ]  # fmt: skip
    assert results[4].errors[0].field == f"{CHILDREN_ITEM_KEY}[0]"
    parent = hub.catalog.get_object("Product", "MH01", include_drafts=True)
    large = hub.catalog.get_object("Product", "MH01-L-black", include_drafts=True)
    assert large.parent == parent.uuid and large.values["name"] == {"en": "Chaz Hoodie"}
    small = hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True)
    assert small.parent == parent.uuid and small.values["name"] == {"en": "Hoodie S"}
    # The same rows again change nothing (the failed one fails again).
    with hub.catalog.batch_writer("Product", author="import") as writer:
        again = writer.save(rows)
        writer.commit()
    assert [r.outcome for r in again][:4] == [Outcome.UNCHANGED] * 4
    # A plain row for an existing child merges into its own values, inheriting the rest.
    with hub.catalog.batch_writer("Product", author="import") as writer:
        [result] = writer.save([{"sku": "MH01-L-black", "stock": 3}])
        writer.commit()
    assert result.outcome == Outcome.UPDATED
    large = hub.catalog.get_object("Product", "MH01-L-black", include_drafts=True)
    assert large.parent == parent.uuid and "name" in large.inherited


def test_a_variant_is_live_only_while_its_parent_is(hub: Hub) -> None:
    family(hub)
    hub.catalog.patch("Product", "MH01", {}, published=False, author="editor")
    for key in ("MH01-S-black", "MH01-M-black"):
        variant = hub.catalog.get_object("Product", key, include_drafts=True)
        assert not variant.published
        assert events_for(hub, key)[-1] == ("object.unpublished", 2, ["published"])
        with pytest.raises(ObjectNotFound):
            hub.catalog.get_object("Product", key, include_drafts=False)
    # A new variant of the unpublished parent is saved unpublished, whatever it asks.
    created = hub.catalog.create(
        "Product", child("MH01-L-black", "black", "L"), parent="MH01", author="t"
    )
    assert not created.published
    # Publishing the parent again leaves its variants as they are.
    hub.catalog.patch("Product", "MH01", {}, published=True, author="editor")
    assert not hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True).published
    result = hub.catalog.patch("Product", "MH01-S-black", {}, published=True, author="t")
    assert result.object.published


def test_refusals_do_not_name_unpublished_variants(hub: Hub) -> None:
    hub.catalog.create("Product", HOODIE, author="t")
    draft = child("MH01-S-draft", "black", "S")
    hub.catalog.create("Product", draft, published=False, parent="MH01", author="t")
    hub.catalog.create("Product", child("MH01-M", "black", "M"), parent="MH01", author="t")
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.create("Product", child("X", "black", "S"), parent="MH01", author="t")
    [error] = caught.value.errors
    assert error.message == "an unpublished sibling already has color=black, size=S"
    with pytest.raises(HasVariants) as refused:
        hub.catalog.delete("Product", "MH01", author="t")
    assert [e.field for e in refused.value.errors] == ["Product/MH01-M"]
    assert "(1 unpublished)" in refused.value.detail


def test_a_patch_of_part_of_an_inherited_value_keeps_the_rest(hub: Hub) -> None:
    family(hub)
    hub.catalog.patch("Product", "MH01-S-black", {"name": {"de": "Kapuzenpulli"}}, author="t")
    small = hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True)
    assert small.values["name"] == {"en": "Chaz Hoodie", "de": "Kapuzenpulli"}
    assert "name" not in small.inherited
    changed = {"price": {"currency": "EUR"}}
    hub.catalog.patch("Product", "MH01-S-black", changed, author="t")
    small = hub.catalog.get_object("Product", "MH01-S-black", include_drafts=True)
    assert small.values["price"] == {"amount": 52, "currency": "EUR"}


def test_a_row_listing_too_many_variants_is_a_row_error(hub: Hub) -> None:
    hub.catalog.create("Product", HOODIE, author="t")
    rows = [{"sku": "OK", "name": {"en": "ok"}}, {**HOODIE, CHILDREN_ITEM_KEY: ["X"] * 1001}]
    with hub.catalog.batch_writer("Product", author="import") as writer:
        results = writer.save(rows)
        writer.commit()
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.FAILED]
    assert results[1].errors[0].code == "too-many"


def test_family_role_and_parent_filters_combine(hub: Hub) -> None:
    family(hub)
    query = ListQuery(include_drafts=True, parent="MH01", family=FamilyRole.STANDALONE)
    assert hub.catalog.list_objects("Product", query).total == 0
    query = ListQuery(include_drafts=True, parent="MH01", family=FamilyRole.VARIANTS)
    assert hub.catalog.list_objects("Product", query).total == 2
