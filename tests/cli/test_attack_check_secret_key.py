"""Attack finding on `pimhub check`: a host started with a different secret key than the
one the stored secrets were sealed with (PIMHUB_SECRET_KEY forgotten in a deploy, another
machine's key file) cannot read a webhook, connector or broker secret; check must fail on
it, and must not advise copying the new key file everywhere, nor create one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.test_check_cli import run
from tests.cli.test_cli import init, invoke, one_line_error

KEY_A = "kT3v_9qLx2ZpR8mWcY4nB6hJ0sDfGa1E"
KEY_B = "Zq8w_2LmP5nX7cV9bR3tY6uI1oA4sD0F"


def report(runner: CliRunner) -> tuple[int, dict[str, list[dict[str, str]]]]:
    code, out = run(runner, "check", "--json")
    found: dict[str, list[dict[str, str]]] = {}
    for finding in json.loads(out)["findings"]:
        found.setdefault(finding["check"], []).append(finding)
    return code, found


def test_a_key_that_cannot_read_the_stored_secrets_fails_the_check(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(data))
    monkeypatch.setenv("PIMHUB_SECRET_KEY", KEY_A)
    init(runner)
    made = invoke(runner, "webhooks", "create", "--url", "https://hooks.example.com/a")
    assert made[0] == 0, made
    assert "secret-key-wrong" not in report(runner)[1]

    monkeypatch.setenv("PIMHUB_SECRET_KEY", KEY_B)
    code, found = report(runner)
    assert code == 2
    [wrong] = found["secret-key-wrong"]
    assert wrong["severity"] == "failure"
    assert "cannot decrypt" in wrong["message"] and "PIMHUB_SECRET_KEY" in wrong["fix"]

    monkeypatch.delenv("PIMHUB_SECRET_KEY")
    code, found = report(runner)
    assert code == 2 and "secret-key-wrong" in found
    assert not (data / "secret.key").exists()  # the check changes nothing


def test_a_secret_under_another_key_is_one_clear_line(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PIMHUB_SECRET_KEY", KEY_A)
    init(runner)
    code, out, err = invoke(runner, "webhooks", "create", "--url", "https://hooks.example.com/a")
    assert code == 0, err
    endpoint_id = out.strip().splitlines()[0].split()[2]
    monkeypatch.setenv("PIMHUB_SECRET_KEY", KEY_B)
    code, _, err = invoke(runner, "webhooks", "secret", endpoint_id)  # no traceback
    line = one_line_error(code, err)
    assert "secret key in use cannot read the stored secrets" in line
    assert "PIMHUB_SECRET_KEY" in line
