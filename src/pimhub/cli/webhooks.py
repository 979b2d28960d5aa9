"""`pimhub webhooks`: endpoints, secrets, the delivery log, dead letters and replay."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import orjson
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
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus, EndpointStats

if TYPE_CHECKING:
    from pimhub.events.service import PingResult

app = typer.Typer(help="Manage webhook endpoints and their deliveries.", no_args_is_help=True)

EndpointArg = Annotated[str, typer.Argument(help="Endpoint id (ep_...)")]
Many = Annotated[list[str] | None, typer.Option(help="Repeat or comma-separate")]
Sources = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="Only inbound events of this source (repeat for several; '' for any source)",
    ),
]
Transform = Annotated[
    str | None,
    typer.Option(help="JMESPath expression reshaping each body ('' removes it)"),
]


def _listed(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _spec(**options: Any) -> dict[str, Any]:
    """The REST-shaped body for the options that were given."""
    body: dict[str, Any] = {}
    for key, value in options.items():
        if value is not None:
            body[key] = value
    return body


@app.command("create")
@handles_errors
def create(
    url: Annotated[str, typer.Option(help="Where to POST events")],
    event_type: Annotated[
        list[str] | None,
        typer.Option(
            "--event-type",
            help="e.g. object.updated, magento.order.placed or magento.*; default all catalog",
        ),
    ] = None,
    class_name: Annotated[
        list[str] | None, typer.Option("--class", help="Only these classes; default all")
    ] = None,
    changed_field: Annotated[
        list[str] | None,
        typer.Option("--changed-field", help="Only updates touching these fields"),
    ] = None,
    thin: Annotated[bool, typer.Option(help="Leave the object out of the payload")] = False,
    description: Annotated[str, typer.Option(help="Free text")] = "",
    rate_limit: Annotated[float | None, typer.Option(help="Deliveries per second")] = None,
    source: Sources = None,
    transform: Transform = None,
) -> None:
    """Register an endpoint and print its signing secret."""
    created = open_hub().webhooks.create(
        _spec(
            url=url,
            description=description,
            eventTypes=_listed(event_type),
            classes=_listed(class_name),
            changedFields=_listed(changed_field),
            payload="thin" if thin else "full",
            rateLimit=rate_limit,
            sources=_listed(source),
            transform=transform,
        )
    )
    console.print(
        f"created endpoint [bold]{created.endpoint.endpoint_id}[/] -> {escape(url)}",
        highlight=False,
    )
    console.print("signing secret (also shown by `pimhub webhooks secret`):", style="yellow")
    typer.echo(created.secret)


@app.command("list")
@handles_errors
def list_endpoints(as_json: JsonFlag = False) -> None:
    """List endpoints with their filters and health."""
    endpoints = open_hub().webhooks.all()
    if as_json:
        print_json([endpoint.to_dict() for endpoint in endpoints])
        return
    rows = []
    for endpoint in endpoints:
        spec = endpoint.spec
        note = endpoint.disabled_reason or (
            f"paused until {endpoint.paused_until:%H:%M:%S}" if endpoint.paused_until else ""
        )
        rows.append(
            [
                endpoint.endpoint_id,
                spec.url,
                "yes" if spec.enabled else "no",
                ",".join(spec.event_types) or "all",
                ",".join(spec.classes) or "all",
                spec.payload.value,
                str(endpoint.consecutive_failures),
                note,
            ]
        )
    headers = ("id", "url", "enabled", "events", "classes", "payload", "failures", "note")
    print_table(headers, rows)


@app.command("update")
@handles_errors
def update(
    endpoint_id: EndpointArg,
    url: Annotated[str | None, typer.Option(help="New URL")] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Switch")] = None,
    event_type: Annotated[list[str] | None, typer.Option("--event-type")] = None,
    class_name: Annotated[list[str] | None, typer.Option("--class")] = None,
    changed_field: Annotated[list[str] | None, typer.Option("--changed-field")] = None,
    payload: Annotated[str | None, typer.Option(help="full or thin")] = None,
    rate_limit: Annotated[float | None, typer.Option(help="Deliveries per second")] = None,
    source: Sources = None,
    transform: Transform = None,
) -> None:
    """Change some settings of an endpoint; enabling clears its failure record."""
    endpoint = open_hub().webhooks.update(
        endpoint_id,
        _spec(
            url=url,
            enabled=enable,
            eventTypes=_listed(event_type),
            classes=_listed(class_name),
            changedFields=_listed(changed_field),
            payload=payload,
            rateLimit=rate_limit,
            sources=_listed(source),
            transform=transform,
        ),
    )
    typer.echo(orjson.dumps(endpoint.to_dict(), option=orjson.OPT_INDENT_2).decode())


@app.command("delete")
@handles_errors
def delete(endpoint_id: EndpointArg) -> None:
    """Delete an endpoint, its pending deliveries and its log."""
    open_hub().webhooks.delete(endpoint_id)
    console.print(f"deleted {escape(endpoint_id)}", highlight=False)


@app.command("resume")
@handles_errors
def resume(endpoint_id: EndpointArg) -> None:
    """End the endpoint's pause now: its waiting deliveries go out at once."""
    endpoint = open_hub().webhooks.resume(endpoint_id)
    console.print(f"resumed {escape(endpoint.endpoint_id)}", highlight=False)


