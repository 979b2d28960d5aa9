"""Rate limits: token buckets per API key (or OIDC subject, admin user) and per client
address, shared by every process through a store (memory, the database, Redis).

The buckets follow GCRA (the generic cell rate algorithm), which behaves exactly as a token
bucket of `burst` tokens refilled at `count / period` but keeps one number per bucket: the
theoretical arrival time (TAT) of the next request. That makes a take one atomic
read-modify-write in any store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from pimhub.catalog.errors import FieldError, InvalidInput

_RATE = re.compile(r"^([1-9][0-9]{0,8})/(second|minute|hour)$")
_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` requests per `period` seconds, all of which may come at once (the burst)."""

    count: int
    period: float

    @property
    def interval(self) -> float:
        """Seconds one request's token takes to come back."""
        return self.period / self.count

    @property
    def burst_window(self) -> float:
        """How far ahead of now the TAT may run before a request is refused."""
        return self.period

    def __str__(self) -> str:
        unit = next(name for name, seconds in _PERIODS.items() if seconds == self.period)
        return f"{self.count}/{unit}"


def parse_rate(text: str, field: str = "rate_limit") -> Rate | None:
    """`N/second|minute|hour` as a Rate; `off` as None; anything else InvalidInput."""
    text = text.strip()
    if text == "off":
        return None
    match = _RATE.match(text)
    if match is None:
        raise InvalidInput(
            f"'{text}' is not a rate; write N/second, N/minute, N/hour or off",
            [FieldError(field, "not a rate")],
        )
    return Rate(int(match.group(1)), _PERIODS[match.group(2)])


class RateLimitStore(Protocol):
    """Takes one token from `bucket`; returns 0.0 when the request may go on, else the
    seconds until it would be allowed (the Retry-After). `now` is the Unix time, passed in
    so every process and test agrees on the clock used."""

    def take(self, bucket: str, rate: Rate, now: float) -> float: ...


def gcra(tat: float | None, rate: Rate, now: float) -> tuple[float, float]:
    """One GCRA step: (the new TAT to store, the wait; 0.0 when allowed). A refused request
    leaves the TAT as it was, so refusals cost the client nothing more."""
    start = now if tat is None or tat < now else tat
    new_tat = start + rate.interval
    allow_at = new_tat - rate.burst_window
    if allow_at > now:
        return (tat if tat is not None else now), allow_at - now
    return new_tat, 0.0
