"""`pimhub search`: rebuild and inspect the search index, and try a search as a partner
would see it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from pimhub.access.keys import ApiKey
from pimhub.cli.common import JsonFlag, console, handles_errors, open_hub, print_json, print_table

app = typer.Typer(help="Search index: rebuild, status, and test queries.", no_args_is_help=True)

# The operator at the console reads every configuration, as an admin key would.
OPERATOR = ApiKey("cli", "cli", "cli", ("admin",), datetime.now(UTC))


@app.command("rebuild")
@handles_errors
def rebuild(
    classes: Annotated[
        list[str] | None, typer.Option("--class", help="only this class (repeatable)")
    ] = None,
) -> None:
    """Index objects again from the catalog, in one transaction (searches keep answering
    from the old index until it commits)."""
    hub = open_hub()
    for name in classes or []:
        hub.classes.get(name)  # an unknown class fails here, naming the known ones
    started = time.perf_counter()
    count = hub.search.rebuild(classes or None)
    seconds = time.perf_counter() - started
    console.print(
        f"indexed {count} object(s) in {seconds:.1f} s; "
        f"the index holds {hub.search.size()} document(s)"
    )


@app.command("status")
@handles_errors
def status() -> None:
    """Documents in the index against objects in the catalog."""
    hub = open_hub()
    with hub.units_of_work() as uow:
        objects = {c.name: uow.objects.count(c.name) for c in hub.classes.all()}
    backend = "SQLite FTS5" if hub.engine.dialect.name == "sqlite" else "PostgreSQL full-text"
    console.print(
        f"{backend}: {hub.search.size()} document(s) for {sum(objects.values())} object(s)"
    )
    for name, count in objects.items():
        console.print(escape(f"  {name}: {count} object(s)"), highlight=False)


@app.command("query")
@handles_errors
def query(
    config: Annotated[str, typer.Argument(help="datahub configuration")],
    q: Annotated[str | None, typer.Argument(help="words to search for")] = None,
    class_: Annotated[str | None, typer.Option("--class", help="one exposed class")] = None,
    filter_: Annotated[str | None, typer.Option("--filter", help="JSON filter")] = None,
    sort: Annotated[str | None, typer.Option(help="e.g. -price,sku")] = None,
    size: Annotated[int | None, typer.Option(help="page size")] = None,
    facets: Annotated[str | None, typer.Option(help="fields to count, e.g. brand,color")] = None,
    lang: Annotated[str | None, typer.Option(help="language")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search as /simple-rest/CONFIG/search would answer."""
    params = {
        "q": q,
        "class": class_,
        "filter": filter_,
        "sort": sort,
        "size": None if size is None else str(size),
        "facets": facets,
        "lang": lang,
    }
    hub = open_hub()
    body = hub.simple_search.search(config, OPERATOR, {k: v for k, v in params.items() if v})
    if as_json:
        print_json(body)  # the API's answer, as /simple-rest/CONFIG/search gives it
        return
    _print(body)


def _print(body: dict[str, Any]) -> None:
    rows = [
        [item["class"], item["key"], str(item["fields"].get("name") or ""), str(item["published"])]
        for item in body["items"]
    ]
    print_table(("class", "key", "name", "published"), rows, ids=2)
    near = " (near matches: nothing matched every word)" if body.get("fuzzy") else ""
    console.print(f"{body['total']} match(es){near}")
    for field, values in body.get("facets", {}).items():
        counts = ", ".join(f"{v['value']} ({v['count']})" for v in values) or "none"
        console.print(f"{escape(field)}: {escape(counts)}", highlight=False)
