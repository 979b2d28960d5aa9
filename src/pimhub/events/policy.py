"""When to retry a failed delivery, when to pause an endpoint, when to give up on one."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

# Spans about 85 hours before jitter, so even with every delay jittered down by the full 10 %
# the last attempt comes more than 72 hours after the first: long enough to ride out a weekend.
DEFAULT_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
# No sign is allowed; 0 needs no case of its own: next_delay only lets a longer wait win.
_DELAY_SECONDS = re.compile(r"\s*[0-9]+\s*")


@dataclass(frozen=True)
class RetryPolicy:
    """`schedule[n]` is the wait after the (n+1)-th failed attempt; past its end the delivery is
    dead-lettered. Each wait is scaled by a random factor in [1 - jitter, 1 + jitter] so that
    endpoints recovering from an outage are not hit by every retry in the same second."""

    schedule: Sequence[timedelta] = DEFAULT_SCHEDULE
    jitter: float = 0.1
    max_retry_after: timedelta = timedelta(hours=24)
    rng: Callable[[], float] = field(default=random.random, compare=False)

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def next_delay(self, attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
        """The wait before the next attempt after `attempts` failed ones, or None when the
        schedule is used up. A receiver's `Retry-After` is honoured (up to a cap) when it asks
        for longer than the schedule would wait."""
        if attempts > len(self.schedule):
            return None
        base = self.schedule[attempts - 1]
        delay = base * (1 + self.jitter * (2 * self.rng() - 1))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


@dataclass(frozen=True)
class CircuitPolicy:
    """After `threshold` failures in a row an endpoint is paused instead of being sent every due
    retry; the pause doubles on each further failure up to `max_pause` (at most 16 times, so no
    run of failures can overflow it). An endpoint that has failed without a single success for
    `disable_after` is disabled."""

    threshold: int = 5
    first_pause: timedelta = timedelta(seconds=30)
    max_pause: timedelta = timedelta(minutes=30)
    disable_after: timedelta = timedelta(days=5)

    def pause_for(self, consecutive_failures: int) -> timedelta | None:
        if consecutive_failures < self.threshold:
            return None
        doublings = min(consecutive_failures - self.threshold, 16)
        return min(self.first_pause * (1 << doublings), self.max_pause)


def parse_retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` in seconds (RFC 9110 delay-seconds), or None without one; the HTTP-date
    form is rare for webhooks and is ignored. The value comes from the receiver: never raises."""
    if value is None or not _DELAY_SECONDS.fullmatch(value):
        return None
    try:
        return timedelta(seconds=int(value))
    except (OverflowError, ValueError):
        # More digits than int() parses or seconds than a timedelta holds (a broken or hostile
        # receiver): the longest wait, which next_delay caps.
        return timedelta.max
