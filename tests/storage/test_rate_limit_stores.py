"""Rate limits: GCRA with a fake clock, the limiter's rules, and each store (memory; the
database on SQLite and PostgreSQL; Redis) holding its burst under parallel takers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from pimhub.access.rate_limits import (
    MemoryRateLimitStore,
    Rate,
    RateLimiter,
    RateLimitStore,
    gcra,
    parse_rate,
)
from pimhub.bootstrap import rate_limiter
from pimhub.settings import Settings
from pimhub.storage.rate_limit_store import SqlRateLimitStore
from pimhub.storage.redis_rate_limits import RedisRateLimitStore
from tests.conftest import empty_database

NOW = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def test_gcra_allows_the_burst_then_one_per_interval() -> None:
    rate = Rate(3, 60.0)  # a token every 20 s, 3 at once
    tat = None
    waits = []
    for _ in range(4):
        tat, wait = gcra(tat, rate, NOW)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.0, pytest.approx(20.0)]
    # A refusal leaves the TAT alone: asking again costs nothing more.
    assert gcra(tat, rate, NOW) == (tat, pytest.approx(20.0))
    assert gcra(tat, rate, NOW + 19.9)[1] == pytest.approx(0.1)
    assert gcra(tat, rate, NOW + 20.0)[1] == 0.0
    # After a full period of quiet the whole burst is back.
    quiet = None if tat is None else tat
    for _ in range(3):
        quiet, wait = gcra(quiet, rate, NOW + 200)
        assert wait == 0.0


def test_parse_rate() -> None:
    assert parse_rate("1200/minute") == Rate(1200, 60.0)
    assert str(parse_rate("5/second")) == "5/second"
    assert parse_rate("off") is None
    with pytest.raises(Exception, match="not a rate"):
        parse_rate("5 per minute")


def test_limiter_own_rate_wins_and_off_means_none() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        MemoryRateLimitStore(), per_address=Rate(2, 60), per_principal=Rate(2, 60), clock=clock
    )
    assert [limiter.take_principal("key:a") for _ in range(3)][2] > 0
    assert all(limiter.take_principal("key:b", "5/minute") == 0 for _ in range(5))
    assert limiter.take_principal("key:b", "5/minute") > 0
    assert all(limiter.take_principal("key:c", "off") == 0 for _ in range(50))
    assert [limiter.take_address("10.0.0.1") for _ in range(3)][2] == pytest.approx(30.0)
    assert limiter.take_address("10.0.0.2") == 0.0  # its own bucket
    clock.now += 30
    assert limiter.take_address("10.0.0.1") == 0.0


class BrokenStore:
    blocking = True

    def __init__(self) -> None:
        self.calls = 0

    def take(self, bucket: str, rate: Rate, now: float) -> float:
        self.calls += 1
        raise ConnectionError("redis is down")


def test_a_failing_store_lets_requests_through_and_is_skipped_for_a_while() -> None:
    clock, store, failures = FakeClock(), BrokenStore(), []
    limiter = RateLimiter(
        store, per_address=Rate(1, 60), per_principal=None, clock=clock, on_failure=failures.append
    )
    assert [limiter.take_address("10.0.0.1") for _ in range(5)] == [0.0] * 5
    assert store.calls == 1 and len(failures) == 1  # not a timeout per request
    clock.now += 6
    assert limiter.take_address("10.0.0.1") == 0.0
    assert store.calls == 2 and len(failures) == 2


def test_memory_store_sweeps_spent_buckets() -> None:
    store = MemoryRateLimitStore(sweep_above=10)
    for n in range(10):
        store.take(f"addr:{n}", Rate(1, 1), NOW)
    store.take("addr:late", Rate(1, 1), NOW + 5)  # the others' TATs have passed
    assert store.take("addr:late", Rate(1, 1), NOW + 5) > 0
    assert len(store._tats) == 1


def takes_in_parallel(
    store: RateLimitStore, bucket: str, rate: Rate, threads: int, each: int
) -> int:
    """How many of threads x each takes at one instant were allowed."""
    allowed = [0] * threads
    start = threading.Barrier(threads)

    def run(n: int) -> None:
        start.wait()
        for _ in range(each):
            if store.take(bucket, rate, NOW) == 0.0:
                allowed[n] += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(allowed)


def test_memory_store_parallel_takers_never_pass_the_burst() -> None:
    assert takes_in_parallel(MemoryRateLimitStore(), "b", Rate(25, 3600), 8, 10) == 25


@pytest.fixture
def sql_store(engine: Engine) -> Iterator[SqlRateLimitStore]:
    empty_database(engine)
    yield SqlRateLimitStore(engine)


def test_database_store_follows_gcra(sql_store: SqlRateLimitStore) -> None:
    rate = Rate(3, 60.0)
    assert [sql_store.take("key:x", rate, NOW) for _ in range(3)] == [0.0] * 3
    assert sql_store.take("key:x", rate, NOW) == pytest.approx(20.0)
    assert sql_store.take("key:x", rate, NOW + 5) == pytest.approx(15.0)
    assert sql_store.take("key:x", rate, NOW + 20) == 0.0
    assert sql_store.take("key:y", rate, NOW) == 0.0  # its own bucket
    with sql_store.engine.connect() as conn:
        tat = conn.execute(text("SELECT tat FROM rate_limits WHERE bucket = 'key:x'")).scalar()
    assert tat == pytest.approx(NOW + 80.0)


def test_database_store_parallel_takers_never_pass_the_burst(
    sql_store: SqlRateLimitStore,
) -> None:
    # On PostgreSQL the takers race on inserting the bucket's row and then on updating it.
    assert takes_in_parallel(sql_store, "addr:10.0.0.9", Rate(25, 3600), 8, 10) == 25


def test_database_store_prunes_spent_buckets(
    sql_store: SqlRateLimitStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pimhub.storage.rate_limit_store.PRUNE_EVERY", 5)
    for n in range(4):
        sql_store.take(f"addr:{n}", Rate(1, 1), NOW)
    sql_store.take("addr:late", Rate(1, 1), NOW + 10)  # the fifth take prunes first
    with sql_store.engine.connect() as conn:
        left = conn.execute(text("SELECT bucket FROM rate_limits")).scalars().all()
    assert left == ["addr:late"]


@pytest.fixture
def redis_store(redis_url: str) -> RedisRateLimitStore:
    return RedisRateLimitStore.from_url(redis_url)


def test_redis_store_follows_gcra_and_expires_buckets(redis_store: RedisRateLimitStore) -> None:
    bucket, rate, now = f"test:{uuid.uuid4().hex}", Rate(3, 60.0), time.time()
    assert [redis_store.take(bucket, rate, now) for _ in range(3)] == [0.0] * 3
    assert redis_store.take(bucket, rate, now) == pytest.approx(20.0, abs=1e-3)
    assert redis_store.take(bucket, rate, now + 20) == 0.0
    ttl = redis_store.client.pttl(redis_store.prefix + bucket)
    assert 0 < ttl <= 80_000


def test_redis_store_parallel_takers_never_pass_the_burst(
    redis_store: RedisRateLimitStore,
) -> None:
    bucket = f"test:{uuid.uuid4().hex}"
    assert takes_in_parallel(redis_store, bucket, Rate(25, 3600), 8, 10) == 25


def test_store_selection(engine: Engine, redis_url: str) -> None:
    base = Settings(database_url=str(engine.url))
    chosen = rate_limiter(base, engine).store
    expected = SqlRateLimitStore if engine.dialect.name == "postgresql" else MemoryRateLimitStore
    assert type(chosen) is expected
    assert type(rate_limiter(base.model_copy(update={"redis_url": redis_url}), engine).store) is (
        RedisRateLimitStore
    )
    forced = base.model_copy(update={"rate_limit_store": "database"})
    assert type(rate_limiter(forced, engine).store) is SqlRateLimitStore
    with pytest.raises(ValueError, match="PIMHUB_REDIS_URL"):
        rate_limiter(base.model_copy(update={"rate_limit_store": "redis"}), engine)


def test_a_redis_that_does_not_answer_fails_open() -> None:
    failures: list[Exception] = []
    limiter = RateLimiter(
        RedisRateLimitStore.from_url("redis://127.0.0.1:9/0", timeout=0.2),  # discard port
        per_address=Rate(1, 60),
        per_principal=None,
        on_failure=failures.append,
    )
    assert limiter.take_address("10.0.0.1") == 0.0
    assert limiter.take_address("10.0.0.1") == 0.0
    assert len(failures) == 1
