"""`pimhub graphql`: apply/export YAML, list, schema, keys, delete, and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error

CONFIG = """datahub:
  - name: shop
    classes:
      Product: {fields: [sku, name, price, category], operations: [read, update]}
      Category: {fields: [code, name]}
    limits: {maxPageSize: 50}
"""


def test_apply_list_schema_key_export_delete(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    file = tmp_path / "datahub.yaml"
    file.write_text(CONFIG)
    code, out, _ = invoke(runner, "graphql", "apply", str(file))
    assert code == 0 and "shop: created" in out
    assert "shop: unchanged" in invoke(runner, "graphql", "apply", str(file))[1]
    code, out, _ = invoke(runner, "graphql", "list")
    assert "/graphql/shop" in out and "datahub:shop" in out
    code, sdl, _ = invoke(runner, "graphql", "schema", "shop")
    assert code == 0
    assert "getProductListing(" in sdl and "updateProduct(" in sdl
    assert "createProduct" not in sdl
    assert not re.search(r"\bean\b", sdl)  # not exposed, so not in the schema at all
    code, out, _ = invoke(runner, "graphql", "key", "shop", "--name", "storefront")
    token = out.strip().splitlines()[-1]
    hub = bootstrap(Settings(database_url=db_url))
    key = hub.access.authenticate(token)
    assert key.opens_datahub("shop") and not key.opens_datahub("other")
    code, exported, _ = invoke(runner, "graphql", "export")
    assert yaml.safe_load(exported)["datahub"][0]["limits"]["maxPageSize"] == 50
    assert invoke(runner, "graphql", "delete", "shop")[0] == 0
    assert "no datahub configuration" in one_line_error(*_code_err(runner, "schema", "shop"))


def _code_err(runner: CliRunner, *args: str) -> tuple[int, str]:
    code, _, err = invoke(runner, "graphql", *args)
    return code, err


def test_invalid_configuration_names_every_problem(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    file = tmp_path / "bad.yaml"
    file.write_text(
        "datahub:\n  - name: Bad Name\n    classes:\n      Nope: {}\n"
        "      Product: {fields: [sku, category], operations: [write]}\n"
    )
    line = one_line_error(*_code_err(runner, "apply", str(file)))
    assert "datahub[0].name" in line
    assert "datahub[0].classes.Nope" in line
    assert "operations[0]: unknown operation 'write'" in line
    assert "'category' relates to Category" in line
    broken = tmp_path / "broken.yaml"
    broken.write_text("datahub:\n  - name: x\n   classes: [\n")
    assert "line 3" in one_line_error(*_code_err(runner, "apply", str(broken)))
