"""An import that links variants racing single writes to those variants, on both backends
(SQLite serializes writers; PostgreSQL does not): every write lands, each variant ends with
its parent and the single write's value, and its versions run 1..n without a gap."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import Outcome
from pimhub.catalog.variants import CHILDREN_ITEM_KEY
from pimhub.storage.tables import object_versions
from tests.storage.test_parallel_writers import errors_of, in_parallel

SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


def variant(n: int, stock: int) -> dict[str, Any]:
    return {
        "sku": f"V-{n}",
        "name": {"en": f"Variant {n}"},
        "color": "red",
        "size": SIZES[n],
        "stock": stock,
    }


def test_linking_variants_racing_single_writes_to_them(hub: Hub) -> None:
    with hub.catalog.batch_writer("Product", author="setup") as writer:
        writer.save([variant(n, 0) for n in range(len(SIZES))])
        writer.commit()
    parent = {"sku": "P", "name": {"en": "Parent"}, "description": {"en": "Shared."}}

    def work(n: int) -> Any:
        if n == 0:
            with hub.catalog.batch_writer("Product", author="import") as writer:
                children = [f"V-{k}" for k in range(len(SIZES))]
                results = writer.save([{**parent, CHILDREN_ITEM_KEY: children}])
                writer.commit()
                return results
        return hub.catalog.patch("Product", f"V-{n - 1}", {"stock": 100 + n}, author="api")

    outcomes = in_parallel(len(SIZES) + 1, work)
    assert errors_of(outcomes) == []
    assert [r.outcome for r in outcomes[0]] == [Outcome.CREATED]
    p = hub.catalog.get_object("Product", "P", include_drafts=False)
    for n in range(len(SIZES)):
        child = hub.catalog.get_object("Product", f"V-{n}", include_drafts=False)
        assert child.parent == p.uuid and child.values["stock"] == 101 + n
        assert child.values["description"] == {"en": "Shared."}
        with hub.engine.connect() as conn:
            rows = conn.execute(
                select(object_versions.c.version).where(object_versions.c.object_uuid == child.uuid)
            )
            assert sorted(r.version for r in rows) == [1, 2, 3]


def test_two_imports_racing_to_link_the_same_variants(hub: Hub) -> None:
    with hub.catalog.batch_writer("Product", author="setup") as writer:
        writer.save([variant(n, 0) for n in range(len(SIZES))])
        writer.commit()
    children = [f"V-{k}" for k in range(len(SIZES))]

    def work(n: int) -> Any:
        with hub.catalog.batch_writer("Product", author=f"import-{n}") as writer:
            row = {"sku": f"P-{n}", "name": {"en": f"Parent {n}"}, CHILDREN_ITEM_KEY: children}
            results = writer.save([row])
            writer.commit()
            return results

    outcomes = in_parallel(4, work)
    assert errors_of(outcomes) == []
    assert all(r.outcome == Outcome.CREATED for results in outcomes for r in results)
    parents = {hub.catalog.get_object("Product", c, include_drafts=False).parent for c in children}
    assert len(parents) == 1  # the last import to commit holds them all
