"""What the `pimhub connectors` commands share: their options (the credentials come by flag
or environment variable), the check of a connector's name, reading a configuration file,
and printing a configuration's problems."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape

from pimhub.cli.common import err_console, fail, handles_errors, read_mapping
from pimhub.connectors.magento.config import NAME_PATTERN, InvalidConnector

if TYPE_CHECKING:
    from pimhub.bootstrap import Hub
    from pimhub.connectors.records import StoredConnector

KINDS = ("magento",)
ITEM_STATES = ("synced", "failed", "disabled", "deleted", "pending")
# The service's credential key, the command-line flag and the environment variable for each.
CREDENTIALS = (
    ("consumerKey", "--consumer-key", "PIMHUB_MAGENTO_CONSUMER_KEY"),
    ("consumerSecret", "--consumer-secret", "PIMHUB_MAGENTO_CONSUMER_SECRET"),
    ("accessToken", "--access-token", "PIMHUB_MAGENTO_ACCESS_TOKEN"),
    ("accessTokenSecret", "--access-token-secret", "PIMHUB_MAGENTO_ACCESS_TOKEN_SECRET"),
)
P = ParamSpec("P")
R = TypeVar("R")

NameArg = Annotated[str, typer.Argument(help="The connector's name")]
ConfigOption = Annotated[
    Path, typer.Option("--config", help="The configuration, YAML or JSON (see docs/magento.md)")
]
ConsumerKey = Annotated[
    str | None,
    typer.Option(
        "--consumer-key", envvar="PIMHUB_MAGENTO_CONSUMER_KEY", help="Integration consumer key"
    ),
]
ConsumerSecret = Annotated[
    str | None,
    typer.Option(
        "--consumer-secret",
        envvar="PIMHUB_MAGENTO_CONSUMER_SECRET",
        help="Integration consumer secret",
    ),
]
AccessToken = Annotated[
    str | None,
    typer.Option(
        "--access-token", envvar="PIMHUB_MAGENTO_ACCESS_TOKEN", help="Integration access token"
    ),
]
AccessTokenSecret = Annotated[
    str | None,
    typer.Option(
        "--access-token-secret",
        envvar="PIMHUB_MAGENTO_ACCESS_TOKEN_SECRET",
        help="Integration access token secret",
    ),
]


def reports_problems(command: Callable[P, R]) -> Callable[P, R]:
    """An invalid configuration or incomplete credentials: the summary, then each problem as
    `path: message` on its own line (stderr), exit status 1. Other errors as everywhere."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InvalidConnector as exc:
            print_problems(exc)
            raise typer.Exit(1) from None

    return handles_errors(wrapper)


def print_problems(exc: InvalidConnector) -> None:
    err_console.print(f"[bold red]error:[/] {escape(exc.detail)}", highlight=False)
    hints = {f"credentials.{key}": f"{flag} or {env}" for key, flag, env in CREDENTIALS}
    for problem in exc.errors:
        hint = hints.get(problem.field)
        suffix = f" (give {hint})" if hint else ""
        err_console.print(escape(f"{problem.field}: {problem.message}{suffix}"), highlight=False)


def checked_name(name: str) -> str:
    """`name` when it can be a connector's name; otherwise the same error as an unknown one
    (and no database lookup of a NUL or a path)."""
    if not NAME_PATTERN.fullmatch(name):
        shown = name.replace("\0", "\\0")
        raise fail(f"no connector '{shown}'")
    return name


def read_config(file: Path, name: str | None = None, base_url: str | None = None) -> Any:
    """The configuration in `file` (JSON when it ends in .json, else YAML), with the given
    overrides; a syntax error names its line and column."""
    data = read_mapping(file, "a mapping of settings (name, baseUrl, ...)")
    if name is not None:
        data["name"] = name
    if base_url is not None:
        data["baseUrl"] = base_url
    return data


def credentials_given(*values: str | None) -> dict[str, str] | None:
    """The credentials given by flag or environment; None when none is."""
    given = {key: v for (key, _, _), v in zip(CREDENTIALS, values, strict=True) if v is not None}
    return given or None


def absent(hub: Hub, name: str, skus: list[str]) -> set[str]:
    """The SKUs the hub has no product for in the connector's class (their push only
    handles what the shop has: nothing, or the delete policy)."""
    class_name = str(hub.connectors.get(name).config.get("class", "Product"))
    return set(skus) - set(hub.connectors.catalog.by_keys(class_name, skus))


def describe(stored: StoredConnector) -> str:
    config = stored.config
    return f"{stored.name} ({stored.kind}, class {config.get('class', 'Product')}) -> " + str(
        config.get("baseUrl", "")
    )


def pipeline_hint(stored: StoredConnector) -> str:
    endpoint = stored.endpoint_id
    return (
        f"deliveries and dead letters: pimhub webhooks deliveries --endpoint {endpoint}"
        f" [--status dead]; send again: pimhub webhooks replay --endpoint {endpoint}"
    )
