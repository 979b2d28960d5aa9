"""The `pimhub` command.

Every subcommand lives in its own module, imported only when that subcommand runs: the hub
(SQLAlchemy, FastAPI, graphql-core) takes most of a second to import, and `pimhub --help` or
`pimhub keys list` should not wait for what they do not use. The help listing below names
each command with a short help of its own so that listing them imports nothing.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
from typer._click.core import Command, Context  # typer runs on its own copy of click
from typer._click.exceptions import ClickException, UsageError
from typer._click.formatting import HelpFormatter
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A subcommand in `module`: its Typer `app` (a group), or a command its `register(app)`
    adds (kind "register")."""

    module: str
    help: str
    kind: str = "app"


COMMANDS: dict[str, Lazy] = {
    "keys": Lazy("keys", "Manage API keys."),
    "users": Lazy("users", "Manage the users of the admin UI."),
    "classes": Lazy("classes", "Export and apply class definitions (YAML)."),
    "db": Lazy("db", "Database schema."),
    "webhooks": Lazy("webhooks", "Manage webhook endpoints and their deliveries."),
    "graphql": Lazy("graphql", "GraphQL datahub: configurations, their keys and schemas."),
    "search": Lazy("search", "Search index: rebuild, status, and test queries."),
    "connectors": Lazy("connectors", "Manage connectors (Magento 2)."),
    "brokers": Lazy("brokers", "Manage broker destinations (RabbitMQ)."),
    "sources": Lazy("sources", "Manage inbound sources: who may send events to /inbound/NAME."),
    "inbound": Lazy("inbound", "The inbound audit: messages and their fate, refused feed items."),
    "assets": Lazy("assets", "Manage assets: files the catalog refers to."),
    "audit": Lazy("audit", "The audit log of administrative actions: who changed what, when."),
    "workflow": Lazy("workflow", "Show class workflows and run transitions."),
    "oidc": Lazy("oidc", "Single sign-on: OIDC configuration and token checks."),
    "init": Lazy(
        "server",
        "Create or migrate the database and install the default commerce model.",
        "register",
    ),
    "serve": Lazy("server", "Serve the API (the database must be initialized).", "register"),
    "worker": Lazy("server", "Deliver webhooks until stopped (Ctrl-C or SIGTERM).", "register"),
    "demo": Lazy(
        "server", "Initialize SQLite, load a demo catalog, print a key, serve.", "register"
    ),
    "check": Lazy("check", "Check settings and database for production readiness.", "register"),
    "secret-key": Lazy("check", "Back up the secret key that encrypts secrets.", "register"),
    "import": Lazy("transfer", "Import a file (CSV, JSONL, JSON, XML, XLSX).", "register"),
    "export": Lazy("transfer", "Export objects of a class.", "register"),
    "import-profiles": Lazy("transfer", "Scheduled imports.", "register"),
    "completeness": Lazy(
        "completeness", "Count objects per completeness band and channel.", "register"
    ),
}


def load(name: str, lazy: Lazy) -> Command:
    """The real click command for `name`, importing its module now."""
    module = importlib.import_module(f"pimhub.cli.{lazy.module}")
    if lazy.kind == "app":
        command = typer.main.get_command(module.app)
        command.name = name
        return command
    holder = typer.Typer()
    holder.callback()(lambda: None)  # a callback keeps the holder a group, even for one command
    module.register(holder)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    found = group.commands.get(name)
    if found is None:
        raise ClickException(f"pimhub.cli.{lazy.module} has no command {name!r}")
    return found


class LazyGroup(TyperGroup):
    """A group whose subcommands are imported on first use; the help listing shows
    placeholders that carry only a name and a short help."""

    listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        known = super().get_command(ctx, cmd_name)
        lazy = COMMANDS.get(cmd_name)
        if known is not None or lazy is None:
            return known
        if self.listing:
            return TyperCommand(cmd_name, help=lazy.help, short_help=lazy.help)
        self.commands[cmd_name] = load(cmd_name, lazy)
        return self.commands[cmd_name]

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as error:
            # Typer suggests among the commands loaded so far; these are not loaded yet.
            matches = get_close_matches(args[0], COMMANDS) if args else []
            if matches and "Did you mean" not in error.message:
                suggestions = ", ".join(repr(m) for m in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            lines = invalid_settings(exc)
            if lines is None:
                raise
            for line in lines:
                typer.echo(line, err=True)
            raise typer.Exit(2) from None

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def invalid_settings(exc: BaseException) -> list[str] | None:
    """One line per invalid setting when `exc` is the settings' validation error (any
    command builds them from the environment and .env), else None. The value is not shown:
    it may be a secret."""
    # Looked up, not imported: pydantic is imported only by a command that built settings.
    bootstrap = sys.modules.get("pimhub.bootstrap")
    if bootstrap is not None and isinstance(exc, bootstrap.InvalidSetting):
        return [f"invalid setting: {exc}"]
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError) or exc.title != "Settings":
        return None
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "PIMHUB_" + "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"invalid setting {name}: {error['msg']}")
    return lines


app = typer.Typer(
    cls=LazyGroup,
    help="pimhub: product information and integration hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """pimhub: product information and integration hub."""


if __name__ == "__main__":
    app()
