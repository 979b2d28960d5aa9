"""`pimhub check` (is this hub ready for production?) and `pimhub secret-key backup`.

The checks themselves are pure (pimhub/readiness.py); this module collects what they look at
from the settings, the data directory and the database, without changing any of them.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pimhub.cli.common import JsonFlag, console, fail, handles_errors, open_hub, print_json

if TYPE_CHECKING:
    from pimhub.bootstrap import Hub
    from pimhub.readiness import Endpoint, KeyState, Snapshot
    from pimhub.settings import Settings

BACKUP_RECORD = "secret-key-backup.json"
DEMO_ADMIN_FILE = "demo-admin.txt"  # cli/server.py writes the demo's admin password there
# Passwords an installation guide or a hurried admin might have used (at least 10
# characters: shorter ones are refused when a password is set).
DEFAULT_PASSWORDS = ("pimhub-admin", "administrator", "changeme123", "password123")

secret_key_app = typer.Typer(help="The secret key that encrypts stored secrets.")


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def check(
        as_json: JsonFlag = False,
        warnings_ok: Annotated[
            bool, typer.Option("--warnings-ok", help="Exit 0 when there are only warnings")
        ] = False,
    ) -> None:
        """Check the settings and the database for production readiness. Exit status: 0
        nothing found, 1 warnings only, 2 a failure."""
        from pimhub.readiness import Severity, exit_code, run_checks

        hub = open_hub(require_schema=False)
        try:
            snapshot = collect(hub)
        finally:
            hub.close()
        findings = run_checks(snapshot)
        if as_json:
            print_json(
                {
                    "findings": [f.to_dict() for f in findings],
                    "failures": sum(f.severity == Severity.FAILURE for f in findings),
                    "warnings": sum(f.severity == Severity.WARNING for f in findings),
                    "notes": snapshot.notes,
                }
            )
        else:
            for finding in findings:
                label = (
                    "[bold red]FAIL[/]"
                    if finding.severity == Severity.FAILURE
                    else ("[yellow]WARN[/]")
                )
                console.print(
                    f"{label} {escape(finding.check)}: {escape(finding.message)}\n"
                    f"     fix: {escape(finding.fix)}",
                    highlight=False,
                )
            for note in snapshot.notes:
                console.print(f"note: {escape(note)}", highlight=False)
            failures = sum(f.severity == Severity.FAILURE for f in findings)
            console.print(
                f"{failures} failure(s), {len(findings) - failures} warning(s)"
                if findings
                else "no findings",
                highlight=False,
            )
        raise typer.Exit(exit_code(findings, warnings_ok=warnings_ok))

    app.add_typer(secret_key_app, name="secret-key")


@secret_key_app.command("backup")
@handles_errors
def backup(
    to: Annotated[Path, typer.Option("--to", help="File to write the copy to (must not exist)")],
) -> None:
    """Copy the secret key to a new file (mode 0600) and record its fingerprint, which
    `pimhub check` compares with the key file: a changed key makes the backup stale."""
    from pimhub.events.secret_box import key_file_passphrase
    from pimhub.readiness import fingerprint
    from pimhub.settings import Settings

    settings = Settings()
    # A key file not made yet is made now, as the hub would on its first stored secret.
    passphrase = settings.secret_key or key_file_passphrase(settings.data_dir)
    try:
        fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"{to} exists; choose a new file (a backup is never overwritten)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(passphrase + "\n")
    record = {
        "fingerprint": fingerprint(passphrase),
        "to": str(to.resolve()),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": "setting" if settings.secret_key else "file",
    }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / BACKUP_RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
    console.print(
        f"wrote the secret key to {escape(str(to))}; move it off this machine and keep it "
        "apart from the database backups (with both, a thief can read every stored secret)",
        highlight=False,
    )


def key_file(settings: Settings) -> Path:
    from pimhub.events.secret_box import KEY_FILE_NAME

    return settings.data_dir / KEY_FILE_NAME


def read_key_file(settings: Settings) -> str | None:
    """The key file's passphrase, or None when there is none (never created here)."""
    path = key_file(settings)
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def recorded_backup(settings: Settings) -> str | None:
    path = settings.data_dir / BACKUP_RECORD
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def collect(hub: Hub) -> Snapshot:
    """What `pimhub check` looks at. The database's contents are read only when its schema
    is at head: an older schema lacks columns the reads need."""
    from sqlalchemy.exc import SQLAlchemyError

    from pimhub.readiness import Snapshot, fingerprint
    from pimhub.storage.migrate import current_revision

    settings = hub.settings
    passphrase = None if settings.secret_key else read_key_file(settings)
    head = head_revision(hub)
    try:
        revision, error = current_revision(hub.engine), None
    except SQLAlchemyError as exc:  # unreachable, refused: a failure to report, not a crash
        revision, error = None, str(getattr(exc, "orig", None) or exc).splitlines()[0]
    snapshot = Snapshot(
        now=datetime.now(UTC),
        profile=settings.profile,
        database=hub.engine.dialect.name,
        workers=settings.workers,
        secret_key=settings.secret_key,
        key_file_fingerprint=fingerprint(passphrase) if passphrase else None,
        backup_fingerprint=recorded_backup(settings),
        revision=revision,
        head=head,
        database_error=error,
        key_expiry_warning_days=settings.key_expiry_warning_days,
        oidc_issuer=settings.oidc_issuer,
        oidc_audience=settings.oidc_audience,
        rate_limit_per_key=settings.rate_limit_per_key,
        rate_limit_per_address=settings.rate_limit_per_address,
        rate_limit_store=settings.rate_limit_store,
        hsts_seconds=settings.hsts_seconds,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    if error is not None:
        snapshot.notes.append("database contents not checked: the database cannot be read")
        return snapshot
    if revision is None or revision != head:
        snapshot.notes.append("database contents not checked until the schema is at head")
        return snapshot
    return replace(
        snapshot,
        default_password_users=default_password_users(hub),
        introspection_on=introspection_on(hub),
        endpoints=endpoints(hub),
        keys=active_keys(hub),
        sealed_secrets_readable=sealed_secrets_readable(hub, settings.secret_key or passphrase),
    )


def sealed_secrets_readable(hub: Hub, passphrase: str | None) -> bool | None:
    """Whether `passphrase` decrypts a stored webhook signing secret (None: none stored).
    Never creates a key file: with neither the setting nor the file nothing can be read."""
    from sqlalchemy import select

    from pimhub.catalog.errors import SecretUnreadable
    from pimhub.events.secret_box import SecretBox
    from pimhub.storage.tables import webhook_endpoints

    with hub.engine.connect() as conn:
        sealed = conn.execute(select(webhook_endpoints.c.secret).limit(1)).scalar()
    if sealed is None:
        return None
    if passphrase is None:
        return False
    try:
        SecretBox(passphrase).decrypt(sealed)
    except SecretUnreadable:  # SecretBox's refusal of a token sealed under another key
        return False
    return True


def head_revision(hub: Hub) -> str | None:
    from alembic.script import ScriptDirectory

    from pimhub.storage.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(hub.engine)).get_current_head()


