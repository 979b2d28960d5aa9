"""Batch writes on both databases: per-item outcomes and errors, merge semantics, one
version and one outbox event per changed object, nothing for unchanged ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import Checked, ItemResult, Outcome, WriteMode, precheck
from pimhub.catalog.errors import StillReferenced
from pimhub.search.documents import query_tokens
from pimhub.search.ports import SearchRequest, TextQuery
from pimhub.storage.tables import object_versions, outbox


def save(hub: Hub, items: list[dict[str, Any]], **options: Any) -> list[ItemResult]:
    with hub.catalog.batch_writer("Product", author="import", **options) as writer:
        results = writer.save(items)
        writer.commit()
    return results


def counts(hub: Hub) -> tuple[int, int]:
    with hub.engine.connect() as conn:
        versions = conn.execute(select(func.count()).select_from(object_versions)).scalar_one()
        events = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return versions, events


def outcomes(results: list[ItemResult]) -> list[tuple[str | None, str]]:
    return [(r.key, r.outcome.value) for r in results]


def test_create_update_unchanged_and_failures_per_item(sample: Hub) -> None:
    before = counts(sample)
    results = save(
        sample,
        [
            {"sku": "N-1", "name": {"en": "New"}, "brand": "acme", "ean": "4006381333948"},
            {"sku": "TS-1", "stock": 99},  # merged into the existing tee
            {"sku": "N-2", "name": {"en": "Bad"}, "stock": -5},
            {"sku": "N-3", "name": {"en": "Orphan"}, "brand": "nobody"},
            {"sku": "N-1", "name": {"en": "Twice"}},
            {"sku": "N-4", "name": {"en": "Clash"}, "ean": "4006381333931"},  # TS-1's EAN
            {"name": {"en": "No key"}},
        ],
    )
    assert outcomes(results) == [
        ("N-1", "created"),
        ("TS-1", "updated"),
        ("N-2", "failed"),
        ("N-3", "failed"),
        ("N-1", "failed"),
        ("N-4", "failed"),
        (None, "failed"),
    ]
    assert [e.field for r in results[2:] for e in r.errors] == [
        "stock",
        "brand",
        "sku",
        "ean",
        "sku",
    ]
    tee = sample.catalog.get_object("Product", "TS-1", include_drafts=False)
    assert (tee.values["stock"], tee.values["name"]["de"], tee.version) == (99, "T-Shirt", 2)
    assert counts(sample) == (before[0] + 2, before[1] + 2)  # one version, one event each
    # References and the search index are written like single saves write them.
    try:
        sample.catalog.delete("Brand", "acme", author="t")
        raise AssertionError("the brand is referenced by N-1 and TS-1")
    except StillReferenced as exc:
        assert {e.field for e in exc.errors} == {"Product/N-1", "Product/TS-1"}
    found = sample.search.search(
        SearchRequest(("Product",), TextQuery("new", tuple(query_tokens("new"))), "en")
    )
    assert [o.key for o in found.objects] == ["N-1"]


def test_saving_the_same_batch_again_changes_nothing(sample: Hub) -> None:
    items = [{"sku": f"R-{i}", "name": {"en": f"Repeat {i}"}, "brand": "acme"} for i in range(5)]
    assert {r.outcome for r in save(sample, items)} == {Outcome.CREATED}
    before = counts(sample)
    assert {r.outcome for r in save(sample, items)} == {Outcome.UNCHANGED}
    assert counts(sample) == before


def test_modes_refuse_what_they_do_not_do(sample: Hub) -> None:
    created = save(
        sample, [{"sku": "TS-1"}, {"sku": "M-1", "name": {"en": "M"}}], mode=WriteMode.CREATE
    )
    assert outcomes(created) == [("TS-1", "failed"), ("M-1", "created")]
    assert created[0].errors[0].code == "unique"
    updated = save(sample, [{"sku": "TS-1", "stock": 1}, {"sku": "M-9"}], mode=WriteMode.UPDATE)
    assert outcomes(updated) == [("TS-1", "updated"), ("M-9", "failed")]
    assert updated[1].errors[0].code == "not-found"


def test_nothing_is_kept_without_commit(sample: Hub) -> None:
    before, documents = counts(sample), sample.search.size()
    with sample.catalog.batch_writer("Product", author="import") as writer:
        assert writer.save([{"sku": "G-1", "name": {"en": "Ghost"}}])[0].outcome == Outcome.CREATED
    assert counts(sample) == before
    assert sample.search.size() == documents


def test_a_batch_replaces_the_documents_of_updated_objects_and_adds_those_of_new_ones(
    sample: Hub,
) -> None:
    def found(word: str) -> list[str]:
        request = SearchRequest(("Product",), TextQuery(word, tuple(query_tokens(word))), "en")
        return sorted(o.key for o in sample.search.search(request).objects)

    save(sample, [{"sku": "W-1", "name": {"en": "Walrus"}}])
    documents = sample.search.size()
    results = save(
        sample,
        [{"sku": "W-1", "name": {"en": "Narwhal"}}, {"sku": "W-2", "name": {"en": "Walrus"}}],
    )
    assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.CREATED]
    assert found("walrus") == ["W-2"] and found("narwhal") == ["W-1"]
    assert sample.search.size() == documents + 1


def test_a_precheck_stands_in_for_validation_of_new_items_of_the_checked_class_version(
    sample: Hub,
) -> None:
    with sample.catalog.batch_writer("Product", author="import") as writer:
        definition = writer.definition
    # Stand-ins that differ from what validating the items gives show which result is used.
    used, stale, existing = (checked_for(definition, sku) for sku in ("C-1", "C-2", "TS-1"))
    stale = Checked(stale.class_name, stale.class_version - 1, stale.results)
    with sample.catalog.batch_writer("Product", author="import") as writer:
        writer.save([raw("C-1")], used)
        writer.save([raw("C-2")], stale)  # the class changed since: validated afresh
        writer.save([raw("TS-1")], existing)  # exists: merged and validated afresh
        writer.commit()

    def name(sku: str) -> Any:
        return sample.catalog.get_object("Product", sku, include_drafts=True).values["name"]

    assert name("C-1") == {"en": "Checked ahead"}
    assert name("C-2") == {"en": "Raw"}
    assert name("TS-1")["en"] == "Raw"


def raw(sku: str) -> dict[str, Any]:
    return {"sku": sku, "name": {"en": "Raw"}}


def checked_for(definition: Any, sku: str) -> Checked:
    checked = precheck(definition, [raw(sku)], None)
    checked.results[0][0]["name"] = {"en": "Checked ahead"}
    return checked


def test_batches_of_one_unit_of_work_see_what_earlier_batches_wrote(sample: Hub) -> None:
    # An abort-mode import is one unit of work: a later batch may update what an earlier one
    # created, and each change gets its own version, event and documents.
    before = counts(sample)
    with sample.catalog.batch_writer("Product", author="import") as writer:
        first = writer.save([{"sku": "H-1", "name": {"en": "Heron"}, "brand": "acme"}])
        second = writer.save([{"sku": "H-1", "name": {"en": "Hobby"}}])
        third = writer.save([{"sku": "H-1", "stock": 3}])
        writer.commit()
    assert [r.outcome for r in (*first, *second, *third)] == [
        Outcome.CREATED,
        Outcome.UPDATED,
        Outcome.UPDATED,
    ]
    assert counts(sample) == (before[0] + 3, before[1] + 3)
    versions = sample.catalog.list_versions("Product", "H-1", include_drafts=True)
    assert sorted(v.version for v in versions) == [1, 2, 3]
    request = SearchRequest(("Product",), TextQuery("hobby", tuple(query_tokens("hobby"))), "en")
    assert [o.key for o in sample.search.search(request).objects] == ["H-1"]
    heron = SearchRequest(("Product",), TextQuery("heron", tuple(query_tokens("heron"))), "en")
    assert sample.search.search(heron).objects == []
    try:
        sample.catalog.delete("Brand", "acme", author="t")
        raise AssertionError("H-1 still refers to the brand")
    except StillReferenced as exc:
        assert "Product/H-1" in {e.field for e in exc.errors}
