"""`pimhub init`, `pimhub serve` and `pimhub demo`."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from pimhub.catalog.errors import ObjectNotFound
from pimhub.cli.common import console, fail, handles_errors, open_hub
from pimhub.demo_catalog import generate, upload_images

if TYPE_CHECKING:
    from pimhub.bootstrap import Hub

HostOption = Annotated[str | None, typer.Option(help="Interface to bind (default from settings)")]
PortOption = Annotated[int | None, typer.Option(help="Port (default from settings)")]


def initialize(hub: Hub) -> list[str]:
    """Migrate and, on an empty hub, install the default commerce model. Returns what it did."""
    from pimhub.catalog.commerce import commerce_model
    from pimhub.storage.migrate import upgrade

    done = []
    upgrade(hub.engine)
    done.append("schema is up to date")
    if not hub.classes.all():
        hub.classes.apply(commerce_model(), author="init")
        done.append("installed the commerce model (Brand, Category, Product)")
    return done


def run_server(
    hub: Hub,
    host: str | None,
    port: int | None,
    *,
    with_worker: bool = False,
    workers: int = 1,
) -> None:
    """Serve the API. With workers > 1, uvicorn runs that many processes on one socket, each
    building its own hub from the environment (app_from_environment); PostgreSQL only."""
    import uvicorn

    from pimhub.api.app import create_app
    from pimhub.api.observability import configure_logging
    from pimhub.bootstrap import build_worker

    if workers > 1 and hub.engine.dialect.name == "sqlite":
        raise fail(
            f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time, so "
            "several processes would wait on each other's locks; serve with --workers 1, or "
            "set PIMHUB_DATABASE_URL to a PostgreSQL database"
        )
    if workers > 1 and with_worker:
        raise fail("the in-process webhook worker runs with one serve process only")
    configure_logging(hub.settings.log_level, hub.settings.log_json)
    hub.imports.recover()  # imports a previous server left running will not finish
    target: Any
    if workers > 1:
        target = f"{__name__}:app_from_environment"  # imported by each worker process
        hub.close()
    else:
        target = create_app(hub, worker=build_worker(hub) if with_worker else None)
        freeze_heap()
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=host or hub.settings.host,
        port=port or hub.settings.port,
        access_log=False,
        log_level="warning",
        forwarded_allow_ips=hub.settings.forwarded_allow_ips,  # the client address (api.guard)
    )


def app_from_environment() -> Any:
    """The API of one `serve --workers N` process: settings from the environment, as the
    parent read them (a child process inherits its environment)."""
    from pimhub.api.app import create_app
    from pimhub.api.observability import configure_logging
    from pimhub.bootstrap import bootstrap

    hub = bootstrap(oidc_prefetch=True)
    configure_logging(hub.settings.log_level, hub.settings.log_json)
    app = create_app(hub)
    freeze_heap()
    return app


def freeze_heap() -> None:
    # Everything built so far lives as long as the server: out of the garbage collector's
    # sight, its full collections no longer walk it (about 8% of the CPU of an inbound
    # message under load, measured with perf).
    gc.collect()
    gc.freeze()


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def init() -> None:
        """Create or migrate the database and install the default commerce model."""
        hub = open_hub(require_schema=False)
        for line in initialize(hub):
            console.print(line)
        if not hub.access.all():
            # The first key's environment follows the profile: a production hub's admin key
            # is a production key.
            env = "production" if hub.settings.profile == "production" else "development"
            key, token = hub.access.create("admin", ["admin"], environment=env)
            console.print(f"created admin key {key.key_id}; secret (shown once):")
            typer.echo(token)

    @app.command()
    @handles_errors
    def serve(
        host: HostOption = None,
        port: PortOption = None,
        workers: Annotated[
            int | None,
            typer.Option(
                min=1, max=64, help="Processes serving one port (PostgreSQL; default from settings)"
            ),
        ] = None,
    ) -> None:
        """Serve the API (the database must be initialized)."""
        hub = open_hub(oidc_prefetch=True)
        run_server(hub, host, port, workers=workers or hub.settings.workers)

    @app.command()
    @handles_errors
    def worker() -> None:
        """Deliver webhooks until stopped (Ctrl-C or SIGTERM); run several on PostgreSQL."""
        from pimhub.api.observability import configure_logging

        hub = open_hub(oidc_prefetch=True)
        configure_logging(hub.settings.log_level, hub.settings.log_json)
        asyncio.run(_work(hub))

    @app.command()
    @handles_errors
    def demo(
        host: HostOption = None,
        port: PortOption = None,
        products: Annotated[int, typer.Option(help="Products to generate")] = 1000,
    ) -> None:
        """Initialize SQLite under ./pimhub-data, load a demo catalog, print a key, serve.
        The key is kept in pimhub-data/demo.key and stays the same when the demo restarts."""
        from pimhub.settings import Settings

        settings = Settings()
        if "PIMHUB_WEBHOOKS_ALLOW_PRIVATE" not in os.environ:
            # A first look usually points webhooks at a receiver on the same machine.
            settings.webhooks_allow_private = True
        if "PIMHUB_IMPORT_SOURCES_ALLOW_PRIVATE" not in os.environ:
            settings.import_sources_allow_private = True  # and imports at a local feed
        hub = open_hub(settings, require_schema=False, oidc_prefetch=True)
        initialize(hub)
        seed_demo(hub, products)
        token, replaced = demo_key(hub)
        admin = demo_admin(hub)
        base = f"http://{host or hub.settings.host}:{port or hub.settings.port}"
        for line in banner(hub, token, replaced, base, admin=admin):
            console.print(line, highlight=False)
        run_server(hub, host, port, with_worker=True)


DEMO_KEY_FILE = "demo.key"


def demo_key(hub: Hub) -> tuple[str, str | None]:
    """The demo's admin key, and the id of the saved key it replaces (None when the saved one
    still works). The key is saved in the data directory so that a restarted demo prints the
    same key and the reader's `$KEY` keeps working; a key revoked or lost since is replaced."""
    from pimhub.access.keys import split_key
    from pimhub.catalog.errors import Unauthorized

    path = hub.settings.data_dir / DEMO_KEY_FILE
    saved = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    replaced = None
    if saved:
        try:
            hub.access.authenticate(saved)
            return saved, None
        except Unauthorized:
            parts = split_key(saved)
            replaced = parts[0] if parts else "unreadable"
    # Whatever admin key a lost or unreadable demo.key held stays nobody's to use: revoke it.
    for key in hub.access.all():
        if key.name == "demo" and key.revoked_at is None:
            hub.access.revoke(key.key_id)
            replaced = key.key_id if replaced in (None, "unreadable") else replaced
    _, token = hub.access.create("demo", ["admin"], environment="development")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # an admin secret: for this user only, even in a file made before
    path.write_text(token + "\n", encoding="utf-8")
    return token, replaced


