"""Rate-limit buckets in Redis (access.rate_limits): shared by every process and machine.

The GCRA step runs as one Lua script, which Redis executes atomically, so parallel takers
never spend one token twice. Each bucket key expires when its TAT passes (an expired bucket
and a missing one are the same), so Redis holds only buckets in use. Numbers travel as
strings with microseconds: Redis would truncate a Lua number to an integer, and Lua's
tostring keeps only 14 digits (a tenth of a millisecond of a Unix time).
"""

from __future__ import annotations

from typing import Any

import redis

from pimhub.access.rate_limits import TOLERANCE, Rate

KEY_PREFIX = "pimhub:rate:"

_GCRA = """
local tat = tonumber(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if allow_at - now > tonumber(ARGV[4]) then return string.format('%.6f', allow_at - now) end
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000))
return '0'
"""


class RedisRateLimitStore:
    blocking = True  # a take is a network round trip: callers run it off the event loop

    def __init__(self, client: redis.Redis, prefix: str = KEY_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._script: Any = client.register_script(_GCRA)

    @classmethod
    def from_url(cls, url: str, timeout: float = 0.5) -> RedisRateLimitStore:
        """A store on the Redis at `url`; short timeouts, since a slow Redis delays every
        request until the limiter gives up on it and lets requests through."""
        return cls(
            redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        )

    def take(self, bucket: str, rate: Rate, now: float) -> float:
        wait = self._script(
            keys=[self.prefix + bucket],
            args=[repr(now), repr(rate.interval), repr(rate.burst_window), repr(TOLERANCE)],
        )
        return float(wait)
