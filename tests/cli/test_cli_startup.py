"""`pimhub` starts without importing the hub: the help and light commands must not pay for
SQLAlchemy, FastAPI or graphql-core (bench/cli_startup.py measures the time itself)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pimhub.cli.main import COMMANDS, app

HEAVY = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "graphql",
    "uvicorn",
    "pimhub.bootstrap",
    "pimhub.catalog.service",  # the key commands read the clock, not the catalog
    "pimhub.catalog.query",  # nor filters: the key table's reader needs no datahub ports
)


def imported_after(code: str) -> set[str]:
    """The heavy modules loaded once `code` has run in a fresh interpreter."""
    loaded = f"' '.join(m for m in {HEAVY!r} if m in sys.modules)"
    probe = f"{code}\nimport sys\nprint('LOADED:' + {loaded})"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    last = done.stdout.splitlines()[-1]
    assert last.startswith("LOADED:"), done.stdout
    return set(last.removeprefix("LOADED:").split())


def test_importing_the_command_imports_nothing_heavy() -> None:
    assert imported_after("import pimhub.cli.main") == set()


def test_help_imports_nothing_heavy() -> None:
    code = (
        "from pimhub.cli.main import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert imported_after(code) == set()


def test_keys_needs_no_web_framework_graphql_or_hub() -> None:
    code = (
        "import os\nos.environ['PIMHUB_DATABASE_URL'] = 'sqlite://'\n"
        "from pimhub.cli.main import app\ntry:\n    app(['keys', 'list'])\nexcept SystemExit:\n"
        "    pass"
    )
    assert imported_after(code) == {"sqlalchemy"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_listed_command_loads_and_has_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_help_lists_every_command() -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, lazy in COMMANDS.items():
        assert name in result.output and lazy.help in result.output


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["key", "list"])
    assert result.exit_code == 2
    assert "No such command 'key'. Did you mean 'keys'?" in result.output
