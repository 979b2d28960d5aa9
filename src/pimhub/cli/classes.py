"""`pimhub classes`: export and apply class definitions as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    fail,
    handles_errors,
    open_hub,
    print_json,
    print_table,
    read_yaml_list,
    write_yaml,
)

app = typer.Typer(help="Export and apply class definitions (YAML).", no_args_is_help=True)


@app.command("list")
@handles_errors
def list_classes(as_json: JsonFlag = False) -> None:
    """List class definitions: business key, fields, version."""
    definitions = open_hub().classes.all()
    if as_json:
        print_json([d.to_dict() for d in definitions])
        return
    rows = [
        [d.name, d.business_key, str(d.version), ", ".join(f.name for f in d.fields)]
        for d in definitions
    ]
    print_table(("class", "business key", "version", "fields"), rows)


@app.command("export")
@handles_errors
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File; default stdout")
    ] = None,
    name: Annotated[list[str] | None, typer.Option("--class", help="Only these classes")] = None,
) -> None:
    """Write class definitions as YAML, ready for code review and `classes apply`."""
    definitions = open_hub().classes.all()
    if name:
        missing = set(name) - {d.name for d in definitions}
        if missing:
            raise fail(f"no such class: {', '.join(sorted(missing))}")
        definitions = [d for d in definitions if d.name in name]
    items = [d.to_dict(with_version=False) for d in definitions]
    write_yaml(output, "classes", items, "class(es)")


@app.command("apply")
@handles_errors
def apply(
    file: Annotated[Path, typer.Argument(help="YAML with a top-level 'classes' list")],
    check: Annotated[
        bool, typer.Option("--check", help="Only say what applying would do; save nothing")
    ] = False,
) -> None:
    """Create or update classes from YAML; refused as a whole if any change would break
    stored objects."""
    raws = read_yaml_list(file, "classes")
    classes = open_hub().classes
    if check:
        # Each class is checked against what is stored, as `apply` would find it.
        stored = {c.name for c in classes.all()}
        for raw in raws:
            name = raw.get("name") if isinstance(raw, dict) else None
            exists = isinstance(name, str) and name in stored
            outcome = classes.check(raw, name=name if exists else None)
            console.print(
                escape(f"{name}: would be {outcome} (checked, not saved)"), highlight=False
            )
        return
    for class_name, action in classes.apply(raws, author="cli"):
        console.print(escape(f"{class_name}: {action}"), highlight=False)
