"""`pimhub connectors`: add, check, show, change and remove connectors; their status per SKU,
dry runs and pushes outside the queue. Deliveries, dead letters and replay of a connector are
those of its pipeline row: `pimhub webhooks deliveries --endpoint connector-NAME`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import orjson
import typer
import yaml
from rich.markup import escape

from pimhub import safe_yaml
from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    fail,
    handles_errors,
    open_hub,
    print_json,
    print_table,
)
from pimhub.connectors.magento.config import NAME_PATTERN, InvalidConnector

if TYPE_CHECKING:
    from pimhub.bootstrap import Hub
    from pimhub.connectors.records import StoredConnector

app = typer.Typer(
    help="Manage connectors (Magento 2). A connector's deliveries, dead letters and replay "
    "are under `pimhub webhooks deliveries|replay --endpoint connector-NAME`.",
    no_args_is_help=True,
)

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
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise fail(f"{file}: not valid YAML{where}: {exc.problem or exc.context}") from None
    if not isinstance(data, dict):
        raise fail(f"{file}: expected a mapping of settings (name, baseUrl, ...)")
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


@app.command("add")
@reports_problems
def add(
    kind: Annotated[str, typer.Argument(help="The kind of connector: magento")],
    config: ConfigOption,
    name: Annotated[str | None, typer.Option(help="Overrides the file's name")] = None,
    base_url: Annotated[str | None, typer.Option(help="Overrides the file's baseUrl")] = None,
    consumer_key: ConsumerKey = None,
    consumer_secret: ConsumerSecret = None,
    access_token: AccessToken = None,
    access_token_secret: AccessTokenSecret = None,
) -> None:
    """Add a connector from a YAML or JSON file.

    Credentials come from the flags or, so that they stay out of the shell history, from
    PIMHUB_MAGENTO_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN and _ACCESS_TOKEN_SECRET (a
    flag wins). They are sealed at rest and never printed."""
    if kind not in KINDS:
        raise fail(f"unknown connector kind '{kind}'; known: {', '.join(KINDS)}")
    body = read_config(config, name, base_url)
    credentials = credentials_given(
        consumer_key, consumer_secret, access_token, access_token_secret
    )
    stored = open_hub().connectors.add(body, credentials or {})
    console.print(f"added connector {escape(describe(stored))}", highlight=False)
    console.print(escape(pipeline_hint(stored)), highlight=False)


@app.command("check")
@reports_problems
def check(config: ConfigOption) -> None:
    """Check a configuration without saving it: each problem as `path: message`, exit 1."""
    body = read_config(config)
    checked = open_hub().connectors.check(body)
    console.print(f"ok: {escape(checked.name)} -> {escape(checked.base_url)}", highlight=False)


@app.command("list")
@handles_errors
def list_connectors(as_json: JsonFlag = False) -> None:
    """List connectors with their health."""
    found = open_hub().connectors.all()
    if as_json:
        print_json([stored.to_dict() for stored in found])
        return
    rows = []
    for stored in found:
        note = stored.disabled_reason or (
            f"paused until {stored.paused_until:%H:%M:%S}" if stored.paused_until else ""
        )
        rows.append(
            [
                stored.name,
                stored.kind,
                str(stored.config.get("class", "Product")),
                str(stored.config.get("baseUrl", "")),
                "yes" if stored.enabled else "no",
                str(stored.consecutive_failures),
                note,
                stored.endpoint_id,
            ]
        )
    headers = ("name", "kind", "class", "base URL", "enabled", "failures", "note", "endpoint")
    print_table(headers, rows)


@app.command("show")
@handles_errors
def show(name: NameArg) -> None:
    """Print a connector's configuration (YAML), health and SKU counts.

    Never its credentials. Deliveries, dead letters and replay: `pimhub webhooks deliveries
    --endpoint connector-NAME` and `pimhub webhooks replay --endpoint connector-NAME`."""
    hub = open_hub()
    stored = hub.connectors.get(checked_name(name))
    counts = hub.connectors.status(stored.name, limit=1).counts
    document = {
        "connector": stored.config,
        "health": {
            **stored.to_dict()["health"],
            "enabled": stored.enabled,
            "version": stored.version,
            "endpoint": stored.endpoint_id,
        },
        "items": dict(counts),
    }
    typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)
    typer.echo(f"# {pipeline_hint(stored)}")


@app.command("update")
@reports_problems
def update(
    name: NameArg,
    config: ConfigOption,
    consumer_key: ConsumerKey = None,
    consumer_secret: ConsumerSecret = None,
    access_token: AccessToken = None,
    access_token_secret: AccessTokenSecret = None,
) -> None:
    """Replace a connector's configuration; new credentials when given.

    The name stays. Credentials: all four, by flag or PIMHUB_MAGENTO_* variables; without
    them the stored ones stay."""
    checked_name(name)
    body = read_config(config)
    credentials = credentials_given(
        consumer_key, consumer_secret, access_token, access_token_secret
    )
    stored = open_hub().connectors.update(name, body, credentials)
    changed = " and credentials" if credentials else ""
    console.print(
        f"updated settings{changed} of {escape(describe(stored))} (version {stored.version})",
        highlight=False,
    )


@app.command("remove")
@handles_errors
def remove(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Remove a connector (asks first unless --yes).

    Its credentials, pending deliveries and what it knows per SKU go; products already in
    the shop stay there."""
    hub = open_hub()
    stored = hub.connectors.get(checked_name(name))
    if not yes:
        typer.confirm(f"remove connector {describe(stored)}?", abort=True)
    hub.connectors.remove(stored.name)
    console.print(f"removed connector {escape(stored.name)}", highlight=False)


