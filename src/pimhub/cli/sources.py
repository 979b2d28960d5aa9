"""`pimhub sources`: inbound sources, the systems that post events to /inbound/NAME (Magento,
an ERP): add, list, show, update, remove, enable, disable and rotate their secrets. What they
sent is under `pimhub inbound`."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    fail,
    handles_errors,
    open_hub,
    print_json,
    print_table,
    read_mapping,
)

if TYPE_CHECKING:
    from pimhub.inbound.sources import StoredSource

app = typer.Typer(
    help="Manage inbound sources: who may send events to /inbound/NAME and how they prove it.",
    no_args_is_help=True,
)

SCHEMES = ("standard-webhooks", "mageos", "shared-secret", "api-key")
NameArg = Annotated[str, typer.Argument(help="The source's name (its URL is /inbound/NAME)")]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="The configuration, YAML or JSON (see docs/inbound.md)"),
]
SecretStdin = Annotated[
    bool,
    typer.Option(
        "--secret-stdin",
        help="Read the secret from the first line of stdin (one the sender already has, "
        "such as Magento's verification token) instead of generating one",
    ),
]
MAX_CONFIG_BYTES = 1 << 20


def read_config(file: Path) -> dict[str, Any]:
    """The mapping in `file` (JSON when it ends in .json, else YAML); a syntax error names
    its line and column."""
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise fail(f"{file}: larger than {MAX_CONFIG_BYTES} bytes; not a source configuration")
    return read_mapping(file, "a mapping of settings (name, scheme, ...)")


def read_secret() -> str:
    """The first line of stdin, without its line end."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line.strip():
        raise typer.BadParameter("stdin held no secret", param_hint="--secret-stdin")
    return line


def with_flags(body: dict[str, Any], **flags: Any) -> dict[str, Any]:
    """`body` with each given flag's value (None: not given) set, under its REST name."""
    for key, value in flags.items():
        if value is not None:
            body[key] = value
    return body


def event_type_rule(
    body: dict[str, Any], path: str | None, prefix: str | None
) -> dict[str, Any] | None:
    """The eventType setting with --event-type-path / --event-type-prefix applied to what the
    file gave (None: neither flag given)."""
    if path is None and prefix is None:
        return None
    base = body.get("eventType")
    rule: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
    if path is not None:
        for where in ("header", "value", "hash"):
            rule.pop(where, None)
        rule["path"] = path
    if prefix is not None:
        rule["prefix"] = prefix
    return rule


def describe(stored: StoredSource) -> str:
    spec = stored.spec
    state = "" if spec.enabled else ", disabled"
    return f"{spec.name} ({spec.scheme.value}{state}) at /inbound/{spec.name}"


def show_secret(secret: str | None, name: str, *, rotated: bool = False) -> None:
    """The secret alone on stdout (so `$(...)` captures it), the note on stderr."""
    if secret is None:
        err_console.print(
            f"senders authenticate with a hub API key holding the scope 'inbound:{name}' "
            f"(pimhub keys create --name ... --scope inbound:{name})",
            highlight=False,
        )
        return
    what = "new secret" if rotated else "secret"
    err_console.print(
        f"{what} (shown once: store it now and configure the sender with it):", style="yellow"
    )
    typer.echo(secret)


@app.command("add")
@handles_errors
def add(
    name: NameArg,
    scheme: Annotated[
        str | None, typer.Option(help=f"How the sender proves itself: {', '.join(SCHEMES)}")
    ] = None,
    file: FileOption = None,
    header: Annotated[
        str | None, typer.Option(help="shared-secret: the header carrying the secret")
    ] = None,
    description: Annotated[str | None, typer.Option(help="Free text")] = None,
    event_type_path: Annotated[
        str | None,
        typer.Option(help="JMESPath to the event type in the body (e.g. type, event.name)"),
    ] = None,
    event_type_prefix: Annotated[
        str | None, typer.Option(help="Put before the type found (e.g. erp.)")
    ] = None,
    allow_type: Annotated[
        list[str] | None,
        typer.Option("--allow-type", help="Accept only these event types (repeat)"),
    ] = None,
    key_path: Annotated[
        str | None, typer.Option(help="JMESPath to the key ordering deliveries (an order id)")
    ] = None,
    secret_stdin: SecretStdin = False,
) -> None:
    """Add a source and print its secret once (give it to the sender).

    The whole configuration can come from --file; the flags set the common fields (and win
    over the file's)."""
    body = read_config(file) if file is not None else {}
    body["name"] = name
    body = with_flags(
        body,
        scheme=scheme,
        header=header,
        description=description,
        eventTypes=allow_type or None,
        key={"path": key_path} if key_path is not None else None,
        eventType=event_type_rule(body, event_type_path, event_type_prefix),
    )
    if "scheme" not in body:
        raise fail(f"give --scheme ({', '.join(SCHEMES)}) or a file with 'scheme:'")
    secret = read_secret() if secret_stdin else None
    stored, issued = open_hub().inbound.add_source(body, secret)
    console.print(f"added source {escape(describe(stored))}", highlight=False)
    if secret is None:
        show_secret(issued, name)
    else:
        err_console.print("the secret read from stdin is the source's secret", highlight=False)


