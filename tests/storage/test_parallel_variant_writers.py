"""Parallel writers of one family of variants, on both backends (PostgreSQL runs them truly
at once): parent edits racing variant creates, edits and re-parenting must all succeed
without a version named, and every variant must end with its parent's final values."""

from __future__ import annotations

from typing import Any

from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery
from tests.storage.test_parallel_writers import errors_of, event_versions, in_parallel

PARENT = {"sku": "P", "name": {"en": "Parent"}, "price": {"amount": 10, "currency": "EUR"}}
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


def variant_values(n: int, size: str) -> dict[str, Any]:
    return {"sku": f"P-{n}", "color": "black", "size": size}


def test_parent_edits_racing_variant_creates_and_edits(hub: Hub) -> None:
    hub.catalog.create("Product", PARENT, author="t")
    hub.catalog.create("Product", variant_values(0, "40"), parent="P", author="t")
    writers = 20

    def work(n: int) -> Any:
        if n % 3 == 0:  # the parent's price, a value every variant inherits
            change = {"price": {"amount": 100 + n, "currency": "EUR"}}
            return hub.catalog.patch("Product", "P", change, author="w")
        if n % 3 == 1:  # a new variant
            values = variant_values(n, [*SIZES, "28", "29"][n // 3])
            return hub.catalog.create("Product", values, parent="P", author="w")
        return hub.catalog.patch("Product", "P-0", {"stock": n}, author="w")

    outcomes = in_parallel(writers, work)
    assert errors_of(outcomes) == []
    parent = hub.catalog.get_object("Product", "P", include_drafts=True)
    page = hub.catalog.list_objects("Product", ListQuery(parent="P", include_drafts=True))
    assert page.total == 1 + len(range(1, writers, 3))
    for child in page.items:
        assert child.values["price"] == parent.values["price"], child.key
        assert child.inherited == ("name", "price")
    # Each variant's events carry consecutive versions: none lost, none twice.
    for child in page.items:
        assert event_versions(hub, child.key) == list(range(1, child.version + 1))


def test_parallel_creates_with_the_same_axes_admit_exactly_one(hub: Hub) -> None:
    hub.catalog.create("Product", PARENT, author="t")

    def work(n: int) -> Any:
        values = {"sku": f"D-{n}", "color": "red", "size": "M"}
        return hub.catalog.create("Product", values, parent="P", author="w")

    outcomes = in_parallel(8, work)
    failures = errors_of(outcomes)
    assert len(failures) == 7
    assert {type(f).__name__ for f in failures} == {"ValidationFailed"}
    page = hub.catalog.list_objects("Product", ListQuery(parent="P", include_drafts=True))
    assert page.total == 1


def test_a_forced_parent_delete_racing_variant_writes(hub: Hub) -> None:
    hub.catalog.create("Product", PARENT, author="t")
    for n in range(3):
        hub.catalog.create("Product", variant_values(n, SIZES[n]), parent="P", author="t")

    def work(n: int) -> Any:
        if n == 0:
            return hub.catalog.delete("Product", "P", force=True, author="w")
        return hub.catalog.patch("Product", f"P-{n % 3}", {"stock": n}, author="w")

    outcomes = in_parallel(6, work)
    # A variant write that lost the race finds its object deleted (404), nothing else.
    assert {type(o).__name__ for o in errors_of(outcomes)} <= {"ObjectNotFound"}
    left = hub.catalog.list_objects("Product", ListQuery(include_drafts=True))
    assert left.total == 0


def test_moving_variants_between_two_parents_both_ways(hub: Hub) -> None:
    """Writers that move variants from A to B and from B to A at once take both parents'
    locks together, so none of them deadlocks its way out of its retries."""
    for parent in ("A", "B"):
        hub.catalog.create("Product", {**PARENT, "sku": parent}, author="t")
    for n in range(12):
        values = {"sku": f"V-{n}", "color": "black" if n < 6 else "red", "size": SIZES[n % 6]}
        hub.catalog.create("Product", values, parent="A" if n % 2 else "B", author="t")

    def work(n: int) -> Any:
        return hub.catalog.patch(
            "Product", f"V-{n % 12}", {}, parent="B" if n % 2 else "A", author="w"
        )

    assert errors_of(in_parallel(24, work)) == []
    for parent in ("A", "B"):
        page = hub.catalog.list_objects("Product", ListQuery(parent=parent, include_drafts=True))
        assert all(c.values["name"] == {"en": "Parent"} for c in page.items)
