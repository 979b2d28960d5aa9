"""`pimhub import -m magento-products` of configurable products: the summary names the
parents and variants, a dry run keeps nothing, and the magento-csv export reads back
unchanged."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.catalog.service import ListQuery
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke

MAGENTO = (
    "sku,product_type,name,price,additional_attributes,configurable_variations\n"
    'MH01-S,simple,Hoodie S,52,"size=S,color=Gray",\n'
    'MH01-M,simple,Hoodie M,52,"size=M,color=Gray",\n'
    'MH01,configurable,Hoodie,52,,"sku=MH01-S,size=S,color=Gray|sku=MH01-M,size=M,color=Gray"\n'
)


def test_import_counts_parents_and_variants_and_the_export_reads_back(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data = tmp_path / "products.csv"
    data.write_text(MAGENTO, encoding="utf-8")
    code, out, _ = invoke(runner, "import", str(data), "-m", "magento-products", "--dry-run")
    assert code == 0, out
    assert "3 created" in out and "1 parent(s) with 2 variant(s)" in out
    assert "dry run: nothing was kept" in out
    hub = bootstrap(Settings(database_url=db_url))
    assert hub.catalog.list_objects("Product", ListQuery()).items == []
    code, out, _ = invoke(runner, "import", str(data), "-m", "magento-products")
    assert code == 0 and "3 created" in out and "1 parent(s) with 2 variant(s)" in out
    variants = hub.catalog.list_objects("Product", ListQuery(parent="MH01"))
    assert sorted(o.key for o in variants.items) == ["MH01-M", "MH01-S"]
    exported = tmp_path / "magento.csv"
    code, out, _ = invoke(
        runner, "export", "--class", "Product", "--format", "magento-csv", "-o", str(exported)
    )
    assert code == 0, out
    code, out, _ = invoke(runner, "import", str(exported), "-m", "magento-products")
    assert code == 0 and "3 unchanged" in out and "1 parent(s) with 2 variant(s)" in out


def test_infer_proposes_the_family_columns(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    data = tmp_path / "p.csv"
    data.write_text(
        "sku,name,color,size,parent,configurable_variations\n"
        "T,Tee,,,,\nT-S,Tee S,red,S,T,\nU,Other,,,,sku=T-M\nT-M,Tee M,red,M,,\n"
    )
    code, out, _ = invoke(runner, "import", str(data), "--infer", "--class", "Product")
    assert code == 0, out
    proposal = yaml.safe_load(out)
    assert proposal["fields"]["@parent"] == "parent"
    assert proposal["fields"]["@variants"] == {
        "column": "configurable_variations",
        "variations": "sku",
    }
    mapping = tmp_path / "proposed.yaml"
    mapping.write_text(out)
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 0 and "4 created" in out and "2 parent(s) with 2 variant(s)" in out
