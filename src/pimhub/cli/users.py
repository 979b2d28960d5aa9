"""`pimhub users`: the people who sign in to the admin UI (create, list, disable, enable,
passwd, role).

A password is never an argument (it would sit in the shell history and in `ps`): it is asked
for twice without echo, or read from the first line of stdin with --password-stdin.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    handles_errors,
    not_initialized,
    print_json,
    print_table,
    schema_installed,
    set_cli_actor,
)

if TYPE_CHECKING:
    from pimhub.settings import Settings
    from pimhub.users.model import User
    from pimhub.users.service import UserService

app = typer.Typer(help="Manage the users of the admin UI.", no_args_is_help=True)

ROLE_HELP = "admin, catalog-manager, integrator or viewer"
Username = Annotated[str, typer.Argument(help="The user's name (lower-case, as they sign in)")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin (for scripts) instead of asking",
    ),
]


def open_users(settings: Settings | None = None) -> UserService:
    """The user service alone, wired as bootstrap() wires `Hub.users`: the whole hub takes
    most of a second to build, users need two tables."""
    from datetime import timedelta

    from pimhub.access.audit import Auditor
    from pimhub.catalog.clock import utc_now
    from pimhub.settings import Settings
    from pimhub.storage.audit_log import SqlAuditLog
    from pimhub.storage.engine import build_engine
    from pimhub.storage.users import SqlSessionRepository, SqlUserRepository
    from pimhub.users.passwords import Argon2Passwords
    from pimhub.users.service import UserService

    set_cli_actor()
    settings = settings or Settings()
    engine = build_engine(settings.effective_database_url)
    if not schema_installed(engine):
        engine.dispose()
        raise not_initialized(settings)
    return UserService(
        SqlUserRepository(engine),
        SqlSessionRepository(engine),
        Argon2Passwords(
            time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
        ),
        idle=timedelta(hours=settings.admin_session_idle_hours),
        absolute=timedelta(days=settings.admin_session_max_days),
        audit=Auditor(SqlAuditLog(engine), utc_now),
    )


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or asked twice on the terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise typer.BadParameter("stdin held no password", param_hint="--password-stdin")
        return password
    if not _terminal():
        raise typer.BadParameter(
            "no terminal to ask for the password on; pipe it in with --password-stdin",
            param_hint="--password-stdin",
        )
    asked: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return asked


def _terminal() -> bool:
    """Whether a person can be asked (a prompt on a pipe would read the password twice from
    it, or hang)."""
    return sys.stdin.isatty()


@app.command("create")
@handles_errors
def create(
    username: Username,
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    display_name: Annotated[str, typer.Option(help="Shown in the UI; the username if empty")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user who signs in at /admin with the password you give."""
    users = open_users()
    user = users.create(username, read_password(password_stdin), role, display_name=display_name)
    console.print(
        f"created user [bold]{escape(user.username)}[/] ({escape(user.role.value)})",
        highlight=False,
    )


@app.command("list")
@handles_errors
def list_users(as_json: JsonFlag = False) -> None:
    """List users (never their password hashes)."""
    users = open_users().all()
    if as_json:
        print_json([_as_dict(user) for user in users])
        return
    headers = ("username", "display name", "role", "created", "disabled")
    print_table(headers, [_row(user) for user in users])


def _row(user: User) -> list[str]:
    return [
        user.username,
        user.display_name,
        user.role.value,
        f"{user.created_at:%Y-%m-%d %H:%M}",
        f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "-",
    ]


def _as_dict(user: User) -> dict[str, str | None]:
    return {
        "username": user.username,
        "displayName": user.display_name,
        "role": user.role.value,
        "createdAt": user.created_at.isoformat(),
        "passwordChangedAt": user.password_changed_at.isoformat(),
        "disabledAt": user.disabled_at.isoformat() if user.disabled_at else None,
    }


@app.command("disable")
@handles_errors
def disable(username: Username) -> None:
    """Disable a user: they cannot sign in, and their open sessions end now."""
    user = open_users().disable(username)
    console.print(f"disabled {escape(user.username)}; their sessions have ended", highlight=False)


@app.command("enable")
@handles_errors
def enable(username: Username) -> None:
    """Let a disabled user sign in again."""
    user = open_users().enable(username)
    console.print(f"enabled {escape(user.username)}", highlight=False)


@app.command("passwd")
@handles_errors
def passwd(username: Username, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password; their open sessions end."""
    users = open_users()
    users.get(username)  # an unknown name is told before asking for a password
    user = users.set_password(username, read_password(password_stdin))
    console.print(
        f"new password for {escape(user.username)}; their sessions have ended", highlight=False
    )


@app.command("role")
@handles_errors
def role(
    username: Username,
    new_role: Annotated[str, typer.Argument(metavar="ROLE", help=ROLE_HELP)],
) -> None:
    """Change a user's role; it applies from their next request."""
    user = open_users().set_role(username, new_role)
    console.print(f"{escape(user.username)} is now {user.role.value}", highlight=False)
