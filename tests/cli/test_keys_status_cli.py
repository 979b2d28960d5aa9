"""`pimhub keys list` and `pimhub graphql keys` say what the API does with each key: an
expired key is `expired`, not `active` (the API refuses it), on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.storage.tables import api_keys
from tests.cli.test_cli import invoke
from tests.events.test_crash import database_url


@pytest.mark.parametrize(
    ("command", "scope"), [(("keys", "list"), "read"), (("graphql", "keys"), "datahub:shop")]
)
def test_an_expired_key_is_listed_as_expired(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, command: tuple[str, str], scope: str
) -> None:
    expired, _ = hub.access.create("gone-by", [scope], environment="test", expires_in_days=1)
    later, _ = hub.access.create("still-ok", [scope], environment="test", expires_in_days=30)
    revoked, _ = hub.access.create("taken-back", [scope], environment="test")
    hub.access.revoke(revoked.key_id)
    with hub.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == expired.key_id)
            .values(expires_at=utc_now() - timedelta(minutes=1))
        )
    monkeypatch.setenv("PIMHUB_DATABASE_URL", database_url(hub.engine))
    code, out, err = invoke(CliRunner(env={"COLUMNS": "200"}), *command)
    assert code == 0, err
    status = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split("│") if cell.strip()]
        if cells and cells[0] in {expired.key_id, later.key_id, revoked.key_id}:
            status[cells[0]] = cells[-1]
    assert status == {
        expired.key_id: "expired",
        later.key_id: "active",
        revoked.key_id: "revoked",
    }, out
