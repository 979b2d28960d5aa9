"""`pimhub inbound`: what inbound sources sent (the audit) and where it went, and the feed items
the catalog refused, with replay. The sources themselves are under `pimhub sources`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from pimhub.cli.common import (
    JsonFlag,
    console,
    fail,
    handles_errors,
    open_hub,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from datetime import datetime

    from pimhub.bootstrap import Hub
    from pimhub.inbound.messages import InboundMessage, MessageFilter

app = typer.Typer(
    help="The inbound audit: messages and their fate, refused feed items and replay.",
    no_args_is_help=True,
)

OUTCOMES = ("accepted", "duplicate", "rejected")
MAX_FATE = 100
MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one cannot exist, and no driver takes it
Source = Annotated[str | None, typer.Option("--source", help="Source name")]


def _time(value: str | None, option: str) -> datetime | None:
    from pimhub.catalog.errors import FieldError
    from pimhub.events.delivery_query import parse_time

    errors: list[FieldError] = []
    parsed = parse_time(value, option, errors)
    if errors:
        raise fail(f"{option} {errors[0].message}")
    return parsed


def message_filter(
    source: str | None,
    event_type: str | None,
    key: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
) -> MessageFilter:
    from pimhub.inbound.messages import MessageFilter, Outcome

    if outcome is not None and outcome not in OUTCOMES:
        raise fail(f"--outcome must be one of {', '.join(OUTCOMES)}")
    return MessageFilter(
        source=source,
        event_type=event_type,
        key=key,
        outcome=Outcome(outcome) if outcome else None,
        since=_time(since, "--since"),
        until=_time(until, "--until"),
    )


def message_row(message: InboundMessage) -> list[str]:
    note = message.reason or ""
    if message.duplicate_of is not None:
        note = f"duplicate of {message.duplicate_of}"
    return [
        str(message.id),
        f"{message.received_at:%Y-%m-%d %H:%M:%S}",
        message.source,
        message.event_type or "-",
        message.key or "-",
        message.outcome.value,
        message.problem or "",
        note,
    ]


@app.command("messages")
@handles_errors
def messages(
    source: Source = None,
    event_type: Annotated[
        str | None, typer.Option("--type", help="Event type, e.g. magento.order.placed")
    ] = None,
    key: Annotated[str | None, typer.Option(help="The message's key (an order id, a SKU)")] = None,
    outcome: Annotated[str | None, typer.Option(help="accepted, duplicate or rejected")] = None,
    since: Annotated[
        str | None, typer.Option(help="Received at or after (ISO 8601; UTC unless an offset)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many")] = 50,
    before: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_ID, help="Only messages older than this id (paging)"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List audited inbound messages, newest first (times in UTC)."""
    where = message_filter(source, event_type, key, outcome, since, until)
    found = open_hub().inbound.messages(where, limit=limit, before_id=before)
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    headers = ("id", "received (UTC)", "source", "type", "key", "outcome", "problem", "note")
    print_table(headers, [message_row(m) for m in found])
    if len(found) == limit:
        given = {
            "--source": source,
            "--type": event_type,
            "--key": key,
            "--outcome": outcome,
            "--since": since,
            "--until": until,
            "--limit": str(limit),
        }
        more(("messages", *_options(given), "--before", str(found[-1].id)))


def fate(hub: Hub, message: InboundMessage) -> list[dict[str, Any]]:
    """The deliveries of the message's event: one per destination that heard it."""
    from pimhub.events.deliveries import DeliveryFilter

    if message.event_id is None:
        return []
    found = hub.webhooks.deliveries(DeliveryFilter(event_id=message.event_id), MAX_FATE)
    return [
        {
            "delivery": d.id,
            "endpoint": d.endpoint_id,
            "status": d.status.value,
            "attempts": d.attempts,
            "lastError": d.last_error,
        }
        for d in found
    ]


def _options(given: dict[str, str | None]) -> list[str]:
    return [part for name, value in given.items() if value is not None for part in (name, value)]


def more(command: tuple[str, ...]) -> None:
    """The line after a full page: that more exist, and the command that lists them."""
    import shlex

    shown = shlex.join(("pimhub", "inbound", *command))
    console.print(f"more exist: {escape(shown)}", style="dim", highlight=False)


@app.command("show")
@handles_errors
def show(
    message_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The audited message's id")],
) -> None:
    """One audited message as JSON: what was received (the body, for accepted messages) and
    its fate (each destination's delivery of its event)."""
    import orjson

    hub = open_hub()
    message = hub.inbound.message(message_id)
    body = hub.inbound.message_body(message_id)
    refused, still_open = hub.feeds.refused_of_message(message_id)
    print_json(
        {
            **message.to_dict(),
            "body": orjson.Fragment(body) if body is not None else None,
            "fate": fate(hub, message),
            # Past the feed: its items the catalog refused (`refusals --message` lists them).
            "refusedItems": {
                "count": refused,
                "open": still_open,
                "command": f"pimhub inbound refusals --message {message_id} --all",
            },
        }
    )


@app.command("refusals")
@handles_errors
def refusals(
    source: Source = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also items applied since (resolved)")
    ] = False,
    message: Annotated[
        int | None,
        typer.Option("--message", min=1, max=MAX_ID, help="Only the items of this message"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many")] = 100,
    after: Annotated[
        int | None,
        typer.Option(min=0, max=MAX_ID, help="Only items after this id (paging)"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Feed items the catalog refused, with the reasons (open ones unless --all), oldest
    first."""
    found = open_hub().feeds.refused(
        source, open_only=not show_all, limit=limit, after_id=after, message=message
    )
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    rows = [
        [
            str(r.id),
            r.source,
            str(r.message),
            str(r.item_index),
            r.key or "-",
            "; ".join(f"{e.field}: {e.message}" for e in r.errors),
            "resolved" if r.resolved_at else "open",
        ]
        for r in found
    ]
    print_table(("id", "source", "message", "item", "key", "errors", "state"), rows)
    if len(found) == limit:
        given = {
            "--source": source,
            "--message": str(message) if message is not None else None,
            "--limit": str(limit),
        }
        flags = ["--all"] if show_all else []
        more(("refusals", *_options(given), *flags, "--after", str(found[-1].id)))


@app.command("replay")
@handles_errors
def replay(
    source: Annotated[str, typer.Option("--source", help="Source name")],
    ids: Annotated[
        list[int] | None,
        typer.Option(
            "--id", min=1, max=MAX_ID, help="Only this refused item (repeat); default all open"
        ),
    ] = None,
) -> None:
    """Apply a source's refused items again (after fixing the catalog or the mapping); exit
    status 1 when some are still refused."""
    applied, refused, superseded = open_hub().feeds.replay(source, ids or None)
    console.print(
        f"{escape(source)}: {applied} applied, {refused} still refused, {superseded} "
        "superseded (written by the source since; not applied)"
        + (" (pimhub inbound refusals lists them)" if refused else ""),
        highlight=False,
    )
    if refused:
        raise typer.Exit(1)
