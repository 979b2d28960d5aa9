"""`pimhub export`, `pimhub import --infer` and `pimhub import` in a row: the hub's own export
comes back into an empty database without a refused row, and every column --infer leaves
out is explained."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.cli.server import seed_demo
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error
from tests.transfer.test_infer_roundtrip import comparable_rows

CLASSES = ("Brand", "Category", "Product")


def test_export_infer_import_through_the_cli(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    seed_demo(hub, 8)
    images = {a.path: b"".join(hub.assets.read(a)) for a in hub.assets.list_page().items}
    for name in CLASSES:
        code, out, _ = invoke(runner, "export", "--class", name, "-o", str(tmp_path / name))
        assert code == 0, out

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("PIMHUB_DATABASE_URL", fresh)
    init(runner)
    assets = bootstrap(Settings(database_url=fresh)).assets
    for path, content in images.items():  # the files first: products refer to them
        assets.add(io.BytesIO(content), path, author="t")
    for name in CLASSES:
        data = tmp_path / name
        code, proposal, _ = invoke(runner, "import", str(data), "--format", "csv", "--infer",
                                   "--class", name)  # fmt: skip
        assert code == 0 and not proposal.startswith("#"), proposal  # every column mapped
        mapping = tmp_path / f"{name}.yaml"
        mapping.write_text(proposal)
        code, out, _ = invoke(runner, "import", str(data), "--format", "csv", "-m", str(mapping))
        assert code == 0 and " 0 refused" in out, out
        code, again, _ = invoke(runner, "export", "--class", name)
        before = data.read_text(encoding="utf-8")
        assert code == 0 and comparable_rows(again) == comparable_rows(before), name


def test_infer_explains_each_column_it_leaves_out(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data = tmp_path / "akeneo.csv"
    data.write_text(
        "sku;name-en_US;name-ja_JP;notes;weight;weight-unit\nA;Tee;T;x;500;GRAM\n",
        encoding="utf-8",
    )
    code, out, _ = invoke(runner, "import", str(data), "--infer", "--class", "Product")
    assert code == 0, out
    comments = [line for line in out.splitlines() if line.startswith("#")]
    assert comments == [
        "# columns without a field of the same name: name-ja_JP, notes",
        "#   name-ja_JP: 'ja' is not one of this hub's languages (en, de, fr); add it to "
        "PIMHUB_LANGUAGES to import this column",
        "#   notes: Product has no field named or titled so",
    ]
    assert yaml.safe_load(out)["fields"]["weight.unit"] == {"column": "weight-unit", "unit": "mass"}
    mapping = tmp_path / "m.yaml"
    mapping.write_text(out)
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 0 and "1 created" in out, out
    product = bootstrap(Settings(database_url=db_url)).catalog.get_object(
        "Product", "A", include_drafts=True
    )
    assert product.values["weight"] == {"value": 500, "unit": "g"}  # not 500 kg


def test_an_export_with_drafts_comes_back_with_its_drafts(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(runner)
    seed = tmp_path / "seed.csv"
    seed.write_text("sku,name,online\nS-1,One,yes\nS-4,Four,no\n")
    seed_mapping = tmp_path / "seed.yaml"
    seed_mapping.write_text(
        'class: Product\nfields: {sku: sku, name.en: name, "@published": online}\n'
    )
    assert invoke(runner, "import", str(seed), "-m", str(seed_mapping))[0] == 0
    exports = {fmt: tmp_path / f"products.{fmt}" for fmt in ("csv", "xml", "jsonl")}
    for fmt, file in exports.items():
        code, out, _ = invoke(runner, "export", "--class", "Product", "--drafts",
                              "--format", fmt, "-o", str(file))  # fmt: skip
        assert code == 0, out

    monkeypatch.setenv("PIMHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    init(runner)
    for fmt in ("csv", "xml"):
        options = ["--record-path", "product"] if fmt == "xml" else []
        code, proposal, _ = invoke(runner, "import", str(exports[fmt]), "--infer",
                                   "--class", "Product", *options)  # fmt: skip
        assert code == 0 and "'@published': published" in proposal, proposal
        mapping = tmp_path / f"{fmt}.yaml"
        mapping.write_text(proposal)
        code, out, _ = invoke(runner, "import", str(exports[fmt]), "-m", str(mapping), *options)
        assert code == 0 and " 0 refused" in out, out
        fresh = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}"))
        published = {
            key: fresh.catalog.get_object("Product", key, include_drafts=True).published
            for key in ("S-1", "S-4")
        }
        assert published == {"S-1": True, "S-4": False}, fmt
    code, _, err = invoke(runner, "import", str(exports["jsonl"]), "--infer", "--class", "Product")
    assert "nests each object's values under 'fields'" in one_line_error(code, err)


def test_an_inferred_mapping_reads_xlsx_numbers_and_dates_by_their_fields(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    from datetime import datetime, time

    from openpyxl import Workbook

    init(runner)
    bootstrap(Settings(database_url=db_url)).catalog.create(
        "Category", {"code": "100", "name": {"en": "Hundred"}}, author="test"
    )
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["sku", "name.en", "releasedOn", "category", "@published"])
    sheet.append(["XL-9", "x", datetime(2024, 1, 2), 100, "yes"])
    sheet.append([True, "y", datetime(2024, 1, 3), 100.0, "yes"])
    sheet.append(["XL-11", "z", time(10, 30), 100, datetime(2024, 1, 2)])
    data = tmp_path / "inf.xlsx"
    book.save(data)
    code, proposal, _ = invoke(runner, "import", str(data), "--class", "Product", "--infer")
    assert code == 0 and not proposal.startswith("#"), proposal
    mapping = tmp_path / "inf.yaml"
    mapping.write_text(proposal)
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 3 and "1 created" in out and "2 refused" in out, out  # 3: rows refused
    assert [line.strip() for line in out.splitlines() if line.startswith("  row")] == [
        "row 2 (line 3), sku = true: expected text, got a true/false value",
        "row 3 (line 4), @published = 2024-01-02 00:00:00: 2024-01-02 00:00:00 is not yes, no, "
        "true, false, 1 or 0",
        "row 3 (line 4), releasedOn = 10:30:00: expected a date, got a time of day (10:30:00)",
    ]
    hub = bootstrap(Settings(database_url=db_url))
    product = hub.catalog.get_object("Product", "XL-9", include_drafts=True)
    category = hub.catalog.get_object("Category", "100", include_drafts=True)
    assert product.values["releasedOn"] == "2024-01-02"
    assert product.values["category"] == category.uuid
