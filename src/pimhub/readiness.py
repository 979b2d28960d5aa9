"""`pimhub check`: is this hub ready for production? Pure checks over a Snapshot that the
CLI collects (cli/check.py), so each rule is tested without a database.

Each finding is a failure (the hub is unsafe or broken as configured: fix before serving)
or a warning (a risk to accept knowingly), and says what to do about it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class Severity(StrEnum):
    FAILURE = "failure"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    check: str  # a stable name, e.g. "secret-key-weak"
    severity: Severity
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Endpoint:
    """Somewhere the hub sends data: a webhook endpoint, a connector or a broker."""

    kind: str
    name: str
    url: str


@dataclass(frozen=True)
class KeyState:
    key_id: str
    name: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """What the checks look at. Database facts are None when they could not be read (the
    schema is missing or behind: migrations come first)."""

    now: datetime
    profile: str
    database: str  # the dialect: sqlite or postgresql
    workers: int
    secret_key: str | None  # the setting; None: the key file in data_dir is used
    key_file_fingerprint: str | None = None  # of the key file, when there is one
    backup_fingerprint: str | None = None  # recorded by `pimhub secret-key backup`
    revision: str | None = None
    head: str | None = None
    database_error: str | None = None  # why the database could not be read at all
    default_password_users: tuple[str, ...] | None = None
    introspection_on: tuple[str, ...] | None = None  # datahub configs that allow it
    endpoints: tuple[Endpoint, ...] | None = None
    keys: tuple[KeyState, ...] | None = None
    key_expiry_warning_days: float = 14.0
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    rate_limit_per_key: str = "6000/minute"
    rate_limit_per_address: str = "12000/minute"
    rate_limit_store: str = "auto"
    hsts_seconds: int = 0
    # Whether the key in use decrypts a stored sealed secret; None: none stored.
    sealed_secrets_readable: bool | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    notes: list[str] = field(default_factory=list)

    @property
    def production(self) -> bool:
        return self.profile == "production"


MIN_SECRET_KEY = 16
# Passphrases seen in examples, tutorials and test suites: as good as none.
COMMON_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "secretkey",
        "password",
        "passphrase",
        "pimhub",
        "test",
        "test-passphrase",
        "development",
        "insecure",
    }
)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def fingerprint(passphrase: str) -> str:
    """What a backup record keeps of the secret key: enough to tell whether the key changed
    since, nothing that helps to guess it (SHA-256 of a 256-bit random passphrase)."""
    return hashlib.sha256(b"pimhub secret key\x00" + passphrase.encode()).hexdigest()


def weak_secret(value: str) -> str | None:
    """Why `value` is a weak secret key, or None."""
    if value.strip().lower() in COMMON_SECRETS:
        return "a well-known example value"
    if len(value) < MIN_SECRET_KEY:
        return f"shorter than {MIN_SECRET_KEY} characters"
    if len(set(value)) < 8:
        return "fewer than 8 different characters"
    return None


def _by_profile(snapshot: Snapshot) -> Severity:
    """Failures in production, warnings elsewhere: a development hub may cut corners."""
    return Severity.FAILURE if snapshot.production else Severity.WARNING


def check_secret_key(s: Snapshot) -> Iterator[Finding]:
    if s.sealed_secrets_readable is False:
        # secret-key-unset is then left out: its fix (copy this host's key file to every
        # host) would spread a key that cannot read the stored secrets.
        yield Finding(
            "secret-key-wrong",
            Severity.FAILURE,
            "the secret key cannot decrypt the secrets stored in the database (webhook, "
            "connector, broker, inbound source): it is not the key they were sealed with",
            "set PIMHUB_SECRET_KEY (or put back data_dir/secret.key) to the key the hub used "
            "when they were stored, from your secret store or its backup; a new key cannot "
            "read them",
        )
    if s.secret_key is not None:
        why = weak_secret(s.secret_key)
        if why:
            yield Finding(
                "secret-key-weak",
                _by_profile(s),
                f"PIMHUB_SECRET_KEY is weak: {why}",
                "set a long random value (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`), then re-enter webhook, connector and "
                "broker secrets: the ones stored under the old key cannot be read with a new one",
            )
        return
    if s.production and s.database != "sqlite" and s.sealed_secrets_readable is not False:
        yield Finding(
            "secret-key-unset",
            Severity.WARNING,
            "PIMHUB_SECRET_KEY is unset: this host keeps its own key in data_dir/secret.key, "
            "which another host sharing the database does not have",
            "set PIMHUB_SECRET_KEY to the content of data_dir/secret.key on every host "
            "(`pimhub secret-key backup --to PATH` makes that file when it does not exist yet)",
        )
    if s.key_file_fingerprint is None:
        return
    if s.backup_fingerprint is None:
        yield Finding(
            "secret-key-no-backup",
            Severity.WARNING,
            "the secret key file has no recorded backup: losing it loses every stored "
            "webhook, connector and broker secret",
            "run `pimhub secret-key backup --to PATH` with PATH off this machine",
        )
    elif s.backup_fingerprint != s.key_file_fingerprint:
        yield Finding(
            "secret-key-backup-stale",
            Severity.FAILURE,
            "the secret key file changed since its backup: the backup cannot read the secrets "
            "stored now",
            "run `pimhub secret-key backup --to PATH` again",
        )


def check_migrations(s: Snapshot) -> Iterator[Finding]:
    if s.database_error is not None:
        yield Finding(
            "database",
            Severity.FAILURE,
            f"the database cannot be read: {s.database_error}",
            "check PIMHUB_DATABASE_URL, the network and the database's credentials",
        )
    elif s.revision is None:
        yield Finding(
            "migrations",
            Severity.FAILURE,
            "the database is not initialized",
            "run `pimhub init` (or `pimhub db upgrade`)",
        )
    elif s.head is not None and s.revision != s.head:
        yield Finding(
            "migrations",
            Severity.FAILURE,
            f"the database schema is at revision {s.revision}, this version of pimhub "
            f"needs {s.head}",
            "run `pimhub db upgrade` before starting the new version",
        )


def check_processes(s: Snapshot) -> Iterator[Finding]:
    if s.database == "sqlite" and s.workers > 1:
        yield Finding(
            "sqlite-workers",
            Severity.FAILURE,
            f"PIMHUB_WORKERS is {s.workers} on SQLite, which takes one writer at a time "
            "(and `pimhub serve` refuses it)",
            "use PostgreSQL for several processes, or set PIMHUB_WORKERS=1",
        )
    if s.production and s.database == "sqlite":
        yield Finding(
            "sqlite-production",
            Severity.WARNING,
            "the production profile runs on SQLite: one machine, one serve process",
            "use PostgreSQL (PIMHUB_DATABASE_URL) to serve from several processes or machines",
        )
    if s.rate_limit_store == "memory" and (s.database == "postgresql" or s.workers > 1):
        where = f"with PIMHUB_WORKERS={s.workers}" if s.workers > 1 else "on PostgreSQL"
        yield Finding(
            "rate-limit-store-memory",
            Severity.WARNING,
            f"PIMHUB_RATE_LIMIT_STORE=memory {where}: each serve process keeps its own "
            "buckets, so every rate limit multiplies by the number of processes",
            "unset PIMHUB_RATE_LIMIT_STORE (auto shares the buckets through the database, or "
            "Redis when PIMHUB_REDIS_URL is set)",
        )


def check_passwords(s: Snapshot) -> Iterator[Finding]:
    for user in s.default_password_users or ():
        yield Finding(
            "default-password",
            _by_profile(s),
            f"user {user} still signs in with a default or demo password",
            f"run `pimhub users passwd {user}`",
        )


def check_introspection(s: Snapshot) -> Iterator[Finding]:
    if not s.production:
        return
    for name in s.introspection_on or ():
        yield Finding(
            "graphql-introspection",
            Severity.WARNING,
            f"datahub configuration {name} allows GraphQL introspection in production",
            f'set "introspection": false in configuration {name} unless clients need it',
        )


def plain_transport(url: str) -> str | None:
    """The scheme when `url` sends in clear text to another machine, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "amqp"):
        return None
    if (parts.hostname or "").lower() in LOOPBACK:
        return None  # a sidecar or a local test receiver: nothing crosses a network
    return parts.scheme


