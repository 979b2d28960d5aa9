"""/brokers: broker destinations (RabbitMQ) with their health and a delivery-rate sparkline
like webhook endpoints; created and edited with a form (the password is never shown back),
a stale edit refused with the input kept, a connection test, enable/disable and delete. Thin
over BrokerService, checked with Action.INTEGRATE as REST is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.broker_forms import BrokerForm, checked_name, errors_by_input
from pimhub.admin.sparkline import sparkline_svg, sparkline_text
from pimhub.admin.web import (
    blocking,
    checked_form,
    field_errors,
    form_status,
    hub_of,
    parse_count,
    principal_of,
    render,
    see_other,
)
from pimhub.api.auth import require
from pimhub.brokers.records import StoredBroker
from pimhub.brokers.service import BrokerService, BrokerTest
from pimhub.brokers.spec import EXCHANGE_TYPES
from pimhub.catalog.errors import CatalogError, Conflict, FieldError, InvalidInput
from pimhub.catalog.events import EventType
from pimhub.catalog.query import VERSION_MAX

SPARK_HOURS = 24


def _brokers(request: Request) -> BrokerService:
    require(principal_of(request), Action.INTEGRATE)
    return hub_of(request).brokers


async def brokers_page(request: Request) -> Response:
    brokers = _brokers(request)
    stored = await blocking(brokers.all)
    activity = await blocking(hub_of(request).webhooks.activity, SPARK_HOURS)
    rows = []
    for broker in sorted(stored, key=lambda b: b.name):
        found = activity.get(broker.endpoint_id)
        good = found.succeeded if found else (0,) * SPARK_HOURS
        bad = found.failed if found else (0,) * SPARK_HOURS
        rows.append(
            {
                "broker": broker,
                "spark": sparkline_svg(good, bad),
                "spark_text": sparkline_text(good, bad),
                "last": found.last_attempt if found else None,
            }
        )
    now = brokers.clock()
    return render(request, "brokers.html", {"rows": rows, "hours": SPARK_HOURS, "now": now})


async def new_page(request: Request) -> Response:
    _brokers(request)
    return await _form_page(request, None, BrokerForm())


async def create(request: Request) -> Response:
    brokers = _brokers(request)
    form = await checked_form(request)
    values = BrokerForm.posted(form)
    try:
        credentials = values.credentials(required=True)
        stored = await blocking(brokers.add, values.body(), credentials)
    except CatalogError as exc:
        return await _form_page(request, None, values, error=exc)
    return see_other(
        f"/brokers/{stored.name}", f"Broker {stored.name} created. Test it to check the connection."
    )


async def broker_page(request: Request) -> Response:
    brokers = _brokers(request)
    stored = await blocking(brokers.get, checked_name(request.path_params["name"]))
    return await _form_page(request, stored, await _stored_form(brokers, stored))


async def save(request: Request) -> Response:
    brokers = _brokers(request)
    form = await checked_form(request)
    name = checked_name(request.path_params["name"])
    stored = await blocking(brokers.get, name)
    values = replace(BrokerForm.posted(form), name=name)
    current = await _stored_form(brokers, stored)
    try:
        expected = _required_version(values.version)
        credentials = values.credentials(required=False, stored_username=current.username)
        await blocking(brokers.update, name, values.body(), credentials, expected=expected)
    except Conflict:
        # Saved by someone else since this form was made: the input stays, the stored values
        # are shown beside it, and the form now carries the stored version, so saving again
        # is a choice made having seen their change.
        fresh = await blocking(brokers.get, name)
        theirs = await _stored_form(brokers, fresh)
        kept = replace(values, version=theirs.version)
        conflict = {"at": fresh.updated_at, "theirs": values.differences(theirs)}
        return await _form_page(request, fresh, kept, conflict=conflict, status=409)
    except CatalogError as exc:
        return await _form_page(request, stored, values, error=exc)
    return see_other(f"/brokers/{name}", f"Broker {name} saved.")


async def test(request: Request) -> Response:
    brokers = _brokers(request)
    await checked_form(request)
    name = checked_name(request.path_params["name"])
    # BrokerService.test reads the settings and checks the address in a thread and talks to
    # the broker asynchronously: nothing here blocks the event loop.
    result = await brokers.test(name)
    stored = await blocking(brokers.get, name)
    return await _form_page(request, stored, await _stored_form(brokers, stored), result=result)


async def enable(request: Request) -> Response:
    return await _switch(request, True)


async def disable(request: Request) -> Response:
    return await _switch(request, False)


async def _switch(request: Request, enabled: bool) -> Response:
    brokers = _brokers(request)
    await checked_form(request)
    name = checked_name(request.path_params["name"])
    stored = await blocking(brokers.get, name)
    # The stored settings with only `enabled` changed, naming no version: never a conflict.
    await blocking(brokers.update, name, {**stored.config, "enabled": enabled})
    message = (
        f"Broker {name} enabled; its failure record is cleared."
        if enabled
        else f"Broker {name} disabled: its deliveries wait until it is enabled again."
    )
    return see_other(f"/brokers/{name}", message)


async def delete_page(request: Request) -> Response:
    brokers = _brokers(request)
    stored = await blocking(brokers.get, checked_name(request.path_params["name"]))
    return render(request, "broker_delete.html", {"broker": stored})


async def delete(request: Request) -> Response:
    brokers = _brokers(request)
    await checked_form(request)
    name = checked_name(request.path_params["name"])
    await blocking(brokers.remove, name)
    return see_other("/brokers", f"Broker {name} deleted with its deliveries.")


async def _stored_form(brokers: BrokerService, stored: StoredBroker) -> BrokerForm:
    credentials = await blocking(brokers.credentials, stored.name)
    return BrokerForm.of(stored, credentials.username)


def _required_version(raw: str) -> int:
    """The version the form was made from; a save naming none is refused (a form replayed
    from anywhere would otherwise undo others' changes unseen). REST may name none."""
    if not raw:
        raise InvalidInput(
            "the form does not say which version of the broker it was made from",
            [FieldError("version", "is missing: reload the page and edit again", "required")],
        )
    return parse_count(raw, field="version", maximum=VERSION_MAX)


async def _form_page(
    request: Request,
    stored: StoredBroker | None,
    values: BrokerForm,
    *,
    error: CatalogError | None = None,
    conflict: dict[str, Any] | None = None,
    result: BrokerTest | None = None,
    status: int | None = None,
) -> Response:
    hub = hub_of(request)
    classes = [c.name for c in await blocking(hub.classes.all)]
    sources = [s.spec.name for s in await blocking(hub.inbound.all_sources)]
    context = {
        "broker": stored,
        "values": values,
        "event_types": [t.value for t in EventType],
        "exchange_types": EXCHANGE_TYPES,
        "class_names": sorted({*classes, *values.classes}),
        "source_names": sorted({*sources, *values.sources}),
        "error": error,
        "errors": errors_by_input(field_errors(error)) if error else {},
        "conflict": conflict,
        "theirs": conflict["theirs"] if conflict else {},
        "result": result,
        "now": hub.brokers.clock(),
    }
    if status is None:
        status = form_status(error) if error else 200
    return render(request, "broker.html", context, status=status)


routes: list[BaseRoute] = [
    Route("/brokers", brokers_page, methods=["GET"]),
    Route("/brokers/new", new_page, methods=["GET"]),
    Route("/brokers/new", create, methods=["POST"]),
    Route("/brokers/{name}", broker_page, methods=["GET"]),
    Route("/brokers/{name}", save, methods=["POST"]),
    Route("/brokers/{name}/test", test, methods=["POST"]),
    Route("/brokers/{name}/enable", enable, methods=["POST"]),
    Route("/brokers/{name}/disable", disable, methods=["POST"]),
    Route("/brokers/{name}/delete", delete_page, methods=["GET"]),
    Route("/brokers/{name}/delete", delete, methods=["POST"]),
]
