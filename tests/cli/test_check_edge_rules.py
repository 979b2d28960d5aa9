"""`pimhub check` on the edge settings: a proxy trust of any address in production, and
rate limits kept in memory where several processes serve (each counts on its own)."""

from __future__ import annotations

import pytest

from pimhub.bootstrap import Hub
from pimhub.cli.check import collect
from pimhub.readiness import Severity, run_checks
from tests.cli.test_check_cli import checks, snapshot


@pytest.mark.parametrize("trusted", ["*", "10.0.0.1, *", " * "])
def test_forwarded_allow_ips_any_warns_in_production(trusted: str) -> None:
    found = [f for f in run_checks(snapshot(forwarded_allow_ips=trusted))]
    assert [(f.check, f.severity) for f in found] == [("forwarded-any", Severity.WARNING)]
    assert found[0].message.startswith("PIMHUB_FORWARDED_ALLOW_IPS=* in production")
    assert found[0].fix == "set PIMHUB_FORWARDED_ALLOW_IPS to the addresses of your proxies only"


def test_forwarded_allow_ips_any_is_quiet_in_development_and_proxies_are_fine() -> None:
    assert "forwarded-any" not in checks(snapshot(forwarded_allow_ips="*", profile="development"))
    assert checks(snapshot(forwarded_allow_ips="10.0.0.1,10.0.0.2")) == {}
    assert checks(snapshot(forwarded_allow_ips="10.0.0.0/8")) == {}


@pytest.mark.parametrize(
    ("database", "workers", "where"),
    [
        ("postgresql", 4, "with PIMHUB_WORKERS=4"),
        ("postgresql", 1, "on PostgreSQL"),
    ],
)
def test_memory_rate_limits_with_several_processes_warn(
    database: str, workers: int, where: str
) -> None:
    found = run_checks(snapshot(rate_limit_store="memory", database=database, workers=workers))
    (finding,) = [f for f in found if f.check == "rate-limit-store-memory"]
    assert finding.severity == Severity.WARNING
    assert finding.message == (
        f"PIMHUB_RATE_LIMIT_STORE=memory {where}: each serve process keeps its own buckets, "
        "so every rate limit multiplies by the number of processes"
    )


def test_memory_rate_limits_on_sqlite_with_workers_also_warn_beside_the_failure() -> None:
    found = checks(snapshot(rate_limit_store="memory", database="sqlite", workers=2))
    assert found["rate-limit-store-memory"] == [Severity.WARNING]
    assert found["sqlite-workers"] == [Severity.FAILURE]


def test_shared_stores_and_one_process_are_quiet() -> None:
    for store in ("auto", "database", "redis"):
        assert "rate-limit-store-memory" not in checks(snapshot(rate_limit_store=store))
    one = snapshot(rate_limit_store="memory", database="sqlite", workers=1)
    assert "rate-limit-store-memory" not in checks(one)


def test_check_reads_forwarded_allow_ips_from_the_settings(hub: Hub) -> None:
    hub.settings.profile = "production"
    hub.settings.forwarded_allow_ips = "*"
    found = run_checks(collect(hub))
    assert "forwarded-any" in [f.check for f in found]
