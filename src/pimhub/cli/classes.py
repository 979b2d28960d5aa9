"""`pimhub classes`: export and apply class definitions as YAML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from pimhub.cli.common import console, fail, handles_errors, open_hub

app = typer.Typer(help="Export and apply class definitions (YAML).", no_args_is_help=True)


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
    text = yaml.safe_dump(
        {"classes": [d.to_dict(with_version=False) for d in definitions]},
        sort_keys=False,
        allow_unicode=True,
    )
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(definitions)} class(es) to {output}")


@app.command("apply")
@handles_errors
def apply(
    file: Annotated[Path, typer.Argument(help="YAML with a top-level 'classes' list")],
) -> None:
    """Create or update classes from YAML; refused as a whole if any change would break
    stored objects."""
    try:
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise fail(f"{file}: not valid YAML{where}: {exc.problem or exc.context}") from None
    raws = data.get("classes") if isinstance(data, dict) else data
    if not isinstance(raws, list):
        raise fail(f"{file}: expected a list of classes under 'classes:'")
    for class_name, action in open_hub().classes.apply(raws, author="cli"):
        console.print(f"{class_name}: {action}")
