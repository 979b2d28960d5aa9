"""Attack findings on `pimhub check` advice: each command a fix names runs as written and
clears its finding; no advice that cannot help (a rotation keeps the key's expiry); the
rate it suggests is the hub's default; and a memory rate-limit store on PostgreSQL, whose
limits multiply by the number of processes, is reported."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pimhub.readiness import run_checks
from pimhub.settings import Settings
from tests.cli.test_check_cli import run, snapshot
from tests.cli.test_cli import init, invoke


def findings(runner: CliRunner, check: str) -> list[dict[str, str]]:
    _, out = run(runner, "check", "--json")
    return [f for f in json.loads(out)["findings"] if f["check"] == check]


def run_fix(runner: CliRunner, fix: str) -> None:
    commands = re.findall(r"`(pimhub [^`]+)`", fix)
    assert commands, fix
    for command in commands:
        code, out, err = invoke(runner, *shlex.split(command)[1:])
        assert code == 0, (command, out, err)


@pytest.mark.parametrize("check", ["key-without-expiry", "key-expiring"])
def test_the_key_advice_runs_as_written_and_clears_the_finding(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check: str
) -> None:
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(tmp_path / "data"))
    init(runner)
    if check == "key-expiring":
        for found in findings(runner, "key-without-expiry"):
            key_id = found["message"].split()[2]
            assert invoke(runner, "keys", "update", key_id, "--expires-in-days", "3")[0] == 0
    [found] = findings(runner, check)
    assert "rotate" not in found["fix"]  # a rotation keeps the expiry
    run_fix(runner, found["fix"])
    assert findings(runner, check) == []


def test_the_rate_advice_is_the_hubs_default() -> None:
    default = Settings.model_fields["rate_limit_per_key"].default
    [found] = run_checks(snapshot(rate_limit_per_key="off"))
    assert found.check == "rate-limits-off"
    assert default in found.fix


def test_a_memory_rate_limit_store_on_postgresql_is_reported() -> None:
    [found] = run_checks(snapshot(rate_limit_store="memory"))
    assert found.check == "rate-limit-store-memory"
    assert "PIMHUB_RATE_LIMIT_STORE" in found.message and "unset" in found.fix
    assert run_checks(snapshot(rate_limit_store="memory", database="sqlite", workers=1)) == [
        f for f in run_checks(snapshot(database="sqlite", workers=1))
    ]
    assert run_checks(snapshot(rate_limit_store="database")) == []
