"""The audit log as the services write it, on SQLite and PostgreSQL: one entry per
administrative change with actor, action, target and before/after documents, never a secret;
a failing log does not fail the change; pruning by age; parallel writers."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pimhub.access.audit import AuditEntry, Auditor, AuditQuery, acting_as
from pimhub.bootstrap import Hub, build_worker
from pimhub.catalog.clock import utc_now
from pimhub.storage.tables import audit_log
from pimhub.users.passwords import Argon2Passwords

PASSWORD = "an audited password 1"
SHOP: dict[str, Any] = {
    "name": "shop",
    "description": "The shop front",
    "classes": {"Product": {"fields": ["sku", "name", "price"], "operations": ["read"]}},
}
MAGENTO_SECRETS = {
    "consumerKey": "ck-audit-1",
    "consumerSecret": "cs-audit-secret-1",
    "accessToken": "at-audit-token-1",
    "accessTokenSecret": "ats-audit-secret-1",
}
BROKER_PASSWORD = "broker-audit-password-1"
PUBLIC_AMQP = "amqp://93.184.216.34/shop"  # a global address literal: no DNS needed


def entries(hub: Hub, **where: Any) -> list[AuditEntry]:
    return hub.audit.query(AuditQuery(**where))


def raw_rows(hub: Hub) -> str:
    """Every audit row as one text, to look for secrets anywhere in it."""
    with hub.engine.connect() as conn:
        rows = conn.execute(select(audit_log)).mappings().all()
    return json.dumps([dict(r) for r in rows], default=str)


def only(found: list[AuditEntry]) -> AuditEntry:
    assert len(found) == 1, [e.to_dict() for e in found]
    return found[0]


def test_class_changes_are_recorded_with_before_and_after(bare_hub: Hub) -> None:
    hub = bare_hub
    body = {"name": "Mug", "businessKey": "sku", "fields": [{"name": "sku", "type": "text"}]}
    with acting_as("cli:ada"):
        hub.classes.create(body, author="ada")
        wider = {**body, "title": "Mugs"}
        hub.classes.replace("Mug", wider, author="ada")
        hub.classes.replace("Mug", wider, author="ada")  # unchanged: no entry
        hub.classes.apply([{**wider, "title": "Cups"}, {**body, "name": "Tea"}], author="a")
        hub.classes.delete("Tea", author="ada")
    found = entries(hub, target_type="class")
    assert [(e.action, e.target) for e in reversed(found)] == [
        ("class.created", "Mug"),
        ("class.updated", "Mug"),
        ("class.updated", "Mug"),
        ("class.created", "Tea"),
        ("class.deleted", "Tea"),
    ]
    assert {e.actor for e in found} == {"cli:ada"}
    created, updated, applied = reversed(found[2:])
    assert created.before is None and created.after is not None
    assert created.after["name"] == "Mug"
    assert updated.before is not None and updated.after is not None
    assert "title" not in updated.before and updated.after["title"] == "Mugs"
    assert applied.before is not None and applied.before["title"] == "Mugs"
    assert applied.after is not None and applied.after["title"] == "Cups"
    deleted = found[0]
    assert deleted.before is not None and deleted.before["name"] == "Tea"
    assert deleted.after is None


def test_datahub_changes_are_recorded(hub: Hub) -> None:
    with acting_as("oidc:ops-1"):
        hub.datahub.create(SHOP, author="t")
        hub.datahub.replace("shop", {**SHOP, "description": "Changed"}, author="t")
        hub.datahub.delete("shop")
    found = entries(hub, target_type="datahub", target="shop")
    assert [e.action for e in found] == ["datahub.deleted", "datahub.updated", "datahub.created"]
    assert found[1].before is not None and found[1].before["description"] == "The shop front"
    assert found[1].after is not None and found[1].after["description"] == "Changed"
    assert found[0].after is None and {e.actor for e in found} == {"oidc:ops-1"}


def test_webhook_changes_never_record_the_secret(hub: Hub) -> None:
    created = hub.webhooks.create({"url": "https://hooks.example.com/a"})
    endpoint_id = created.endpoint.endpoint_id
    hub.webhooks.update(endpoint_id, {"description": "ERP"})
    new_secret = hub.webhooks.rotate_secret(endpoint_id)
    hub.webhooks.delete(endpoint_id)
    found = entries(hub, target=endpoint_id)
    assert [e.action for e in found] == [
        "webhook.deleted",
        "webhook.rotated",
        "webhook.updated",
        "webhook.created",
    ]
    rotated = found[1]
    assert rotated.after is not None and rotated.after["secretRotation"]["rotatedAt"]
    assert found[2].after is not None and found[2].after["description"] == "ERP"
    text = raw_rows(hub)
    assert created.secret not in text and new_secret not in text


def test_connector_changes_never_record_credentials(hub: Hub) -> None:
    config = {"name": "shop", "baseUrl": "https://shop.example.com"}
    hub.connectors.add(config, MAGENTO_SECRETS)
    hub.connectors.update(
        "shop", {**config, "baseUrl": "https://shop2.example.com"}, MAGENTO_SECRETS
    )
    hub.connectors.remove("shop")
    found = entries(hub, target_type="connector")
    assert [e.action for e in found] == [
        "connector.deleted",
        "connector.updated",
        "connector.created",
    ]
    assert found[1].after is not None
    assert found[1].after["config"]["baseUrl"] == "https://shop2.example.com"
    assert found[1].after["credentialsReplaced"] is True
    text = raw_rows(hub)
    for value in MAGENTO_SECRETS.values():
        assert value not in text


def test_user_changes_never_record_the_password(hub: Hub) -> None:
    hub.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
    with acting_as("user:root"):
        hub.users.create("ada", PASSWORD, "viewer")
        hub.users.set_role("ada", "admin")
        hub.users.set_password("ada", PASSWORD + "2")
        hub.users.create("bob", PASSWORD, "admin")
        hub.users.disable("ada", by="bob")
        hub.users.enable("ada")
    found = entries(hub, target_type="user", target="ada")
    assert [e.action for e in found] == [
        "user.enabled",
        "user.disabled",
        "user.password_changed",
        "user.role_changed",
        "user.created",
    ]
    role = found[3]
    assert role.before is not None and role.after is not None
    assert (role.before["role"], role.after["role"]) == ("viewer", "admin")
    assert {e.actor for e in found} == {"user:root"}
    text = raw_rows(hub)
    assert PASSWORD not in text and "argon2" not in text


def test_source_changes_never_record_the_secret(hub: Hub) -> None:
    _, secret = hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    hub.inbound.update_source("erp", {"description": "The ERP"})
    new = hub.inbound.rotate_secret("erp")
    hub.inbound.remove_source("erp")
    found = entries(hub, target_type="source", target="erp")
    assert [e.action for e in found] == [
        "source.deleted",
        "source.rotated",
        "source.updated",
        "source.created",
    ]
    assert found[2].after is not None and found[2].after["description"] == "The ERP"
    text = raw_rows(hub)
    assert secret is not None and secret not in text and new not in text


def test_broker_changes_never_record_the_password(hub: Hub) -> None:
    hub.brokers.add(
        {"name": "rabbit", "url": PUBLIC_AMQP}, {"username": "pim", "password": BROKER_PASSWORD}
    )
    hub.brokers.update("rabbit", {"url": PUBLIC_AMQP, "exchange": "other"})
    hub.brokers.remove("rabbit")
    found = entries(hub, target_type="broker", target="rabbit")
    assert [e.action for e in found] == ["broker.deleted", "broker.updated", "broker.created"]
    assert found[1].after is not None and found[1].after["config"]["exchange"] == "other"
    assert "credentialsReplaced" not in found[1].after
    assert BROKER_PASSWORD not in raw_rows(hub)


class BrokenLog:
    def add(self, entry: AuditEntry) -> int:
        raise OSError("the audit table is gone")

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        return []

    def prune(self, older_than: Any) -> int:
        return 0


def test_a_failing_audit_log_does_not_fail_the_change(hub: Hub) -> None:
    hub.datahub.audit = Auditor(BrokenLog(), utc_now)
    hub.datahub.create(SHOP, author="t")
    assert hub.datahub.get("shop").name == "shop"


def test_filters_and_keyset_paging(hub: Hub) -> None:
    for n in range(5):
        with acting_as(f"cli:n{n % 2}"):
            hub.audit.record("class.updated", "class", f"C{n}", after={"n": n})
    first = entries(hub, limit=2)
    assert [e.target for e in first] == ["C4", "C3"]
    assert first[-1].id is not None
    second = entries(hub, limit=2, before_id=first[-1].id)
    assert [e.target for e in second] == ["C2", "C1"]
    assert [e.target for e in entries(hub, actor="cli:n1")] == ["C3", "C1"]
    assert entries(hub, since=utc_now() + timedelta(minutes=1)) == []


def test_worker_prunes_entries_older_than_the_retention(bare_hub: Hub) -> None:
    hub = bare_hub
    log = hub.audit.log
    old = AuditEntry(None, utc_now() - timedelta(days=400), "system", "x.y", "class", "Old")
    log.add(old)
    hub.audit.record("class.updated", "class", "New")
    worker = build_worker(hub)
    worker.prune_audit_log()
    assert [e.target for e in entries(hub)] == ["New"]


def test_parallel_writers_each_get_their_entry(hub: Hub) -> None:
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers itself")

    def create(n: int) -> str:
        with acting_as(f"key:k{n} (writer)"):
            return hub.webhooks.create(
                {"url": f"https://hooks.example.com/{n}"}
            ).endpoint.endpoint_id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(create, range(24)))
    found = entries(hub, action="webhook.created", limit=100)
    assert {e.target for e in found} == ids
    assert len({e.id for e in found}) == 24
    assert {e.actor for e in found} == {f"key:k{n} (writer)" for n in range(24)}
