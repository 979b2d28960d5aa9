"""`pimhub check` and `pimhub secret-key backup`: each rule on a snapshot, what the CLI
collects from a real hub (SQLite and PostgreSQL), its exit status and --json, and
`serve --workers N` refused on SQLite."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pimhub.bootstrap import Hub, bootstrap
from pimhub.cli.check import collect
from pimhub.cli.main import app
from pimhub.readiness import (
    Endpoint,
    KeyState,
    Severity,
    Snapshot,
    exit_code,
    fingerprint,
    run_checks,
    weak_secret,
)
from pimhub.settings import Settings
from pimhub.storage.engine import build_engine
from pimhub.storage.migrate import upgrade
from tests.cli.test_cli import init

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
GOOD_SECRET = "kT3v_9qLx2ZpR8mWcY4nB6hJ0sDfGa1E"
HEAD = "0013"
CLASSES: dict[str, object] = {"Product": {}, "Brand": {}, "Category": {}}


def snapshot(**changes: object) -> Snapshot:
    """A production hub on PostgreSQL with nothing to report."""
    clean = Snapshot(
        now=NOW,
        profile="production",
        database="postgresql",
        workers=4,
        secret_key=GOOD_SECRET,
        revision=HEAD,
        head=HEAD,
        default_password_users=(),
        introspection_on=(),
        endpoints=(Endpoint("webhook endpoint", "ep1", "https://erp.example.com/hook"),),
        keys=(KeyState("k1", "erp", NOW + timedelta(days=90)),),
        oidc_issuer="https://id.example.com",
        oidc_audience="pimhub",
        hsts_seconds=31536000,
    )
    return replace(clean, **changes)  # type: ignore[arg-type]


def checks(snap: Snapshot) -> dict[str, list[Severity]]:
    found: dict[str, list[Severity]] = {}
    for finding in run_checks(snap):
        found.setdefault(finding.check, []).append(finding.severity)
    return found


def test_a_clean_production_hub_has_no_findings() -> None:
    assert run_checks(snapshot()) == []
    assert exit_code([]) == 0


@pytest.mark.parametrize(
    ("changes", "check", "severity"),
    [
        ({"secret_key": "changeme"}, "secret-key-weak", Severity.FAILURE),
        ({"secret_key": "short-1"}, "secret-key-weak", Severity.FAILURE),
        ({"secret_key": "ab" * 20}, "secret-key-weak", Severity.FAILURE),
        ({"secret_key": "short-1", "profile": "development"}, "secret-key-weak", Severity.WARNING),
        ({"secret_key": None}, "secret-key-unset", Severity.WARNING),
        ({"revision": None}, "migrations", Severity.FAILURE),
        ({"revision": None, "database_error": "refused"}, "database", Severity.FAILURE),
        ({"revision": "0012"}, "migrations", Severity.FAILURE),
        ({"database": "sqlite", "profile": "development"}, "sqlite-workers", Severity.FAILURE),
        ({"database": "sqlite", "workers": 1}, "sqlite-production", Severity.WARNING),
        ({"default_password_users": ("admin",)}, "default-password", Severity.FAILURE),
        ({"introspection_on": ("shop",)}, "graphql-introspection", Severity.WARNING),
        ({"oidc_audience": None}, "oidc-audience", Severity.FAILURE),
        ({"rate_limit_per_key": "off"}, "rate-limits-off", Severity.WARNING),
        ({"rate_limit_per_address": "off"}, "rate-limits-off", Severity.WARNING),
        ({"hsts_seconds": 0}, "hsts-off", Severity.WARNING),
        ({"keys": (KeyState("k2", "old", None),)}, "key-without-expiry", Severity.WARNING),
        (
            {"keys": (KeyState("k3", "soon", NOW + timedelta(days=3)),)},
            "key-expiring",
            Severity.WARNING,
        ),
        (
            {"endpoints": (Endpoint("broker", "rabbit", "amqp://mq.example.com/"),)},
            "plain-transport",
            Severity.WARNING,
        ),
        (
            {"endpoints": (Endpoint("connector", "shop", "http://shop.example.com"),)},
            "plain-transport",
            Severity.WARNING,
        ),
    ],
)
def test_each_rule(changes: dict[str, object], check: str, severity: Severity) -> None:
    found = run_checks(snapshot(**changes))
    assert [(f.check, f.severity) for f in found] == [(check, severity)]
    assert found[0].fix  # every finding says what to do
    secret = changes.get("secret_key")
    if isinstance(secret, str):
        assert secret not in found[0].message + found[0].fix  # the value is never shown


def test_what_development_and_loopback_may_do() -> None:
    relaxed = snapshot(
        profile="development",
        introspection_on=("shop",),
        hsts_seconds=0,
        rate_limit_per_key="off",
        endpoints=(
            Endpoint("webhook endpoint", "e", "http://127.0.0.1:9000/hook"),
            Endpoint("broker", "b", "amqp://localhost/"),
        ),
    )
    assert run_checks(relaxed) == []


def test_the_key_file_backup_rules() -> None:
    on_file = snapshot(secret_key=None, database="sqlite", workers=1)
    printed = fingerprint("the key")
    assert "secret-key-no-backup" in checks(replace(on_file, key_file_fingerprint=printed))
    backed = replace(on_file, key_file_fingerprint=printed, backup_fingerprint=printed)
    assert "secret-key" not in " ".join(checks(backed))
    stale = replace(backed, key_file_fingerprint=fingerprint("another key"))
    assert checks(stale)["secret-key-backup-stale"] == [Severity.FAILURE]


def test_exit_codes_and_order() -> None:
    found = run_checks(snapshot(hsts_seconds=0, revision=None))
    assert [f.severity for f in found] == [Severity.FAILURE, Severity.WARNING]
    assert exit_code(found) == 2
    warnings = run_checks(snapshot(hsts_seconds=0))
    assert (exit_code(warnings), exit_code(warnings, warnings_ok=True)) == (1, 0)


def test_weak_secrets() -> None:
    assert weak_secret(GOOD_SECRET) is None
    assert weak_secret("Test-Passphrase") == "a well-known example value"


def test_collect_reads_the_hub(hub: Hub, tmp_path: Path) -> None:
    """Endpoints, connectors, brokers, datahub configurations, keys and users as the checks
    see them, on SQLite and PostgreSQL."""
    hub.settings.profile = "production"
    hub.settings.data_dir = tmp_path
    hub.webhooks.create({"url": "http://erp.example.com/hook"})
    hub.webhooks.create({"url": "https://safe.example.com/hook"})
    credentials = {"consumerKey": "k", "consumerSecret": "s", "accessToken": "t"}
    credentials["accessTokenSecret"] = "ts"
    hub.connectors.add({"name": "shop", "baseUrl": "http://shop.example.com"}, credentials)
    hub.brokers.add(
        {"name": "rabbit", "url": "amqp://mq.example.com/"}, {"username": "u", "password": "p"}
    )
    hub.datahub.create({"name": "open", "introspection": True, "classes": CLASSES}, author="t")
    hub.datahub.create({"name": "closed", "classes": CLASSES}, author="t")
    hub.access.create("forever", ["read"], environment="production")
    hub.users.create("admin", "pimhub-admin", "admin")
    hub.users.create("viewer", "pimhub-admin", "viewer")  # not an administrator
    hub.users.create("boss", "a long own password", "admin")

    snap = collect(hub)
    assert snap.revision == snap.head and snap.database == hub.engine.dialect.name
    found = run_checks(snap)
    messages: dict[str, list[str]] = {f.check: [] for f in found}
    for f in found:
        messages[f.check].append(f.message)
    assert messages["default-password"] == [
        "user admin still signs in with a default or demo password"
    ]
    assert messages["graphql-introspection"] == [
        "datahub configuration open allows GraphQL introspection in production"
    ]
    plain = " ".join(messages["plain-transport"])
    assert "http://erp.example.com/hook" in plain and "connector shop" in plain
    assert "broker rabbit" in plain and "safe.example.com" not in plain
    assert any("(forever) never expires" in m for m in messages["key-without-expiry"])
    assert messages["secret-key-weak"] == ["PIMHUB_SECRET_KEY is weak: a well-known example value"]


def run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_the_cli_on_a_fresh_database(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(tmp_path / "data"))
    code, out = run(runner, "check")
    assert code == 2 and "FAIL migrations: the database is not initialized" in out
    init(runner)
    code, out = run(runner, "check", "--json")
    report = json.loads(out)
    assert code == 1 and report["failures"] == 0
    assert [f["check"] for f in report["findings"]] == ["key-without-expiry"]
    assert run(runner, "check", "--warnings-ok")[0] == 0

    monkeypatch.setenv("PIMHUB_WORKERS", "2")
    code, out = run(runner, "check")
    assert code == 2 and "FAIL sqlite-workers" in out
    code, out = run(runner, "serve", "--workers", "3")
    assert code == 1 and "--workers 3 needs PostgreSQL" in out
    code, out = run(runner, "serve")  # PIMHUB_WORKERS is the default
    assert code == 1 and "--workers 2 needs PostgreSQL" in out


def test_a_schema_behind_head(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(tmp_path / "data"))
    upgrade(build_engine(db_url), "0012")
    code, out = run(runner, "check", "--json")
    report = json.loads(out)
    assert code == 2
    [migrations] = [f for f in report["findings"] if f["check"] == "migrations"]
    assert "at revision 0012" in migrations["message"]
    assert migrations["fix"] == "run `pimhub db upgrade` before starting the new version"
    assert report["notes"] == ["database contents not checked until the schema is at head"]


def test_secret_key_backup(
    runner: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(data))
    init(runner)
    bootstrap(Settings(database_url=db_url, data_dir=data)).webhooks.create(
        {"url": "https://erp.example.com/hook"}
    )  # a stored secret: the key file exists from now on
    key_file = data / "secret.key"
    assert key_file.exists()
    assert "secret-key-no-backup" in run(runner, "check")[1]

    copy = tmp_path / "backup" / "secret.key"
    copy.parent.mkdir()
    code, out = run(runner, "secret-key", "backup", "--to", str(copy))
    assert code == 0, out
    assert copy.read_text() == key_file.read_text()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert "secret-key" not in run(runner, "check")[1]

    code, out = run(runner, "secret-key", "backup", "--to", str(copy))
    assert code == 1 and "exists; choose a new file" in out
    key_file.write_text("a replaced key file\n")
    code, out = run(runner, "check")
    assert code == 2 and "FAIL secret-key-backup-stale" in out


def test_an_unreachable_database(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIMHUB_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, out = run(runner, "check", "--json")
    report = json.loads(out)
    assert code == 2
    [found] = report["findings"]
    assert found["check"] == "database" and "cannot be read" in found["message"]
