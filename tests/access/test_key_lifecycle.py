"""The API key lifecycle in AccessService on SQLite and PostgreSQL: rotation with an overlap
(on a clock the test moves), parallel rotations, changes, validation, and the audit entries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pimhub.access.audit import AuditEntry, Auditor, AuditQuery, acting_as
from pimhub.access.keys import InvalidKey, hash_secret, split_key
from pimhub.access.service import AccessService, KeyChanges, RotationConflict
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import Conflict, NotFound, Unauthorized
from pimhub.storage.api_keys import SqlApiKeyRepository
from pimhub.storage.audit_log import SqlAuditLog
from pimhub.storage.tables import api_keys, audit_log
from tests.conftest import empty_database

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(engine: Engine, clock: Clock) -> AccessService:
    empty_database(engine)
    audit = Auditor(SqlAuditLog(engine), clock)
    return AccessService(SqlApiKeyRepository(engine), clock, audit=audit)


def entries(access: AccessService, key_id: str) -> list[AuditEntry]:
    assert access.audit is not None
    found = access.audit.query(AuditQuery(target_type="key", target=key_id))
    return sorted(found, key=lambda e: e.id or 0)


def test_the_previous_secret_works_until_the_overlap_ends(
    access: AccessService, clock: Clock
) -> None:
    key, first = access.create("erp", ["read", "write:Product"], environment="test")
    rotated, second = access.rotate("erp", timedelta(hours=2))
    assert rotated.key_id == key.key_id and rotated.scopes == key.scopes
    assert rotated.rotated_at == START and rotated.previous_valid_until == START + timedelta(
        hours=2
    )
    assert split_key(second) is not None and second != first
    clock.now = START + timedelta(hours=1, minutes=59)
    assert access.authenticate(first).key_id == key.key_id
    assert access.authenticate(second).key_id == key.key_id
    clock.now = START + timedelta(hours=2)
    with pytest.raises(Unauthorized) as refused:
        access.authenticate(first)
    assert refused.value.detail.startswith(
        "the API key's previous secret expired at 2026-03-01T14:00:00+00:00"
    )
    assert access.authenticate(second).key_id == key.key_id


def test_a_second_rotation_keeps_only_the_latest_previous_secret(
    access: AccessService, clock: Clock
) -> None:
    key, first = access.create("erp", ["read"], environment="test")
    _, second = access.rotate(key.key_id, timedelta(hours=24))
    clock.now += timedelta(minutes=5)
    _, third = access.rotate(key.key_id, timedelta(hours=24))
    with pytest.raises(Unauthorized, match=r"^the API key is not valid$"):
        access.authenticate(first)
    assert access.authenticate(second).key_id == key.key_id
    assert access.authenticate(third).key_id == key.key_id


def test_revoking_ends_the_previous_secret_too(access: AccessService) -> None:
    key, first = access.create("erp", ["read"], environment="test")
    _, second = access.rotate(key.key_id, timedelta(hours=24))
    access.revoke(key.key_id)
    for token in (first, second):
        with pytest.raises(Unauthorized, match="revoked"):
            access.authenticate(token)
    with pytest.raises(NotFound, match="revoked"):
        access.rotate(key.key_id, timedelta(hours=1))
    with pytest.raises(NotFound, match="revoked"):
        access.update(key.key_id, KeyChanges(description="x"))


def test_every_change_is_audited_with_before_and_after_and_no_secret(
    access: AccessService, engine: Engine
) -> None:
    with acting_as("cli:ops"):
        key, first = access.create("erp", ["read"], environment="test")
        access.update(
            key.key_id, KeyChanges(allowed_networks=["10.0.0.0/8"], rate_limit="60/minute")
        )
        _, second = access.rotate(key.key_id, timedelta(hours=1))
        access.revoke("erp")
    found = entries(access, key.key_id)
    assert [e.action for e in found] == ["key.created", "key.updated", "key.rotated", "key.revoked"]
    assert {e.actor for e in found} == {"cli:ops"}
    assert found[0].before is None and found[0].after is not None
    assert found[1].before is not None and found[1].before["allowedNetworks"] == []
    assert found[1].after is not None and found[1].after["rateLimit"] == "60/minute"
    assert found[2].after is not None and found[2].after["previousValidUntil"]
    with engine.connect() as conn:
        rows = repr(conn.execute(select(audit_log)).all())
        hashes = conn.execute(select(api_keys.c.secret_hash, api_keys.c.previous_secret_hash)).one()
    for token in (first, second):
        parts = split_key(token)
        assert parts is not None and parts[1] not in rows
    for stored in hashes:
        assert stored not in rows


def test_a_failing_audit_log_does_not_fail_the_change(engine: Engine, clock: Clock) -> None:
    empty_database(engine)

    class Broken(SqlAuditLog):
        def add(self, entry: AuditEntry) -> int:
            raise RuntimeError("audit store down")

    access = AccessService(SqlApiKeyRepository(engine), clock, audit=Auditor(Broken(engine), clock))
    key, _ = access.create("erp", ["read"], environment="test")
    _, token = access.rotate(key.key_id, timedelta(0))
    assert access.authenticate(token).key_id == key.key_id
    access.revoke(key.key_id)
    with pytest.raises(Unauthorized, match="revoked"):
        access.authenticate(token)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.create("x", ["read"], allowed_networks=["300.1.1.1/8"]), "300.1.1.1/8"),
        (lambda a: a.create("x", ["read"], allowed_networks=["10.0.0.1/8"]), "10.0.0.1/8"),
        (lambda a: a.create("x", ["read"], rate_limit="9/fortnight"), "'9/fortnight'"),
        (lambda a: a.create("x", ["read"], rate_limit="off"), "cannot be off"),
        (lambda a: a.create("x", ["read"], expires_in_days=0), "expiry is a whole number"),
        (lambda a: a.create("x", ["read"], expires_in_days=4000), "expiry is a whole number"),
        (lambda a: a.rotate("erp", timedelta(hours=-1)), "the overlap is from 0"),
        (lambda a: a.rotate("erp", timedelta(days=400)), "the overlap is from 0"),
        (lambda a: a.update("erp", KeyChanges()), "nothing to change"),
    ],
)
def test_invalid_settings_are_refused_naming_the_value(
    access: AccessService, call: Callable[[AccessService], Any], message: str
) -> None:
    access.create("erp", ["read"], environment="test")
    with pytest.raises(InvalidKey) as refused:
        call(access)
    assert message in refused.value.detail


def test_networks_are_normalised_and_updates_touch_only_what_they_name(
    access: AccessService, clock: Clock
) -> None:
    key, token = access.create(
        "erp", ["read"], allowed_networks=["10.0.0.0/8, 192.0.2.9", "2001:db8::/32", "10.0.0.0/8"]
    )
    assert key.allowed_networks == ("10.0.0.0/8", "192.0.2.9/32", "2001:db8::/32")
    changed = access.update("erp", KeyChanges(expires_in_days=10, description="ERP"))
    assert changed.allowed_networks == key.allowed_networks
    assert changed.expires_at == START + timedelta(days=10) and changed.description == "ERP"
    clock.now = START + timedelta(days=7)
    assert changed.expiry_warning(clock.now, timedelta(days=14)) == "expires in 3d"
    assert changed.status(clock.now, timedelta(days=2)) == "active"
    cleared = access.update("erp", KeyChanges(allowed_networks=(), expires_in_days=None))
    assert cleared.allowed_networks == () and cleared.expires_at is None
    assert access.authenticate(token).allowed_networks == ()  # same secret, new settings
    twin, _ = access.create("erp", ["read"])
    with pytest.raises(Conflict, match="several active keys are named 'erp'"):
        access.update("erp", KeyChanges(description="which?"))
    assert access.update(twin.key_id, KeyChanges(description="this one")).description == "this one"


def test_a_rotation_that_loses_a_race_is_a_clear_conflict(
    access: AccessService, engine: Engine
) -> None:
    """Another rotation lands between this one's read and its write (forced here)."""
    key, _ = access.create("erp", ["read"], environment="test")
    other = AccessService(SqlApiKeyRepository(engine), access.clock)
    repository = access.keys
    won: list[str] = []
    real_rotate = repository.rotate

    def lose_then_rotate(key_id: str, **values: Any) -> bool:
        won.append(other.rotate(key_id, timedelta(0))[1])
        return real_rotate(key_id, **values)

    repository.rotate = lose_then_rotate  # type: ignore[method-assign]
    with pytest.raises(RotationConflict) as lost:
        access.rotate(key.key_id, timedelta(0))
    repository.rotate = real_rotate  # type: ignore[method-assign]
    assert lost.value.code == "rotation-conflict"
    assert "was rotated by another request at the same time" in lost.value.detail
    assert access.authenticate(won[0]).key_id == key.key_id
    assert [e.action for e in entries(access, key.key_id)] == ["key.created"]


