"""Every field type through the editor's form, on SQLite and PostgreSQL: a fully filled
object sent back unchanged keeps its version; each type's input is read back into the
value the API would store (price lists, quantities, multiselects, booleans, dates)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pimhub.admin.editor_fields import problems_of
from pimhub.bootstrap import Hub
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.errors import FieldError
from tests.admin.conftest import AdminClient
from tests.admin.test_editor import form_of

Open = Callable[[str], AdminClient]
EDITOR = "/admin/objects/Product/TS-1"
OFFER = {
    "name": "Offer",
    "businessKey": "code",
    "fields": [
        {"name": "code", "type": "text"},
        {"name": "prices", "type": "money", "currencies": ["EUR", "USD"], "priceList": True},
        {"name": "tags", "type": "multiselect", "options": ["new", "sale", "eco"]},
    ],
}


@pytest.fixture
def filled(users_hub: Hub) -> Hub:
    users_hub.catalog.create("Product", {"sku": "REL-1", "name": {"en": "Rel"}}, author="t")
    users_hub.catalog.patch(
        "Product",
        "TS-1",
        {
            "weight": {"value": 0.25, "unit": "kg"},
            "material": ["cotton", "wool"],
            "featured": False,
            "releasedOn": "2026-03-01",
            "availableFrom": "2026-03-01T08:00:00Z",
            "color": "red",
            "related": ["REL-1"],
            "categories": ["men", "men-tops"],
            "shortDescription": {"en": "Line one\nline two"},
        },
        author="t",
    )
    users_hub.classes.apply([OFFER], author="t")
    users_hub.catalog.create(
        "Offer", {"code": "o1", "prices": {"EUR": 10, "USD": 11.5}, "tags": ["eco"]}, author="t"
    )
    return users_hub


def test_a_fully_filled_form_sent_back_unchanged_keeps_the_version(
    filled: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    objects = ((EDITOR, "Product", "TS-1"), ("/admin/objects/Offer/o1", "Offer", "o1"))
    for path, class_name, key in objects:
        before = filled.catalog.get_object(class_name, key, include_drafts=True).version
        for lang in ("en", "de"):
            page = client.get(f"{path}?lang={lang}")
            answer = client.post_form(f"{path}?lang={lang}", form_of(page.text))
            assert answer.status_code == 303, answer.text[:2000]
        assert filled.catalog.get_object(class_name, key, include_drafts=True).version == before


def test_each_type_is_read_from_its_inputs(filled: Hub, signed_in: Open) -> None:
    client = signed_in("manager")
    data = form_of(client.get(EDITOR).text)
    assert data["f.weight.value"] == "0.25" and data["f.weight.unit"] == "kg"
    assert data["f.material"] == ["cotton", "wool"] and "f.featured" not in data
    assert data["f.related"] == "REL-1" and data["f.categories"] == "men\nmen-tops"
    data.update(
        {
            "f.weight.value": "500",
            "f.weight.unit": "g",
            "f.material": ["leather"],
            "f.featured": "true",
            "f.releasedOn": "2026-04-02",
            "f.color": "",
            "f.related": "",
            "f.categories": "men-tops\r\n\r\n  men  \r\n",
            "f.price.amount": "20.50",
        }
    )
    assert client.post_form(EDITOR, data).status_code == 303
    values = filled.catalog.get_object("Product", "TS-1", include_drafts=True).values
    assert values["weight"] == {"value": 500, "unit": "g"}
    assert values["material"] == ["leather"] and values["featured"] is True
    assert values["releasedOn"] == "2026-04-02" and values["price"]["amount"] == 20.5
    assert "color" not in values and "related" not in values
    assert len(values["categories"]) == 2
    offer = form_of(client.get("/admin/objects/Offer/o1").text)
    assert (offer["f.prices.EUR"], offer["f.prices.USD"]) == ("10", "11.5")
    offer.update({"f.prices.USD": "", "f.tags": ["new", "sale"]})
    assert client.post_form("/admin/objects/Offer/o1", offer).status_code == 303
    stored = filled.catalog.get_object("Offer", "o1", include_drafts=True).values
    assert stored["prices"] == {"EUR": 10} and stored["tags"] == ["new", "sale"]


def test_a_price_list_amount_that_is_no_number_is_named_by_its_currency(
    filled: Hub, signed_in: Open
) -> None:
    client = signed_in("manager")
    offer = form_of(client.get("/admin/objects/Offer/o1").text)
    offer["f.prices.USD"] = "lots"
    answer = client.post_form("/admin/objects/Offer/o1", offer)
    assert answer.status_code == 422
    assert "prices.USD" in answer.text and 'value="lots"' in answer.text


def test_problems_name_fields_by_label_and_language() -> None:
    definition = parse_class_definition(
        {
            "name": "Thing",
            "businessKey": "code",
            "fields": [
                {"name": "code", "type": "text"},
                {"name": "name", "type": "text", "title": "Name", "localized": True},
                {"name": "ean", "type": "text", "title": "EAN / GTIN", "pattern": "[0-9]{8}"},
                {"name": "gallery", "type": "asset", "multiple": True},
            ],
        }
    )
    found = problems_of(
        definition,
        [
            FieldError("name.de", "is too long", "too-long"),
            FieldError("ean", "does not match the pattern [0-9]{8}", "pattern"),
            FieldError("gallery[2]", "no such asset"),
        ],
    )
    assert [(p.anchor, p.label, p.message) for p in found] == [
        ("f-name", "Name (de)", "is too long"),
        ("f-ean", "EAN / GTIN", "is not in the expected format (pattern [0-9]{8})"),
        ("f-gallery", "gallery (item 3)", "no such asset"),
    ]
