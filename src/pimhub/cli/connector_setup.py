"""`pimhub connectors` add, check, list, show, update and remove: a connector's
configuration and credentials (registered on the group in cli/connectors.py)."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml
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
from pimhub.cli.connector_common import (
    KINDS,
    AccessToken,
    AccessTokenSecret,
    ConfigOption,
    ConsumerKey,
    ConsumerSecret,
    NameArg,
    checked_name,
    credentials_given,
    describe,
    pipeline_hint,
    read_config,
    reports_problems,
)


@reports_problems
def add(
    kind: Annotated[str, typer.Argument(help="The kind of connector: magento")],
    config: ConfigOption,
    name: Annotated[str | None, typer.Option(help="Overrides the file's name")] = None,
    base_url: Annotated[str | None, typer.Option(help="Overrides the file's baseUrl")] = None,
    consumer_key: ConsumerKey = None,
    consumer_secret: ConsumerSecret = None,
    access_token: AccessToken = None,
    access_token_secret: AccessTokenSecret = None,
) -> None:
    """Add a connector from a YAML or JSON file.

    Credentials come from the flags or, so that they stay out of the shell history, from
    PIMHUB_MAGENTO_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN and _ACCESS_TOKEN_SECRET (a
    flag wins). They are sealed at rest and never printed."""
    if kind not in KINDS:
        raise fail(f"unknown connector kind '{kind}'; known: {', '.join(KINDS)}")
    body = read_config(config, name, base_url)
    credentials = credentials_given(
        consumer_key, consumer_secret, access_token, access_token_secret
    )
    stored = open_hub().connectors.add(body, credentials or {})
    console.print(f"added connector {escape(describe(stored))}", highlight=False)
    console.print(escape(pipeline_hint(stored)), highlight=False)


@reports_problems
def check(config: ConfigOption) -> None:
    """Check a configuration without saving it: each problem as `path: message`, exit 1."""
    body = read_config(config)
    checked = open_hub().connectors.check(body)
    console.print(f"ok: {escape(checked.name)} -> {escape(checked.base_url)}", highlight=False)


@handles_errors
def list_connectors(as_json: JsonFlag = False) -> None:
    """List connectors with their health."""
    found = open_hub().connectors.all()
    if as_json:
        print_json([stored.to_dict() for stored in found])
        return
    rows = []
    for stored in found:
        note = stored.disabled_reason or (
            f"paused until {stored.paused_until:%H:%M:%S}" if stored.paused_until else ""
        )
        rows.append(
            [
                stored.name,
                stored.kind,
                str(stored.config.get("class", "Product")),
                str(stored.config.get("baseUrl", "")),
                "yes" if stored.enabled else "no",
                str(stored.consecutive_failures),
                note,
                stored.endpoint_id,
            ]
        )
    headers = ("name", "kind", "class", "base URL", "enabled", "failures", "note", "endpoint")
    print_table(headers, rows)


@handles_errors
def show(name: NameArg) -> None:
    """Print a connector's configuration (YAML), health and SKU counts.

    Never its credentials. Deliveries, dead letters and replay: `pimhub webhooks deliveries
    --endpoint connector-NAME` and `pimhub webhooks replay --endpoint connector-NAME`."""
    hub = open_hub()
    stored = hub.connectors.get(checked_name(name))
    counts = hub.connectors.status(stored.name, limit=1).counts
    document = {
        "connector": stored.config,
        "health": {
            **stored.to_dict()["health"],
            "enabled": stored.enabled,
            "version": stored.version,
            "endpoint": stored.endpoint_id,
        },
        "items": dict(counts),
    }
    typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)
    typer.echo(f"# {pipeline_hint(stored)}")


@reports_problems
def update(
    name: NameArg,
    config: ConfigOption,
    consumer_key: ConsumerKey = None,
    consumer_secret: ConsumerSecret = None,
    access_token: AccessToken = None,
    access_token_secret: AccessTokenSecret = None,
) -> None:
    """Replace a connector's configuration; new credentials when given.

    The name stays. Credentials: all four, by flag or PIMHUB_MAGENTO_* variables; without
    them the stored ones stay."""
    checked_name(name)
    body = read_config(config)
    credentials = credentials_given(
        consumer_key, consumer_secret, access_token, access_token_secret
    )
    stored = open_hub().connectors.update(name, body, credentials)
    changed = " and credentials" if credentials else ""
    console.print(
        f"updated settings{changed} of {escape(describe(stored))} (version {stored.version})",
        highlight=False,
    )


@handles_errors
def remove(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Remove a connector (asks first unless --yes).

    Its credentials, pending deliveries and what it knows per SKU go; products already in
    the shop stay there."""
    hub = open_hub()
    stored = hub.connectors.get(checked_name(name))
    if not yes:
        typer.confirm(f"remove connector {describe(stored)}?", abort=True)
    hub.connectors.remove(stored.name)
    console.print(f"removed connector {escape(stored.name)}", highlight=False)
