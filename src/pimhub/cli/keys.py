"""`pimhub keys`: create, list, change, rotate and revoke API keys."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    fail,
    handles_errors,
    open_access,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from datetime import datetime

    from pimhub.access.keys import ApiKey
    from pimhub.settings import Settings

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
AllowFrom = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-from",
        help="Accept the key only from this CIDR network (e.g. 10.0.0.0/8); repeatable",
    ),
]
RateLimit = Annotated[
    str | None,
    typer.Option(help="The key's own rate, e.g. 600/minute (default: the hub's per-key rate)"),
]
KeyArgument = Annotated[str, typer.Argument(help="Key id, or the name of one active key")]


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
    allow_from: AllowFrom = None,
    rate_limit: RateLimit = None,
) -> None:
    """Create a key and print its secret once (alone on stdout, so `$(...)` captures it);
    only a hash is stored."""
    key, token = open_access().create(
        name,
        scopes,
        environment=env,
        expires_in_days=expires_in_days,
        description=description,
        allowed_networks=allow_from or (),
        rate_limit=rate_limit,
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
    settings = _settings()
    access = open_access(settings)
    keys = access.all()
    now = access.clock()
    window = timedelta(days=settings.key_expiry_warning_days)
    if as_json:
        print_json([{**key.to_dict(), "status": key.status(now, window)} for key in keys])
        return
    headers = ("key id", "name", "env", "scopes", "created", "last used", "expires", "status")
    print_table(headers, [key_row(key, now, window) for key in keys])


def key_row(key: ApiKey, now: datetime, window: timedelta = timedelta(0)) -> list[str]:
    return [
        key.key_id,
        key.name,
        key.environment,
        " ".join(key.scopes),
        f"{key.created_at:%Y-%m-%d %H:%M}",
        f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
        f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "-",
        status(key, now, window),
    ]


def status(key: ApiKey, now: datetime, window: timedelta = timedelta(0)) -> str:
    """What the API does with the key now: an expired key is refused as a revoked one is; an
    active one expiring within `window` says when (`expires in 3d`)."""
    return key.status(now, window)


@app.command("update")
@handles_errors
def update(
    key: KeyArgument,
    allow_from: AllowFrom = None,
    allow_anywhere: Annotated[
        bool, typer.Option("--allow-anywhere", help="Drop the network allowlist")
    ] = False,
    rate_limit: RateLimit = None,
    default_rate: Annotated[
        bool, typer.Option("--default-rate", help="Use the hub's per-key rate again")
    ] = False,
    expires_in_days: Annotated[int | None, typer.Option(help="Expire N days from now")] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Never expire")] = False,
    description: Annotated[str | None, typer.Option(help="Free text")] = None,
) -> None:
    """Change a key's allowed networks, rate limit, expiry or description."""
    from pimhub.access.service import KeyChanges

    if allow_from and allow_anywhere:
        raise fail("give --allow-from or --allow-anywhere, not both")
    if rate_limit is not None and default_rate:
        raise fail("give --rate-limit or --default-rate, not both")
    if expires_in_days is not None and no_expiry:
        raise fail("give --expires-in-days or --no-expiry, not both")
    changes: dict[str, Any] = {}
    if allow_from or allow_anywhere:
        changes["allowed_networks"] = allow_from or ()
    if rate_limit is not None or default_rate:
        changes["rate_limit"] = rate_limit
    if expires_in_days is not None or no_expiry:
        changes["expires_in_days"] = expires_in_days
    if description is not None:
        changes["description"] = description
    updated = open_access().update(key, KeyChanges(**changes))
    _describe("updated", updated)


@app.command("rotate")
@handles_errors
def rotate(
    key: KeyArgument,
    overlap: Annotated[
        str | None,
        typer.Option(
            help="How long the previous secret stays valid: 90m, 24h, 7d or 0 "
            "(default: the key_rotation_overlap_hours setting)"
        ),
    ] = None,
) -> None:
    """Give the key a new secret and print it once (alone on stdout); the key id and scopes
    stay, and the previous secret works until the overlap ends."""
    settings = _settings()
    window = (
        parse_overlap(overlap)
        if overlap is not None
        else timedelta(hours=settings.key_rotation_overlap_hours)
    )
    rotated, token = open_access(settings).rotate(key, window)
    until = f"{rotated.previous_valid_until:%Y-%m-%d %H:%M:%S} UTC"
    err_console.print(
        f"rotated key [bold]{rotated.key_id}[/] ({escape(rotated.name)}); the previous secret "
        f"is accepted until {until}",
        highlight=False,
    )
    err_console.print("new secret (shown once, store it now):", style="yellow")
    typer.echo(token)


_OVERLAP = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}


def parse_overlap(text: str) -> timedelta:
    """`90m`, `24h`, `7d`, `30s`; a bare number is hours."""
    match = _OVERLAP.match(text.strip().lower())
    if match is None:
        raise fail(f"'{text}' is not a duration; write e.g. 90m, 24h, 7d or 0")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:
        raise fail(f"'{text}' is far too long an overlap") from None


def _describe(verb: str, key: ApiKey) -> None:
    networks = ", ".join(key.allowed_networks) or "anywhere"
    expires = f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "never"
    console.print(
        f"{verb} key {key.key_id} ({escape(key.name)}): allowed from {escape(networks)}, "
        f"rate {escape(key.rate_limit or 'the hub default')}, expires {expires}",
        highlight=False,
    )


def _settings() -> Settings:
    from pimhub.settings import Settings

    return Settings()


@app.command("revoke")
@handles_errors
def revoke(
    key: Annotated[str, typer.Argument(help="Key id, or name (revokes all with it)")],
) -> None:
    """Revoke a key; requests with it fail from now on."""
    for revoked in open_access().revoke(key):
        console.print(f"revoked {revoked.key_id} ({escape(revoked.name)})", highlight=False)
