"""`pimhub keys rotate`, `keys update`, `keys create --allow-from/--rate-limit` and the expiry
warning of `keys list`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from pimhub.access.audit import AuditQuery
from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import Unauthorized
from pimhub.storage.tables import api_keys
from tests.cli.test_cli import invoke, one_line_error
from tests.events.test_crash import database_url


@pytest.fixture
def runner(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PIMHUB_DATABASE_URL", database_url(hub.engine))
    return CliRunner(env={"COLUMNS": "220"})


def test_rotate_prints_only_the_new_secret_and_keeps_the_old_one_for_the_overlap(
    hub: Hub, runner: CliRunner
) -> None:
    key, old = hub.access.create("erp", ["read"], environment="test")
    code, out, err = invoke(runner, "keys", "rotate", "erp", "--overlap", "2h")
    assert code == 0, err
    new = out.strip()
    assert out.count("\n") == 1 and new.startswith(f"phk_{key.key_id}_") and new != old
    assert "previous secret is accepted until" in err
    assert hub.access.authenticate(new).key_id == key.key_id
    assert hub.access.authenticate(old).key_id == key.key_id  # within the overlap
    stored = hub.access.get(key.key_id)
    assert stored.scopes == key.scopes and stored.rotated_at is not None
    assert stored.previous_valid_until is not None
    left = stored.previous_valid_until - utc_now()
    assert timedelta(hours=1, minutes=59) < left <= timedelta(hours=2)
    (entry,) = hub.audit.query(AuditQuery(target=key.key_id, action="key.rotated"))
    assert entry.actor.startswith("cli:") and entry.after is not None
    assert entry.after["rotatedAt"] is not None and new[17:] not in repr(entry)


def test_rotate_with_no_overlap_refuses_the_old_secret_at_once(hub: Hub, runner: CliRunner) -> None:
    key, old = hub.access.create("pos", ["read"], environment="test")
    code, out, err = invoke(runner, "keys", "rotate", key.key_id, "--overlap", "0")
    assert code == 0, err
    with pytest.raises(Unauthorized, match="previous secret expired at"):
        hub.access.authenticate(old)
    assert hub.access.authenticate(out.strip()).key_id == key.key_id


REFUSALS: list[tuple[tuple[str, ...], str]] = [
    (("keys", "rotate", "nobody"), "no active key with id or name 'nobody'"),
    (("keys", "rotate", "erp", "--overlap", "soon"), "'soon' is not a duration"),
    (("keys", "rotate", "erp", "--overlap", "400d"), "the overlap is from 0 to 366 days"),
    (("keys", "rotate", "erp", "--overlap", "1e300d"), "is not a duration"),
    (("keys", "rotate", "erp", "--overlap", "99999999999d"), "far too long an overlap"),
    (
        ("keys", "create", "--name", "x", "--scopes", "read", "--allow-from", "10.0.0.0/33"),
        "not a CIDR network: 10.0.0.0/33",
    ),
    (
        ("keys", "create", "--name", "x", "--scopes", "read", "--allow-from", "10.1.2.3/8"),
        "not a CIDR network: 10.1.2.3/8",
    ),
    (
        ("keys", "create", "--name", "x", "--scopes", "read", "--rate-limit", "fast"),
        "'fast' is not a rate",
    ),
    (("keys", "update", "erp"), "nothing to change"),
    (("keys", "update", "erp", "--expires-in-days", "0"), "expiry is a whole number"),
]


def test_refusals_are_one_line(hub: Hub, runner: CliRunner) -> None:
    hub.access.create("erp", ["read"], environment="test")
    for args, message in REFUSALS:
        code, _, err = invoke(runner, *args)
        assert message in one_line_error(code, err), args


def test_rotating_a_name_two_active_keys_share_is_refused(hub: Hub, runner: CliRunner) -> None:
    first, _ = hub.access.create("twin", ["read"], environment="test")
    second, _ = hub.access.create("twin", ["read"], environment="test")
    code, _, err = invoke(runner, "keys", "rotate", "twin")
    line = one_line_error(code, err)
    assert "several active keys are named 'twin'" in line
    assert first.key_id in line and second.key_id in line


def test_create_with_networks_and_rate_then_update(hub: Hub, runner: CliRunner) -> None:
    code, out, err = invoke(
        runner, "keys", "create", "--name", "shop", "--scopes", "read",
        "--allow-from", "10.0.0.0/8", "--allow-from", "2001:db8::/32,192.0.2.7",
        "--rate-limit", "600/minute",
    )  # fmt: skip
    assert code == 0, err
    key = hub.access.authenticate(out.strip())
    assert key.allowed_networks == ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32")
    assert key.rate_limit == "600/minute"

    code, out, err = invoke(
        runner, "keys", "update", key.key_id, "--allow-anywhere", "--rate-limit", "10/second",
        "--expires-in-days", "30", "--description", "the web shop",
    )  # fmt: skip
    assert code == 0, err
    assert "allowed from anywhere, rate 10/second" in out
    changed = hub.access.get(key.key_id)
    assert changed.allowed_networks == () and changed.rate_limit == "10/second"
    assert changed.description == "the web shop" and changed.expires_at is not None
    assert timedelta(days=29) < changed.expires_at - utc_now() <= timedelta(days=30)

    code, _, err = invoke(runner, "keys", "update", "shop", "--default-rate", "--no-expiry")
    assert code == 0, err
    again = hub.access.get(key.key_id)
    assert again.rate_limit is None and again.expires_at is None
    assert again.description == "the web shop"  # untouched


def test_list_warns_of_expiry_and_shows_last_use(hub: Hub, runner: CliRunner) -> None:
    soon, token = hub.access.create("soon", ["read"], environment="test", expires_in_days=30)
    later, _ = hub.access.create("later", ["read"], environment="test", expires_in_days=30)
    with hub.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == soon.key_id)
            .values(expires_at=utc_now() + timedelta(days=3, hours=2))
        )
    hub.access.authenticate(token)  # records the use
    code, out, err = invoke(runner, "keys", "list")
    assert code == 0, err
    rows = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        cells = [cell for cell in cells if cell]
        if cells and cells[0] in {soon.key_id, later.key_id}:
            rows[cells[0]] = cells
    assert rows[soon.key_id][-1] == "expires in 3d"
    assert rows[later.key_id][-1] == "active"  # 30 days away, beyond the 14-day warning
    assert rows[soon.key_id][-3] != "-" and rows[later.key_id][-3] == "-"  # last used
    code, out, err = invoke(runner, "keys", "list", "--json")
    listed = {k["keyId"]: k for k in orjson.loads(out)}
    assert listed[soon.key_id]["status"] == "expires in 3d" and listed[soon.key_id]["lastUsedAt"]
    assert listed[later.key_id]["status"] == "active" and listed[later.key_id]["lastUsedAt"] is None
