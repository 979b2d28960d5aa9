"""Parallel writers on both backends (SQLite serializes them; PostgreSQL does not): a write
that names no version never gets a conflict, every version number appears exactly once,
and a deadlock or a lost race is retried instead of surfacing as an error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import CatalogError, ObjectNotFound, StaleVersion, WriteConflict
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import object_versions, outbox
from pimhub.users.passwords import Argon2Passwords

WRITERS = 20
TEE = {"sku": "T-1", "name": {"en": "Tee"}, "price": {"amount": 10, "currency": "EUR"}}


def in_parallel(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs work(0..count-1) on `count` threads released together; each outcome is the
    return value or the exception raised."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        try:
            outcomes[n] = work(n)
        except Exception as exc:  # collected and asserted on by the caller
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def version_numbers(hub: Hub, uuid: str) -> list[int]:
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(object_versions.c.version).where(object_versions.c.object_uuid == uuid)
        )
        return sorted(r.version for r in rows)


def event_versions(hub: Hub, sku: str) -> list[int]:
    with hub.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.version).where(outbox.c.business_key == sku))
        return sorted(r.version for r in rows)


def errors_of(outcomes: list[Any]) -> list[Exception]:
    return [o for o in outcomes if isinstance(o, Exception)]


def test_parallel_patches_without_a_version_all_succeed(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    outcomes = in_parallel(
        WRITERS, lambda n: hub.catalog.patch("Product", "T-1", {"stock": n}, author=f"w{n}")
    )
    assert errors_of(outcomes) == []
    obj = hub.catalog.get_object("Product", "T-1", include_drafts=True)
    assert obj.version == WRITERS + 1
    assert version_numbers(hub, obj.uuid) == list(range(1, WRITERS + 2))
    assert event_versions(hub, "T-1") == list(range(1, WRITERS + 2))


def test_parallel_patches_of_different_fields_keep_every_change(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    # Each writer changes a field of its own: the result must hold every change (a write
    # merged into a stale read would drop another's).
    changes: list[dict[str, Any]] = [
        {"stock": 3},
        {"weight": {"value": 1.5, "unit": "kg"}},
        {"featured": True},
        {"color": "red"},
        {"size": "M"},
        {"releasedOn": "2026-01-02"},
        {"material": ["cotton"]},
        {"ean": "4006381333931"},
        {"shortDescription": {"de": "kurz"}},
        {"description": {"fr": "longue"}},
    ]
    outcomes = in_parallel(
        len(changes), lambda n: hub.catalog.patch("Product", "T-1", changes[n], author="w")
    )
    assert errors_of(outcomes) == []
    obj = hub.catalog.get_object("Product", "T-1", include_drafts=True)
    for change in changes:
        for name, value in change.items():
            assert obj.values[name] == value, name
    assert obj.version == len(changes) + 1


def test_parallel_puts_of_one_new_key_create_once_then_replace(hub: Hub) -> None:
    outcomes = in_parallel(
        WRITERS,
        lambda n: hub.catalog.put("Product", "T-1", {**TEE, "stock": n}, author=f"w{n}"),
    )
    assert errors_of(outcomes) == []
    assert sum(1 for o in outcomes if o.created) == 1
    obj = hub.catalog.get_object("Product", "T-1", include_drafts=True)
    # Replacing with other values makes a version each; equal values change nothing.
    changed = sum(1 for o in outcomes if o.changed)
    assert version_numbers(hub, obj.uuid) == list(range(1, changed + 1))
    assert obj.version == changed


def test_parallel_upserts_of_one_new_key(hub: Hub) -> None:
    outcomes = in_parallel(
        WRITERS,
        lambda n: hub.catalog.upsert("Product", {**TEE, "stock": n}, author=f"w{n}"),
    )
    assert errors_of(outcomes) == []
    assert sum(1 for o in outcomes if o.created) == 1


def test_deletes_racing_puts_on_one_key_never_fail_unexpectedly(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    half = WRITERS // 2

    def work(n: int) -> Any:
        if n < half:
            return hub.catalog.delete("Product", "T-1", author=f"d{n}")
        return hub.catalog.put("Product", "T-1", {**TEE, "stock": n}, author=f"p{n}")

    outcomes = in_parallel(WRITERS, work)
    # A delete may find the object gone (404, as it would one at a time); nothing else fails.
    unexpected = [e for e in errors_of(outcomes) if not isinstance(e, ObjectNotFound)]
    assert unexpected == []
    # Every uuid's versions are 1..n with no gap or repeat.
    with hub.engine.connect() as conn:
        rows = conn.execute(select(object_versions.c.object_uuid, object_versions.c.version))
        by_uuid: dict[str, list[int]] = {}
        for r in rows:
            by_uuid.setdefault(r.object_uuid, []).append(r.version)
    for versions in by_uuid.values():
        assert sorted(versions) == list(range(1, len(versions) + 1))


def test_named_versions_still_conflict_one_wins(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    outcomes = in_parallel(
        WRITERS,
        lambda n: hub.catalog.patch("Product", "T-1", {"stock": n}, expected_version=1, author="w"),
    )
    assert sum(1 for o in outcomes if not isinstance(o, Exception)) == 1
    assert all(isinstance(e, StaleVersion) for e in errors_of(outcomes))


def test_parallel_renames_and_unique_values_stay_unique(hub: Hub) -> None:
    for n in range(4):
        hub.catalog.create("Product", {**TEE, "sku": f"T-{n}"}, author="a")
    # Every writer tries to give its product the same EAN: exactly one may hold it.
    outcomes = in_parallel(
        4,
        lambda n: hub.catalog.patch("Product", f"T-{n}", {"ean": "4006381333931"}, author="w"),
    )
    saved = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(saved) == 1
    assert all(isinstance(e, CatalogError) for e in errors_of(outcomes))


def test_batch_import_racing_api_writes(hub: Hub) -> None:
    """An import batch and single writes to the same keys: both land, versions stay 1..n."""
    keys = [f"B-{n}" for n in range(50)]

    def work(n: int) -> Any:
        if n == 0:
            with hub.catalog.batch_writer("Product", mode=WriteMode.UPSERT, author="i") as w:
                results = w.save([{**TEE, "sku": k, "stock": 1} for k in keys])
                w.commit()
                return results
        key = keys[n * 2]
        return hub.catalog.put("Product", key, {**TEE, "sku": key, "stock": 100 + n}, author="p")

    outcomes = in_parallel(10, work)
    assert errors_of(outcomes) == []
    assert all(r.outcome.value != "failed" for r in outcomes[0])
    with hub.engine.connect() as conn:
        rows = conn.execute(select(object_versions.c.object_uuid, object_versions.c.version))
        by_uuid: dict[str, list[int]] = {}
        for r in rows:
            by_uuid.setdefault(r.object_uuid, []).append(r.version)
    assert len(by_uuid) == len(keys)
    for versions in by_uuid.values():
        assert sorted(versions) == list(range(1, len(versions) + 1))


SUPPLIER = {"name": "Supplier", "businessKey": "code", "fields": [{"name": "code", "type": "text"}]}


def test_parallel_class_replacements_without_a_version(hub: Hub) -> None:
    hub.classes.create(SUPPLIER, author="a")
    # Each writer adds a field of its own to what it read: conflicting writes, none of
    # which named a version, all land one after the other.
    outcomes = in_parallel(
        10,
        lambda n: hub.classes.replace(
            "Supplier",
            {**SUPPLIER, "fields": [*SUPPLIER["fields"], {"name": f"f{n}", "type": "text"}]},
            author="w",
        ),
    )
    assert errors_of(outcomes) == []
    assert sorted(o.version for o in outcomes) == list(range(2, 12))


def test_parallel_class_changes_and_object_writes(hub: Hub) -> None:
    """A class change waits for the object writes of its class and the other way round:
    no object is written against a definition being replaced."""
    hub.classes.create(SUPPLIER, author="a")

    def work(n: int) -> Any:
        if n % 2:
            return hub.catalog.put("Supplier", f"s-{n}", {"code": f"s-{n}"}, author="w")
        fields = [*SUPPLIER["fields"], {"name": f"f{n}", "type": "text"}]
        return hub.classes.replace("Supplier", {**SUPPLIER, "fields": fields}, author="c")

    assert errors_of(in_parallel(10, work)) == []


def test_parallel_datahub_writes_without_a_version(hub: Hub) -> None:
    config = {"name": "shop", "classes": {"Brand": {}}}
    created = in_parallel(10, lambda n: hub.datahub.replace("shop", config, author="w"))
    assert errors_of(created) == []
    assert sum(1 for _, was_created in created if was_created) == 1
    outcomes = in_parallel(
        10,
        lambda n: hub.datahub.replace(
            "shop", {**config, "limits": {"maxAliases": 31 + n}}, author="w"
        ),
    )
    assert errors_of(outcomes) == []
    assert hub.datahub.get("shop").version == 11


def test_parallel_import_profile_saves(hub: Hub) -> None:
    outcomes = in_parallel(
        10,
        lambda n: hub.import_profiles.save(
            "nightly",
            source="https://example.com/feed.csv",
            mapping="magento-products",
            cron=f"{n} 2 * * *",
        ),
    )
    assert errors_of(outcomes) == []
    assert len(hub.import_profiles.all()) == 1


def test_a_deadlock_becomes_a_retryable_write_conflict(hub: Hub) -> None:
    """Two transactions that update two rows in opposite orders: PostgreSQL kills one with
    a deadlock, which the storage hands on as WriteConflict (retryable), not as a raw
    database error that the API would answer with a 500."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: two writers cannot deadlock")
    for key in ("A", "B"):
        hub.catalog.create("Product", {**TEE, "sku": key}, author="a")
    barrier = threading.Barrier(2)
    bump = text("UPDATE objects SET version = version + 1 WHERE business_key = :k")

    def work(n: int) -> None:
        first, second = ("A", "B") if n == 0 else ("B", "A")
        with begin_write(hub.engine) as conn:
            conn.execute(bump, {"k": first})
            barrier.wait()
            conn.execute(bump, {"k": second})

    outcomes = in_parallel(2, work)
    conflicts = [o for o in outcomes if isinstance(o, WriteConflict)]
    assert len(conflicts) == 1 and conflicts[0].retryable, outcomes
    assert outcomes.count(None) == 1


