"""CatalogService writes on both backends: one transaction per change (object, version and
outbox row together or not at all), optimistic concurrency, references."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import (
    DuplicateKey,
    ObjectNotFound,
    StaleVersion,
    StillReferenced,
    ValidationFailed,
)
from pimhub.storage.repositories import SqlOutboxRepository
from pimhub.storage.tables import object_versions, objects, outbox

TEE = {"sku": "T-1", "name": {"en": "Tee"}, "price": {"amount": 10, "currency": "EUR"}}


def counts(hub: Hub) -> tuple[int, int, int]:
    with hub.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (objects, object_versions, outbox)
        )


def events(hub: Hub) -> list[dict[str, Any]]:
    with hub.engine.connect() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.id)).mappings().all()
    return [dict(r) for r in rows]


def test_each_save_writes_object_version_and_outbox_row(hub: Hub) -> None:
    before = counts(hub)
    created = hub.catalog.create("Product", TEE, author="alice")
    assert created.version == 1
    updated = hub.catalog.patch("Product", "T-1", {"stock": 3}, author="bob").object
    assert updated.version == 2
    hub.catalog.patch("Product", "T-1", {}, published=False, author="bob")
    hub.catalog.delete("Product", "T-1", author="carol")
    assert counts(hub)[1:] == (before[1] + 4, before[2] + 4)
    kinds = [e["event_type"] for e in events(hub)][-4:]
    assert kinds == ["object.created", "object.updated", "object.unpublished", "object.deleted"]
    versions = {v.version: v for v in _versions(hub, created.uuid)}
    assert versions[2].author == "bob"
    assert versions[2].changed_fields == ("stock",)
    assert versions[4].action.value == "deleted"


def _versions(hub: Hub, uuid: str) -> list[Any]:
    with hub.catalog.uow() as uow:
        return uow.versions.for_object(uuid)


def test_unchanged_put_is_a_no_op(hub: Hub) -> None:
    hub.catalog.put("Product", "T-1", TEE, author="a")
    before = counts(hub)
    result = hub.catalog.put("Product", "T-1", TEE, author="a")
    assert (result.created, result.changed, result.object.version) == (False, False, 1)
    assert counts(hub) == before


def test_failing_outbox_write_rolls_back_object_and_version(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.catalog.create("Product", TEE, author="a")
    before = counts(hub)

    def broken(self: SqlOutboxRepository, event: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(SqlOutboxRepository, "add", broken)
    with pytest.raises(RuntimeError):
        hub.catalog.create("Product", {**TEE, "sku": "T-2"}, author="a")
    with pytest.raises(RuntimeError):
        hub.catalog.patch("Product", "T-1", {"stock": 9}, author="a")
    assert counts(hub) == before
    assert "stock" not in hub.catalog.get_object("Product", "T-1", include_drafts=True).values


def test_invalid_values_write_nothing_and_name_every_field(hub: Hub) -> None:
    before = counts(hub)
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.create(
            "Product", {"sku": "T-9", "price": "cheap", "stock": "many", "nope": 1}, author="a"
        )
    assert {e.field for e in caught.value.errors} >= {"price", "stock", "nope"}
    assert counts(hub) == before


def test_duplicate_business_key_is_refused(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    with pytest.raises(DuplicateKey):
        hub.catalog.create("Product", TEE, author="a")
    hub.catalog.create("Product", {**TEE, "sku": "T-2"}, author="a")
    with pytest.raises(DuplicateKey):
        hub.catalog.patch("Product", "T-2", {"sku": "T-1"}, author="a")


def test_stale_expected_version_is_refused_and_writes_nothing(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    hub.catalog.patch("Product", "T-1", {"stock": 1}, expected_version=1, author="a")
    before = counts(hub)
    with pytest.raises(StaleVersion) as caught:
        hub.catalog.patch("Product", "T-1", {"stock": 2}, expected_version=1, author="a")
    assert caught.value.current_version == 2  # type: ignore[attr-defined]
    with pytest.raises(StaleVersion):
        hub.catalog.put("Product", "T-1", TEE, expected_version=1, author="a")
    with pytest.raises(StaleVersion):
        hub.catalog.delete("Product", "T-1", expected_version=1, author="a")
    assert counts(hub) == before


def test_concurrent_writers_on_the_same_version_one_wins(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def write(stock: int) -> None:
        barrier.wait()
        try:
            hub.catalog.patch("Product", "T-1", {"stock": stock}, expected_version=1, author="a")
            outcomes.append("saved")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["saved", "stale", "stale", "stale"]
    assert hub.catalog.get_object("Product", "T-1", include_drafts=True).version == 2


def test_relations_are_stored_as_uuids_and_guard_deletes(sample: Hub) -> None:
    c = sample.catalog
    product = c.get_object("Product", "TS-1", include_drafts=True)
    category = c.get_object("Category", "men-tops", include_drafts=True)
    assert product.values["category"] == category.uuid
    with pytest.raises(StillReferenced) as caught:
        c.delete("Category", "men-tops", author="a")
    assert [e.field for e in caught.value.errors] == ["Product/TS-1"]
    assert c.get_object("Category", "men-tops", include_drafts=True)

    c.delete("Category", "men-tops", force=True, author="a")
    after = c.get_object("Product", "TS-1", include_drafts=True)
    assert "category" not in after.values
    assert after.version == product.version + 1
    with pytest.raises(ObjectNotFound):
        c.get_object("Category", "men-tops", include_drafts=True)


def test_unknown_relation_target_is_a_field_error(hub: Hub) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hub.catalog.create("Product", {**TEE, "brand": "ghost"}, author="a")
    assert [e.field for e in caught.value.errors] == ["brand"]


def test_drafts_are_invisible_without_drafts_access(sample: Hub) -> None:
    with pytest.raises(ObjectNotFound):
        sample.catalog.get_object("Product", "TS-2", include_drafts=False)
    assert sample.catalog.get_object("Product", "TS-2", include_drafts=True).published is False
    with pytest.raises(ObjectNotFound):
        sample.catalog.product("TS-2", language=None, include_drafts=False)


def test_put_creates_then_replaces_and_patch_null_removes(hub: Hub) -> None:
    first = hub.catalog.put("Product", "T-1", {**TEE, "stock": 4}, author="a")
    assert first.created
    replaced = hub.catalog.put("Product", "T-1", TEE, author="a").object
    assert "stock" not in replaced.values
    hub.catalog.patch("Product", "T-1", {"description": {"en": "Soft"}}, author="a")
    patched = hub.catalog.patch("Product", "T-1", {"stock": 5, "description": None}, author="a")
    assert patched.object.values["stock"] == 5
    assert "description" not in patched.object.values
    with pytest.raises(ValidationFailed):
        hub.catalog.patch("Product", "T-1", {"name": None}, author="a")  # name is required


def test_version_diff_shows_what_changed(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    hub.catalog.patch("Product", "T-1", {"stock": 8}, author="b")
    version, changes = hub.catalog.version_diff("Product", "T-1", 2, include_drafts=True)
    assert version.author == "b"
    assert [(c.field, c.before, c.after) for c in changes] == [("stock", None, 8)]


def test_a_failing_commit_listener_does_not_make_a_committed_write_look_failed(hub: Hub) -> None:
    def broken() -> None:
        raise RuntimeError("listener bug")

    hub.units_of_work.committed.append(broken)
    saved = hub.catalog.create("Product", {**TEE, "sku": "T-HOOK"}, author="a")
    assert saved.key == "T-HOOK"
    assert hub.catalog.get_object("Product", "T-HOOK", include_drafts=True).version == 1
