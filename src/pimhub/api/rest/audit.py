"""/api/v1/audit: the audit log of administrative actions, newest first (scope admin).
Entries are written by the services themselves; this only reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from pimhub.access.audit import AuditEntry, Auditor, AuditQuery
from pimhub.access.audit import audit_query as build_query
from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest.inbound import known_query, no_nul
from pimhub.api.rest.webhooks import TIME
from pimhub.catalog.errors import FieldError, NotFound
from pimhub.catalog.query import INT64_MAX
from pimhub.events.delivery_query import InvalidParameter

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
MAX_PAGE = 500
PARAMS = ("targetType", "target", "actor", "action", "since", "before", "limit")


class UnknownAuditEntry(NotFound):
    code = "unknown-audit-entry"
    title = "Unknown audit entry"


def auditor(request: Request) -> Auditor:
    """Who changed what is for administrators only: scope admin."""
    require(api_key(request), Action.ADMIN)
    return hub_of(request).audit


Audit = Annotated[Auditor, Depends(auditor)]


def audit_query(
    target_type: Annotated[
        str | None,
        Query(alias="targetType", max_length=40, description="key, class, datahub, webhook, ..."),
    ] = None,
    target: Annotated[
        str | None, Query(max_length=200, description="The thing's id or name")
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            max_length=200, description="key:<id> (<name>), oidc:<sub>, user:<name>, cli:<login>"
        ),
    ] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="<type>.<verb>, e.g. class.updated")
    ] = None,
    since: Annotated[str | None, Query(description="Recorded at or after"), TIME] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Annotated[
        int | None,
        Query(ge=1, le=INT64_MAX, description="The `nextCursor` of the previous page"),
    ] = None,
) -> AuditQuery:
    no_nul(targetType=target_type, target=target, actor=actor, action=action, since=since)
    errors: list[FieldError] = []
    query = build_query(
        target_type=target_type, target=target, actor=actor, action=action, since=since,
        before=before, limit=limit, errors=errors,
    )  # fmt: skip
    if errors:
        raise InvalidParameter("a filter parameter is not valid", errors)
    return query


@router.get(
    "",
    summary="Audit log entries, newest first (`before`: the previous page's nextCursor)",
    dependencies=[Depends(auditor), Depends(known_query(*PARAMS))],  # the key first
)
def list_entries(
    audit: Audit, query: Annotated[AuditQuery, Depends(audit_query)]
) -> OrjsonResponse:
    items = audit.query(query)
    following = items[-1].id if len(items) == query.limit else None
    return OrjsonResponse({"items": [e.to_dict() for e in items], "nextCursor": following})


def entry_by_id(audit: Auditor, entry_id: int) -> AuditEntry:
    """One entry by id (the port pages by id, so the page just below id + 1 starts with it)."""
    found = audit.query(AuditQuery(before_id=entry_id + 1, limit=1))
    if not found or found[0].id != entry_id:
        raise UnknownAuditEntry(f"there is no audit entry {entry_id}")
    return found[0]


@router.get("/{entry_id}", summary="One audit log entry")
def get_entry(
    audit: Audit, entry_id: Annotated[int, Path(ge=1, le=INT64_MAX - 1)]
) -> OrjsonResponse:
    return OrjsonResponse(entry_by_id(audit, entry_id).to_dict())