def test_parallel_rotations_leave_exactly_one_current_secret(hub: Hub) -> None:
    """Many rotations of one key at once, each on its own connection: every one succeeds or
    is a RotationConflict (never another error), each success is audited, and of all the
    secrets handed out exactly one is accepted (no overlap, so previous secrets are not)."""
    access = hub.access
    key, first = access.create("busy", ["read"], environment="test")
    workers = 8
    barrier = threading.Barrier(workers)

    def rotate() -> str | Exception:
        barrier.wait(timeout=30)
        try:
            return access.rotate(key.key_id, timedelta(0))[1]
        except RotationConflict as exc:
            return exc

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda _: rotate(), range(workers)))
    secrets = [o for o in outcomes if isinstance(o, str)]
    assert secrets, outcomes
    assert all(isinstance(o, str | RotationConflict) for o in outcomes)
    accepted = []
    for token in [first, *secrets]:
        try:
            access.authenticate(token)
            accepted.append(token)
        except Unauthorized:
            pass
    assert len(accepted) == 1, (len(secrets), outcomes)
    with hub.engine.connect() as conn:
        stored = conn.execute(
            select(api_keys.c.secret_hash).where(api_keys.c.key_id == key.key_id)
        ).scalar_one()
    parts = split_key(accepted[0])
    assert parts is not None and stored == hash_secret(parts[1])
    rotations = [e for e in entries(access, key.key_id) if e.action == "key.rotated"]
    assert len(rotations) == len(secrets)


def test_an_expired_key_is_not_rotated_until_its_expiry_is_extended(
    access: AccessService, clock: Clock
) -> None:
    key, _ = access.create("erp", ["read"], environment="test", expires_in_days=1)
    clock.now = START + timedelta(days=2)
    with pytest.raises(Conflict, match="expired at 2026-03-02T12:00:00"):
        access.rotate(key.key_id, timedelta(hours=1))
    access.update(key.key_id, KeyChanges(expires_in_days=30))
    _, token = access.rotate(key.key_id, timedelta(hours=1))
    assert access.authenticate(token).key_id == key.key_id
