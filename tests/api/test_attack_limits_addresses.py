"""Attack: evading the per-address bucket. An IPv6 client holds a whole /64 (2^64 addresses)
and rotated through it, each address a fresh bucket; an IPv4 client reached over a dual-stack
socket (`::ffff:10.0.0.1`) had a bucket apart from `10.0.0.1`. Now IPv6 addresses share their
/64's bucket and IPv4-mapped ones their IPv4 address's (on SQLite and PostgreSQL). Also the
memory store's sweep: with more live buckets than its threshold, every take rebuilt the whole
dict (25 ms a take at 100,000 buckets, on the event loop)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pimhub.access.rate_limits import MemoryRateLimitStore, Rate, address_bucket
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub, rate_limiter


def test_address_buckets() -> None:
    assert address_bucket("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_bucket("2001:DB8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert address_bucket("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_bucket("10.0.0.1") == "10.0.0.1"
    assert address_bucket("::1") == "::/64"
    assert address_bucket("testclient") == "testclient"  # not an IP: as given
    assert address_bucket("fe80::1%eth0") == "fe80::/64"


def test_one_ipv6_slash_64_shares_one_bucket_through_the_app(hub: Hub) -> None:
    settings = hub.settings.model_copy(
        update={"rate_limit_per_address": "2/minute", "rate_limit_per_key": "off"}
    )
    hub.limiter = rate_limiter(settings, hub.engine)
    app = create_app(hub)

    def status(address: str) -> int:
        return int(TestClient(app, client=(address, 4000)).get("/api/v1/classes").status_code)

    assert status("2001:db8:0:1::1") == 401
    assert status("2001:db8:0:1::2") == 401
    refused = TestClient(app, client=("2001:db8:0:1:ffff::3", 4000)).get("/api/v1/classes")
    assert refused.status_code == 429 and refused.json()["code"] == "rate-limited"
    assert "the address 2001:db8:0:1:ffff::3" in refused.json()["detail"]  # as it came
    assert status("2001:db8:0:2::1") == 401  # the next /64 is another client
    assert status("10.0.0.1") == 401
    assert status("::ffff:10.0.0.1") == 401
    assert status("10.0.0.1") == 429  # the mapped form spent the same bucket


def test_the_memory_sweep_does_not_run_on_every_take() -> None:
    store = MemoryRateLimitStore(sweep_above=20_000)
    rate, now = Rate(1, 60.0), 1000.0
    sweeps = 0
    sweep = store._sweep

    def counted(now: float) -> None:
        nonlocal sweeps
        sweeps += 1
        sweep(now)

    store._sweep = counted  # type: ignore[method-assign]
    for i in range(21_000):  # all live: a sweep frees nothing
        store.take(f"addr:{i}", rate, now)
    assert sweeps == 1, sweeps  # was 1,000: one per take past the threshold
    for i in range(21_000, 42_000):
        store.take(f"addr:{i}", rate, now + 61)  # the first 21,000 have expired
    assert sweeps == 2, sweeps
    assert "addr:0" not in store._tats and len(store._tats) == 21_000  # expired: forgotten
