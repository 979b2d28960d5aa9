"""`pimhub graphql`: datahub configurations (YAML), their keys and their schemas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    handles_errors,
    open_access,
    open_hub,
    print_json,
    print_table,
    read_yaml_list,
    write_yaml,
)

app = typer.Typer(
    help="GraphQL datahub: configurations, their keys and schemas.", no_args_is_help=True
)


@app.command("list")
@handles_errors
def list_configs(as_json: JsonFlag = False) -> None:
    """List datahub configurations and their endpoints."""
    configs = open_hub().datahub.all()
    if as_json:
        print_json([{**c.to_dict(), "endpoint": f"/graphql/{c.name}"} for c in configs])
        return
    rows = [
        [
            config.name,
            ", ".join(c.name for c in config.classes),
            str(config.drafts),
            "profile" if config.introspection is None else str(config.introspection),
            f"/graphql/{config.name}",
            config.scope,
        ]
        for config in configs
    ]
    headers = ("name", "classes", "drafts", "introspection", "endpoint", "key scope")
    print_table(headers, rows)


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
        console.print(f"{escape(name)}: {action}  (endpoint /graphql/{escape(name)})")


@app.command("delete")
@handles_errors
def delete(name: Annotated[str, typer.Argument(help="Configuration name")]) -> None:
    """Delete a configuration; its endpoint answers 404 from the next request on."""
    open_hub().datahub.delete(name)
    console.print(f"deleted datahub configuration {escape(name)}", highlight=False)


@app.command("schema")
@handles_errors
def schema(name: Annotated[str, typer.Argument(help="Configuration name")]) -> None:
    """Print the configuration's GraphQL schema (SDL)."""
    from graphql import print_schema

    from pimhub.api.graphql.schema import build_schema

    hub = open_hub()
    config = hub.datahub.get(name)
    definitions = {c.name: c for c in hub.classes.all()}
    built = build_schema(config, definitions, default_language=hub.settings.default_language)
    sys.stdout.write(print_schema(built.schema) + "\n")


@app.command("keys")
@handles_errors
def list_keys(
    config: Annotated[str | None, typer.Argument(help="Only keys for this configuration")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the keys made for datahub configurations (`graphql key`); admin keys, which open
    every configuration, are under `pimhub keys list`."""
    from pimhub.cli.keys import key_row

    wanted = {f"datahub:{config}"} if config is not None else None
    if config is not None:  # '' names no configuration: an error, not every key
        hub = open_hub()
        hub.datahub.get(config)  # a configuration that does not exist is an error, not []
        access = hub.access
    else:
        access = open_access()
    keys = [
        key
        for key in access.all()
        if any(s.startswith("datahub:") and (wanted is None or s in wanted) for s in key.scopes)
    ]
    if as_json:
        print_json([key.to_dict() for key in keys])
        return
    headers = ("key id", "name", "env", "scopes", "created", "last used", "expires", "status")
    now = access.clock()
    print_table(headers, [key_row(key, now) for key in keys])


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
    """Create a key for one configuration (scope datahub:<config>) and print it once: the
    secret alone on stdout, so `SHOP=$(pimhub graphql key shop --name app)` captures it."""
    hub = open_hub()
    datahub = hub.datahub.get(config)
    key, token = hub.access.create(
        name, [datahub.scope], environment=env, expires_in_days=expires_in_days
    )
    err_console.print(
        f"created key [bold]{key.key_id}[/] for /graphql/{escape(datahub.name)}; "
        "secret (shown once, store it now):",
        highlight=False,
    )
    typer.echo(token)
