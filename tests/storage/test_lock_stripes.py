"""Object write locks fold into a bounded number of stripes, so that one transaction writing
thousands of keys (an import batch, a parent listing its variants) cannot fill PostgreSQL's
shared lock table ("out of shared memory") for every other writer."""

from __future__ import annotations

from sqlalchemy import text

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import Outcome
from pimhub.storage.locks import OBJECT_LOCK_STRIPES, stripe_key


def object_locks_held(hub: Hub) -> tuple[int, int]:
    """(stripe locks, other advisory locks) granted right now, by any session."""
    key = "((classid::bigint << 32) | objid::bigint)"
    base = stripe_key("") - stripe_key("") % OBJECT_LOCK_STRIPES  # stripes start at a multiple
    query = text(
        f"SELECT count(*) FILTER (WHERE {key} BETWEEN :low AND :high), "
        f"count(*) FILTER (WHERE NOT {key} BETWEEN :low AND :high) "
        "FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    )
    with hub.engine.connect() as conn:
        row = conn.execute(query, {"low": base, "high": base + OBJECT_LOCK_STRIPES - 1}).one()
        return int(row[0]), int(row[1])


def test_stripe_keys_are_bounded_and_stable() -> None:
    keys = {stripe_key(f"Product\x1fkey\x1fSKU-{n}") for n in range(20_000)}
    assert len(keys) == OBJECT_LOCK_STRIPES
    assert stripe_key("Product\x1fkey\x1fA") == stripe_key("Product\x1fkey\x1fA")


def test_a_batch_of_thousands_holds_at_most_one_lock_per_stripe(hub: Hub) -> None:
    if hub.engine.dialect.name != "postgresql":
        return  # SQLite takes no locks of this kind: one writer at a time
    rows = [
        {"sku": f"S-{n}", "name": {"en": f"n{n}"}, "ean": f"{40000000 + n}"} for n in range(3000)
    ]
    with hub.catalog.batch_writer("Product", author="t") as writer:
        results = writer.save(rows)
        stripes, others = object_locks_held(hub)
        writer.commit()
    assert {r.outcome for r in results} == {Outcome.CREATED}
    # 6,000 names (keys and EANs) in at most one lock per stripe; the other advisory
    # locks are the class's own, and any other session's.
    assert OBJECT_LOCK_STRIPES * 0.9 < stripes <= OBJECT_LOCK_STRIPES
    assert others < 50
