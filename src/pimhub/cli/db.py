"""`pimhub db`: schema migrations."""

from __future__ import annotations

import typer

from pimhub.cli.common import console, handles_errors, open_hub

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
@handles_errors
def upgrade_command() -> None:
    """Migrate the database to the newest schema."""
    from pimhub.storage.migrate import current_revision, upgrade

    hub = open_hub(require_schema=False)
    upgrade(hub.engine)
    console.print(f"database at revision {current_revision(hub.engine)}")


@app.command("current")
@handles_errors
def current() -> None:
    """Print the schema revision of the database."""
    from pimhub.storage.migrate import current_revision

    hub = open_hub(require_schema=False)
    console.print(current_revision(hub.engine) or "not initialized")
