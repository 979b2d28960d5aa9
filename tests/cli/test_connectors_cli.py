"""`pimhub connectors`: add, check, list, show, update, remove and status (dry-run and push
need a Magento: tests/connectors)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.cli.main import app
from pimhub.connectors.state import ItemState
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error

SECRETS = {
    "--consumer-key": "ck-7f3a9e",
    "--consumer-secret": "cs-b81d44",
    "--access-token": "at-0c5e21",
    "--access-token-secret": "ats-9d2f67",
}
ENV = {
    "PIMHUB_MAGENTO_CONSUMER_KEY": "env-ck-111",
    "PIMHUB_MAGENTO_CONSUMER_SECRET": "env-cs-222",
    "PIMHUB_MAGENTO_ACCESS_TOKEN": "env-at-333",
    "PIMHUB_MAGENTO_ACCESS_TOKEN_SECRET": "env-ats-444",
}
CONFIG = {
    "name": "shop",
    "baseUrl": "https://shop.example.com",
    "stores": {"de": "german"},
    "deletes": "disable",
}


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIMHUB_SECRET_KEY", "cli-test")
    # No DNS lookup of the example host (the guard itself is tested with the service).
    monkeypatch.setenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", "true")
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def config_file(tmp_path: Path, file_name: str = "shop.yaml", **changes: object) -> Path:
    path = tmp_path / file_name
    body = {**CONFIG, **changes}
    if file_name.endswith(".json"):
        path.write_bytes(orjson.dumps(body))
    else:
        path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def flags(secrets: dict[str, str] = SECRETS) -> list[str]:
    return [part for flag, value in secrets.items() for part in (flag, value)]


def no_secret_in(*texts: str) -> None:
    for text in texts:
        for value in [*SECRETS.values(), *ENV.values()]:
            assert value not in text


def test_add_list_show_update_remove(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    code, out, err = invoke(
        runner, "connectors", "add", "magento", "--config", str(config_file(tmp_path)), *flags()
    )
    assert code == 0, err
    assert "shop" in out and "https://shop.example.com" in out
    assert "webhooks deliveries --endpoint connector-shop" in out
    no_secret_in(out, err)

    code, out, _ = invoke(runner, "connectors", "list")
    assert code == 0 and "shop" in out and "connector-shop" in out

    code, out, _ = invoke(runner, "connectors", "show", "shop")
    assert code == 0
    no_secret_in(out)
    shown = yaml.safe_load(out)
    assert shown["connector"]["baseUrl"] == "https://shop.example.com"
    assert shown["connector"]["stores"] == {"de": "german"}
    assert shown["health"]["enabled"] is True and shown["items"] == {}
    assert "pimhub webhooks deliveries --endpoint connector-shop" in out

    changed = config_file(tmp_path, "new.json", baseUrl="https://other.example.com", name="x")
    code, out, err = invoke(runner, "connectors", "update", "shop", "--config", str(changed))
    assert code == 0, err
    assert "credentials" not in out  # none given: the stored ones stay
    code, out, _ = invoke(runner, "connectors", "show", "shop")
    shown = yaml.safe_load(out)
    assert shown["connector"]["baseUrl"] == "https://other.example.com"
    assert shown["connector"]["name"] == "shop"  # the name stays

    code, out, err = invoke(runner, "connectors", "remove", "shop", "--yes")
    assert code == 0, err
    code, out, _ = invoke(runner, "connectors", "list")
    assert "shop" not in out
    assert "no connector 'shop'" in one_line_error(
        *invoke(runner, "connectors", "show", "shop")[::2]
    )


def test_the_flags_override_name_and_base_url_and_secrets_are_sealed(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    code, _, err = invoke(
        runner,
        "connectors",
        "add",
        "magento",
        "--config",
        str(config_file(tmp_path)),
        "--name",
        "eu-shop",
        "--base-url",
        "https://eu.example.com",
        *flags(),
    )
    assert code == 0, err
    hub = bootstrap(Settings(database_url=db_url))
    stored = hub.connectors.get("eu-shop")
    assert stored.config["baseUrl"] == "https://eu.example.com"
    sealed = hub.connectors.repository.sealed_secret("eu-shop")
    assert sealed is not None and SECRETS["--consumer-secret"] not in sealed
    assert orjson.loads(hub.connectors.sealer.decrypt(sealed))  # the secrets are there


def test_credentials_from_the_environment_and_a_flag_wins(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(runner)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    code, out, err = invoke(
        runner,
        "connectors",
        "add",
        "magento",
        "--config",
        str(config_file(tmp_path)),
        "--access-token",
        "flag-at-999",
    )
    assert code == 0, err
    no_secret_in(out, err)
    assert "flag-at-999" not in out + err
    hub = bootstrap(Settings(database_url=db_url))
    credentials = hub.connectors._credentials("shop")
    assert "env-ck-111" in credentials and "env-ats-444" in credentials
    assert "flag-at-999" in credentials and "env-at-333" not in credentials
    code, out, _ = invoke(runner, "connectors", "show", "shop")
    assert code == 0 and "flag-at-999" not in out
    no_secret_in(out)


def test_missing_credentials_are_named(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    only_key = {"--consumer-key": SECRETS["--consumer-key"]}
    code, out, err = invoke(
        runner,
        "connectors",
        "add",
        "magento",
        "--config",
        str(config_file(tmp_path)),
        *flags(only_key),
    )
    assert code == 1
    assert "credentials.consumerKey" not in err
    for key in ("consumerSecret", "accessToken", "accessTokenSecret"):
        assert f"credentials.{key}: is required" in err
    assert "PIMHUB_MAGENTO_ACCESS_TOKEN_SECRET" in err and "--consumer-secret" in err
    no_secret_in(out, err)
    assert "shop" not in invoke(runner, "connectors", "list")[1]


def test_check_reports_every_problem_by_path(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    bad = config_file(
        tmp_path, "bad.yaml", name="Bad Name", baseUrl="ftp://shop.example.com", deletes="shred"
    )
    code, out, err = invoke(runner, "connectors", "check", "--config", str(bad))
    assert code == 1
    lines = err.splitlines()
    for path in ("name", "baseUrl", "deletes"):
        assert any(line.startswith(f"{path}: ") for line in lines), (path, err)
    code, out, err = invoke(runner, "connectors", "check", "--config", str(config_file(tmp_path)))
    assert code == 0, err
    assert "ok: shop" in out
    assert "shop" not in invoke(runner, "connectors", "list")[1]  # nothing saved
    code, _, err = invoke(runner, "connectors", "add", "magento", "--config", str(bad), *flags())
    assert code == 1 and "deletes: " in err


def test_an_unreadable_file_is_one_line(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [shop\n", encoding="utf-8")
    line = one_line_error(*invoke(runner, "connectors", "check", "--config", str(broken))[::2])
    assert "not valid YAML at line" in line
    listed = tmp_path / "list.yaml"
    listed.write_text("- shop\n", encoding="utf-8")
    line = one_line_error(*invoke(runner, "connectors", "check", "--config", str(listed))[::2])
    assert "expected a mapping" in line


def test_unknown_kind_and_unknown_or_impossible_names(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    code, _, err = invoke(
        runner, "connectors", "add", "shopify", "--config", str(config_file(tmp_path)), *flags()
    )
    line = one_line_error(code, err)
    assert "unknown connector kind 'shopify'" in line and "magento" in line
    for name in ("nowhere", "../../etc/passwd", "shop\0x"):
        for args in (["show", name], ["status", name], ["remove", name, "--yes"]):
            line = one_line_error(*invoke(runner, "connectors", *args)[::2])
            assert "no connector" in line, (args, line)
        line = one_line_error(*invoke(runner, "connectors", "push", name, "SKU-1")[::2])
        assert "no connector" in line
    code, _, err = invoke(
        runner, "connectors", "update", "../x", "--config", str(config_file(tmp_path))
    )
    assert "no connector" in one_line_error(code, err)


def test_remove_asks_first(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    path = str(config_file(tmp_path))
    assert invoke(runner, "connectors", "add", "magento", "--config", path, *flags())[0] == 0
    result = runner.invoke(app, ["connectors", "remove", "shop"], input="n\n")
    assert result.exit_code == 1
    assert "shop" in invoke(runner, "connectors", "list")[1]


def test_status_with_no_items(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    path = str(config_file(tmp_path))
    assert invoke(runner, "connectors", "add", "magento", "--config", path, *flags())[0] == 0
    code, out, err = invoke(runner, "connectors", "status", "shop")
    assert code == 0, err
    assert "no SKUs yet" in out and "synced version" in out
    code, out, _ = invoke(runner, "connectors", "status", "shop", "--state", "failed", "--json")
    assert orjson.loads(out) == {
        "connector": "shop",
        "counts": {},
        "items": [],
        "nextCursor": None,
        "next": None,  # the deprecated name of nextCursor, until it goes
    }
    code, _, err = invoke(runner, "connectors", "status", "shop", "--state", "lost")
    assert "--state must be one of" in one_line_error(code, err)


def test_a_second_connector_of_the_same_name_is_refused(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    path = str(config_file(tmp_path))
    assert invoke(runner, "connectors", "add", "magento", "--config", path, *flags())[0] == 0
    code, _, err = invoke(runner, "connectors", "add", "magento", "--config", path, *flags())
    assert "exists" in one_line_error(code, err)


def test_status_lists_items_and_pages(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    path = str(config_file(tmp_path))
    assert invoke(runner, "connectors", "add", "magento", "--config", path, *flags())[0] == 0
    hub = bootstrap(Settings(database_url=db_url))
    now = datetime.now(UTC)
    hub.connectors.state.save_items(
        "shop",
        [
            ItemState("A-1", None, 11, True, "synced", 3, now),
            ItemState("A-2", None, None, False, "failed", last_error="Magento said 400"),
        ],
        now,
    )
    code, out, _ = invoke(runner, "connectors", "status", "shop", "--limit", "1")
    assert code == 0 and "failed 1, synced 1" in out
    assert "A-1" in out and "A-2" not in out and "more: --after A-1" in out
    code, out, _ = invoke(runner, "connectors", "status", "shop", "--state", "failed", "--json")
    items = orjson.loads(out)["items"]
    assert [(i["sku"], i["lastError"]) for i in items] == [("A-2", "Magento said 400")]
    code, out, _ = invoke(runner, "connectors", "show", "shop")
    assert yaml.safe_load(out)["items"] == {"synced": 1, "failed": 1}


def test_dry_run_and_push_of_an_unknown_connector(runner: CliRunner, db_url: str) -> None:
    init(runner)
    line = one_line_error(*invoke(runner, "connectors", "dry-run", "nowhere", "SKU-1")[::2])
    assert "no connector 'nowhere'" in line
    line = one_line_error(*invoke(runner, "connectors", "push", "nowhere", "SKU-1")[::2])
    assert "no connector 'nowhere'" in line
