"""`pimhub brokers`: RabbitMQ exchanges the delivery pipeline publishes events to: add, list,
show, update, remove and test them. Deliveries, dead letters and replay of a broker are those
of its pipeline row: `pimhub webhooks deliveries --endpoint broker-NAME`."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    handles_errors,
    open_hub,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from pimhub.brokers.errors import InvalidBroker
    from pimhub.brokers.records import StoredBroker

app = typer.Typer(
    help="Manage broker destinations (RabbitMQ). A broker's deliveries, dead letters and "
    "replay are under `pimhub webhooks deliveries|replay --endpoint broker-NAME`.",
    no_args_is_help=True,
)
P = ParamSpec("P")
R = TypeVar("R")
PASSWORD_ENV = "PIMHUB_BROKER_PASSWORD"

NameArg = Annotated[str, typer.Argument(help="The broker's name")]
Url = Annotated[
    str | None,
    typer.Option(
        help="amqp://host:port/vhost or amqps://... (port and vhost optional), without credentials"
    ),
]
Username = Annotated[
    str | None, typer.Option(envvar="PIMHUB_BROKER_USERNAME", help="The broker user")
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help=f"Read the password from the first line of stdin (or set {PASSWORD_ENV})",
    ),
]
Exchange = Annotated[str | None, typer.Option(help="The exchange (default pimhub.events)")]
ExchangeType = Annotated[
    str | None, typer.Option(help="topic (default), direct, fanout or headers")
]
Declare = Annotated[
    bool | None,
    typer.Option(
        "--declare/--no-declare",
        help="Declare the exchange, durable (default); --no-declare: it must exist",
    ),
]
Prefix = Annotated[
    str | None, typer.Option(help="Put in front of every routing key (joined by a dot)")
]
Mandatory = Annotated[
    bool | None,
    typer.Option(
        "--mandatory/--no-mandatory",
        help="A message no queue is bound for fails and is retried (default); "
        "--no-mandatory: the broker drops it",
    ),
]
EventTypes = Annotated[
    list[str] | None,
    typer.Option("--event-type", help="Only this event type (repeat; magento.* for a family)"),
]
Classes = Annotated[list[str] | None, typer.Option("--class", help="Only this class (repeat)")]
Sources = Annotated[
    list[str] | None, typer.Option("--source", help="Inbound events only from this source")
]
Transform = Annotated[
    str | None, typer.Option(help="A JMESPath expression reshaping each event's body")
]
Enabled = Annotated[
    bool | None, typer.Option("--enable/--disable", help="Deliver to it (default) or not")
]


def reports_problems(command: Callable[P, R]) -> Callable[P, R]:
    """An invalid configuration: the summary, then each problem as `field: message` on its own
    line (stderr), exit status 1. Other errors as everywhere."""
    from pimhub.brokers.errors import InvalidBroker

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InvalidBroker as exc:
            print_problems(exc)
            raise typer.Exit(1) from None

    return handles_errors(wrapper)


def print_problems(exc: InvalidBroker) -> None:
    err_console.print(f"[bold red]error:[/] {escape(exc.detail)}", highlight=False)
    for problem in exc.errors:
        err_console.print(escape(f"{problem.field}: {problem.message}"), highlight=False)


def read_password() -> str:
    """The first line of stdin, without its line end."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise typer.BadParameter("stdin held no password", param_hint="--password-stdin")
    return line


def given_password(password_stdin: bool) -> str | None:
    import os

    if password_stdin:
        return read_password()
    return os.environ.get(PASSWORD_ENV) or None


def options(**values: Any) -> dict[str, Any]:
    """The configuration keys of the options given (None: not given)."""
    keys = {
        "url": "url",
        "exchange": "exchange",
        "exchange_type": "exchangeType",
        "declare": "declare",
        "prefix": "routingKeyPrefix",
        "mandatory": "mandatory",
        "event_types": "eventTypes",
        "classes": "classes",
        "sources": "sources",
        "transform": "transform",
        "enabled": "enabled",
    }
    return {keys[k]: v for k, v in values.items() if v is not None}


def describe(stored: StoredBroker) -> str:
    config = stored.config
    return (
        f"{stored.name} -> {config.get('url', '')} exchange {config.get('exchange', '')} "
        f"({config.get('exchangeType', 'topic')})"
    )


def pipeline_hint(stored: StoredBroker) -> str:
    endpoint = stored.endpoint_id
    return (
        f"deliveries and dead letters: pimhub webhooks deliveries --endpoint {endpoint}"
        f" [--status dead]; send again: pimhub webhooks replay --endpoint {endpoint}"
    )