@app.command("secret")
@handles_errors
def secret(endpoint_id: EndpointArg) -> None:
    """Print the endpoint's current signing secret."""
    typer.echo(open_hub().webhooks.secret(endpoint_id))


@app.command("ping")
@handles_errors
def ping(endpoint_id: EndpointArg) -> None:
    """Send a signed webhook.ping now and show what the receiver answered."""
    hub = open_hub()

    async def send() -> PingResult:
        sender = hub.ping_sender()
        try:
            return await hub.webhooks.ping(endpoint_id, sender)
        finally:
            await sender.close()

    result = asyncio.run(send())
    typer.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
    if not result.ok:
        raise typer.Exit(1)


@app.command("rotate")
@handles_errors
def rotate(
    endpoint_id: EndpointArg,
    overlap_hours: Annotated[
        float | None, typer.Option(help="How long the old secret keeps signing (default 24)")
    ] = None,
) -> None:
    """Generate a new secret; both sign deliveries until the overlap ends."""
    overlap = timedelta(hours=overlap_hours) if overlap_hours is not None else None
    typer.echo(open_hub().webhooks.rotate_secret(endpoint_id, overlap))


def _filter(
    endpoint: str | None,
    status: str | None,
    event_type: str | None,
    uuid: str | None,
    key: str | None,
    since: datetime | None,
    until: datetime | None,
    event_id: str | None = None,
) -> DeliveryFilter:
    try:
        state = DeliveryStatus(status) if status else None
    except ValueError:
        choices = ", ".join(s.value for s in DeliveryStatus)
        raise fail(f"--status must be one of {choices}") from None
    return DeliveryFilter(
        endpoint_id=endpoint,
        status=state,
        event_type=event_type,
        event_id=event_id,
        object_uuid=uuid,
        business_key=key,
        since=since.astimezone() if since else None,
        until=until.astimezone() if until else None,
    )


Endpoint = Annotated[str | None, typer.Option("--endpoint", help="Endpoint id")]
Status = Annotated[str | None, typer.Option(help="pending, delivering, delivered or dead")]
EventType = Annotated[str | None, typer.Option("--event-type", help="e.g. object.updated")]
EventId = Annotated[str | None, typer.Option("--event-id", help="One event's (its webhook-id)")]
Uuid = Annotated[str | None, typer.Option(help="Object uuid")]
Key = Annotated[str | None, typer.Option("--key", help="Business key (e.g. a SKU)")]
Since = Annotated[datetime | None, typer.Option(help="Created at or after (local time)")]
Until = Annotated[datetime | None, typer.Option(help="Created before (local time)")]


