"""`pimhub connectors`: add, check, show, change and remove connectors; their status per SKU,
dry runs and pushes outside the queue. Deliveries, dead letters and replay of a connector are
those of its pipeline row: `pimhub webhooks deliveries --endpoint connector-NAME`.

The commands live in connector_setup (configuration) and connector_sync (per-SKU state and
runs); they are registered here in the order `--help` lists them."""

from __future__ import annotations

import typer

from pimhub.cli import connector_setup, connector_sync

app = typer.Typer(
    help="Manage connectors (Magento 2). A connector's deliveries, dead letters and replay "
    "are under `pimhub webhooks deliveries|replay --endpoint connector-NAME`.",
    no_args_is_help=True,
)

app.command("add")(connector_setup.add)
app.command("check")(connector_setup.check)
app.command("list")(connector_setup.list_connectors)
app.command("show")(connector_setup.show)
app.command("update")(connector_setup.update)
app.command("remove")(connector_setup.remove)
app.command("status")(connector_sync.status)
app.command("dry-run")(connector_sync.dry_run)
app.command("push")(connector_sync.push)
app.command("sync")(connector_sync.sync)
app.command("ledger")(connector_sync.ledger)
app.command("poll")(connector_sync.poll)
app.command("reconcile")(connector_sync.reconcile)
app.command("pull")(connector_sync.pull)
