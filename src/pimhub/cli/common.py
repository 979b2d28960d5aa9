"""Shared CLI plumbing: settings, the hub, and one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
import yaml
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.errors import CatalogError
from pimhub.settings import Settings
from pimhub.storage.migrate import current_revision

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one clear line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CatalogError as exc:
            details = "; ".join(f"{e.field}: {e.message}" for e in exc.errors[:10])
            raise fail(f"{exc.detail}" + (f" ({details})" if details else "")) from None
        except SQLAlchemyError as exc:
            raise fail(
                f"database: {exc.orig if hasattr(exc, 'orig') else exc!s}".splitlines()[0]
            ) from None
        except (OSError, yaml.YAMLError) as exc:
            raise fail(str(exc).splitlines()[0]) from None

    return wrapper


def open_hub(settings: Settings | None = None, *, require_schema: bool = True) -> Hub:
    hub = bootstrap(settings or Settings())
    if require_schema and current_revision(hub.engine) is None:
        hub.close()
        raise fail(
            f"the database at {hub.settings.effective_database_url} is not initialized; "
            "run `pimhub init` (or `pimhub db upgrade`) first"
        )
    return hub


def write_yaml(output: Path | None, key: str, items: list[dict[str, Any]], what: str) -> None:
    """`{key: items}` as YAML to `output`, or to stdout when None."""
    text = yaml.safe_dump({key: items}, sort_keys=False, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(items)} {what} to {output}")


def read_yaml_list(file: Path, key: str) -> list[Any]:
    """The list under `key` in a YAML file (or the file's top-level list); a syntax error
    names its line and column."""
    try:
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise fail(f"{file}: not valid YAML{where}: {exc.problem or exc.context}") from None
    items = data.get(key) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise fail(f"{file}: expected a list under '{key}:'")
    return items