def default_password_users(hub: Hub) -> tuple[str, ...]:
    """Active administrators who still sign in with the demo's saved password or a common
    default. Verified against the stored hash directly: no sign-in is recorded."""
    from pimhub.users.model import Role

    saved = hub.settings.data_dir / DEMO_ADMIN_FILE
    demo = saved.read_text(encoding="utf-8").strip() if saved.exists() else ""
    candidates = [p for p in (demo, *DEFAULT_PASSWORDS) if p]
    found = []
    for user in hub.users.all():
        if user.role != Role.ADMIN or not user.active:
            continue
        stored = hub.users.users.find(user.username)
        if stored and any(hub.users.passwords.verify(stored[1], p) for p in candidates):
            found.append(user.username)
    return tuple(found)


def introspection_on(hub: Hub) -> tuple[str, ...]:
    production = hub.settings.profile == "production"
    return tuple(
        config.name
        for config in hub.datahub.all()
        if (config.introspection if config.introspection is not None else not production)
    )


def endpoints(hub: Hub) -> tuple[Endpoint, ...]:
    from pimhub.readiness import Endpoint

    found = [
        Endpoint("webhook endpoint", e.endpoint_id, e.spec.url)
        for e in hub.webhooks.all()
        if e.kind == "webhook"
    ]
    found += [
        Endpoint("connector", c.name, str(c.config.get("baseUrl", "")))
        for c in hub.connectors.all()
    ]
    found += [Endpoint("broker", b.name, str(b.config.get("url", ""))) for b in hub.brokers.all()]
    return tuple(found)


def active_keys(hub: Hub) -> tuple[KeyState, ...]:
    from pimhub.readiness import KeyState

    now = datetime.now(UTC)
    return tuple(
        KeyState(k.key_id, k.name, k.expires_at)
        for k in hub.access.all()
        if k.revoked_at is None and (k.expires_at is None or k.expires_at > now)
    )
