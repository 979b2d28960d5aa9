"""YAML whose values cannot be built (an integer past Python's 4300-digit limit) is a one-line
error with a non-zero exit in every command that reads YAML; timestamp-like text loads as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.test_cli import init, invoke, one_line_error

LONG = "9" * 4_301
UNBUILDABLE = {
    "top level": f"class: Product\nfields: {{sku: {{column: sku}}}}\nx: {LONG}\n",
    "inside map": f"class: Product\nfields:\n  sku: {{column: sku, map: {{a: {LONG}}}}}\n",
}


@pytest.mark.parametrize("shape", sorted(UNBUILDABLE))
def test_an_unbuildable_value_is_a_one_line_error_everywhere(
    runner: CliRunner, db_url: str, tmp_path: Path, shape: str
) -> None:
    init(runner)
    data = tmp_path / "products.csv"
    data.write_text("sku\nA-1\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(UNBUILDABLE[shape], encoding="utf-8")
    add_profile = ["import-profiles", "add", "bad", "--source", str(data), "-m", str(bad),
                   "--cron", "0 2 * * *"]  # fmt: skip
    for command in (["import", str(data), "-m", str(bad)], add_profile,
                    ["classes", "apply", str(bad)], ["graphql", "apply", str(bad)]):  # fmt: skip
        code, _, err = invoke(runner, *command)
        line = one_line_error(code, err)
        assert "4300 digits" in line and "set_int_max_str_digits" not in line, (command, line)
        if command[0] not in ("import", "import-profiles"):  # these two name the mapping
            assert "line 3" in line, (command, line)
    assert "bad" not in invoke(runner, "import-profiles", "list")[1]


def test_impossible_dates_are_text_to_an_import_mapping(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data = tmp_path / "products.csv"
    data.write_text("sku\nA-1\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    for extra in ("x: 2020-99-99", "x: 2020-01-01 25:61:61", "2020-02-30: a"):
        mapping.write_text(f"class: Product\nfields: {{sku: {{column: sku}}}}\n{extra}\n")
        code, _, err = invoke(runner, "import", str(data), "-m", str(mapping))
        line = one_line_error(code, err)
        # An unknown top-level key, named as written: no traceback, no exit 0.
        assert extra.split(":")[0] in line, line
