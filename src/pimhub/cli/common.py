"""Shared CLI plumbing: settings, the hub, one-line errors, and `--json` for listings.

Importing this module must stay cheap (see cli/main.py): the hub, SQLAlchemy and pydantic
are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from pimhub.catalog.errors import CatalogError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from yaml import MarkedYAMLError

    from pimhub.access.service import AccessService
    from pimhub.bootstrap import Hub
    from pimhub.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> typer.Exit:
    """Print `message` (plain text, never markup) as one error line; raise what it returns."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one clear line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except Exception as exc:
            message = expected_failure(exc)
            if message is None:
                raise
            raise fail(message) from None

    return wrapper


def expected_failure(exc: Exception) -> str | None:
    """The one line to print for a failure the user can act on; None for a bug."""
    if isinstance(exc, CatalogError):
        details = "; ".join(f"{e.field}: {e.message}" for e in exc.errors[:10])
        return f"{exc.detail}" + (f" ({details})" if details else "")
    # Looked up, not imported: an error of a library that was never imported cannot occur.
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        return f"database: {exc.orig if hasattr(exc, 'orig') else exc!s}".splitlines()[0]
    yaml = sys.modules.get("yaml")
    if isinstance(exc, OSError) or (yaml is not None and isinstance(exc, yaml.YAMLError)):
        return (str(exc).splitlines() or [type(exc).__name__])[0]
    return None


def open_hub(
    settings: Settings | None = None, *, require_schema: bool = True, oidc_prefetch: bool = False
) -> Hub:
    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings

    set_cli_actor()
    hub = bootstrap(settings or Settings(), oidc_prefetch=oidc_prefetch)
    if require_schema and not schema_installed(hub.engine):
        hub.close()
        raise not_initialized(hub.settings)
    return hub


def open_access(settings: Settings | None = None) -> AccessService:
    """The API key service alone, for `pimhub keys`: the whole hub takes most of a second to
    import and build, keys need one table. Wired as bootstrap() wires `Hub.access`."""
    from pimhub.access.audit import Auditor
    from pimhub.access.service import AccessService
    from pimhub.catalog.clock import utc_now
    from pimhub.settings import Settings
    from pimhub.storage.api_keys import SqlApiKeyRepository
    from pimhub.storage.audit_log import SqlAuditLog
    from pimhub.storage.engine import build_engine

    set_cli_actor()
    settings = settings or Settings()
    engine = build_engine(settings.effective_database_url)
    if not schema_installed(engine):
        engine.dispose()
        raise not_initialized(settings)
    return AccessService(SqlApiKeyRepository(engine), audit=Auditor(SqlAuditLog(engine), utc_now))


def set_cli_actor() -> None:
    """The audit log names CLI changes `cli:<operating-system login>`."""
    import getpass

    from pimhub.access.audit import set_actor

    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name and no password-file entry (a bare container)
        import os

        login = f"uid-{os.getuid()}"
    set_actor(f"cli:{login}")


def schema_installed(engine: Engine) -> bool:
    """Whether migrations have run; read directly so that no migration tooling is imported."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return conn.execute(text("SELECT version_num FROM alembic_version")).first() is not None


def not_initialized(settings: Settings) -> typer.Exit:
    return fail(
        f"the database at {settings.effective_database_url} is not initialized; "
        "run `pimhub init` (or `pimhub db upgrade`) first"
    )


def print_json(value: Any) -> None:
    """`value` as indented JSON on stdout, for scripts (`--json`)."""
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], ids: int = 1) -> None:
    """A table whose first `ids` columns are never cut: on a terminal they keep their whole
    width and the other columns fold onto more lines, and elsewhere (a pipe, a file) nothing
    is wrapped at all. Cells are plain text, never markup."""
    from rich.table import Table

    table = Table()
    for index, header in enumerate(headers):
        if index < ids:
            widest = max((len(row[index]) for row in rows), default=0)
            table.add_column(header, no_wrap=True, min_width=max(widest, len(header)))
        else:
            table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    if console.is_terminal:
        console.print(table)
    else:
        wide = Console(width=100_000, soft_wrap=True)
        with wide.capture() as captured:
            wide.print(table)
        sys.stdout.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")


def write_yaml(output: Path | None, key: str, items: list[dict[str, Any]], what: str) -> None:
    """`{key: items}` as YAML to `output`, or to stdout when None."""
    import yaml

    text = yaml.safe_dump({key: items}, sort_keys=False, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(items)} {what} to {escape(str(output))}")


def read_yaml_list(file: Path, key: str) -> list[Any]:
    """The list under `key` in a YAML file (or the file's top-level list); a syntax error
    names its line and column."""
    import yaml

    from pimhub import safe_yaml

    try:
        data: Any = safe_yaml.load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        raise _not_yaml(file, exc) from None
    items = data.get(key) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise fail(f"{file}: expected a list under '{key}:'")
    return items


def read_mapping(file: Path, expected: str) -> dict[str, Any]:
    """The mapping in `file` (JSON when it ends in .json, else YAML); a syntax error names
    its line and column, anything else than a mapping says `expected`."""
    import orjson
    import yaml

    from pimhub import safe_yaml

    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".json":
        try:
            data: Any = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            message = f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            raise fail(f"{file}: {message}") from None
    else:
        try:
            data = safe_yaml.load(text)
        except yaml.MarkedYAMLError as exc:
            raise _not_yaml(file, exc) from None
    if not isinstance(data, dict):
        raise fail(f"{file}: expected {expected}")
    return data


def _not_yaml(file: Path, exc: MarkedYAMLError) -> typer.Exit:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return fail(f"{file}: not valid YAML{where}: {exc.problem or exc.context}")
