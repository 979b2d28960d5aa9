"""Settings from the environment (prefix PIMHUB_) or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIMHUB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("pimhub-data"), description="Where the SQLite database lives")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        description="Connections each process keeps open to the database (SQLAlchemy pool)",
    )
    database_max_overflow: int = Field(
        10, ge=0, description="Connections opened beyond the pool size under load, then closed"
    )
    database_pool_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a request waits for a free connection before it is answered 503",
    )
    profile: Literal["development", "production"] = Field(
        "development",
        description="production switches GraphQL introspection off for datahub "
        "configurations that do not set it",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    languages: list[str] = Field(["en", "de", "fr"], description="Accepted content languages")
    default_language: str = "en"
    log_level: str = "INFO"
    log_json: bool = True
    telemetry: bool = Field(
        False,
        description="FastAPI's native OpenTelemetry tracing and metrics, exported through the "
        "globally configured providers. Off by default: its per-request check alone costs "
        "more than a point read.",
    )
    public_url: str | None = Field(None, description="Base URL shown to users")

    secret_key: str | None = Field(
        None,
        description="Passphrase that encrypts webhook secrets at rest; default: a random one "
        "kept in data_dir/secret.key. Set it explicitly when several hosts share a database.",
    )
    webhooks_allow_private: bool = Field(
        False, description="Allow webhook URLs that resolve to loopback or private addresses"
    )
    import_sources_allow_private: bool = Field(
        False,
        description="Allow scheduled import sources at loopback or private addresses "
        "(an ERP on the local network)",
    )
    body_idle_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds a request body may pause between chunks before a 408",
    )
    import_max_upload_bytes: int = Field(
        1 << 30, description="Largest import upload (POST /api/v1/imports) in bytes; 413 above"
    )
    import_xlsx_max_part_bytes: int = Field(
        100 << 20,
        description="Largest unpacked size of an XLSX part read whole (shared strings, styles)",
    )
    import_xlsx_max_total_bytes: int = Field(
        1 << 30, description="Largest unpacked size of an XLSX file, all parts together"
    )
    import_xlsx_max_ratio: float = Field(
        100.0, description="Largest compression ratio of an XLSX part over 1 MiB unpacked"
    )
    import_xlsx_max_shared_strings: int = Field(
        1_000_000, description="Most shared strings (distinct texts) an XLSX file may hold"
    )
    import_heartbeat_grace_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds without a heartbeat after which a starting server marks another "
        "process's queued or running import as interrupted",
    )
    webhook_connect_timeout: float = Field(5.0, description="Seconds to open a connection")
    webhook_timeout: float = Field(15.0, description="Seconds for a whole delivery attempt")
    webhook_batch_size: int = Field(500, description="Deliveries claimed per dispatch round")
    webhook_concurrency: int = Field(
        16, description="Requests in flight per endpoint (keep-alive connections per worker)"
    )
    webhook_lease_seconds: float = Field(
        60.0,
        description="How long a claimed delivery is reserved before another worker may retry it",
    )
    webhook_retry_schedule: list[float] | None = Field(
        None, description="Seconds to wait after each failed attempt; default spans 85 hours"
    )
    webhook_disable_after_days: float = Field(
        5.0, description="Disable an endpoint after it failed every delivery for this long"
    )
    webhook_poll_interval: float = Field(
        0.02, description="Seconds an idle worker waits before looking for new events again"
    )
    webhook_rotation_overlap_hours: float = Field(
        24.0, description="How long the previous secret keeps signing after a rotation"
    )
    webhook_log_retention_days: float = Field(
        30.0, description="Delivery log and delivered deliveries older than this are pruned"
    )
    inbound_log_retention_days: float = Field(
        30.0,
        gt=0,
        description="Audited inbound messages older than this are pruned; accepted ones are "
        "kept at least as long as the longest dedupeDays of any source",
    )

    assets_store: Literal["filesystem", "s3"] = Field(
        "filesystem",
        description="Where asset files and thumbnails are kept: data_dir/assets, or an "
        "S3-compatible bucket (several machines)",
    )
    assets_dir: Path | None = Field(None, description="Filesystem store; default data_dir/assets")
    assets_s3_bucket: str | None = Field(None, description="Bucket of the S3 store")
    assets_s3_prefix: str = Field("", description="Key prefix inside the bucket, e.g. pimhub/")
    assets_s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, Ceph, ...); default: AWS"
    )
    assets_s3_region: str | None = Field(None, description="Region of the bucket")
    assets_max_bytes: int = Field(100 << 20, ge=1, description="Largest asset file in bytes")
    assets_max_pixels: int = Field(
        40_000_000,
        ge=1,
        description="Largest image in pixels (width x height); larger ones are refused "
        "unread (decompression bombs)",
    )
    assets_thumbnail_concurrency: int | None = Field(
        None,
        ge=1,
        description="Thumbnails drawn at once in the process (each decodes a whole image); "
        "default: the CPU count",
    )
    assets_thumbnails: dict[str, dict[str, object]] = Field(
        default_factory=dict,
        description="Thumbnail presets by name, added to the built-in ones, as JSON: "
        '{"banner": {"width": 1200, "height": 400, "fit": "cover", "format": "webp"}}',
    )

    admin_session_idle_hours: float = Field(
        8.0, gt=0, description="An admin UI session ends after this long without a request"
    )
    admin_session_max_days: float = Field(
        7.0, gt=0, description="An admin UI session ends this long after sign-in, used or not"
    )
    admin_secure_cookies: str = Field(
        "auto",
        pattern="^(auto|always|never)$",
        description="Mark the admin session cookie Secure: auto (when the request came over "
        "HTTPS, as the proxy headers say), always or never",
    )
    password_memory_kib: int = Field(
        65536, ge=64, description="argon2id memory cost of a user's password hash, in KiB"
    )
    password_time_cost: int = Field(3, ge=1, description="argon2id passes over that memory")

    # Limits at the edge (api/guard.py, access/rate_limits.py, docs/security.md).
    rate_limit_per_key: str = Field(
        "6000/minute",
        pattern=r"^(off|[1-9][0-9]{0,8}/(second|minute|hour))$",
        description="Requests each API key, OIDC subject or admin user may make (a token "
        "bucket of that size, refilled at that rate); a key's own rate_limit wins; off: none",
    )
    rate_limit_per_address: str = Field(
        "12000/minute",
        pattern=r"^(off|[1-9][0-9]{0,8}/(second|minute|hour))$",
        description="Requests each client address may make, signed in or not; off: none",
    )
    rate_limit_store: Literal["auto", "memory", "database", "redis"] = Field(
        "auto",
        description="Where the buckets live: auto is redis when redis_url is set, the "
        "database on PostgreSQL (shared by every process) and memory on SQLite",
    )
    redis_url: str | None = Field(
        None, description="Redis for shared rate-limit buckets, e.g. redis://127.0.0.1:6379/0"
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For / X-Forwarded-Proto are trusted for the "
        "client address and scheme (comma-separated addresses or CIDRs, * for any)",
    )
    max_body_bytes: int = Field(
        16 << 20,
        ge=1024,
        description="Largest JSON request body in bytes (413 above); imports, assets and "
        "inbound sources have their own limits",
    )
    graphql_max_body_bytes: int = Field(
        1 << 20, ge=1024, description="Largest GraphQL request body in bytes (413 above)"
    )
    hsts_seconds: int = Field(
        0,
        ge=0,
        description="Strict-Transport-Security max-age sent on HTTPS responses (0: not sent); "
        "set it once TLS is in place, e.g. 31536000",
    )

    # API key lifecycle and the audit log (access/service.py, access/audit.py).
    key_rotation_overlap_hours: float = Field(
        24.0,
        ge=0,
        le=366 * 24,  # access/service.MAX_OVERLAP; far more overflows a date (a 500)
        description="How long a rotated key's previous secret stays valid (at most 366 days)",
    )
    key_expiry_warning_days: float = Field(
        14.0, ge=0, description="Warn (list, header, metrics, check) this long before expiry"
    )
    audit_log_retention_days: float = Field(
        365.0, gt=0, description="Audit log entries older than this are pruned by the worker"
    )

    # Enterprise sign-in: OAuth 2.0 / OIDC bearer tokens beside API keys (access/oidc.py).
    oidc_issuer: str | None = Field(
        None, description="Issuer whose JWTs are accepted (the iss claim); unset: OIDC is off"
    )
    oidc_audience: str | None = Field(None, description="Required aud claim of a token")
    oidc_jwks_url: str | None = Field(
        None,
        description="Where the issuer's signing keys are; default: jwks_uri of the issuer's "
        "/.well-known/openid-configuration",
    )
    oidc_algorithms: list[str] = Field(
        ["RS256", "ES256"], description="Signature algorithms accepted (never none or HS*)"
    )
    oidc_leeway_seconds: float = Field(
        60.0, ge=0, le=600, description="Clock skew allowed on exp, nbf and iat"
    )
    oidc_scope_claims: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Hub scopes granted by claim values, as JSON: "
        '{"groups": {"pim-admins": ["admin"], "pim-readers": ["read"]}}',
    )
    oidc_name_claim: str = Field(
        "preferred_username", description="Claim naming the caller in logs and the audit log"
    )
    oidc_jwks_cache_seconds: float = Field(
        300.0, ge=10, le=86400, description="How long the issuer's key set is used before refetch"
    )
    oidc_fetch_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Timeout of one fetch of the discovery document or key set"
    )

    # Several processes (docs/operations.md).
    workers: int = Field(
        1, ge=1, le=64, description="HTTP worker processes of `pimhub serve` (PostgreSQL)"
    )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pimhub.db').resolve()}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
