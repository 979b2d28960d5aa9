"""/audit: the audit log of administrative actions (admins only), filtered by the query string
(target type, target, actor, action, time) and paged by cursor, newest first; one entry with
its before and after documents. Read-only: the services write the entries."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.audit import AuditEntry, AuditQuery, audit_query
from pimhub.access.keys import Action
from pimhub.admin.web import blocking, hub_of, principal_of, render
from pimhub.api.auth import require
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import FieldError, NotFound
from pimhub.catalog.query import INT64_MAX

PAGE = 50
# The filter fields with the longest value each may have (the columns' widths).
FILTERS = {"target_type": 40, "target": 200, "actor": 200, "action": 64}
TARGET_TYPES = ("key", "class", "datahub", "webhook", "connector", "user", "source", "broker")


def _hub(request: Request) -> Hub:
    require(principal_of(request), Action.ADMIN)
    return hub_of(request)


def _cursor(raw: str | None, errors: list[FieldError]) -> int | None:
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= INT64_MAX:
        return int(raw)
    errors.append(FieldError("before", "must be a positive whole number"))
    return None


def parse_filter(params: Any) -> tuple[dict[str, str], AuditQuery, list[FieldError]]:
    """The filter as given (to show in the form), as a query, and its problems."""
    given = {k: str(params.get(k, "")).strip() for k in (*FILTERS, "since")}
    errors = [
        FieldError(k, f"must be at most {n} characters without NUL", "format")
        for k, n in FILTERS.items()
        if len(given[k]) > n or "\x00" in given[k]
    ]
    query = audit_query(
        target_type=given["target_type"], target=given["target"], actor=given["actor"],
        action=given["action"], since=given["since"],
        before=_cursor(params.get("before"), errors), limit=PAGE, errors=errors,
    )  # fmt: skip
    return given, query, errors


async def audit_page(request: Request) -> Response:
    hub = _hub(request)
    given, query, errors = parse_filter(request.query_params)
    context: dict[str, Any] = {
        "given": given,
        "errors": {e.field: e.message for e in errors},
        "target_types": TARGET_TYPES,
        "items": [],
        "next_query": None,
        "filter_query": urlencode({k: v for k, v in given.items() if v}),
    }
    if errors:
        return render(request, "audit.html", context, status=422)
    items = await blocking(hub.audit.query, query)
    context["items"] = items
    if len(items) == PAGE:
        context["next_query"] = urlencode(
            {**{k: v for k, v in given.items() if v}, "before": items[-1].id}
        )
    return render(request, "audit.html", context)


async def entry_page(request: Request) -> Response:
    hub = _hub(request)
    errors: list[FieldError] = []
    entry_id = _cursor(request.path_params["id"], errors)
    if entry_id is None or entry_id >= INT64_MAX:
        raise NotFound("there is no such audit entry")
    found: list[AuditEntry] = await blocking(
        hub.audit.query, AuditQuery(before_id=entry_id + 1, limit=1)
    )
    if not found or found[0].id != entry_id:
        raise NotFound(f"there is no audit entry {entry_id}")
    entry = found[0]
    context = {"e": entry, "before": _pretty(entry.before), "after": _pretty(entry.after)}
    return render(request, "audit_entry.html", context)


def _pretty(document: Any) -> str | None:
    if document is None:
        return None
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str)


routes: list[BaseRoute] = [
    Route("/audit", audit_page, methods=["GET"]),
    Route("/audit/{id}", entry_page, methods=["GET"]),
]