@app.command("deliveries")
@handles_errors
def deliveries(
    endpoint: Endpoint = None,
    status: Status = None,
    event_type: EventType = None,
    uuid: Uuid = None,
    key: Key = None,
    since: Since = None,
    until: Until = None,
    event_id: EventId = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries (`--status dead` lists the dead letters)."""
    where = _filter(endpoint, status, event_type, uuid, key, since, until, event_id)
    found = open_hub().webhooks.deliveries(where, limit)
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    rows = [
        [
            str(d.id),
            d.endpoint_id,
            d.event_type,
            f"{d.class_name}/{d.business_key or d.object_uuid or '-'}",
            str(d.version),
            d.status.value,
            str(d.attempts),
            d.last_error or "",
        ]
        for d in found
    ]
    headers = ("id", "endpoint", "event", "object", "v", "status", "tries", "last error")
    print_table(headers, rows, ids=2)


@app.command("attempts")
@handles_errors
def attempts(delivery_id: Annotated[int, typer.Argument(help="Delivery id")]) -> None:
    """Show one delivery and every attempt made for it."""
    record, tries = open_hub().webhooks.delivery(delivery_id)
    body = {**record.to_dict(), "attempts": [a.to_dict() for a in tries]}
    typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


@app.command("replay")
@handles_errors
def replay(
    delivery_id: Annotated[
        list[int] | None, typer.Option("--id", help="Delivery id; repeat for several")
    ] = None,
    endpoint: Endpoint = None,
    status: Annotated[
        str | None, typer.Option(help="dead (default) or delivered, to send again")
    ] = None,
    event_type: EventType = None,
    uuid: Uuid = None,
    key: Key = None,
    since: Since = None,
    until: Until = None,
    event_id: EventId = None,
) -> None:
    """Send dead-lettered deliveries again, one by id or in bulk by filter."""
    where = _filter(endpoint, status, event_type, uuid, key, since, until, event_id)
    count = open_hub().webhooks.replay(where, delivery_id)
    console.print(f"{count} deliveries queued again")


@app.command("prune")
@handles_errors
def prune(
    older_than_days: Annotated[
        float | None, typer.Option(help="Default: PIMHUB_WEBHOOK_LOG_RETENTION_DAYS")
    ] = None,
) -> None:
    """Delete delivery log entries and delivered deliveries older than the retention."""
    hub = open_hub()
    days = hub.settings.webhook_log_retention_days if older_than_days is None else older_than_days
    attempts_gone, deliveries_gone = hub.webhooks.prune(timedelta(days=days))
    console.print(f"pruned {attempts_gone} attempts and {deliveries_gone} delivered deliveries")


@app.command("stats")
@handles_errors
def stats(as_json: JsonFlag = False) -> None:
    """Pending, delivered, dead and failed counts per endpoint."""
    found = open_hub().webhooks.stats()
    if as_json:
        print_json([stats_dict(s) for s in found])
        return
    rows = []
    for s in found:
        c = s.counts
        rows.append(
            [
                s.endpoint_id,
                s.url,
                str(c["pending"]),
                str(c["delivering"]),
                str(c["delivered"]),
                str(c["dead"]),
                str(s.failed_attempts),
                f"{s.oldest_pending_at:%Y-%m-%d %H:%M:%S}" if s.oldest_pending_at else "-",
            ]
        )
    headers = ("endpoint", "url", "pending", "delivering", "delivered", "dead", "failed tries")
    print_table([*headers, "oldest open"], rows)


def stats_dict(s: EndpointStats) -> dict[str, Any]:
    return {
        "endpointId": s.endpoint_id,
        "url": s.url,
        "enabled": s.enabled,
        "counts": dict(s.counts),
        "failedAttempts": s.failed_attempts,
        "oldestPendingAt": s.oldest_pending_at.isoformat() if s.oldest_pending_at else None,
    }
