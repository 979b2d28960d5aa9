"""`pimhub init`, `pimhub serve` and `pimhub demo`."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Annotated

import typer
import uvicorn

from pimhub.bootstrap import Hub, build_worker
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import ObjectNotFound
from pimhub.cli.common import console, handles_errors, open_hub
from pimhub.demo_catalog import generate
from pimhub.settings import Settings
from pimhub.storage.migrate import upgrade

HostOption = Annotated[str | None, typer.Option(help="Interface to bind (default from settings)")]
PortOption = Annotated[int | None, typer.Option(help="Port (default from settings)")]


def initialize(hub: Hub) -> list[str]:
    """Migrate and, on an empty hub, install the default commerce model. Returns what it did."""
    done = []
    upgrade(hub.engine)
    done.append("schema is up to date")
    if not hub.classes.all():
        hub.classes.apply(commerce_model(), author="init")
        done.append("installed the commerce model (Brand, Category, Product)")
    return done


def run_server(hub: Hub, host: str | None, port: int | None, *, with_worker: bool = False) -> None:
    from pimhub.api.app import create_app
    from pimhub.api.observability import configure_logging

    configure_logging(hub.settings.log_level, hub.settings.log_json)
    hub.imports.recover()  # imports a previous server left running will not finish
    uvicorn.run(
        create_app(hub, worker=build_worker(hub) if with_worker else None),
        host=host or hub.settings.host,
        port=port or hub.settings.port,
        access_log=False,
        log_level="warning",
    )


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def init() -> None:
        """Create or migrate the database and install the default commerce model."""
        hub = open_hub(require_schema=False)
        for line in initialize(hub):
            console.print(line)
        if not hub.access.all():
            key, token = hub.access.create("admin", ["admin"], environment="development")
            console.print(f"created admin key {key.key_id}; secret (shown once):")
            typer.echo(token)

    @app.command()
    @handles_errors
    def serve(host: HostOption = None, port: PortOption = None) -> None:
        """Serve the API (the database must be initialized)."""
        run_server(open_hub(), host, port)

    @app.command()
    @handles_errors
    def worker() -> None:
        """Deliver webhooks until stopped (Ctrl-C or SIGTERM); run several on PostgreSQL."""
        from pimhub.api.observability import configure_logging

        hub = open_hub()
        configure_logging(hub.settings.log_level, hub.settings.log_json)
        asyncio.run(_work(hub))

    @app.command()
    @handles_errors
    def demo(
        host: HostOption = None,
        port: PortOption = None,
        products: Annotated[int, typer.Option(help="Products to generate")] = 1000,
    ) -> None:
        """Initialize SQLite under ./pimhub-data, load a demo catalog, print a key, serve."""
        settings = Settings()
        if "PIMHUB_WEBHOOKS_ALLOW_PRIVATE" not in os.environ:
            # A first look usually points webhooks at a receiver on the same machine.
            settings.webhooks_allow_private = True
        if "PIMHUB_IMPORT_SOURCES_ALLOW_PRIVATE" not in os.environ:
            settings.import_sources_allow_private = True  # and imports at a local feed
        hub = open_hub(settings, require_schema=False)
        initialize(hub)
        seed_demo(hub, products)
        for old in [k for k in hub.access.all() if k.name == "demo" and not k.revoked_at]:
            hub.access.revoke(old.key_id)
        _, token = hub.access.create("demo", ["admin"], environment="development")
        base = f"http://{host or hub.settings.host}:{port or hub.settings.port}"
        console.print(f"\n[bold]pimhub demo[/] on {hub.settings.effective_database_url}")
        console.print(f"  API key:  [bold]{token}[/]", highlight=False)
        console.print(f"  API:      {base}/api/v1/products/PH-00001", highlight=False)
        console.print(f"  Docs:     {base}/docs   OpenAPI: {base}/openapi.json", highlight=False)
        console.print(
            f"  Try:      curl -H 'Authorization: Bearer {token}' {base}/api/v1/products/PH-00001",
            highlight=False,
        )
        console.print(
            "  Webhooks: delivered by this process; loopback and private URLs are allowed in "
            "the demo (`pimhub webhooks create --url ...`)\n",
            highlight=False,
        )
        run_server(hub, host, port, with_worker=True)


async def _work(hub: Hub) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await build_worker(hub).run(stop)
    finally:
        hub.close()


def seed_demo(hub: Hub, products: int) -> None:
    """Load the generated catalog unless it is already there (the demo restarts quickly)."""
    catalog = generate(products)
    last = catalog.variants[-1][1]["sku"] if catalog.variants else catalog.products[-1]["sku"]
    try:
        hub.catalog.get_object("Product", last, include_drafts=True)
        return
    except ObjectNotFound:
        pass
    with console.status(f"loading {len(catalog.products)} demo products..."):
        for kind, items in (
            ("Brand", catalog.brands),
            ("Category", catalog.categories),
            ("Product", catalog.products),
        ):
            key_field = "sku" if kind == "Product" else "code"
            for item in items:
                hub.catalog.put(kind, item[key_field], item, author="demo")
        for parent, own in catalog.variants:
            hub.catalog.put("Product", own["sku"], own, parent=parent, author="demo")
    console.print(
        f"loaded {len(catalog.brands)} brands, {len(catalog.categories)} categories "
        f"and {len(catalog.products)} products with {len(catalog.variants)} variants"
    )
