"""`pimhub search`: rebuild, status and query against a real SQLite database."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error


def test_query_status_and_rebuild(runner: CliRunner, db_url: str) -> None:
    init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")
    for i in range(3):
        hub.catalog.create(
            "Product", {"sku": f"TS-{i}", "name": {"en": f"Tee {i}"}, "brand": "acme"}, author="t"
        )
    hub.datahub.create(
        {"name": "shop", "classes": {"Product": {}, "Brand": {}, "Category": {}}}, author="t"
    )

    code, out, _ = invoke(
        runner,
        "search",
        "query",
        "shop",
        "tee",
        "--json",
        "--class",
        "Product",
        "--facets",
        "brand",
        "--size",
        "2",
    )
    assert code == 0, out
    body = json.loads(out)
    assert body["total"] == 3 and len(body["items"]) == 2 and body["nextCursor"]
    assert body["facets"]["brand"] == [{"value": "acme", "count": 3}]
    code, out, _ = invoke(runner, "search", "query", "shop", "tee 1")
    assert code == 0 and "TS-1" in out and "1 match(es)" in out

    code, out, _ = invoke(runner, "search", "status")
    assert "4 document(s) for 4 object(s)" in out  # English only: one document each

    with hub.engine.begin() as conn:
        conn.execute(text("DELETE FROM search_fts"))
    assert "0 match(es)" in invoke(runner, "search", "query", "shop", "tee 1")[1]
    code, out, _ = invoke(runner, "search", "rebuild", "--class", "Product")
    assert code == 0 and "indexed 3 object(s)" in out
    assert "1 match(es)" in invoke(runner, "search", "query", "shop", "tee 1")[1]
    code, out, _ = invoke(runner, "search", "rebuild")
    assert "indexed 4 object(s)" in out and "holds 4 document(s)" in out


def test_errors_are_one_line(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, _, err = invoke(runner, "search", "rebuild", "--class", "Nope")
    assert code == 1 and "there is no class 'Nope'" in one_line_error(code, err)
    code, _, err = invoke(runner, "search", "query", "nothing", "x")
    assert code == 1 and "no datahub configuration" in one_line_error(code, err)
    hub = bootstrap(Settings(database_url=db_url))
    hub.datahub.create({"name": "shop", "classes": {"Product": {"fields": ["sku"]}}}, author="t")
    code, _, err = invoke(runner, "search", "query", "shop", "--filter", "{", "--class", "Product")
    assert code == 1 and "filter" in one_line_error(code, err)
