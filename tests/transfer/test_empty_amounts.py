"""An empty amount is no price, on both databases: the documented money mapping (amount from
a column, currency as a static value) leaves the price out of a row whose price cell is
empty, instead of refusing a currency without an amount; a class that requires the price
still refuses the row, for the missing price."""

from __future__ import annotations

from typing import Any

from pimhub.bootstrap import Hub
from pimhub.transfer.importer import ImportOptions, ImportSummary, RowError, run_import
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, from_text

MAPPING = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "price.amount": {"column": "price", "number": True},
            "price.currency": {"value": "EUR"},
            "weight.value": {"column": "weight", "number": True},
            "weight.unit": {"column": "unit"},
        },
    }
)
TEXT = "sku,name,price,weight,unit\nE-1,Priced,9.5,2,kg\nE-2,Unpriced,,,kg\nE-3,Light,,500,g\n"


def run(hub: Hub, text: str = TEXT) -> tuple[ImportSummary, list[RowError]]:
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    summary = run_import(
        writer, from_text(text, Format.CSV), MAPPING, ImportOptions(), on_row_error=errors.append
    )
    return summary, errors


def test_an_empty_price_cell_is_no_price(hub: Hub) -> None:
    summary, errors = run(hub)
    assert (summary.created, summary.failed) == (3, 0), errors
    priced = hub.catalog.get_object("Product", "E-1", include_drafts=False)
    assert priced.values["price"] == {"amount": 9.5, "currency": "EUR"}
    unpriced = hub.catalog.get_object("Product", "E-2", include_drafts=False)
    assert "price" not in unpriced.values and "weight" not in unpriced.values
    light = hub.catalog.get_object("Product", "E-3", include_drafts=False)
    assert "price" not in light.values and light.values["weight"] == {"value": 500, "unit": "g"}


def test_a_required_price_still_refuses_a_row_without_one(hub: Hub) -> None:
    raw = hub.classes.get("Product").to_dict(with_version=False)
    raw["fields"] = [{**f, "required": True} if f["name"] == "price" else f for f in raw["fields"]]
    hub.classes.apply([raw], author="t")
    summary, errors = run(hub)
    assert (summary.created, summary.failed) == (1, 2)
    assert {(e.row, e.column, e.code) for e in errors} == {
        (2, "price", "required"),
        (3, "price", "required"),
    }