def check_endpoints(s: Snapshot) -> Iterator[Finding]:
    for endpoint in s.endpoints or ():
        scheme = plain_transport(endpoint.url)
        if scheme:
            safe = "https" if scheme == "http" else "amqps"
            yield Finding(
                "plain-transport",
                Severity.WARNING,
                f"{endpoint.kind} {endpoint.name} sends over {scheme}:// (unencrypted): "
                f"{endpoint.url}",
                f"use {safe}:// for {endpoint.kind} {endpoint.name}",
            )


def check_keys(s: Snapshot) -> Iterator[Finding]:
    soon = s.now + timedelta(days=s.key_expiry_warning_days)
    for key in s.keys or ():
        label = f"API key {key.key_id} ({key.name})"
        if key.expires_at is None:
            yield Finding(
                "key-without-expiry",
                Severity.WARNING,
                f"{label} never expires",
                f"set an expiry: `pimhub keys update {key.key_id} --expires-in-days 90`, "
                "or replace it with a key that has one",
            )
        elif s.now <= key.expires_at <= soon:
            yield Finding(
                "key-expiring",
                Severity.WARNING,
                f"{label} expires at {key.expires_at.isoformat(timespec='seconds')}",
                f"extend it: `pimhub keys update {key.key_id} --expires-in-days 90`, or "
                "replace it (a rotation keeps the expiry)",
            )


