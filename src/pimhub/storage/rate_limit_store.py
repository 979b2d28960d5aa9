"""Rate-limit buckets in the database (access.rate_limits): shared by every process on it.

A take is one statement that reads the bucket's TAT, applies GCRA and writes the new TAT
(an INSERT ... ON CONFLICT DO UPDATE ... WHERE), so parallel takers from any process
serialize on the bucket's row and can never spend one token twice. On PostgreSQL the same
statement also reads the TAT a refusal was measured against, for the Retry-After; SQLite
allows no data-modifying CTE, so there a refusal reads it in the same transaction, which
holds the write lock.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from pimhub.access.rate_limits import TOLERANCE, Rate
from pimhub.storage.engine import begin_write

# The GCRA step of access.rate_limits.gcra, in SQL: start at max(tat, now); allowed when the
# new TAT minus the burst window is not after now. A refused take leaves the row alone.
_UPSERT = """
INSERT INTO rate_limits (bucket, tat) VALUES (:bucket, :now + :interval)
ON CONFLICT (bucket) DO UPDATE
SET tat = {greatest}(rate_limits.tat, :now) + :interval
WHERE {greatest}(rate_limits.tat, :now) + :interval - :window <= :now + {tolerance}
RETURNING tat
"""
_POSTGRES = text(
    "WITH previous AS (SELECT tat FROM rate_limits WHERE bucket = :bucket), "
    f"taken AS ({_UPSERT.format(greatest='GREATEST', tolerance=TOLERANCE)}) "
    "SELECT (SELECT tat FROM taken), (SELECT tat FROM previous)"
)
_SQLITE = text(_UPSERT.format(greatest="max", tolerance=TOLERANCE))
_SQLITE_TAT = text("SELECT tat FROM rate_limits WHERE bucket = :bucket")
# Rows whose TAT has passed are worth nothing (a missing row is the same bucket); a bounded
# batch is deleted now and then so an address scan does not grow the table for good.
_PRUNE = text(
    "DELETE FROM rate_limits WHERE bucket IN "
    "(SELECT bucket FROM rate_limits WHERE tat < :now LIMIT 1000)"
)
PRUNE_EVERY = 10_000


class SqlRateLimitStore:
    blocking = True  # a take waits on the database: callers run it off the event loop

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._takes = 0

    def take(self, bucket: str, rate: Rate, now: float) -> float:
        params = {
            "bucket": bucket,
            "now": now,
            "interval": rate.interval,
            "window": rate.burst_window,
        }
        self._takes += 1
        prune = self._takes % PRUNE_EVERY == 0
        previous: float | None = None
        if self._postgres:
            # One statement is atomic on its own: in autocommit it is one round trip, where a
            # transaction around it would add a BEGIN and a COMMIT.
            with self._autocommit.connect() as conn:
                if prune:
                    conn.execute(_PRUNE, {"now": now})
                taken, previous = conn.execute(_POSTGRES, params).one()
        else:
            with begin_write(self.engine) as conn:
                if prune:
                    conn.execute(_PRUNE, {"now": now})
                taken = conn.execute(_SQLITE, params).scalar()
                if taken is None:
                    previous = conn.execute(_SQLITE_TAT, params).scalar()
        if taken is not None:
            return 0.0
        if previous is None:
            # Refused against a row this statement's snapshot did not see (created by a
            # parallel take a moment ago): the bucket is full for about one interval.
            return rate.interval
        return max(float(previous) + rate.interval - rate.burst_window - now, 0.001)
