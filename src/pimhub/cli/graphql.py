"""`pimhub graphql`: datahub configurations (YAML), their keys and their schemas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from graphql import print_schema
from rich.table import Table

from pimhub.api.graphql.schema import build_schema
from pimhub.cli.common import console, handles_errors, open_hub, read_yaml_list, write_yaml

app = typer.Typer(
    help="GraphQL datahub: configurations, their keys and schemas.", no_args_is_help=True
)


@app.command("list")
@handles_errors
def list_configs() -> None:
    """List datahub configurations and their endpoints."""
    table = Table("name", "classes", "drafts", "introspection", "endpoint", "key scope")
    for config in open_hub().datahub.all():
        introspection = "profile" if config.introspection is None else str(config.introspection)
        table.add_row(
            config.name,
            ", ".join(c.name for c in config.classes),
            str(config.drafts),
            introspection,
            f"/graphql/{config.name}",
            config.scope,
        )
    console.print(table)


@app.command("export")
@handles_errors
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File; default stdout")
    ] = None,
) -> None:
    """Write every configuration as YAML, ready for review and `graphql apply`."""
    items = [c.to_dict(with_version=False) for c in open_hub().datahub.all()]
    write_yaml(output, "datahub", items, "configuration(s)")


@app.command("apply")
@handles_errors
def apply(
    file: Annotated[Path, typer.Argument(help="YAML with a top-level 'datahub' list")],
) -> None:
    """Create or update configurations from YAML; nothing is applied if any is invalid."""
    raws = read_yaml_list(file, "datahub")
    for name, action in open_hub().datahub.apply(raws, author="cli"):
        console.print(f"{name}: {action}  (endpoint /graphql/{name})")


@app.command("delete")
@handles_errors
def delete(name: Annotated[str, typer.Argument(help="Configuration name")]) -> None:
    """Delete a configuration; its endpoint answers 404 from the next request on."""
    open_hub().datahub.delete(name)
    console.print(f"deleted datahub configuration {name}")


@app.command("schema")
@handles_errors
def schema(name: Annotated[str, typer.Argument(help="Configuration name")]) -> None:
    """Print the configuration's GraphQL schema (SDL)."""
    hub = open_hub()
    config = hub.datahub.get(name)
    definitions = {c.name: c for c in hub.classes.all()}
    built = build_schema(config, definitions, default_language=hub.settings.default_language)
    sys.stdout.write(print_schema(built.schema) + "\n")


@app.command("key")
@handles_errors
def create_key(
    config: Annotated[str, typer.Argument(help="Configuration the key opens")],
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. storefront-prod")],
    env: Annotated[
        str, typer.Option(help="production, staging, development or test")
    ] = "production",
    expires_in_days: Annotated[int | None, typer.Option(help="Expire after N days")] = None,
) -> None:
    """Create a key for one configuration (scope datahub:<config>) and print it once."""
    hub = open_hub()
    datahub = hub.datahub.get(config)
    key, token = hub.access.create(
        name, [datahub.scope], environment=env, expires_in_days=expires_in_days
    )
    console.print(
        f"created key [bold]{key.key_id}[/] for /graphql/{datahub.name}; "
        "secret (shown once, store it now):",
        highlight=False,
    )
    typer.echo(token)