def check_edge(s: Snapshot) -> Iterator[Finding]:
    if s.oidc_issuer and not s.oidc_audience:
        yield Finding(
            "oidc-audience",
            Severity.FAILURE,
            "OIDC is on without an audience: any token the issuer signs for another "
            "application is accepted here",
            "set PIMHUB_OIDC_AUDIENCE to the audience the issuer puts in tokens for pimhub",
        )
    if not s.production:
        return
    off = [
        name
        for name, value in (
            ("PIMHUB_RATE_LIMIT_PER_KEY", s.rate_limit_per_key),
            ("PIMHUB_RATE_LIMIT_PER_ADDRESS", s.rate_limit_per_address),
        )
        if value == "off"
    ]
    if off:
        yield Finding(
            "rate-limits-off",
            Severity.WARNING,
            f"rate limits are off in production: {', '.join(off)}",
            "unset it to use the default (6000/minute per key, 12000/minute per address), "
            "or set a rate (docs/security.md)",
        )
    if "*" in (part.strip() for part in s.forwarded_allow_ips.split(",")):
        yield Finding(
            "forwarded-any",
            Severity.WARNING,
            "PIMHUB_FORWARDED_ALLOW_IPS=* in production: any client may send X-Forwarded-For "
            "and pick the address its rate limit and the keys' network allowlists see",
            "set PIMHUB_FORWARDED_ALLOW_IPS to the addresses of your proxies only",
        )
    if s.hsts_seconds == 0:
        yield Finding(
            "hsts-off",
            Severity.WARNING,
            "HSTS is off in production: a browser may be sent to plain http",
            "serve over TLS, then set PIMHUB_HSTS_SECONDS=31536000",
        )


CHECKS: tuple[Callable[[Snapshot], Iterator[Finding]], ...] = (
    check_migrations,
    check_secret_key,
    check_processes,
    check_passwords,
    check_introspection,
    check_endpoints,
    check_keys,
    check_edge,
)


def run_checks(snapshot: Snapshot) -> list[Finding]:
    """Every finding, failures first."""
    found = [finding for check in CHECKS for finding in check(snapshot)]
    return sorted(found, key=lambda f: f.severity != Severity.FAILURE)


def exit_code(findings: list[Finding], *, warnings_ok: bool = False) -> int:
    """0: nothing found; 1: warnings only (0 with warnings_ok); 2: a failure."""
    if any(f.severity == Severity.FAILURE for f in findings):
        return 2
    if findings and not warnings_ok:
        return 1
    return 0
