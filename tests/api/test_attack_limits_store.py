"""Attack: Redis black-holed (a port that accepts and never answers) under a burst. Every
request in flight waited out the socket timeout and each logged its own
`rate_limits.store_failed` warning (40 per burst against a real serve), although the failure
is to be logged once per retry period. Requests must still all be let through."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from pimhub.access.rate_limits import STORE_RETRY_SECONDS, Rate, RateLimiter

TAKERS = 8


class BlackHole:
    """A store whose takes all hang until every taker is waiting, then time out."""

    blocking = True

    def __init__(self) -> None:
        self.barrier = threading.Barrier(TAKERS)

    def take(self, bucket: str, rate: Rate, now: float) -> float:
        self.barrier.wait(timeout=10)
        raise TimeoutError("Timeout reading from socket")


def test_parallel_failures_are_logged_once_and_let_through() -> None:
    failures: list[Exception] = []
    clock = [1000.0]
    limiter = RateLimiter(
        BlackHole(),
        per_address=Rate(1, 60.0),
        per_principal=Rate(1, 60.0),
        clock=lambda: clock[0],
        on_failure=failures.append,
    )
    with ThreadPoolExecutor(TAKERS) as pool:
        waits = list(pool.map(lambda i: limiter.take_address(f"10.0.0.{i}"), range(TAKERS)))
    assert waits == [0.0] * TAKERS  # fail open
    assert len(failures) == 1 and isinstance(failures[0], TimeoutError)
    assert limiter.take_principal("key:abc") == 0.0  # skipped while the period lasts
    assert len(failures) == 1
    clock[0] += STORE_RETRY_SECONDS + 1  # asked again after the period, and logged again
    limiter.store = _Failing()
    assert limiter.take_principal("key:abc") == 0.0
    assert len(failures) == 2


class _Failing:
    blocking = True

    def take(self, bucket: str, rate: Rate, now: float) -> float:
        raise ConnectionError("Connection refused")