@app.command("status")
@handles_errors
def status(
    name: NameArg,
    state: Annotated[str | None, typer.Option(help=", ".join(ITEM_STATES))] = None,
    after: Annotated[str | None, typer.Option(help="Start after this SKU (paging)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many SKUs")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """SKU counts by state and a page of SKUs: state, synced version, when, last error.

    Failed deliveries: `pimhub webhooks deliveries --endpoint connector-NAME --status dead`."""
    if state is not None and state not in ITEM_STATES:
        raise fail(f"--state must be one of {', '.join(ITEM_STATES)}")
    found = open_hub().connectors.status(checked_name(name), state=state, after=after, limit=limit)
    if as_json:
        # As the REST answer: nextCursor (`next`, its deprecated name) is null on the last page.
        page = found.to_dict()
        last = found.items[-1].sku if len(found.items) == limit else None
        page["nextCursor"] = page["next"] = last
        typer.echo(orjson.dumps(page, option=orjson.OPT_INDENT_2).decode())
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(found.counts.items())) or "no SKUs yet"
    console.print(f"{escape(name)}: {escape(counts)}", highlight=False)
    rows = [
        [
            item.sku,
            item.state,
            "-" if item.synced_version is None else str(item.synced_version),
            f"{item.synced_at:%Y-%m-%d %H:%M:%S}" if item.synced_at else "-",
            item.last_error or "",
        ]
        for item in found.items
    ]
    print_table(("sku", "state", "synced version", "synced at", "last error"), rows)
    if len(found.items) == limit:
        console.print(f"more: --after {escape(found.items[-1].sku)}", highlight=False)


@app.command("dry-run")
@reports_problems
def dry_run(
    name: NameArg,
    sku: Annotated[str, typer.Argument(help="The product's SKU")],
    as_json: JsonFlag = False,
) -> None:
    """Print the requests pushing one product would send now.

    Method, store, path and body as JSON. Ids are looked up in Magento; nothing is written
    there or in the hub."""
    hub = open_hub()
    requests = asyncio.run(hub.connectors.dry_run(checked_name(name), sku))
    if as_json:
        typer.echo(orjson.dumps(requests, option=orjson.OPT_INDENT_2).decode())
        return
    if not requests:
        why = "the hub has no such product" if absent(hub, name, [sku]) else "nothing changed"
        typer.echo(f"{sku}: nothing to send ({why})")
    for request in requests:
        typer.echo(f"{request['method']} [{request['store']}] {request['path']}")
        if request["body"] is not None:
            typer.echo(orjson.dumps(request["body"], option=orjson.OPT_INDENT_2).decode())


@app.command("push")
@handles_errors
def push(
    name: NameArg,
    skus: Annotated[list[str], typer.Argument(help="One or more SKUs")],
) -> None:
    """Push these SKUs now, outside the queue; exit 1 if any failed.

    Prints `SKU: ok` or the error per SKU. Queued deliveries, dead letters and replay:
    `pimhub webhooks deliveries|replay --endpoint connector-NAME`."""
    hub = open_hub()
    outcomes = asyncio.run(hub.connectors.push_skus(checked_name(name), list(skus)))
    missing = absent(hub, name, list(skus))
    failed = 0
    for outcome in outcomes:
        if outcome.ok:
            note = ", the hub has no such product" if outcome.sku in missing else ""
            typer.echo(f"{outcome.sku}: ok ({outcome.calls} calls{note})")
        else:
            failed += 1
            typer.echo(f"{outcome.sku}: {outcome.error}")
    if failed:
        raise typer.Exit(1)


LEDGER_STATES = ("submitting", "open", "retrying", "complete", "failed", "rejected", "resubmitted")


@app.command("sync")
@handles_errors
def sync(
    name: NameArg,
    full: Annotated[
        bool, typer.Option("--full", help="Every product, through Magento's async bulk API")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Send every section even when Magento has it already")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, max=60, help="Seconds between bulk status checks")
    ] = 2.0,
    as_json: JsonFlag = False,
) -> None:
    """Bring the shop up to date with the whole catalog (`--full`), through the async bulk API
    with a ledger; waits until Magento has processed every operation.

    Safe to run again after a crash: what the ledger shows as open or done is not sent again.
    Day-to-day changes need no command: the worker pushes them as they happen."""
    if not full:
        raise fail("say --full: day-to-day changes are pushed by `pimhub worker` as they happen")
    hub = open_hub()
    checked = checked_name(name)
    with console.status("syncing") as shown:
        seen = [0]

        def progress(stage: str, count: int) -> None:
            seen[0] += count
            shown.update(f"{stage} {seen[0]} products")

        report = asyncio.run(
            hub.connectors.full_sync(
                checked, force=force, poll_interval=poll_interval, progress=progress
            )
        )
    if as_json:
        typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        console.print(
            f"{escape(name)}: {report.considered} products, {report.unchanged} unchanged, "
            f"{report.submitted} operations submitted, {report.complete} complete, "
            f"{report.failed} failed, {report.retried} retried, "
            f"{report.stock_items} stock items, {report.tombstones} taken offline",
            highlight=False,
        )
        for message in report.messages:
            console.print(f"  {escape(message)}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@app.command("ledger")
@handles_errors
def ledger(
    name: NameArg,
    status: Annotated[str | None, typer.Option(help=", ".join(LEDGER_STATES))] = None,
    after: Annotated[int | None, typer.Option(min=0, help="Start after this entry id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The connector's bulk operations: counts by status and a page of entries (bulk uuid,
    request index, SKU, store, status, Magento's message)."""
    if status is not None and status not in LEDGER_STATES:
        raise fail(f"--status must be one of {', '.join(LEDGER_STATES)}")
    counts, entries = open_hub().connectors.ledger_page(
        checked_name(name), status=status, after=after, limit=limit
    )
    if as_json:
        following = entries[-1].id if len(entries) == limit else None
        body = {"counts": counts, "items": [e.to_dict() for e in entries], "nextCursor": following}
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no bulk operations"
    console.print(f"{escape(name)}: {escape(summary)}", highlight=False)
    rows = [
        [
            str(e.id),
            e.bulk_uuid,
            str(e.request_index),
            e.sku,
            e.store,
            e.status,
            str(e.attempts),
            e.message or "",
        ]
        for e in entries
    ]
    print_table(("id", "bulk", "#", "sku", "store", "status", "attempts", "message"), rows, 4)
    if len(entries) == limit:
        console.print(f"more: --after {entries[-1].id}", highlight=False)


@app.command("poll")
@handles_errors
def poll(
    name: NameArg,
    wait: Annotated[bool, typer.Option(help="Keep polling until nothing is open")] = False,
) -> None:
    """Check the connector's open bulk operations in Magento now (a full sync does this
    itself; this is for one that was interrupted)."""
    still_open = asyncio.run(open_hub().connectors.poll_bulks(checked_name(name), wait=wait))
    typer.echo(f"{name}: {still_open} operations still open")


@app.command("reconcile")
@handles_errors
def reconcile(
    name: NameArg,
    fix: Annotated[bool, typer.Option(help="Push the hub's state for every drifted SKU")] = False,
    sku: Annotated[list[str] | None, typer.Option(help="Only these SKUs (repeat)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Page through Magento and report drift per SKU: missing (the hub wants it, Magento lacks
    it), extra (the hub created it and no longer wants it), different (owned attributes whose
    values differ, with both values). Exit 1 when drift remains."""
    hub = open_hub()
    report = asyncio.run(hub.connectors.reconcile(checked_name(name), fix=fix, skus=sku))
    if as_json:
        typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items())) or "none"
        console.print(
            f"{escape(name)}: {report.checked} SKUs checked; drift: {escape(counts)}"
            + (f"; fixed {report.fixed}" if fix else ""),
            highlight=False,
        )
        rows = []
        for drift in report.items[:200]:
            if not drift.attributes:
                rows.append([drift.sku, drift.kind, "", "", ""])
            for attribute, (ours, theirs) in drift.attributes.items():
                rows.append([drift.sku, drift.kind, attribute, repr(ours), repr(theirs)])
        if report.items:
            print_table(("sku", "drift", "attribute", "hub", "magento"), rows)
        for error in report.errors:
            console.print(f"  {escape(error)}", highlight=False)
    if report.items and not (fix and not report.errors):
        raise typer.Exit(1)


@app.command("pull")
@handles_errors
def pull(
    name: NameArg,
    full: Annotated[bool, typer.Option(help="Ignore the checkpoint and read everything")] = False,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Products per request")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """Import Magento's catalog into the hub (onboarding a shop whose data lives in Magento),
    incrementally by updated_at from the last checkpoint; resumable after a crash."""
    hub = open_hub()
    report = asyncio.run(hub.connectors.pull(checked_name(name), full=full, page_size=page_size))
    if as_json:
        typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    console.print(
        f"{escape(name)}: {report.seen} seen, {report.created} created, {report.updated} "
        f"updated, {report.unchanged} unchanged, {report.skipped} skipped; "
        f"checkpoint {report.checkpoint}",
        highlight=False,
    )
    for warning in report.warnings:
        console.print(f"  {escape(warning)}", highlight=False)