@app.command("add")
@reports_problems
def add(
    name: NameArg,
    url: Url = None,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    exchange: Exchange = None,
    exchange_type: ExchangeType = None,
    declare: Declare = None,
    routing_key_prefix: Prefix = None,
    mandatory: Mandatory = None,
    event_type: EventTypes = None,
    class_: Classes = None,
    source: Sources = None,
    transform: Transform = None,
    enabled: Enabled = None,
) -> None:
    """Add a broker destination.

    The password comes from stdin (--password-stdin) or PIMHUB_BROKER_PASSWORD, so that it
    stays out of the shell history; it is sealed at rest and never printed."""
    body = {
        "name": name,
        **options(
            url=url,
            exchange=exchange,
            exchange_type=exchange_type,
            declare=declare,
            prefix=routing_key_prefix,
            mandatory=mandatory,
            event_types=event_type,
            classes=class_,
            sources=source,
            transform=transform,
            enabled=enabled,
        ),
    }
    credentials = {"username": username, "password": given_password(password_stdin)}
    stored = open_hub().brokers.add(body, credentials)
    console.print(f"added broker {escape(describe(stored))}", highlight=False)
    console.print(escape(pipeline_hint(stored)), highlight=False)


@app.command("list")
@handles_errors
def list_brokers(as_json: JsonFlag = False) -> None:
    """List broker destinations with their health."""
    found = open_hub().brokers.all()
    if as_json:
        print_json([stored.to_dict() for stored in found])
        return
    rows = []
    for stored in found:
        note = stored.disabled_reason or (
            f"paused until {stored.paused_until:%H:%M:%S}" if stored.paused_until else ""
        )
        config = stored.config
        rows.append(
            [
                stored.name,
                str(config.get("url", "")),
                str(config.get("exchange", "")),
                ", ".join(config.get("eventTypes") or []) or "all",
                "yes" if stored.enabled else "no",
                str(stored.consecutive_failures),
                note,
                stored.endpoint_id,
            ]
        )
    headers = ("name", "url", "exchange", "events", "enabled", "failures", "note", "endpoint")
    print_table(headers, rows)


@app.command("show")
@handles_errors
def show(name: NameArg, as_json: JsonFlag = False) -> None:
    """Print a broker's configuration and health (YAML); never its password."""
    import yaml

    stored = open_hub().brokers.get(name)
    if as_json:
        print_json(stored.to_dict())
        return
    document = {
        "broker": stored.to_dict()["config"],
        "health": {
            **stored.to_dict()["health"],
            "enabled": stored.enabled,
            "version": stored.version,
            "endpoint": stored.endpoint_id,
        },
    }
    typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)
    typer.echo(f"# {pipeline_hint(stored)}")


@app.command("update")
@reports_problems
def update(
    name: NameArg,
    url: Url = None,
    username: Username = None,
    password_stdin: PasswordStdin = False,
    exchange: Exchange = None,
    exchange_type: ExchangeType = None,
    declare: Declare = None,
    routing_key_prefix: Prefix = None,
    mandatory: Mandatory = None,
    event_type: EventTypes = None,
    class_: Classes = None,
    source: Sources = None,
    transform: Transform = None,
    enabled: Enabled = None,
) -> None:
    """Change a broker: the options given replace those settings, the rest stay.

    New credentials with --password-stdin (or PIMHUB_BROKER_PASSWORD) and, when the user
    changes too, --username; without them the stored ones stay."""
    from pimhub.brokers.errors import StaleBroker

    hub = open_hub()
    given = options(
        url=url,
        exchange=exchange,
        exchange_type=exchange_type,
        declare=declare,
        prefix=routing_key_prefix,
        mandatory=mandatory,
        event_types=event_type,
        classes=class_,
        sources=source,
        transform=transform,
        enabled=enabled,
    )
    password = given_password(password_stdin)
    credentials = None
    if password is not None or username is not None:
        current = hub.brokers.credentials(name)
        credentials = {
            "username": username or current.username,
            "password": password or current.password,
        }
    # The options are laid over the settings as read; a change made meanwhile by someone else
    # is read again rather than overwritten (the caller named no version: no conflict).
    for attempt in range(3):
        stored = hub.brokers.get(name)
        kept = {k: v for k, v in stored.config.items() if k not in ("name", "enabled")}
        try:
            changed = hub.brokers.update(
                name, {**kept, **given}, credentials, expected=stored.version
            )
            break
        except StaleBroker:
            if attempt == 2:
                raise
    what = " and credentials" if credentials else ""
    console.print(
        f"updated settings{what} of {escape(describe(changed))} (version {changed.version})",
        highlight=False,
    )


@app.command("remove")
@handles_errors
def remove(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Remove a broker (asks first unless --yes): its credentials and pending deliveries go;
    what it published stays in the broker's queues."""
    hub = open_hub()
    stored = hub.brokers.get(name)
    if not yes:
        typer.confirm(f"remove broker {describe(stored)}?", abort=True)
    hub.brokers.remove(stored.name)
    console.print(f"removed broker {escape(stored.name)}", highlight=False)


@app.command("test")
@handles_errors
def test(name: NameArg, as_json: JsonFlag = False) -> None:
    """Connect as the broker's user, declare (or find) its exchange and round-trip a confirmed
    ping through a temporary queue; nothing reaches the exchange. Exit 1 on failure."""
    result = asyncio.run(open_hub().brokers.test(name))
    if as_json:
        print_json(result.to_dict())
    else:
        for step in result.steps:
            console.print(f"ok: {escape(step)}", highlight=False)
        if result.error:
            err_console.print(f"[bold red]error:[/] {escape(result.error)}", highlight=False)
    if not result.ok:
        raise typer.Exit(1)
