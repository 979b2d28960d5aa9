"""What `pimhub secret-key backup` and the `secret-key-unset` finding tell a newcomer: the
backup kept apart from the database dumps, and a fix that works before the key file exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pimhub.cli.main import app
from pimhub.readiness import run_checks
from tests.cli.test_check_cli import snapshot


def test_the_backup_is_kept_apart_from_the_database_backups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PIMHUB_SECRET_KEY", raising=False)
    copy = tmp_path / "vault.key"
    result = CliRunner().invoke(app, ["secret-key", "backup", "--to", str(copy)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "keep it apart from the database backups" in out
    assert "with the database backups" not in out
    assert copy.read_text() == (tmp_path / "data" / "secret.key").read_text()


def test_the_unset_key_fix_says_how_to_make_the_key_file() -> None:
    [finding] = [f for f in run_checks(snapshot(secret_key=None)) if f.check == "secret-key-unset"]
    assert "content of data_dir/secret.key" in finding.fix
    assert "`pimhub secret-key backup --to PATH` makes that file" in finding.fix
