"""`pimhub connectors` status, dry-run, push, sync, ledger, poll, reconcile and pull: what
a connector holds per SKU and the runs outside the queue (registered on the group in
cli/connectors.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from pimhub.cli.common import JsonFlag, console, fail, handles_errors, open_hub, print_table
from pimhub.cli.connector_common import (
    ITEM_STATES,
    NameArg,
    absent,
    checked_name,
    reports_problems,
)


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


@handles_errors
def poll(
    name: NameArg,
    wait: Annotated[bool, typer.Option(help="Keep polling until nothing is open")] = False,
) -> None:
    """Check the connector's open bulk operations in Magento now (a full sync does this
    itself; this is for one that was interrupted)."""
    still_open = asyncio.run(open_hub().connectors.poll_bulks(checked_name(name), wait=wait))
    typer.echo(f"{name}: {still_open} operations still open")


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
