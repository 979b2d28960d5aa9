"""Every listing: ids are never cut, whatever the terminal's width, and `--json` gives the
same rows as JSON for scripts. Cells print as text, never as console markup."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from pimhub.cli import common
from tests.cli.test_cli import init, invoke

NARROW = {"COLUMNS": "60", "PIMHUB_SECRET_KEY": "cli-test"}
URL = "https://hooks.example.com/a-rather-long-path/that/fills/the/narrow/terminal"


@pytest.fixture
def narrow() -> CliRunner:
    return CliRunner(env=NARROW)


def endpoint(runner: CliRunner) -> str:
    code, out, err = invoke(runner, "webhooks", "create", "--url", URL, "--class", "Product")
    assert code == 0, err
    endpoint_id = out.split()[2]
    assert endpoint_id.startswith("ep_") and len(endpoint_id) > 12
    return endpoint_id


def test_ids_are_whole_in_a_narrow_terminal(narrow: CliRunner, db_url: str) -> None:
    init(narrow)
    endpoint_id = endpoint(narrow)
    for args in (["webhooks", "list"], ["webhooks", "stats"]):
        code, out, _ = invoke(narrow, *args)
        assert code == 0 and endpoint_id in out and URL in out, out
        assert "…" not in out
    code, out, _ = invoke(narrow, "keys", "list")
    key_id = orjson.loads(invoke(narrow, "keys", "list", "--json")[1])[0]["keyId"]
    assert key_id in out and "…" not in out


def test_ids_fold_rather_than_end_in_an_ellipsis_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(
        common, "console", Console(file=screen, force_terminal=True, width=60, color_system=None)
    )
    long_id = "ep_e66f0c1d2b3a49587766554433221100"
    common.print_table(("id", "url", "note"), [[long_id, URL, "x" * 50]])
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert "…" not in screen.getvalue()
    first_column = "".join(line.split("│")[1].strip() for line in lines if line.count("│") > 1)
    assert long_id in first_column


def test_cells_are_text_not_markup(narrow: CliRunner, db_url: str) -> None:
    init(narrow)
    code, _, err = invoke(
        narrow, "keys", "create", "--name", "[bold]erp[/bold]", "--scopes", "read"
    )
    assert code == 0, err
    code, out, _ = invoke(narrow, "keys", "list")
    assert "[bold]erp[/bold]" in out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["keys", "list"], "keyId"),
        (["classes", "list"], "businessKey"),
        (["webhooks", "list"], "id"),
        (["webhooks", "deliveries"], None),
        (["webhooks", "deliveries", "--status", "dead"], None),
        (["webhooks", "stats"], "endpointId"),
        (["graphql", "list"], None),
        (["connectors", "list"], None),
        (["import-profiles", "list"], None),
    ],
)
def test_every_listing_has_json(
    narrow: CliRunner, db_url: str, args: list[str], field: str | None
) -> None:
    init(narrow)
    endpoint(narrow)
    code, out, err = invoke(narrow, *args, "--json")
    assert code == 0, err
    rows = orjson.loads(out)
    assert isinstance(rows, list)
    if field is not None:
        assert rows and all(field in row for row in rows)


def test_completeness_has_json(narrow: CliRunner, db_url: str) -> None:
    init(narrow)
    code, out, err = invoke(narrow, "completeness", "Product", "--json", "--show", "1")
    assert code == 0, err
    rows = orjson.loads(out)
    assert {row["channel"] for row in rows} == {"ecommerce"}
    assert all(sum(row["bands"].values()) == 0 for row in rows)


def test_errors_print_square_brackets_as_written(narrow: CliRunner, db_url: str) -> None:
    init(narrow)
    code, _, err = invoke(narrow, "keys", "create", "--name", "x", "--scopes", "read:[a-z0-9]")
    assert code == 1 and "'read:[a-z0-9]' is not a scope" in err
    assert "read|read-drafts|write|delete|review|publish[:Class|*]" in err
    code, _, err = invoke(narrow, "keys", "revoke", "[bold]erp[/bold]")
    assert code == 1 and "'[bold]erp[/bold]'" in err


def test_graphql_keys_lists_the_keys_of_configurations(
    narrow: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(narrow)
    file = tmp_path / "datahub.yaml"
    file.write_text(
        "datahub:\n  - {name: shop, classes: {Brand: {}}}\n  - {name: feed, classes: {Brand: {}}}\n"
    )
    assert invoke(narrow, "graphql", "apply", str(file))[0] == 0
    for config, name in (("shop", "storefront"), ("feed", "partner")):
        assert invoke(narrow, "graphql", "key", config, "--name", name)[0] == 0
    every = orjson.loads(invoke(narrow, "graphql", "keys", "--json")[1])
    assert sorted(k["name"] for k in every) == ["partner", "storefront"]  # not the admin key
    shop = orjson.loads(invoke(narrow, "graphql", "keys", "shop", "--json")[1])
    assert [(k["name"], k["scopes"]) for k in shop] == [("storefront", ["datahub:shop"])]
    code, out, _ = invoke(narrow, "graphql", "keys", "shop")
    assert code == 0 and shop[0]["keyId"] in out and "partner" not in out
    for extra in ((), ("--json",)):  # a configuration that does not exist is an error, not []
        code, out, err = invoke(narrow, "graphql", "keys", "nosuch", *extra)
        assert code != 0 and out == "" and "nosuch" in err, (out, err)
        code, out, err = invoke(narrow, "graphql", "keys", "", *extra)
        assert code != 0 and out == "", (out, err)
