"""An invalid setting ends any command with one clear line per setting and exit status 2,
not pydantic's traceback; the value is not echoed (it may be a secret)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.cli.test_cli import invoke


@pytest.mark.parametrize(
    "command", [("inbound", "messages"), ("keys", "list"), ("db", "current"), ("worker",)]
)
def test_invalid_settings_are_named_one_line_each(
    runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("PIMHUB_INBOUND_LOG_RETENTION_DAYS", "0")
    monkeypatch.setenv("PIMHUB_WEBHOOK_LOG_RETENTION_DAYS", "secret-looking-9f2")
    code, out, err = invoke(runner, *command)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert sorted(lines) == [
        "invalid setting PIMHUB_INBOUND_LOG_RETENTION_DAYS: Input should be greater than 0",
        "invalid setting PIMHUB_WEBHOOK_LOG_RETENTION_DAYS: Input should be a valid number,"
        " unable to parse string as a number",
    ]
    assert "secret-looking-9f2" not in out + err
