"""`pimhub webhooks`: endpoints, secrets, deliveries, dead letters, replay, stats and prune."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
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


def create(runner: CliRunner, *args: str) -> tuple[str, str]:
    code, out, err = invoke(
        runner, "webhooks", "create", "--url", "https://hooks.example.com/a", *args
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    endpoint_id = lines[0].split()[2]
    return endpoint_id, lines[-1]


def test_create_list_update_secret_rotate_delete(runner: CliRunner, db_url: str) -> None:
    init(runner)
    endpoint_id, secret = create(
        runner, "--event-type", "object.updated,object.created", "--class", "Product", "--thin"
    )
    assert endpoint_id.startswith("ep_") and secret.startswith("whsec_")
    code, out, _ = invoke(runner, "webhooks", "list")
    assert (
        code == 0
        and endpoint_id in out
        and "object.updated,object.created" in out
        and "thin" in out
    )
    code, out, _ = invoke(runner, "webhooks", "secret", endpoint_id)
    assert out.strip() == secret
    code, out, _ = invoke(
        runner, "webhooks", "update", endpoint_id, "--disable", "--payload", "full"
    )
    shown = orjson.loads(out)
    assert (
        shown["enabled"] is False and shown["payload"] == "full" and shown["classes"] == ["Product"]
    )
    code, out, _ = invoke(runner, "webhooks", "rotate", endpoint_id, "--overlap-hours", "1")
    rotated = out.strip()
    assert rotated.startswith("whsec_") and rotated != secret
    code, out, _ = invoke(runner, "webhooks", "delete", endpoint_id)
    assert code == 0
    one_line_error(*invoke(runner, "webhooks", "secret", endpoint_id)[::2])


def test_bad_input_is_one_line(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, _, err = invoke(
        runner, "webhooks", "create", "--url", "ftp://nowhere", "--event-type", "object.moved"
    )
    line = one_line_error(code, err)
    assert "url" in line and "eventTypes[0]" in line
    code, _, err = invoke(runner, "webhooks", "create", "--url", "http://127.0.0.1:9/x")
    assert "PIMHUB_WEBHOOKS_ALLOW_PRIVATE" in one_line_error(code, err)
    code, _, err = invoke(runner, "webhooks", "deliveries", "--status", "lost")
    assert "--status must be one of" in one_line_error(code, err)
    code, _, err = invoke(runner, "webhooks", "attempts", "42")
    assert "no delivery 42" in one_line_error(code, err)


def test_dead_letters_are_listed_replayed_counted_and_pruned(
    runner: CliRunner, db_url: str
) -> None:
    init(runner)
    endpoint_id, _ = create(runner)
    hub = bootstrap(Settings(database_url=db_url))
    hub.catalog.create(
        "Product",
        {"sku": "CLI-1", "name": {"en": "x"}, "price": {"amount": 1, "currency": "EUR"}},
        author="t",
    )
    now = datetime.now(UTC)
    hub.webhooks.queue.fan_out(now, 10)
    [delivery] = hub.webhooks.queue.claim(now, 10, now + timedelta(minutes=1))
    failure = AttemptResult(delivery, now, 3.0, None, None, "ConnectionRefusedError: refused")
    hub.webhooks.queue.record([failure], RetryPolicy(schedule=()), CircuitPolicy(), now)

    code, out, _ = invoke(runner, "webhooks", "deliveries", "--status", "dead")
    assert code == 0 and "Product/CLI-1" in out and "refused" in out
    code, out, _ = invoke(runner, "webhooks", "attempts", str(delivery.id))
    assert orjson.loads(out)["attempts"][0]["error"] == "ConnectionRefusedError: refused"
    code, out, _ = invoke(runner, "webhooks", "stats")
    assert code == 0 and endpoint_id in out
    code, out, _ = invoke(runner, "webhooks", "replay", "--endpoint", endpoint_id)
    assert "1 deliveries queued again" in out
    code, out, _ = invoke(runner, "webhooks", "deliveries", "--status", "pending")
    assert "Product/CLI-1" in out
    code, out, _ = invoke(runner, "webhooks", "prune", "--older-than-days", "0")
    assert code == 0 and "pruned 1 attempts" in out


def test_ping_prints_the_answer_and_fails_when_nobody_listens(
    runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.e2e.processes import free_port

    init(runner)
    url = f"http://127.0.0.1:{free_port()}/x"
    code, _, _ = invoke(runner, "webhooks", "create", "--url", url)
    assert code != 0  # private addresses are refused by default
    monkeypatch.setenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", "true")
    endpoint_id = create_at(runner, url)
    code, out, _ = invoke(runner, "webhooks", "ping", endpoint_id)
    shown = orjson.loads(out)
    assert code == 1 and shown["ok"] is False and shown["error"]


def create_at(runner: CliRunner, url: str) -> str:
    code, out, err = invoke(runner, "webhooks", "create", "--url", url)
    assert code == 0, err
    return out.strip().splitlines()[0].split()[2]
