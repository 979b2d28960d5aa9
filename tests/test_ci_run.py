"""`.ci/run` finds the data kept beside the repository only at ../shared relative to the
checkout it runs from, and a variable already set wins (`--print-env` shows what a run would
use without starting anything)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / ".ci" / "run"
LUMA = "datasets/magento2-sample-data/ConfigurableSampleData/fixtures/products.csv"
SCHEMA = "contracts/magento/admin-schema-2.4.8.yaml"
VARIABLES = ("PIMHUB_TEST_LUMA_CSV", "PIMHUB_MAGENTO_SCHEMA")


def checkout(root: Path) -> Path:
    """A checkout at root/repo holding only .ci/run."""
    repo = root / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(RUN, repo / ".ci" / "run")
    return repo


def printed(repo: Path, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    done = subprocess.run(
        ["bash", str(repo / ".ci" / "run"), "--print-env"],
        env={**clean, **env},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    pairs = (line.partition("=") for line in done.stdout.splitlines() if "=" in line)
    return {name: value for name, _, value in pairs}


def test_the_data_beside_the_checkout_is_found(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    for relative in (LUMA, SCHEMA):
        (tmp_path / "shared" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shared" / relative).write_text("x")
    assert printed(repo) == {
        "PIMHUB_TEST_LUMA_CSV": str((tmp_path / "shared" / LUMA).resolve()),
        "PIMHUB_MAGENTO_SCHEMA": str((tmp_path / "shared" / SCHEMA).resolve()),
    }


def test_a_clone_without_shared_beside_it_looks_nowhere_else(tmp_path: Path) -> None:
    # Not at an absolute path of one machine either: the tests that need the data skip.
    assert printed(checkout(tmp_path)) == {"PIMHUB_TEST_LUMA_CSV": "", "PIMHUB_MAGENTO_SCHEMA": ""}


@pytest.mark.parametrize("variable", VARIABLES)
def test_a_variable_from_the_environment_wins(tmp_path: Path, variable: str) -> None:
    repo = checkout(tmp_path)
    (tmp_path / "shared" / LUMA).parent.mkdir(parents=True)
    (tmp_path / "shared" / LUMA).write_text("x")
    assert printed(repo, **{variable: "/elsewhere/file"})[variable] == "/elsewhere/file"
