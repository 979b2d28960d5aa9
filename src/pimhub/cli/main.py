"""The `pimhub` command."""

from __future__ import annotations

import typer

from pimhub.cli import (
    classes,
    completeness,
    connectors,
    db,
    graphql,
    keys,
    search,
    server,
    transfer,
    webhooks,
)

app = typer.Typer(
    help="pimhub: product information and integration hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(classes.app, name="classes")
app.add_typer(db.app, name="db")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(graphql.app, name="graphql")
app.add_typer(search.app, name="search")
app.add_typer(connectors.app, name="connectors")
server.register(app)
transfer.register(app)
completeness.register(app)


if __name__ == "__main__":
    app()