DEMO_ADMIN_FILE = "demo-admin.txt"
DEMO_ADMIN = "admin"
DISABLED, CHANGED = "disabled", "password changed"


@dataclass(frozen=True)
class DemoAdmin:
    """The demo's admin UI login as the banner shows it. `problem`: why the saved password
    does not sign in (DISABLED or CHANGED since the demo made the user), None when it does."""

    username: str
    password: str
    problem: str | None = None


def demo_admin(hub: Hub) -> DemoAdmin:
    """The user `admin`, made once with a random password kept in the data directory
    (demo-admin.txt, mode 0600), so a restarted demo prints the same login. A user someone
    has disabled, or given another password, since is left as they made it: the banner says
    so and how to undo it, rather than silently undoing their change."""
    from pimhub.catalog.errors import NotFound, Unauthorized
    from pimhub.users.model import MIN_PASSWORD

    path = hub.settings.data_dir / DEMO_ADMIN_FILE
    saved = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    try:
        user = hub.users.get(DEMO_ADMIN)
    except NotFound:
        password = saved if len(saved) >= MIN_PASSWORD else secrets.token_urlsafe(12)
        if password != saved:
            _write_secret(path, password)  # first: a user made without it would be locked
        hub.users.create(DEMO_ADMIN, password, "admin", display_name="Demo admin")
        return DemoAdmin(DEMO_ADMIN, password)
    if not user.active:
        return DemoAdmin(DEMO_ADMIN, saved, DISABLED)
    try:
        hub.users.authenticate(DEMO_ADMIN, saved)
    except Unauthorized:
        usable = saved if len(saved) >= MIN_PASSWORD else ""  # lost or garbled
        return DemoAdmin(DEMO_ADMIN, usable, CHANGED)
    return DemoAdmin(DEMO_ADMIN, saved)


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # a secret: for this user only, even in a file made before
    path.write_text(text + "\n", encoding="utf-8")