# Write paths the admin UI added (issue 18): each also runs without a version named.


def test_parallel_restores_without_a_version_all_succeed(hub: Hub) -> None:
    hub.catalog.create("Product", TEE, author="a")
    hub.catalog.patch("Product", "T-1", {"stock": 5}, author="a")
    outcomes = in_parallel(
        WRITERS,
        lambda n: hub.catalog.restore(
            "Product", "T-1", 1 + n % 2, expected_version=None, author=f"w{n}"
        ),
    )
    assert errors_of(outcomes) == []
    obj = hub.catalog.get_object("Product", "T-1", include_drafts=True)
    assert version_numbers(hub, obj.uuid) == list(range(1, obj.version + 1))
    assert event_versions(hub, "T-1") == list(range(1, obj.version + 1))


def test_parallel_saves_of_one_saved_view_name_keep_one(hub: Hub) -> None:
    hub.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
    user = hub.users.create("viewsaver", "a long enough password", "viewer")
    outcomes = in_parallel(
        WRITERS,
        lambda n: hub.saved_views.save(user.id, "Product", "mine", f"q=tee&first={n + 25}"),
    )
    assert errors_of(outcomes) == []
    assert [v.name for v in hub.saved_views.list(user.id, "Product")] == ["mine"]


def test_parallel_resumes_of_one_endpoint_all_succeed(hub: Hub) -> None:
    endpoint = hub.webhooks.create({"url": "http://127.0.0.1:9/hook"}).endpoint
    outcomes = in_parallel(WRITERS, lambda n: hub.webhooks.resume(endpoint.endpoint_id))
    assert errors_of(outcomes) == []
