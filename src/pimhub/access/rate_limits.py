"""Rate limits: token buckets per API key (or OIDC subject, admin user) and per client
address, shared by every process through a store (memory, the database, Redis).

The buckets follow GCRA (the generic cell rate algorithm), which behaves exactly as a token
bucket of `burst` tokens refilled at `count / period` but keeps one number per bucket: the
theoretical arrival time (TAT) of the next request. That makes a take one atomic
read-modify-write in any store.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from pimhub.catalog.errors import FieldError, InvalidInput

_RATE = re.compile(r"^([1-9][0-9]{0,8})/(second|minute|hour)$")
_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
# Sums of fractional Unix times round: a TAT that lands this close past its limit counts as
# on it, or the last token of a burst could be refused for a rounding error.
TOLERANCE = 1e-6


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
    if allow_at - now > TOLERANCE:
        return (tat if tat is not None else now), allow_at - now
    return new_tat, 0.0


class MemoryRateLimitStore:
    """Buckets in this process's memory: right for one process (SQLite), where a take costs
    a dict lookup. Buckets whose TAT has passed are worth nothing (a fresh bucket is the
    same), so they are swept when the dict grows past `sweep_above`; an address scan cannot
    grow it without bound."""

    blocking = False  # a take never waits on I/O: callers may run it on the event loop

    def __init__(self, sweep_above: int = 100_000) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sweep_above = sweep_above
        self._sweep_at = sweep_above

    def take(self, bucket: str, rate: Rate, now: float) -> float:
        with self._lock:
            tat, wait = gcra(self._tats.get(bucket), rate, now)
            self._tats[bucket] = tat
            if len(self._tats) > self._sweep_at:
                self._sweep(now)
            return wait

    def _sweep(self, now: float) -> None:
        self._tats = {b: t for b, t in self._tats.items() if t > now}
        # When most buckets are still live the next sweep waits until the dict doubles:
        # sweeping again on every take would cost a pass over all of them each time.
        self._sweep_at = max(self._sweep_above, 2 * len(self._tats))


@lru_cache(maxsize=4096)
def address_bucket(address: str) -> str:
    """The bucket of a client address: an IPv6 address's /64 (a client is given a whole /64
    and could otherwise take a fresh bucket per address), an IPv4-mapped address's IPv4
    address; anything that is not an IP address as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


# A store that failed is skipped for this long (fail open at once, not after a timeout on
# every request), and its failure logged at most once per period.
STORE_RETRY_SECONDS = 5.0
_LONGEST_BUCKET = 200  # rate_limits.bucket; longer names (an OIDC subject) are hashed


class RateLimiter:
    """The hub's two limits: one bucket per client address and one per principal (an API
    key, an OIDC subject, an admin user), whose own rate wins over the default. A store that
    fails (Redis down) lets requests through: a limiter outage must not become an API
    outage. Each take returns 0.0 (go on) or the seconds to wait."""

    def __init__(
        self,
        store: RateLimitStore | None,
        *,
        per_address: Rate | None,
        per_principal: Rate | None,
        clock: Callable[[], float] = time.time,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        self.store = store
        self.per_address = per_address
        self.per_principal = per_principal
        self.clock = clock
        self.on_failure = on_failure
        # Whether a take may wait on I/O (the database, Redis): then it leaves the loop.
        self.blocking: bool = getattr(store, "blocking", True) if store is not None else False
        self._own_rates: dict[str, Rate | None] = {}
        self._skip_until = 0.0
        self._failure_lock = threading.Lock()

    def take_address(self, address: str) -> float:
        """Takes from the bucket of the client `address`."""
        if self.per_address is None:
            return 0.0
        return self._take("addr:" + address_bucket(address), self.per_address)

    def take_principal(self, principal: str, own_rate: str | None = None) -> float:
        """Takes from the bucket of `principal` (`key:<id>`, `oidc:<subject>`,
        `user:<name>`) at its `own_rate` when it has one ("off": no limit)."""
        rate = self.per_principal if own_rate is None else self._own_rate(own_rate)
        if rate is None:
            return 0.0
        return self._take(principal, rate)

    def rate_of(self, own_rate: str | None) -> Rate | None:
        """The rate a principal with `own_rate` is held to."""
        return self.per_principal if own_rate is None else self._own_rate(own_rate)

    def _own_rate(self, text: str) -> Rate | None:
        try:
            return self._own_rates[text]
        except KeyError:
            pass
        try:
            rate = parse_rate(text)
        except InvalidInput:
            rate = self.per_principal  # stored before validation existed: the default
        if len(self._own_rates) < 10_000:
            self._own_rates[text] = rate
        return rate

    def _take(self, bucket: str, rate: Rate) -> float:
        store = self.store
        if store is None:
            return 0.0
        now = self.clock()
        if now < self._skip_until:
            return 0.0
        if len(bucket) > _LONGEST_BUCKET:
            bucket = "sha256:" + hashlib.sha256(bucket.encode()).hexdigest()
        try:
            return store.take(bucket, rate, now)
        except Exception as exc:  # any store failure: fail open, say so once per period
            # Takes in flight together (a burst against a Redis that stopped answering) all
            # fail after the timeout: only the first to fail starts the period and logs it.
            with self._failure_lock:
                first = now >= self._skip_until
                if first:
                    self._skip_until = now + STORE_RETRY_SECONDS
            if first and self.on_failure is not None:
                self.on_failure(exc)
            return 0.0
