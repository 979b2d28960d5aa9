"""`pimhub import` against a real SQLite database: summary, exit codes, reports, --infer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error

MAPPING = """class: Product
fields:
  sku: SKU
  name.en: Name
  price.amount: {column: Price, number: {decimal: ","}}
  price.currency: {value: EUR}
  color: {column: Colour, lowercase: true, map: {gray: grey}}
"""


def files(tmp_path: Path, rows: list[str]) -> tuple[Path, Path]:
    data = tmp_path / "products.csv"
    data.write_text("SKU;Name;Price;Colour\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    return data, mapping


def test_import_report_and_exit_codes(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    data, mapping = files(tmp_path, ["A-1;Tee;19,99;Gray", "A-2;Mug;abc;Red", "A-3;Cap;5;Purple"])
    report = tmp_path / "errors.csv"
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping), "--report", str(report))
    assert code == 3, out  # finished, with refused rows
    assert "3 rows" in out and "2 created" in out and "1 refused" in out
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert rows == [
        {
            "row": "2",
            "line": "3",
            "column": "Price",
            "value": "abc",
            "message": "'abc' is not a number",
            "code": "transform",
        }
    ]
    hub = bootstrap(Settings(database_url=db_url))
    tee = hub.catalog.get_object("Product", "A-1", include_drafts=False)
    assert tee.values["price"] == {"amount": 19.99, "currency": "EUR"}
    assert tee.values["color"] == "grey"

    data, _ = files(tmp_path, ["A-1;Tee;19,99;Gray", "A-3;Cap;5;Purple"])
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 0 and "2 unchanged" in out

    data, _ = files(tmp_path, ["B-1;Ok;1;Red", "B-2;Bad;x;Red"])
    json_report = tmp_path / "errors.json"
    code, out, _ = invoke(
        runner,
        "import",
        str(data),
        "-m",
        str(mapping),
        "--on-error",
        "abort",
        "--report",
        str(json_report),
    )
    assert code == 1 and "nothing was kept" in out
    assert json.loads(json_report.read_text())[0]["row"] == 2
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping), "--dry-run")
    assert code == 3 and "dry run: nothing was kept" in out
    assert hub.catalog.list_objects  # the database is still there
    for sku in ("B-1", "B-2"):
        assert sku not in {o.key for o in _products(hub)}


def _products(hub: object) -> list:  # type: ignore[type-arg]
    from pimhub.catalog.service import ListQuery

    return hub.catalog.list_objects("Product", ListQuery(first=100)).items  # type: ignore[attr-defined, no-any-return]


def test_infer_proposes_a_mapping_from_the_header(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data = tmp_path / "p.csv"
    data.write_text("sku,Name,price,stock,featured,notes\nA,Tee,1,2,yes,x\n")
    code, out, _ = invoke(runner, "import", str(data), "--infer", "--class", "Product")
    assert code == 0
    assert out.startswith("# columns without a field of the same name: notes\n")
    proposal = yaml.safe_load(out)
    assert proposal == {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "Name",
            "price.currency": {"value": "EUR"},
            "price.amount": {"column": "price", "number": True},
            "stock": {"column": "stock", "number": True},
            "featured": {"column": "featured", "boolean": True},
        },
    }
    mapping = tmp_path / "proposed.yaml"
    mapping.write_text(out)
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 0 and "1 created" in out


def test_errors_are_one_line(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    data, mapping = files(tmp_path, ["A-1;Tee;1;Red"])
    code, _, err = invoke(runner, "import", str(data))
    assert "--mapping is required" in one_line_error(code, err)
    bad = tmp_path / "bad.yaml"
    bad.write_text("class: Product\nfields: {sku: {column: SKU, reverse: true}}\n")
    code, _, err = invoke(runner, "import", str(data), "-m", str(bad))
    assert "fields.sku.reverse" in one_line_error(code, err)
    code, _, err = invoke(runner, "import", str(data), "-m", str(mapping), "--class", "Nope")
    assert "there is no class 'Nope'" in one_line_error(code, err)
    odd = tmp_path / "p.dat"
    odd.write_text("x")
    code, _, err = invoke(runner, "import", str(odd), "-m", str(mapping))
    assert "--format" in one_line_error(code, err)


def test_export_to_a_file_and_stdout(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    data, mapping = files(tmp_path, ["A-1;Tee;19,99;Gray", "A-2;Mug;5;Red"])
    assert invoke(runner, "import", str(data), "-m", str(mapping))[0] == 0
    target = tmp_path / "out.csv"
    code, out, _ = invoke(
        runner, "export", "--class", "Product", "--fields", "sku,price,color", "-o", str(target)
    )
    assert code == 0 and "wrote 2 Product object(s)" in out
    assert target.read_text().splitlines() == [
        "sku,price.amount,price.currency,color",
        "A-1,19.99,EUR,grey",
        "A-2,5,EUR,red",
    ]
    code, out, _ = invoke(runner, "export", "--class", "Product", "--format", "jsonl")
    assert code == 0 and len(out.splitlines()) == 2
    code, _, err = invoke(runner, "export", "--class", "Product", "--filter", "{bad")
    assert "filter" in one_line_error(code, err)


def test_import_profiles_add_list_run_remove(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data, mapping = files(tmp_path, ["P-1;Profile;3;Red"])
    code, out, _ = invoke(
        runner,
        "import-profiles",
        "add",
        "erp",
        "--source",
        str(data),
        "-m",
        str(mapping),
        "--cron",
        "30 3 * * *",
    )
    assert code == 0 and "next run" in out and "03:30 UTC" in out
    assert "erp" in invoke(runner, "import-profiles", "list")[1]
    code, out, _ = invoke(runner, "import-profiles", "run", "erp")
    assert code == 0 and "succeeded: 1 rows, 1 created" in out
    assert "1 unchanged" in invoke(runner, "import-profiles", "run", "erp")[1]
    assert invoke(runner, "import-profiles", "remove", "erp")[0] == 0
    code, _, err = invoke(runner, "import-profiles", "run", "erp")
    assert "no import profile 'erp'" in one_line_error(code, err)
    code, _, err = invoke(
        runner,
        "import-profiles",
        "add",
        "bad",
        "--source",
        str(data),
        "-m",
        str(mapping),
        "--cron",
        "tonight",
    )
    assert "cron" in one_line_error(code, err)


def test_a_profile_of_an_http_source_takes_headers(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    _, mapping = files(tmp_path, ["P-1;Profile;3;Red"])
    url = "https://erp.example.com/export/products.csv"
    add = ("import-profiles", "add", "erp", "--source", url, "-m", str(mapping), "--cron", "@daily")
    code, out, _ = invoke(runner, *add, "-H", "Authorization: Bearer ${PIMHUB_IMPORT_ERP_TOKEN}")
    assert code == 0, out
    hub = bootstrap(Settings(database_url=db_url))
    try:
        saved = hub.import_profiles.get("erp").headers
    finally:
        hub.close()
    assert saved == {"Authorization": "Bearer ${PIMHUB_IMPORT_ERP_TOKEN}"}
    code, _, err = invoke(runner, *add, "-H", "Authorization Bearer x")
    assert "write a header as 'Name: value'" in one_line_error(code, err)


def test_the_summary_counts_rows_and_shows_file_text_as_it_is(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    # Two errors in one row (a name too long, a price in square brackets, which Rich would
    # read as markup); a quoted line break before it, so its row and line differ.
    data, mapping = files(
        tmp_path,
        [
            'A-1;"Tee\non two lines";1;Red',
            f"A-2;{'n' * 300};[b]cheap[/b];Red",
            "A-3;Cap;[a-z0-9]+;Red",
        ],
    )
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 3, out
    assert "3 rows" in out and "1 created" in out and "2 refused (3 errors)" in out
    assert "row 2 (line 4), Price = '[b]cheap[/b]': '[b]cheap[/b]' is not a number" in out
    assert "row 2 (line 4), Name = 'nnn" in out
    assert "row 3 (line 5), Price = '[a-z0-9]+'" in out


def test_import_profiles_list_shows_a_source_with_brackets_as_written(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data, mapping = files(tmp_path, ["P-1;Profile;3;Red"])
    odd = data.rename(tmp_path / "[bold]p[red].csv")
    add = ("import-profiles", "add", "erp", "--source", str(odd), "-m", str(mapping))
    assert invoke(runner, *add, "--cron", "@daily")[0] == 0
    code, out, _ = invoke(runner, "import-profiles", "list")
    assert code == 0 and "[bold]p[red].csv" in out.replace("\n", "").replace(" ", ""), out


def test_a_proposed_mapping_imports_rows_without_a_price(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data = tmp_path / "p.csv"
    data.write_text("sku,Name,price\nA,Tee,9.5\nB,Gift card,\n")
    code, proposal, _ = invoke(runner, "import", str(data), "--infer", "--class", "Product")
    assert code == 0 and "price.currency" in proposal
    mapping = tmp_path / "proposed.yaml"
    mapping.write_text(proposal)
    code, out, _ = invoke(runner, "import", str(data), "-m", str(mapping))
    assert code == 0 and "2 created" in out and "0 refused" in out, out


def test_a_profile_run_shows_its_counts_and_error_as_written(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data, mapping = files(tmp_path, ["P-1;One;3;Red", "P-2;Two;x;Red"])
    add = ("import-profiles", "add", "erp", "--source", str(data), "-m", str(mapping))
    assert invoke(runner, *add, "--cron", "@daily")[0] == 0
    code, out, _ = invoke(runner, "import-profiles", "run", "erp")
    assert code == 3 and "1 created" in out and "1 refused (1 error)" in out, out
    data.write_text("SKU;Name;[red]Price\nP-3;Three;1\n", encoding="utf-8")
    code, out, _ = invoke(runner, "import-profiles", "run", "erp")
    assert code == 1 and "[red]Price" in out, out


DEEP_YAML = {
    "lists": "class: Product\nfields:\n  name.en: " + "[" * 10_000 + "\n",
    "mappings": "{a: " * 3_000 + "1" + "}" * 3_000 + "\n",
}


def test_deeply_nested_yaml_is_a_one_line_error_everywhere(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    data, _ = files(tmp_path, ["A-1;Tee;1;Red"])
    for shape, text in DEEP_YAML.items():
        deep = tmp_path / f"deep-{shape}.yaml"
        deep.write_text(text)
        commands = [
            ["import", str(data), "-m", str(deep)],
            ["import-profiles", "add", "deep", "--source", str(data), "-m", str(deep),
             "--cron", "0 2 * * *"],
            ["classes", "apply", str(deep)],
            ["graphql", "apply", str(deep)],
        ]  # fmt: skip
        for command in commands:
            code, _, err = invoke(runner, *command)
            assert "nested deeper than 64 levels" in one_line_error(code, err), command
    assert "deep" not in invoke(runner, "import-profiles", "list")[1]
