"""The worker prunes the inbound audit, on both backends: refused and duplicate rows after the
retention, accepted ones only once every source's de-duplication window has passed too, so a
sender's late retry is still recognized."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pimhub.bootstrap import Hub, build_worker
from pimhub.events.worker import prune_inbound
from pimhub.inbound.messages import MessageFilter, Outcome, Receipt
from pimhub.settings import Settings
from tests.api.test_inbound_rest import send, stock

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def outcomes(hub: Hub) -> list[str]:
    return [m.outcome.value for m in reversed(hub.inbound.messages(MessageFilter(), limit=100))]


def test_accepted_rows_outlive_the_retention_while_a_source_dedupes(hub: Hub) -> None:
    clock = Clock()
    hub.inbound.clock = clock
    _, secret = hub.inbound.add_source({"name": "erp", "scheme": "shared-secret", "dedupeDays": 7})
    hub.inbound.add_source({"name": "shop", "scheme": "shared-secret", "dedupeDays": 2})
    assert secret is not None
    send(hub, secret, "m-1", stock("T-1", 1))
    send(hub, secret, "m-1", stock("T-1", 1))
    send(hub, "wrong", "m-2", stock("T-2", 1))
    assert outcomes(hub) == ["accepted", "duplicate", "rejected"]

    retention = timedelta(days=1)
    clock.now = T0 + timedelta(hours=23)
    assert prune_inbound(hub.inbound, retention) == 0
    clock.now = T0 + timedelta(days=2)
    assert prune_inbound(hub.inbound, retention) == 2  # the duplicate and the refusal
    assert outcomes(hub) == ["accepted"]
    # Within erp's seven days (the longest window) its retry is still a duplicate.
    clock.now = T0 + timedelta(days=6)
    assert prune_inbound(hub.inbound, retention) == 0
    again = send(hub, secret, "m-1", stock("T-1", 1))
    assert isinstance(again, Receipt) and again.outcome == Outcome.DUPLICATE

    clock.now = T0 + timedelta(days=7, hours=1)
    assert prune_inbound(hub.inbound, retention) == 2  # the original and the late duplicate
    assert outcomes(hub) == []
    late = send(hub, secret, "m-1", stock("T-1", 1))
    assert isinstance(late, Receipt) and late.outcome == Outcome.ACCEPTED


def test_a_retention_longer_than_every_window_keeps_everything_that_long(hub: Hub) -> None:
    clock = Clock()
    hub.inbound.clock = clock
    _, secret = hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    assert secret is not None
    send(hub, secret, "m-1", stock("T-1", 1))
    send(hub, "wrong", "m-2", stock("T-2", 1))
    clock.now = T0 + timedelta(days=29)
    assert prune_inbound(hub.inbound, timedelta(days=30)) == 0
    clock.now = T0 + timedelta(days=31)
    assert prune_inbound(hub.inbound, timedelta(days=30)) == 2
    assert outcomes(hub) == []


def test_the_worker_prunes_the_audit_with_the_configured_retention(hub: Hub) -> None:
    assert Settings(inbound_log_retention_days=3).inbound_log_retention_days == 3
    hub.settings = hub.settings.model_copy(update={"inbound_log_retention_days": 3})
    worker = build_worker(hub)
    assert worker.inbound is hub.inbound
    assert worker.inbound_retention == timedelta(days=3)

    clock = Clock()
    hub.inbound.clock = clock
    hub.inbound.add_source({"name": "erp", "scheme": "shared-secret", "dedupeDays": 1})
    send(hub, "wrong", "m-1", stock("T-1", 1))
    clock.now = T0 + timedelta(days=4)

    asyncio.run(worker._prune_inbound())
    assert outcomes(hub) == []
