"""`pimhub export`: --delimiter, and a reader that stops early (`| head`) ends the export
without a traceback."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.test_cli import init, invoke, one_line_error

PIMHUB = str(Path(sys.executable).parent / "pimhub")
MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n  description.en: description\n"
PRODUCTS = 400  # about 250 KB of CSV: more than a pipe holds, so the writer meets the close


@pytest.fixture
def catalog(runner: CliRunner, db_url: str, tmp_path: Path) -> str:
    init(runner)
    data = tmp_path / "p.csv"
    words = " ".join(["lorem ipsum dolor sit amet"] * 20)
    data.write_text(
        "sku,name,description\n"
        + "".join(f"P-{i},Product {i},<p>{i} {words}</p>\n" for i in range(PRODUCTS))
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 0 and f"{PRODUCTS} created" in out, out
    return db_url


def test_delimiter(runner: CliRunner, catalog: str) -> None:
    code, out, _ = invoke(runner, "export", "--class", "Product", "--delimiter", ";")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out), delimiter=";"))
    assert len(rows) == PRODUCTS and rows[0]["sku"] == "P-0"
    assert rows[0]["name.en"] == "Product 0"
    code, out, _ = invoke(runner, "export", "--class", "Product", "--delimiter", "\t")
    assert code == 0 and out.startswith("sku\tname.en\t")


@pytest.mark.parametrize(
    ("delimiter", "extra"),
    [(";;", ()), ("", ()), ('"', ()), ("\n", ()), ("\0", ()), (";", ("--format", "jsonl"))],
)
def test_a_bad_delimiter_is_one_line(
    runner: CliRunner, catalog: str, tmp_path: Path, delimiter: str, extra: tuple[str, ...]
) -> None:
    target = tmp_path / "out.csv"
    args = ("export", "--class", "Product", "--delimiter", delimiter, "-o", str(target), *extra)
    code, _, err = invoke(runner, *args)
    assert "delimiter: " in one_line_error(code, err)
    assert not target.exists()  # refused before a file is created


def test_a_closed_stdout_ends_the_export_quietly(catalog: str) -> None:
    env = {**os.environ, "PIMHUB_DATABASE_URL": catalog}
    done = subprocess.run(
        ["bash", "-c", f"'{PIMHUB}' export --class Product | head -1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.stdout.startswith("sku,name.en,")
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""  # no traceback, no "Exception ignored", no error line


def test_the_written_path_prints_as_text(runner: CliRunner, catalog: str, tmp_path: Path) -> None:
    """A path holding square brackets is printed as it is, not read as Rich markup."""
    target = tmp_path / "out[bold]x[i].csv"
    code, out, err = invoke(runner, "export", "--class", "Product", "-o", str(target))
    assert code == 0 and target.exists(), err
    assert "out[bold]x[i].csv" in out.replace("\n", ""), out


@pytest.mark.parametrize("delimiter", [";;", '"', "\n", "\0"])
def test_import_refuses_a_bad_delimiter_before_reading(
    runner: CliRunner, db_url: str, tmp_path: Path, delimiter: str
) -> None:
    """The import takes the same rule as the export (and REST), up front in one line."""
    init(runner)
    data = tmp_path / "p.csv"
    data.write_text("sku,name\nP-1,x\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)
    code, _, err = invoke(runner, "import", str(data), "-m", str(mapping), "--delimiter", delimiter)
    assert "--delimiter: " in one_line_error(code, err)
