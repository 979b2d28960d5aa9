"""`pimhub brokers`: add, list, show, update, remove and test (SQLite; the REST tests cover
both backends)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.cli.main import app
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error

from .conftest import Rabbit

PASSWORD = "pw-cli-8d2f67a1"
URL = "amqp://rabbit.example.com/shop"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PIMHUB_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIMHUB_SECRET_KEY", "cli-test")
    # No DNS lookup of the example host (the guard itself is tested through REST).
    monkeypatch.setenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.delenv("PIMHUB_BROKER_PASSWORD", raising=False)
    monkeypatch.delenv("PIMHUB_BROKER_USERNAME", raising=False)


def add(runner: CliRunner, *extra: str, name: str = "mq", url: str = URL) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        ["brokers", "add", name, "--url", url, "--username", "hub", "--password-stdin", *extra],
        input=PASSWORD + "\n",
    )
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_add_list_show_update_remove(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, out, err = add(
        runner, "--exchange", "shop.events", "--event-type", "object.updated", "--class", "Product"
    )
    assert code == 0, err
    assert "mq -> amqp://rabbit.example.com/shop exchange shop.events (topic)" in out
    assert "webhooks deliveries --endpoint broker-mq" in out
    assert PASSWORD not in out + err

    code, out, _ = invoke(runner, "brokers", "list")
    assert code == 0 and "broker-mq" in out and "object.updated" in out
    code, out, _ = invoke(runner, "brokers", "list", "--json")
    assert code == 0 and orjson.loads(out)[0]["config"]["exchange"] == "shop.events"

    code, out, _ = invoke(runner, "brokers", "show", "mq")
    shown = yaml.safe_load(out)
    assert shown["broker"]["classes"] == ["Product"] and shown["health"]["version"] == 1
    assert PASSWORD not in out

    code, out, err = invoke(
        runner, "brokers", "update", "mq", "--routing-key-prefix", "eu", "--no-mandatory"
    )
    assert code == 0, err
    hub = bootstrap(Settings(database_url=db_url))
    stored = hub.brokers.get("mq")
    # Only the options given changed.
    assert stored.config["routingKeyPrefix"] == "eu" and stored.config["mandatory"] is False
    assert stored.config["exchange"] == "shop.events" and stored.config["classes"] == ["Product"]
    assert hub.brokers.credentials("mq").password == PASSWORD

    code, out, err = invoke(runner, "brokers", "update", "mq", "--disable")
    assert code == 0 and hub.brokers.get("mq").enabled is False
    code, out, err = invoke(runner, "brokers", "update", "mq", "--exchange", "other")
    assert code == 0 and hub.brokers.get("mq").enabled is False  # stays off
    code, out, err = invoke(runner, "brokers", "remove", "mq", "--yes")
    assert code == 0 and "removed broker mq" in out
    assert hub.brokers.all() == []


def test_new_credentials_by_stdin(runner: CliRunner, db_url: str) -> None:
    init(runner)
    assert add(runner)[0] == 0
    result = runner.invoke(
        app, ["brokers", "update", "mq", "--password-stdin"], input="pw-new-0c5e\n"
    )
    assert result.exit_code == 0, result.stderr
    assert "pw-new-0c5e" not in result.output
    hub = bootstrap(Settings(database_url=db_url))
    assert hub.brokers.credentials("mq").password == "pw-new-0c5e"
    assert hub.brokers.credentials("mq").username == "hub"


def test_problems_are_listed_one_a_line(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, _, err = add(
        runner, "--exchange-type", "fan", url="amqp://u:p@rabbit.example.com/", name="Bad"
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: the broker configuration is not valid")
    assert {line.split(":")[0] for line in lines[1:]} == {"name", "url", "exchangeType"}
    result = runner.invoke(app, ["brokers", "add", "mq", "--url", URL, "--username", "hub"])
    assert result.exit_code == 1 and "credentials.password: is required" in result.stderr
    result = runner.invoke(
        app, ["brokers", "add", "mq", "--url", URL, "--password-stdin"], input="\n"
    )
    assert result.exit_code != 0 and "stdin held no password" in result.output + result.stderr


def test_unknown_brokers(runner: CliRunner, db_url: str) -> None:
    init(runner)
    for command in ("show", "remove", "test", "update"):
        code, _, err = invoke(runner, "brokers", command, "no\x00where")
        assert "no broker 'no\\x00where'" in one_line_error(code, err), command


def test_test_reports_each_step(
    runner: CliRunner,
    db_url: str,
    rabbit: Rabbit,
) -> None:
    init(runner)
    code, _, err = add(runner, "--exchange", rabbit.exchange, url=rabbit.url)
    assert code == 0, err
    hub = bootstrap(Settings(database_url=db_url))
    hub.brokers.update("mq", hub.brokers.get("mq").config, rabbit.credentials())
    code, out, err = invoke(runner, "brokers", "test", "mq")
    assert code == 0, err
    assert out.count("ok: ") == 3 and rabbit.exchange in out
    hub.brokers.update(
        "mq", hub.brokers.get("mq").config, {**rabbit.credentials(), "password": "x"}
    )
    code, out, err = invoke(runner, "brokers", "test", "mq", "--json")
    assert code == 1 and orjson.loads(out)["ok"] is False