def cli_name() -> str:
    """How the reader called pimhub, so the banner's commands work when pasted: `pimhub` when
    that is on PATH, else the path used (`.venv/bin/pimhub` without an activated venv)."""
    called = Path(sys.argv[0])
    if called.name != "pimhub":
        return "pimhub"
    on_path = shutil.which("pimhub")
    if on_path and Path(on_path).resolve() == called.resolve():
        return "pimhub"
    try:
        return str(called.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(called)


def banner(
    hub: Hub, token: str, replaced: str | None, base: str, *, admin: DemoAdmin | None = None
) -> list[str]:
    """What the demo prints before serving; every command in it works as pasted."""
    prog = cli_name()
    key_file = hub.settings.data_dir / DEMO_KEY_FILE
    allow = (
        ""
        if "PIMHUB_WEBHOOKS_ALLOW_PRIVATE" in os.environ
        else ("PIMHUB_WEBHOOKS_ALLOW_PRIVATE=true ")
    )
    lines = [
        f"\n[bold]pimhub demo[/] on {escape(hub.settings.effective_database_url)}",
        f"  API key:  [bold]{token}[/]  (kept in {escape(str(key_file))}; "
        "the same after a restart)",
    ]
    if replaced:
        lines.append(
            f"            [yellow]new key: the saved one ({escape(replaced)}) was revoked, lost "
            "or is no longer valid, and no longer works; use this one[/]"
        )
    if admin is not None:
        lines += admin_lines(hub, admin, base, prog)
    return [
        *lines,
        f"  API:      {base}/api/v1/products/PH-00001",
        f"  Docs:     {base}/docs   OpenAPI: {base}/openapi.json",
        f"  Try:      curl -H 'Authorization: Bearer {token}' {base}/api/v1/products/PH-00001",
        "  Webhooks: delivered by this process, to loopback and private URLs too; from "
        "another shell:",
        f"            {allow}{escape(prog)} webhooks create --url http://127.0.0.1:9000/hook\n",
    ]


def admin_lines(hub: Hub, admin: DemoAdmin, base: str, prog: str) -> list[str]:
    """The admin UI's address and login, or why the saved login no longer works and the
    command that fixes it."""
    where = escape(str(hub.settings.data_dir / DEMO_ADMIN_FILE))
    name = escape(admin.username)
    address = f"  Admin UI: {base}/admin/  user [bold]{name}[/]"
    if admin.problem is None:
        return [f"{address}  password [bold]{escape(admin.password)}[/]  (kept in {where})"]
    if admin.problem == DISABLED:
        why, fix = "was disabled since the demo made it", f"users enable {name}"
    else:
        why, fix = f"has another password than the one in {where}", f"users passwd {name}"
        if admin.password:  # pasted, this sets the saved one again
            fix += f" --password-stdin < {where}"
    return [
        address,
        f"            [yellow]{name} {why}; the demo leaves that as it is. To undo it:[/]",
        f"            {escape(prog)} {fix}",
    ]


async def _work(hub: Hub) -> None:
    from pimhub.bootstrap import build_worker

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
    from pimhub.datahub.demo import ensure_demo_datahub  # /graphql/demo, on every start

    ensure_demo_datahub(hub.datahub)
    catalog = generate(products)
    last = catalog.variants[-1][1]["sku"] if catalog.variants else catalog.products[-1]["sku"]
    try:
        hub.catalog.get_object("Product", last, include_drafts=True)
        return
    except ObjectNotFound:
        pass
    with console.status(f"loading {len(catalog.products)} demo products..."):
        upload_images(hub.assets, catalog.products)  # asset fields must name stored assets
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
