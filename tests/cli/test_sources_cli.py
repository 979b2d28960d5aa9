"""`pimhub sources` and `pimhub inbound`: sources added from flags or a file with their secret
printed once, listed, shown, changed, switched, rotated and removed; the audit listed with
filters, one message with its body and fate, refused items and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import Hub, bootstrap
from pimhub.cli.main import app
from pimhub.inbound.messages import Receipt
from pimhub.settings import Settings
from tests.api.test_inbound_rest import FEED, send, stock
from tests.cli.test_cli import init, invoke, one_line_error


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIMHUB_SECRET_KEY", "cli-test")
    monkeypatch.setenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", "true")


def hub_of(db_url: str) -> Hub:
    return bootstrap(Settings(database_url=db_url))


def secret_of(out: str) -> str:
    """The secret: alone on the last line of stdout."""
    lines = out.strip().splitlines()
    return lines[-1].strip()


def test_add_from_flags_prints_the_secret_once_and_list_show_never_do(
    runner: CliRunner, db_url: str
) -> None:
    init(runner)
    code, out, err = invoke(
        runner,
        "sources",
        "add",
        "erp",
        "--scheme",
        "shared-secret",
        "--header",
        "X-ERP-Token",
        "--description",
        "nightly stock",
        "--event-type-path",
        "kind",
        "--event-type-prefix",
        "erp.",
        "--key-path",
        "sku",
    )
    assert code == 0, err
    secret = secret_of(out)
    assert len(secret) >= 16 and "shown once" in err
    assert "/inbound/erp" in out

    stored = hub_of(db_url).inbound.get_source("erp")
    assert stored.spec.header is not None and stored.spec.header.lower() == "x-erp-token"
    assert stored.spec.description == "nightly stock"
    assert stored.spec.event_type.extract.path == "kind"
    assert stored.spec.event_type.prefix == "erp."
    assert stored.spec.key is not None and stored.spec.key.path == "sku"

    code, out, _ = invoke(runner, "sources", "list")
    assert code == 0 and "erp" in out and "shared-secret" in out and secret not in out
    code, out, _ = invoke(runner, "sources", "list", "--json")
    assert [s["name"] for s in orjson.loads(out)] == ["erp"] and secret not in out
    code, out, _ = invoke(runner, "sources", "show", "erp")
    assert code == 0 and secret not in out
    assert orjson.loads(out)["description"] == "nightly stock"


def test_add_from_a_file_with_a_secret_from_stdin(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    config = tmp_path / "erp.yaml"
    config.write_text(
        yaml.safe_dump(
            {"scheme": "shared-secret", "dedupeDays": 3, "apply": FEED, "eventTypes": ["erp.x"]}
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["sources", "add", "erp", "--file", str(config), "--secret-stdin"],
        input="the-erp-token-0123\n",
    )
    assert result.exit_code == 0, result.output
    assert "the-erp-token-0123" not in result.stdout  # it was given: not printed back
    hub = hub_of(db_url)
    stored = hub.inbound.get_source("erp")
    assert stored.spec.dedupe_days == 3 and stored.spec.apply is not None
    assert stored.spec.event_types == ("erp.x",)
    receipt = send(hub, "the-erp-token-0123", "m-1", {"type": "erp.x", "data": []})
    assert isinstance(receipt, Receipt), receipt


def test_update_enable_disable_rotate_and_remove(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    code, out, err = invoke(runner, "sources", "add", "erp", "--scheme", "shared-secret")
    assert code == 0, err
    first = secret_of(out)

    change = tmp_path / "change.json"
    change.write_bytes(orjson.dumps({"description": "from a file", "dedupeDays": 2}))
    code, out, err = invoke(runner, "sources", "update", "erp", "--file", str(change))
    assert code == 0, err
    stored = hub_of(db_url).inbound.get_source("erp")
    assert stored.spec.description == "from a file" and stored.spec.dedupe_days == 2
    assert stored.spec.scheme == "shared-secret"  # untouched
    stale = invoke(runner, "sources", "update", "erp", "--description", "x", "--version", "1")
    assert "version" in one_line_error(stale[0], stale[2]).lower()

    code, _, err = invoke(runner, "sources", "disable", "erp")
    assert code == 0, err
    assert hub_of(db_url).inbound.get_source("erp").spec.enabled is False
    code, _, err = invoke(runner, "sources", "enable", "erp")
    assert code == 0, err
    assert hub_of(db_url).inbound.get_source("erp").spec.enabled is True

    code, out, err = invoke(runner, "sources", "rotate-secret", "erp", "--overlap-hours", "2")
    assert code == 0, err
    second = secret_of(out)
    assert second != first and "shown once" in err and "previous secret" in err
    hub = hub_of(db_url)
    assert isinstance(send(hub, first, "m-1", stock("T-1", 1)), Receipt)  # the overlap
    assert isinstance(send(hub, second, "m-2", stock("T-1", 1)), Receipt)

    result = runner.invoke(
        app,
        ["sources", "rotate-secret", "erp", "--overlap-hours", "0", "--secret-stdin"],
        input="chosen-by-the-erp-1\n",
    )
    assert result.exit_code == 0, result.output
    assert "chosen-by-the-erp-1" not in result.stdout
    assert isinstance(send(hub_of(db_url), "chosen-by-the-erp-1", "m-3", stock("T-1", 1)), Receipt)

    result = runner.invoke(
        app,
        ["sources", "remove", "erp"],
        input="n\n",
    )
    assert result.exit_code != 0
    assert hub_of(db_url).inbound.get_source("erp")  # still there
    code, out, err = invoke(runner, "sources", "remove", "erp", "--yes")
    assert code == 0, err
    assert "no inbound source" in one_line_error(*invoke(runner, "sources", "show", "erp")[::2])


def test_errors_are_one_line_and_exit_non_zero(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    assert "--scheme" in one_line_error(*invoke(runner, "sources", "add", "erp")[::2])
    code, _, err = invoke(runner, "sources", "add", "erp", "--scheme", "pigeon")
    assert code != 0 and "scheme" in err
    code, _, err = invoke(runner, "sources", "add", "Not A Name", "--scheme", "shared-secret")
    assert code != 0 and "name" in err
    invoke(runner, "sources", "add", "erp", "--scheme", "shared-secret")
    error = one_line_error(*invoke(runner, "sources", "add", "erp", "--scheme", "api-key")[::2])
    assert "erp" in error
    broken = tmp_path / "broken.yaml"
    broken.write_text("scheme: [shared-secret\n", encoding="utf-8")
    error = one_line_error(*invoke(runner, "sources", "update", "erp", "--file", str(broken))[::2])
    assert "line" in error
    missing = invoke(runner, "sources", "update", "erp", "--file", str(tmp_path / "none.yaml"))
    one_line_error(missing[0], missing[2])
    listed = tmp_path / "list.yaml"
    listed.write_text("- scheme: api-key\n", encoding="utf-8")
    assert "mapping" in one_line_error(
        *invoke(runner, "sources", "update", "erp", "--file", str(listed))[::2]
    )
    assert "nothing to change" in one_line_error(*invoke(runner, "sources", "update", "erp")[::2])
    for command in ("enable", "disable", "show", "rotate-secret"):
        one_line_error(*invoke(runner, "sources", command, "nope")[::2])


def test_an_api_key_source_has_no_secret_and_says_how_senders_authenticate(
    runner: CliRunner, db_url: str
) -> None:
    init(runner)
    code, _, err = invoke(runner, "sources", "add", "pos", "--scheme", "api-key")
    assert code == 0, err
    assert "inbound:pos" in err and "shown once" not in err


# -- pimhub inbound ----------------------------------------------------------------------


@pytest.fixture
def audited(runner: CliRunner, db_url: str) -> dict[str, Any]:
    init(runner)
    hub = hub_of(db_url)
    _, secret = hub.inbound.add_source(
        {"name": "erp", "scheme": "shared-secret", "key": {"path": "data.sku"}}
    )
    assert secret is not None
    endpoint = hub.webhooks.create(
        {"url": "https://hooks.example.com/stock", "eventTypes": ["erp.stock.changed"]}
    ).endpoint.endpoint_id
    receipts = [
        send(hub, secret, "m-1", stock("T-1", 1)),
        send(hub, secret, "m-2", stock("T-2", 2)),
        send(hub, secret, "m-1", stock("T-1", 1)),
        send(hub, "wrong", "m-3", stock("T-3", 3)),
    ]
    hub.webhooks.queue.fan_out(datetime.now(UTC), 100)
    return {"endpoint": endpoint, "receipts": receipts}


def test_messages_are_listed_and_filtered(runner: CliRunner, audited: dict[str, Any]) -> None:
    code, out, err = invoke(runner, "inbound", "messages", "--json")
    assert code == 0, err
    assert [m["outcome"] for m in orjson.loads(out)] == [
        "rejected",
        "duplicate",
        "accepted",
        "accepted",
    ]
    code, out, _ = invoke(runner, "inbound", "messages", "--outcome", "accepted", "--json")
    assert [m["key"] for m in orjson.loads(out)] == ["T-2", "T-1"]
    code, out, _ = invoke(runner, "inbound", "messages", "--key", "T-1", "--json")
    assert [m["messageId"] for m in orjson.loads(out)] == ["m-1", "m-1"]
    code, out, _ = invoke(runner, "inbound", "messages", "--since", "2999-01-01", "--json")
    assert orjson.loads(out) == []
    code, out, _ = invoke(
        runner, "inbound", "messages", "--source", "erp", "--type", "erp.stock.changed"
    )
    assert code == 0 and "T-2" in out and "duplicate of" in out
    code, out, _ = invoke(runner, "inbound", "messages", "--limit", "2")
    assert code == 0 and "--before" in out
    assert "--outcome" in one_line_error(
        *invoke(runner, "inbound", "messages", "--outcome", "maybe")[::2]
    )
    assert "--since" in one_line_error(
        *invoke(runner, "inbound", "messages", "--since", "yesterday")[::2]
    )


def test_show_gives_the_body_and_the_fate(runner: CliRunner, audited: dict[str, Any]) -> None:
    first = audited["receipts"][0]
    code, out, err = invoke(runner, "inbound", "show", str(first.message))
    assert code == 0, err
    shown = orjson.loads(out)
    assert shown["body"] == stock("T-1", 1) and shown["eventId"] == first.event_id
    [fate] = shown["fate"]
    assert fate["endpoint"] == audited["endpoint"] and fate["status"] == "pending"
    assert "no inbound message" in one_line_error(*invoke(runner, "inbound", "show", "99999")[::2])


def test_refusals_and_replay(runner: CliRunner, db_url: str) -> None:
    init(runner)
    hub_of(db_url).inbound.add_source({"name": "erp", "scheme": "shared-secret", "apply": FEED})
    code, out, err = invoke(runner, "inbound", "refusals", "--source", "erp", "--json")
    assert code == 0, err
    assert orjson.loads(out) == []
    code, out, err = invoke(runner, "inbound", "refusals", "--all")
    assert code == 0, err
    code, out, err = invoke(runner, "inbound", "replay", "--source", "erp")
    assert code == 0, err
    assert "0 applied, 0 still refused, 0 superseded" in out
    one_line_error(*invoke(runner, "inbound", "replay", "--source", "erp", "--id", "5")[::2])
    one_line_error(*invoke(runner, "inbound", "replay", "--source", "nope")[::2])


def test_numbers_no_row_can_have_are_refused_before_the_database(
    runner: CliRunner, db_url: str
) -> None:
    init(runner)
    invoke(runner, "sources", "add", "erp", "--scheme", "shared-secret")
    huge = str(2**64)
    for args in (
        ("sources", "update", "erp", "--description", "x", "--version", huge),
        ("inbound", "show", huge),
        ("inbound", "show", "0"),
        ("inbound", "messages", "--before", huge),
        ("inbound", "replay", "--source", "erp", "--id", huge),
    ):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 2, (args, result.output)  # a usage error naming the bound
        assert "Invalid value" in result.output and "than or equal to" in result.output, args
