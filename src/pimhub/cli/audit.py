"""`pimhub audit`: read the audit log of administrative actions (who changed which key, class,
datahub configuration, endpoint, connector, user, source or broker, when, and how)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

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
    from pimhub.access.audit import AuditEntry, AuditQuery

app = typer.Typer(help="The audit log of administrative actions.", no_args_is_help=True)
MAX_PAGE = 500

TargetType = Annotated[
    str | None,
    typer.Option(
        "--target-type", help="key, class, datahub, webhook, connector, user, source, broker"
    ),
]
Target = Annotated[str | None, typer.Option(help="The thing's id or name")]
Actor = Annotated[
    str | None,
    typer.Option(help="key:<id> (<name>), oidc:<subject>, user:<name>, cli:<login> or system"),
]
ActionOpt = Annotated[str | None, typer.Option(help="<type>.<verb>, e.g. class.updated")]
Since = Annotated[
    str | None, typer.Option(help="Recorded at or after (2026-12-04T21:30, UTC unless an offset)")
]
Before = Annotated[
    int | None, typer.Option(min=1, help="Entries older than this id (the 'more' line's cursor)")
]
Limit = Annotated[int, typer.Option(min=1, max=MAX_PAGE, help="At most this many entries")]


def build_query(
    target_type: str | None,
    target: str | None,
    actor: str | None,
    action: str | None,
    since: str | None,
    before: int | None,
    limit: int,
) -> AuditQuery:
    from pimhub.access.audit import audit_query
    from pimhub.catalog.errors import FieldError

    errors: list[FieldError] = []
    query = audit_query(
        target_type=target_type, target=target, actor=actor, action=action, since=since,
        before=before, limit=limit, errors=errors, since_name="--since",
    )  # fmt: skip
    if errors:
        raise fail(f"{errors[0].field}: {errors[0].message}")
    return query


def changed_keys(entry: AuditEntry) -> str:
    """The top-level keys whose value differs between before and after, for the table."""
    before: dict[str, Any] = dict(entry.before or {})
    after: dict[str, Any] = dict(entry.after or {})
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    skipped = {"updatedAt", "version"}
    shown = [k for k in keys if k not in skipped] or keys
    return ", ".join(shown[:6]) + (", ..." if len(shown) > 6 else "")


@app.command("list")
@handles_errors
def list_entries(
    target_type: TargetType = None,
    target: Target = None,
    actor: Actor = None,
    action: ActionOpt = None,
    since: Since = None,
    before: Before = None,
    limit: Limit = 50,
    json_: JsonFlag = False,
) -> None:
    """Entries, newest first; page on with --before CURSOR."""
    query = build_query(target_type, target, actor, action, since, before, limit)
    hub = open_hub()
    try:
        items = hub.audit.query(query)
    finally:
        hub.close()
    cursor = items[-1].id if len(items) == limit else None
    if json_:
        print_json({"items": [e.to_dict() for e in items], "nextCursor": cursor})
        return
    if not items:
        console.print("no audit entries match")
        return
    rows = [
        [
            str(e.id),
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            e.target,
            changed_keys(e),
        ]
        for e in items
    ]
    print_table(["id", "at", "actor", "action", "target", "changed"], rows)
    if cursor is not None:
        console.print(f"more exist: --before {cursor}", highlight=False)


@app.command("show")
@handles_errors
def show(entry_id: Annotated[int, typer.Argument(min=1, help="The entry's id")]) -> None:
    """One entry as JSON, with the whole before and after documents."""
    from pimhub.access.audit import AuditQuery

    hub = open_hub()
    try:
        # The log pages by id: the page just below id + 1 starts with the entry.
        found = hub.audit.query(AuditQuery(before_id=entry_id + 1, limit=1))
    finally:
        hub.close()
    if not found or found[0].id != entry_id:
        raise fail(f"there is no audit entry {entry_id}")
    print_json(found[0].to_dict())
