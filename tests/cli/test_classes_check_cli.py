"""`pimhub classes apply FILE --check`: says what applying would do, refuses what applying
refuses, and stores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error


def _brand_file(runner: CliRunner, tmp_path: Path) -> tuple[Path, Any]:
    exported = tmp_path / "classes.yaml"
    code, _, _ = invoke(runner, "classes", "export", "-o", str(exported), "--class", "Brand")
    assert code == 0
    return exported, yaml.safe_load(exported.read_text())


def test_check_reports_and_saves_nothing(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    exported, data = _brand_file(runner, tmp_path)
    brand = data["classes"][0]
    brand["fields"].append({"name": "country", "type": "text"})
    supplier = {
        "name": "Supplier",
        "businessKey": "code",
        "fields": [{"name": "code", "type": "text"}],
    }
    data["classes"].append(supplier)
    exported.write_text(yaml.safe_dump(data))
    code, out, _ = invoke(runner, "classes", "apply", str(exported), "--check")
    assert code == 0, out
    assert "Brand: would be updated" in out
    assert "Supplier: would be created" in out
    hub = bootstrap(Settings(database_url=db_url))
    assert hub.classes.get("Brand").version == 1
    assert "country" not in {f.name for f in hub.classes.get("Brand").fields}
    assert "Supplier" not in {c.name for c in hub.classes.all()}


def test_check_refuses_a_breaking_change_like_apply(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    bootstrap(Settings(database_url=db_url)).catalog.create(
        "Brand", {"code": "acme", "name": "Acme"}, author="t"
    )
    exported, data = _brand_file(runner, tmp_path)
    brand = data["classes"][0]
    brand["fields"] = [f for f in brand["fields"] if f["name"] != "name"]
    exported.write_text(yaml.safe_dump(data))
    code, _, err = invoke(runner, "classes", "apply", str(exported), "--check")
    checked = one_line_error(code, err)
    code, _, err = invoke(runner, "classes", "apply", str(exported))
    assert checked == one_line_error(code, err)
    assert "name" in checked
