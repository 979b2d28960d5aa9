"""The audit log of administrative actions: who did what to which thing, when, and the state
before and after (secrets left out).

Who acts is carried by a context variable, set once where a request or command is
authenticated (api/guard.py, the access guard, for keys and OIDC tokens, the admin for
signed-in users, the CLI for the operating-system user), so services record entries without
every call passing an actor along. Starlette copies the context into its thread pool, so it
reaches synchronous services too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from pimhub.catalog.errors import FieldError

log = structlog.get_logger("pimhub.audit")

SYSTEM_ACTOR = "system"
_actor: ContextVar[str] = ContextVar("pimhub_actor", default=SYSTEM_ACTOR)

# Keys whose values never enter the log, wherever they appear in a before/after document.
SECRET_KEYS = frozenset(
    {
        "secret",
        "secrets",
        "previous_secret",
        "previousSecret",
        "password",
        "password_hash",
        "passwordHash",
        "secret_hash",
        "secretHash",
        "token",
        "access_token",
        "accessToken",
        "consumer_secret",
        "consumerSecret",
        "access_token_secret",
        "accessTokenSecret",
        "url_password",
    }
)
REDACTED = "(redacted)"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int | None
    at: datetime
    actor: str
    action: str  # "<target_type>.<verb>", e.g. key.created, class.updated, user.deleted
    target_type: str  # key, class, datahub, webhook, connector, user, source, broker
    target: str  # the thing's business name (key id, class name, endpoint id, ...)
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "targetType": self.target_type,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    target_type: str | None = None
    target: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    before_id: int | None = None  # keyset paging, newest first
    limit: int = 100


def audit_query(
    *,
    target_type: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    before: int | None = None,
    limit: int = 100,
    errors: list[FieldError],
    since_name: str = "since",
) -> AuditQuery:
    """The query of the REST, CLI and admin filters (empty text: no filter). `since` is ISO
    8601 (UTC without an offset) or Unix seconds; a bad one is added to `errors`, named
    `since_name`, and left out."""
    from pimhub.events.delivery_query import parse_time  # events imports nothing of access

    return AuditQuery(
        target_type=target_type or None,
        target=target or None,
        actor=actor or None,
        action=action or None,
        since=parse_time(since or None, since_name, errors),
        before_id=before,
        limit=limit,
    )


class Documented(Protocol):
    """A thing the audit log describes by its API document (StoredBroker, StoredConnector)."""

    def to_dict(self) -> dict[str, Any]: ...


class AuditLog(Protocol):
    def add(self, entry: AuditEntry) -> int: ...
    def query(self, query: AuditQuery) -> list[AuditEntry]: ...
    def prune(self, older_than: datetime) -> int: ...


def current_actor() -> str:
    """Who is acting: `key:<id> (<name>)`, `oidc:<subject>`, `user:<name>`, `cli:<login>`,
    or `system` (the worker, migrations, tests)."""
    return _actor.get()


def set_actor(actor: str) -> None:
    """Name the actor for the rest of this context (a request, a CLI command)."""
    _actor.set(actor)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def redact(document: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of `document` with every secret-bearing key's value replaced, at any depth."""
    if document is None:
        return None
    return {k: _redact_value(k, v) for k, v in document.items()}


def _redact_value(key: str, value: Any) -> Any:
    if key in SECRET_KEYS and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redact_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value("", v) for v in value]
    return value


class Auditor:
    """What services call after a successful administrative change. The entry names the
    current actor; `before`/`after` are plain JSON documents (to_dict of the thing)."""

    def __init__(self, log: AuditLog, clock: Callable[[], datetime]) -> None:
        self.log = log
        self.clock = clock

    def record(
        self,
        action: str,
        target_type: str,
        target: str,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        """Called after the change committed: a failure to write the entry is logged as an
        error and does not undo or fail the change it describes."""
        entry = AuditEntry(
            id=None,
            at=self.clock(),
            actor=current_actor(),
            action=action,
            target_type=target_type,
            target=target,
            before=redact(before),
            after=redact(after),
        )
        try:
            self.log.add(entry)
        except Exception as exc:  # the change is done; losing its record must not undo it
            log.error(
                "audit.not_recorded",
                action=action,
                target=target,
                actor=entry.actor,
                error=str(exc) or type(exc).__name__,
            )

    def record_change(
        self,
        kind: str,
        verb: str,
        name: str,
        before: Documented | None,
        after: Documented | None,
        *,
        credentials_replaced: bool = False,
    ) -> None:
        """`<kind>.<verb>` of the thing `name`, described by to_dict(); a thing's credentials
        never enter the log, only whether new ones were given (`credentialsReplaced`)."""
        document = after.to_dict() if after else None
        if document is not None and credentials_replaced:
            document["credentialsReplaced"] = True
        self.record(
            f"{kind}.{verb}",
            kind,
            name,
            before=before.to_dict() if before else None,
            after=document,
        )

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        return self.log.query(query)
