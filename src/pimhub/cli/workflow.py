"""`pimhub workflow`: show a class's workflow and run transitions from the command line.

The CLI runs as the operator (like `pimhub import`): every transition is open to it, and
versions and events name `--author` (default "cli") as the actor.
"""

from __future__ import annotations

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
)

app = typer.Typer(help="Show class workflows and run transitions.", no_args_is_help=True)


@app.command("show")
@handles_errors
def show(
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="e.g. Product")],
    as_json: JsonFlag = False,
) -> None:
    """List a class's workflow states and transitions."""
    workflow = open_hub().classes.get(class_name).workflow
    if workflow is None:
        raise fail(f"class {class_name} has no workflow (it publishes with its published flag)")
    if as_json:
        print_json(workflow.to_dict())
        return
    console.print(f"initial state: {escape(workflow.initial)}", highlight=False)
    states = [[s.name, "yes" if s.publishes else "no"] for s in workflow.states]
    print_table(("state", "publishes"), states)
    rows = [
        [
            t.name,
            ", ".join(t.sources),
            t.target,
            ", ".join(t.scopes),
            "required" if t.comment_required else "optional",
        ]
        for t in workflow.transitions
    ]
    print_table(("transition", "from", "to", "scopes", "comment"), rows)


@app.command("transition")
@handles_errors
def transition(
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="e.g. Product")],
    key: Annotated[str, typer.Argument(help="The object's business key")],
    name: Annotated[str, typer.Argument(help="The transition, e.g. submit")],
    comment: Annotated[str | None, typer.Option(help="Why (some transitions need one)")] = None,
    author: Annotated[str, typer.Option(help="Recorded as the actor")] = "cli",
    version: Annotated[
        int | None, typer.Option(help="The version you read; refused if stale")
    ] = None,
) -> None:
    """Run a workflow transition on one object and print its new state."""
    obj = open_hub().catalog.transition(
        class_name,
        key,
        name,
        may_run=lambda _scopes: True,
        author=author,
        comment=comment,
        expected_version=version,
    )
    console.print(
        escape(
            f"{class_name} '{obj.key}': {obj.workflow_state} "
            f"({'published' if obj.published else 'unpublished'}), version {obj.version}"
        ),
        highlight=False,
    )
