"""`pimhub completeness`: how ready a class's objects are for its channels, per language."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from pimhub.catalog.service import ListQuery
from pimhub.cli.common import JsonFlag, console, fail, handles_errors, open_hub, print_json

# (label, lowest ratio, first ratio above the band)
BANDS = [
    ("100%", 100, None),
    ("75-99%", 75, 100),
    ("50-74%", 50, 75),
    ("25-49%", 25, 50),
    ("0-24%", 0, 25),
]


def register(app: typer.Typer) -> None:
    app.command("completeness")(completeness)


@handles_errors
def completeness(
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="e.g. Product")],
    channel: Annotated[
        str | None, typer.Option("--channel", "-c", help="only this channel")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="only this language")
    ] = None,
    show: Annotated[
        int, typer.Option("--show", help="also list this many least complete objects", min=0)
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Count the objects of CLASS per completeness band, for each channel and language
    (drafts included), as filters would find them."""
    hub = open_hub()
    definition = hub.classes.get(class_name)
    channels = [c for c in definition.completeness if channel in (None, c.name)]
    if not definition.completeness:
        raise fail(f"class {class_name} declares no completeness channels")
    if not channels:
        known = ", ".join(c.name for c in definition.completeness)
        raise fail(f"class {class_name} has no channel '{channel}' (channels: {known})")
    pairs = [(c.name, lang) for c in channels for lang in c.languages if language in (None, lang)]
    if not pairs:
        raise fail(f"no channel of {class_name} publishes in '{language}'")

    def count(path: str, low: int, high: int | None) -> int:
        condition = {"$gte": low} if high is None else {"$gte": low, "$lt": high}
        query = orjson.dumps({path: condition}).decode()
        page = hub.catalog.list_objects(
            class_name, ListQuery(filter=query, first=1, include_drafts=True)
        )
        return page.total

    def least_complete(pair: tuple[str, str]) -> list[dict[str, Any]]:
        name, lang = pair
        sort = (f"completeness.{name}.{lang}", "key")
        query = ListQuery(sort=sort, first=show, include_drafts=True)
        found = []
        for obj in hub.catalog.list_objects(class_name, query).items:
            entry = (obj.completeness or {}).get(name, {}).get(lang, {})
            found.append(
                {"key": obj.key, "ratio": entry.get("ratio"), "missing": entry.get("missing", [])}
            )
        return found

    bands = {
        (name, lang): [count(f"completeness.{name}.{lang}", low, high) for _, low, high in BANDS]
        for name, lang in pairs
    }
    least = {pair: least_complete(pair) for pair in pairs} if show else {}
    if as_json:
        print_json(
            [
                {
                    "channel": name,
                    "language": lang,
                    "bands": dict(zip([b[0] for b in BANDS], counts, strict=True)),
                    "leastComplete": least.get((name, lang), []),
                }
                for (name, lang), counts in bands.items()
            ]
        )
        return
    table = Table(title=f"{escape(class_name)} completeness")
    table.add_column("channel")
    table.add_column("language")
    for label, _, _ in BANDS:
        table.add_column(label, justify="right")
    for (name, lang), counts in bands.items():
        table.add_row(escape(name), escape(lang), *[str(c) for c in counts])
    console.print(table)
    for (name, lang), objects in least.items():
        console.print(f"least complete for {escape(name)} in {escape(lang)}:", highlight=False)
        for entry in objects:
            missing = ", ".join(entry["missing"])
            line = f"  {entry['key']}: {entry['ratio']}% (missing: {missing})"
            console.print(escape(line), highlight=False)
