"""`pimhub keys`: create, list and revoke API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    handles_errors,
    open_access,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from datetime import datetime

    from pimhub.access.keys import ApiKey

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. erp-prod")],
    scopes: Annotated[
        list[str],
        typer.Option(
            "--scopes",
            "--scope",
            help="admin, read|read-drafts|write|delete|review|publish[:Class], or "
            "datahub:<configuration>; comma-separated or repeated",
        ),
    ],
    env: Annotated[
        str, typer.Option(help="production, staging, development or test")
    ] = "production",
    expires_in_days: Annotated[int | None, typer.Option(help="Expire after N days")] = None,
    description: Annotated[str | None, typer.Option(help="Free text")] = None,
) -> None:
    """Create a key and print its secret once (alone on stdout, so `$(...)` captures it);
    only a hash is stored."""
    key, token = open_access().create(
        name, scopes, environment=env, expires_in_days=expires_in_days, description=description
    )
    err_console.print(
        f"created key [bold]{key.key_id}[/] ({escape(key.name)}, {key.environment}) with "
        f"scopes {escape(', '.join(key.scopes))}",
        highlight=False,
    )
    err_console.print("secret (shown once, store it now):", style="yellow")
    typer.echo(token)


@app.command("list")
@handles_errors
def list_keys(as_json: JsonFlag = False) -> None:
    """List keys (never their secrets)."""
    access = open_access()
    keys = access.all()
    if as_json:
        print_json([key.to_dict() for key in keys])
        return
    headers = ("key id", "name", "env", "scopes", "created", "last used", "expires", "status")
    now = access.clock()
    print_table(headers, [key_row(key, now) for key in keys])


def key_row(key: ApiKey, now: datetime) -> list[str]:
    return [
        key.key_id,
        key.name,
        key.environment,
        " ".join(key.scopes),
        f"{key.created_at:%Y-%m-%d %H:%M}",
        f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
        f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "-",
        status(key, now),
    ]


def status(key: ApiKey, now: datetime) -> str:
    """What the API does with the key now: an expired key is refused as a revoked one is."""
    if key.revoked_at:
        return "revoked"
    return "active" if key.is_active(now) else "expired"


@app.command("revoke")
@handles_errors
def revoke(
    key: Annotated[str, typer.Argument(help="Key id, or name (revokes all with it)")],
) -> None:
    """Revoke a key; requests with it fail from now on."""
    for revoked in open_access().revoke(key):
        console.print(f"revoked {revoked.key_id} ({escape(revoked.name)})", highlight=False)
