"""`pimhub webhooks resume`: ends an endpoint's pause (SQLite; the service is tested on both
backends in tests/admin/test_webhook_resume.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.events.deliveries import AttemptResult
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIMHUB_SECRET_KEY", "cli-test")


def test_resume_ends_the_pause(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, out, err = invoke(runner, "webhooks", "create", "--url", "https://hooks.example.com/a")
    assert code == 0, err
    endpoint_id = out.strip().splitlines()[0].split()[2]
    hub = bootstrap(Settings(database_url=db_url))
    body = {"sku": "R-1", "name": {"en": "x"}, "price": {"amount": 1, "currency": "EUR"}}
    hub.catalog.create("Product", body, author="t")
    now = datetime.now(UTC)
    hub.webhooks.queue.fan_out(now, 10)
    [delivery] = hub.webhooks.queue.claim(now, 10, now + timedelta(minutes=1))
    failure = AttemptResult(delivery, now, 3.0, 503, None, None)
    pause = CircuitPolicy(threshold=1, first_pause=timedelta(hours=1))
    hub.webhooks.queue.record([failure], RetryPolicy(), pause, now)
    assert hub.webhooks.get(endpoint_id).paused_until is not None

    code, out, err = invoke(runner, "webhooks", "resume", endpoint_id)
    assert code == 0, err
    assert f"resumed {endpoint_id}" in out
    assert hub.webhooks.get(endpoint_id).paused_until is None
    one_line_error(*invoke(runner, "webhooks", "resume", "ep_missing")[::2])
