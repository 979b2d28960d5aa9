"""Variants in the object editor, on SQLite and PostgreSQL: a parent lists its variants and
offers 'New variant'; a variant links its parent and shows what it inherits in the hints,
and saving it leaves inherited fields inherited (nothing copied from the parent)."""

from __future__ import annotations

from collections.abc import Callable

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.admin.test_editor import form_of

Open = Callable[[str], AdminClient]
PARENT = "/admin/objects/Product/TS-1"
CHILD = "/admin/objects/Product/TS-1-XL"


def _variant(hub: Hub) -> None:
    hub.catalog.create(
        "Product",
        {"sku": "TS-1-XL", "color": "black", "size": "XL"},
        parent="TS-1",
        published=True,
        author="test",
    )


def test_a_parent_lists_its_variants_and_offers_a_new_one(users_hub: Hub, signed_in: Open) -> None:
    _variant(users_hub)
    html = signed_in("manager").get(PARENT).text
    family = html[html.index('id="family"') :]
    assert f'<a href="{CHILD}">TS-1-XL</a>' in family and "black, XL" in family
    assert 'href="/admin/new/Product?parent=TS-1">New variant</a>' in family
    viewer = signed_in("viewer").get(PARENT).text
    assert "TS-1-XL" in viewer and "New variant" not in viewer
    lonely = signed_in("manager").get("/admin/objects/Product/TS-2").text
    assert "No variants." in lonely


def test_a_variant_links_its_parent_and_hints_the_inherited_values(
    users_hub: Hub, signed_in: Open
) -> None:
    _variant(users_hub)
    html = signed_in("viewer").get(CHILD).text
    assert 'A variant of <a href="/admin/objects/Product/TS-1">TS-1</a>' in html
    assert "inherited from TS-1: 19.99 EUR" in html
    assert "inherited from TS-1: 7;" in html
    assert "inherited from TS-1: Tee;" in html
    assert "Inherited from it: Name, Price, Stock" in html  # by label


def test_saving_a_variant_does_not_copy_inherited_fields_into_it(
    users_hub: Hub, signed_in: Open
) -> None:
    _variant(users_hub)
    client = signed_in("manager")
    data = form_of(client.get(CHILD).text)
    assert data["f.name"] == "" and data["f.stock"] == ""  # own values only
    data["f.size"] = "XXL"
    answer = client.post_form(CHILD, data)
    assert answer.status_code == 303
    child = users_hub.catalog.get_object("Product", "TS-1-XL", include_drafts=True)
    assert child.values["size"] == "XXL"
    assert {"name", "price", "stock", "brand"} <= set(child.inherited)
    users_hub.catalog.patch("Product", "TS-1", {"stock": 50}, author="test")
    child = users_hub.catalog.get_object("Product", "TS-1-XL", include_drafts=True)
    assert child.values["stock"] == 50  # still follows the parent
    data = form_of(client.get(CHILD).text)
    data["f.stock"] = "3"
    assert client.post_form(CHILD, data).status_code == 303
    child = users_hub.catalog.get_object("Product", "TS-1-XL", include_drafts=True)
    assert child.values["stock"] == 3 and "stock" not in child.inherited


def test_a_new_variant_is_created_under_its_parent(users_hub: Hub, signed_in: Open) -> None:
    client = signed_in("manager")
    page = client.get("/admin/new/Product?parent=TS-1")
    assert page.status_code == 200
    assert 'name="parent" value="TS-1"' in page.text and "variant of <code>TS-1</code>" in page.text
    answer = client.post_form(
        "/admin/new/Product",
        {"parent": "TS-1", "f.sku": "TS-1-S", "f.color": "white", "f.size": "S"},
    )
    assert answer.status_code == 303, answer.text
    child = users_hub.catalog.get_object("Product", "TS-1-S", include_drafts=True)
    assert child.parent is not None and "name" in child.inherited
    taken = client.post_form(
        "/admin/new/Product",
        {"parent": "TS-1", "f.sku": "TS-1-S2", "f.color": "white", "f.size": "S"},
    )
    assert taken.status_code in (409, 422) and 'name="parent" value="TS-1"' in taken.text
    assert client.get("/admin/new/Product?parent=NOPE").status_code == 404
