"""The audit helpers shared by services and by the REST, CLI and admin filters:
Auditor.record_change (a thing's document, never its credentials) and audit_query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pimhub.access.audit import AuditEntry, Auditor, AuditQuery, acting_as, audit_query
from pimhub.catalog.errors import FieldError

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


class MemoryLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> int:
        self.entries.append(entry)
        return len(self.entries)

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        return list(self.entries)

    def prune(self, older_than: datetime) -> int:
        return 0


class Thing:
    def __init__(self, **document: Any) -> None:
        self.document = document

    def to_dict(self) -> dict[str, Any]:
        return dict(self.document)


def test_record_change_names_kind_and_verb_and_marks_replaced_credentials() -> None:
    log = MemoryLog()
    auditor = Auditor(log, lambda: NOW)
    old, new = Thing(url="amqp://mq", password="p"), Thing(url="amqps://mq")
    with acting_as("cli:ops"):
        auditor.record_change("broker", "updated", "mq", old, new, credentials_replaced=True)
        auditor.record_change("connector", "created", "shop", None, new)
        auditor.record_change("connector", "deleted", "shop", new, None)
    updated, created, deleted = log.entries
    assert (updated.action, updated.target_type) == ("broker.updated", "broker")
    assert updated.target == "mq"
    assert updated.actor == "cli:ops" and updated.at == NOW
    assert updated.before == {"url": "amqp://mq", "password": "(redacted)"}
    assert updated.after == {"url": "amqps://mq", "credentialsReplaced": True}
    assert created.action == "connector.created" and created.before is None
    assert created.after == {"url": "amqps://mq"}  # no credentialsReplaced unless replaced
    assert deleted.action == "connector.deleted" and deleted.after is None
    assert new.to_dict() == {"url": "amqps://mq"}  # the thing's own document is not changed


def test_audit_query_blank_filters_are_none_and_a_bad_since_is_named() -> None:
    errors: list[FieldError] = []
    query = audit_query(
        target_type="", target="ada", actor=None, action="user.created",
        since="2026-12-01", before=42, limit=7, errors=errors,
    )  # fmt: skip
    assert errors == []
    assert query == AuditQuery(
        target="ada", action="user.created", since=datetime(2026, 12, 1, tzinfo=UTC),
        before_id=42, limit=7,
    )  # fmt: skip
    bad = audit_query(since="yesterday", errors=errors, since_name="--since")
    assert bad.since is None
    assert [e.field for e in errors] == ["--since"]
