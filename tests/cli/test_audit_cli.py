"""`pimhub audit` and the CLI's actor, on SQLite and PostgreSQL: changes made with `pimhub
webhooks|keys|users` are recorded as `cli:<login>`, listed with filters and paging, shown one
by one, and no secret printed at creation appears in the log."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from pimhub.access.audit import SYSTEM_ACTOR, set_actor
from pimhub.bootstrap import Hub
from pimhub.cli.main import app

PASSWORD = "a cli audited password"


def cli_url(engine: Engine) -> str:
    """The database URL the CLI's own engine needs to reach the test's database (on
    PostgreSQL: its schema, through the driver's options)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{url}?options=-csearch_path%3D{schema},public"


@pytest.fixture
def cli(bare_hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[CliRunner]:
    monkeypatch.chdir(str(tmp_path))
    yield CliRunner(
        env={
            "COLUMNS": "200",
            "PIMHUB_DATABASE_URL": cli_url(bare_hub.engine),
            "PIMHUB_SECRET_KEY": "test-passphrase",
            "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
            "PIMHUB_PASSWORD_MEMORY_KIB": "64",
            "PIMHUB_PASSWORD_TIME_COST": "1",
        }
    )
    # The CLI names its actor for the rest of the process, which here is the test session.
    set_actor(SYSTEM_ACTOR)


def run(cli: CliRunner, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def listed(cli: CliRunner, *args: str) -> dict[str, object]:
    code, out, err = run(cli, "audit", "list", "--json", *args)
    assert code == 0, err
    answer: dict[str, object] = json.loads(out)
    return answer


def test_cli_changes_are_recorded_as_the_login_and_listed(cli: CliRunner) -> None:
    code, out, err = run(cli, "webhooks", "create", "--url", "https://hooks.example.com/c")
    assert code == 0, err
    secret = out.strip().splitlines()[-1]
    code, out, err = run(cli, "keys", "create", "--name", "erp", "--scope", "read")
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    code, _, err = run(
        cli, "users", "create", "ada", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, err
    answer = listed(cli)
    items = answer["items"]
    assert isinstance(items, list)
    assert [e["action"] for e in items] == ["user.created", "key.created", "webhook.created"]
    assert {e["actor"] for e in items} == {f"cli:{getpass.getuser()}"}
    assert answer["nextCursor"] is None
    everything = json.dumps(items)
    assert secret not in everything and token not in everything and PASSWORD not in everything
    only_users = listed(cli, "--target-type", "user", "--target", "ada")["items"]
    assert isinstance(only_users, list) and [e["action"] for e in only_users] == ["user.created"]
    code, out, err = run(cli, "audit", "show", str(only_users[0]["id"]))
    assert code == 0, err
    shown = json.loads(out)
    assert shown["after"]["role"] == "viewer" and shown["before"] is None


def test_table_paging_and_errors(cli: CliRunner, bare_hub: Hub) -> None:
    for n in range(3):
        bare_hub.audit.record("class.updated", "class", f"C{n}", before={"t": 0}, after={"t": n})
    code, out, err = run(cli, "audit", "list", "--limit", "2")
    assert code == 0, err
    assert "C2" in out and "C1" in out and "C0" not in out
    cursor = out.strip().splitlines()[-1].split("--before ")[1]
    code, out, _ = run(cli, "audit", "list", "--limit", "2", "--before", cursor)
    assert "C0" in out and "C1" not in out and "more exist" not in out
    code, out, _ = run(cli, "audit", "list", "--action", "class.deleted")
    assert code == 0 and "no audit entries match" in out
    code, _, err = run(cli, "audit", "list", "--since", "yesterday")
    assert code == 1 and err.strip().startswith("error: --since: must be a date and time")
    code, _, err = run(cli, "audit", "show", "999999")
    assert code == 1 and "there is no audit entry 999999" in err
