"""Named write locks held until the transaction ends.

PostgreSQL runs writers side by side, so a check-then-write (is this business key free? is
this EAN taken? which version is current?) can interleave with another writer's. Writers
that lock the names they are about to check first (business keys, unique values) run
those sections one after the other per name, while writers of other names go on in
parallel. SQLite already lets one writer at a time in (BEGIN IMMEDIATE), so there it is a
no-op.

Locks are PostgreSQL transaction-level advisory locks keyed by a 64-bit hash of the name: a
collision only makes two unrelated writers wait for each other. They are taken in
ascending key order in one statement, so two writers locking overlapping sets cannot
deadlock on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

from sqlalchemy import Connection, text

_LOCK_SORTED = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
)
_LOCK_SHARED_SORTED = text(
    "SELECT pg_advisory_xact_lock_shared(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
)


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of `name`."""
    digest = blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# Object locks fold into this many stripes. PostgreSQL keeps every lock a transaction holds
# in one shared table (max_locks_per_transaction x max_connections slots, 6,400 by default)
# and answers "out of shared memory" when it is full: an import batch of 1,000 products (a
# business key and an EAN each) or a parent row listing thousands of variants took a lock
# per name. Striped, a transaction holds at most this many object locks; two writers of
# different names wait for each other only when their names share a stripe (1 in 1,024).
OBJECT_LOCK_STRIPES = 1024
_STRIPE_BASE = 0x5049_4D00_0000  # "PIM": keeps stripes apart from the unstriped class locks


def stripe_key(name: str) -> int:
    """The advisory-lock key of `name`'s stripe."""
    return _STRIPE_BASE + lock_key(name) % OBJECT_LOCK_STRIPES


def lock_names(
    conn: Connection, names: Iterable[str], *, shared: bool = False, striped: bool = False
) -> None:
    """Locks every name until the transaction ends; `shared` locks exclude only exclusive
    ones (many object writers of a class, but not while its definition changes); `striped`
    locks each name's stripe instead (see OBJECT_LOCK_STRIPES)."""
    if conn.dialect.name != "postgresql":
        return
    key = stripe_key if striped else lock_key
    lock_keys(conn, {key(n) for n in names}, shared=shared)


def lock_keys(conn: Connection, keys: Iterable[int], *, shared: bool = False) -> None:
    """Takes these advisory-lock keys until the transaction ends, in ascending order in one
    statement (PostgreSQL only; callers check the dialect)."""
    ordered = sorted(set(keys))
    if ordered:
        conn.execute(_LOCK_SHARED_SORTED if shared else _LOCK_SORTED, {"keys": ordered}).all()