def source_row(stored: StoredSource) -> list[str]:
    spec = stored.spec
    return [
        spec.name,
        spec.scheme.value,
        "yes" if spec.enabled else "no",
        f"/inbound/{spec.name}",
        ",".join(spec.event_types) or "any",
        "yes" if spec.apply else "no",
        str(stored.version),
        spec.description,
    ]


@app.command("list")
@handles_errors
def list_sources(as_json: JsonFlag = False) -> None:
    """List sources (never their secrets)."""
    sources = open_hub().inbound.all_sources()
    if as_json:
        print_json([s.to_dict() for s in sources])
        return
    headers = ("name", "scheme", "enabled", "url", "event types", "feed", "version", "description")
    print_table(headers, [source_row(s) for s in sources])


@app.command("show")
@handles_errors
def show(name: NameArg) -> None:
    """Print a source's whole configuration as JSON (never its secret)."""
    print_json(open_hub().inbound.get_source(name).to_dict())


@app.command("update")
@handles_errors
def update(
    name: NameArg,
    file: FileOption = None,
    description: Annotated[str | None, typer.Option(help="Free text")] = None,
    header: Annotated[str | None, typer.Option(help="shared-secret: the header")] = None,
    version: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=2**31 - 1,
            help="Refuse the change unless the source is still at this version",
        ),
    ] = None,
) -> None:
    """Change a source: the settings in --file (and the flags) change, the others stay."""
    body = read_config(file) if file is not None else {}
    body = with_flags(body, description=description, header=header)
    if not body:
        raise fail("nothing to change: give --file, --description or --header")
    stored = open_hub().inbound.update_source(name, body, expected_version=version)
    console.print(f"updated source {escape(describe(stored))}", highlight=False)


@app.command("remove")
@handles_errors
def remove(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Remove a source (asks first unless --yes); its audited messages stay until pruned.
    Its sender gets 404 from then on."""
    hub = open_hub()
    stored = hub.inbound.get_source(name)
    if not yes:
        typer.confirm(f"remove source {describe(stored)}?", abort=True)
    hub.inbound.remove_source(name)
    console.print(f"removed source {escape(name)}", highlight=False)


def switch(name: str, enabled: bool) -> None:
    stored = open_hub().inbound.update_source(name, {"enabled": enabled})
    console.print(f"{'enabled' if enabled else 'disabled'} {escape(describe(stored))}")


@app.command("enable")
@handles_errors
def enable(name: NameArg) -> None:
    """Accept messages from the source again."""
    switch(name, True)


@app.command("disable")
@handles_errors
def disable(name: NameArg) -> None:
    """Refuse the source's messages with 503 and Retry-After, so the sender keeps them and
    tries again later."""
    switch(name, False)


@app.command("rotate-secret")
@handles_errors
def rotate_secret(
    name: NameArg,
    overlap_hours: Annotated[
        float | None,
        typer.Option(min=0, max=24 * 366, help="How long the old secret stays valid (default 24)"),
    ] = None,
    secret_stdin: SecretStdin = False,
) -> None:
    """A new secret, printed once; the old one is accepted too until the overlap ends."""
    secret = read_secret() if secret_stdin else None
    overlap = timedelta(hours=overlap_hours) if overlap_hours is not None else None
    hub = open_hub()
    new = hub.inbound.rotate_secret(name, secret, overlap)
    until = hub.inbound.get_source(name).previous_secret_until
    if until is not None:
        err_console.print(
            f"the previous secret stays valid until {until:%Y-%m-%d %H:%M:%S} UTC",
            highlight=False,
        )
    if secret is None:
        show_secret(new, name, rotated=True)
    else:
        err_console.print("the secret read from stdin is now the source's secret")
