"""The one place that builds engines and services from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from pimhub.access.audit import Auditor
from pimhub.access.rate_limits import (
    MemoryRateLimitStore,
    RateLimiter,
    RateLimitStore,
    parse_rate,
)
from pimhub.access.service import AccessService
from pimhub.assets.filesystem import FilesystemBlobStore
from pimhub.assets.ports import BlobStore
from pimhub.assets.service import AssetLimits, AssetService
from pimhub.brokers.service import BrokerService
from pimhub.catalog.class_service import ClassService
from pimhub.catalog.clock import utc_now
from pimhub.catalog.service import CatalogService
from pimhub.connectors.service import ConnectorService
from pimhub.datahub.service import DatahubService
from pimhub.events.dispatcher import Dispatcher, DispatcherConfig
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.http1 import Http1Sender
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.events.ports import Destination, DestinationFactory, WebhookSender
from pimhub.events.secret_box import SecretBox, key_file_passphrase
from pimhub.events.service import WebhookService
from pimhub.events.worker import Worker
from pimhub.inbound.feeds import FeedService
from pimhub.inbound.service import InboundService
from pimhub.inbound.sources import FEED_KIND
from pimhub.search.backends import search_index
from pimhub.search.service import SimpleSearch
from pimhub.search.sql_index import IndexLanguages, SqlSearchIndex
from pimhub.settings import Settings
from pimhub.storage.api_keys import SqlApiKeyRepository
from pimhub.storage.audit_log import SqlAuditLog
from pimhub.storage.brokers import SqlBrokerRepository
from pimhub.storage.connector_catalog import SqlCatalogReader
from pimhub.storage.connector_ledger import SqlBulkLedger
from pimhub.storage.connector_state import SqlConnectorState
from pimhub.storage.connectors import SqlConnectorRepository
from pimhub.storage.datahub_configs import SqlDatahubConfigRepository
from pimhub.storage.engine import build_engine
from pimhub.storage.graph_reads import SqlGraphReads
from pimhub.storage.import_jobs import SqlImportJobStore
from pimhub.storage.import_profiles import SqlProfileStore
from pimhub.storage.inbound import SqlInbox, SqlSourceRepository
from pimhub.storage.inbound_refusals import SqlRefusalStore
from pimhub.storage.point_reads import SqlObjectPointReads
from pimhub.storage.saved_views import SqlSavedViewRepository
from pimhub.storage.unit_of_work import SqlUnitOfWorkFactory
from pimhub.storage.users import SqlSessionRepository, SqlUserRepository
from pimhub.storage.webhook_endpoints import SqlEndpointRepository
from pimhub.storage.webhook_queue import SqlDeliveryQueue
from pimhub.transfer.asset_fetch import AssetFetchPolicy
from pimhub.transfer.jobs import ImportJobs
from pimhub.transfer.profiles import ImportProfiles
from pimhub.transfer.sources import SourceLimits
from pimhub.users.passwords import Argon2Passwords
from pimhub.users.service import UserService
from pimhub.users.views import SavedViews

if TYPE_CHECKING:
    from pimhub.access.oidc import OidcVerifier


@dataclass
class Hub:
    """Everything a hub process needs, wired once."""

    settings: Settings
    engine: Engine
    catalog: CatalogService
    classes: ClassService
    access: AccessService
    webhooks: WebhookService
    units_of_work: SqlUnitOfWorkFactory
    datahub: DatahubService
    graph_reads: SqlGraphReads
    search: SqlSearchIndex
    simple_search: SimpleSearch
    imports: ImportJobs
    import_profiles: ImportProfiles
    connectors: ConnectorService
    assets: AssetService
    users: UserService
    saved_views: SavedViews
    inbound: InboundService
    feeds: FeedService
    brokers: BrokerService
    audit: Auditor
    limiter: RateLimiter

    def close(self) -> None:
        self.engine.dispose()

    def ping_sender(self) -> Http1Sender:
        """A one-off sender with the configured timeouts, for `webhooks ping`."""
        return Http1Sender(
            connect_timeout=self.settings.webhook_connect_timeout,
            total_timeout=self.settings.webhook_timeout,
            per_host=1,
        )


def bootstrap(
    settings: Settings | None = None, engine: Engine | None = None, *, oidc_prefetch: bool = False
) -> Hub:
    """The hub, built from `settings`. `oidc_prefetch` fetches the OIDC issuer's keys at once
    in the background: for `serve` and `worker`; other commands fetch them when they need them."""
    settings = settings or Settings()
    engine = engine or build_engine(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
    )
    index = search_index(
        engine, IndexLanguages(tuple(settings.languages), settings.default_language)
    )
    uow = SqlUnitOfWorkFactory(engine, index.writer)
    audit = Auditor(SqlAuditLog(engine), utc_now)
    classes = ClassService(uow, audit=audit)
    datahub = DatahubService(SqlDatahubConfigRepository(engine), classes.all, utc_now, audit=audit)
    classes.dependents.append(datahub.class_change_problems)
    graph_reads = SqlGraphReads(engine)
    catalog = CatalogService(
        uow,
        SqlObjectPointReads(engine),
        languages=frozenset(settings.languages) or None,
        default_language=settings.default_language,
    )
    assets = AssetService(
        uow,
        blob_store(settings),
        limits=AssetLimits(
            max_bytes=settings.assets_max_bytes, max_pixels=settings.assets_max_pixels
        ),
        languages=frozenset(settings.languages) or None,
        writer=catalog.writer,
    )
    sealer = SecretBox(settings.secret_key or (lambda: key_file_passphrase(settings.data_dir)))
    tokens = oidc_verifier(settings, prefetch=oidc_prefetch)
    access = AccessService(SqlApiKeyRepository(engine), tokens=tokens, audit=audit)
    sources = SqlSourceRepository(engine)
    imports = ImportJobs(
        SqlImportJobStore(engine),
        catalog,
        settings.data_dir / "imports",
        clock=utc_now,
        language=settings.default_language,
        limits=source_limits(settings),
        assets=assets,
        asset_policy=AssetFetchPolicy(
            max_bytes=settings.assets_max_bytes,
            allow_private=settings.import_sources_allow_private,
        ),
        heartbeat_grace=settings.import_heartbeat_grace_seconds,
    )
    return Hub(
        settings=settings,
        engine=engine,
        catalog=catalog,
        classes=classes,
        access=access,
        webhooks=WebhookService(
            SqlEndpointRepository(engine),
            SqlDeliveryQueue(engine),
            sealer,
            allow_private=settings.webhooks_allow_private,
            rotation_overlap=timedelta(hours=settings.webhook_rotation_overlap_hours),
            audit=audit,
        ),
        units_of_work=uow,
        datahub=datahub,
        graph_reads=graph_reads,
        search=index,
        simple_search=SimpleSearch(
            datahub,
            classes.all,
            index,
            graph_reads,
            languages=settings.languages,
            default_language=settings.default_language,
        ),
        imports=imports,
        import_profiles=ImportProfiles(
            SqlProfileStore(engine),
            imports,
            clock=utc_now,
            allow_private=settings.import_sources_allow_private,
        ),
        connectors=ConnectorService(
            SqlConnectorRepository(engine),
            SqlConnectorState(engine),
            SqlCatalogReader(engine),
            sealer,
            classes.get,
            SqlBulkLedger(engine),
            catalog,
            clock=utc_now,
            allow_private=settings.webhooks_allow_private,
            languages=settings.languages,
            assets=assets,  # the images the Magento connector sends
            audit=audit,
        ),
        assets=assets,
        users=UserService(
            SqlUserRepository(engine),
            SqlSessionRepository(engine),
            Argon2Passwords(
                time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
            ),
            idle=timedelta(hours=settings.admin_session_idle_hours),
            absolute=timedelta(days=settings.admin_session_max_days),
            audit=audit,
        ),
        saved_views=SavedViews(SqlSavedViewRepository(engine)),
        inbound=InboundService(
            sources,
            SqlInbox(engine),
            sealer,
            access.authenticate,
            clock=utc_now,
            rotation_overlap=timedelta(hours=settings.webhook_rotation_overlap_hours),
            committed=uow.committed,  # an in-process dispatcher delivers at once
            audit=audit,
        ),
        feeds=FeedService(sources, SqlRefusalStore(engine), catalog, clock=utc_now),
        brokers=BrokerService(
            SqlBrokerRepository(engine),
            sealer,
            clock=utc_now,
            allow_private=settings.webhooks_allow_private,
            audit=audit,
        ),
        audit=audit,
        limiter=rate_limiter(settings, engine),
    )


class InvalidSetting(ValueError):
    """A setting pydantic accepted but the hub refuses when it builds what the setting
    configures; the CLI prints it as one line with exit status 2 (cli/main.py)."""


def oidc_verifier(settings: Settings, *, prefetch: bool = False) -> OidcVerifier | None:
    """The OIDC bearer-token check when an issuer is configured (access/oidc.py). With
    `prefetch`, the issuer's keys are fetched at once on a background thread, so the first
    token a server sees need not wait for them."""
    if not settings.oidc_issuer:
        return None
    # Imported here: PyJWT and cryptography load only where OIDC is configured.
    from pimhub.access.jwks import JwksCache
    from pimhub.access.oidc import OidcConfig, OidcVerifier, require_audience
    from pimhub.api.jwks_fetch import http_fetch

    try:
        require_audience(settings.oidc_audience, settings.profile)
        keys = JwksCache(
            issuer=settings.oidc_issuer,
            jwks_url=settings.oidc_jwks_url,
            ttl=settings.oidc_jwks_cache_seconds,
            timeout=settings.oidc_fetch_timeout_seconds,
            fetch=http_fetch,
        )
        config = OidcConfig(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            algorithms=tuple(settings.oidc_algorithms),
            leeway_seconds=settings.oidc_leeway_seconds,
            scope_claims=settings.oidc_scope_claims,
            name_claim=settings.oidc_name_claim,
        )
    except ValueError as exc:
        raise InvalidSetting(str(exc)) from None
    if prefetch:
        keys.refresh_in_background()
    return OidcVerifier(config, keys)


def blob_store(settings: Settings) -> BlobStore:
    """Where asset files and thumbnails live: data_dir/assets (or assets_dir) by default, an
    S3-compatible bucket when several machines serve the hub. Nothing is created until the
    first file is stored."""
    if settings.assets_store == "s3":
        # Imported here: boto3 takes a while to load and only S3 deployments need it.
        from pimhub.assets.s3 import S3BlobStore

        if not settings.assets_s3_bucket:
            raise ValueError("PIMHUB_ASSETS_S3_BUCKET is required when assets_store is s3")
        return S3BlobStore(
            settings.assets_s3_bucket,
            prefix=settings.assets_s3_prefix,
            endpoint_url=settings.assets_s3_endpoint_url,
            region=settings.assets_s3_region,
        )
    return FilesystemBlobStore(settings.assets_dir or settings.data_dir / "assets")


def source_limits(settings: Settings) -> SourceLimits:
    return SourceLimits(
        xlsx_max_part_bytes=settings.import_xlsx_max_part_bytes,
        xlsx_max_total_bytes=settings.import_xlsx_max_total_bytes,
        xlsx_max_ratio=settings.import_xlsx_max_ratio,
        xlsx_max_shared_strings=settings.import_xlsx_max_shared_strings,
    )


def dispatcher_config(settings: Settings) -> DispatcherConfig:
    schedule = settings.webhook_retry_schedule
    retry = (
        RetryPolicy(schedule=tuple(timedelta(seconds=s) for s in schedule))
        if schedule is not None
        else RetryPolicy()
    )
    return DispatcherConfig(
        batch_size=settings.webhook_batch_size,
        per_endpoint=settings.webhook_concurrency,
        idle_wait=settings.webhook_poll_interval,
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        # Capped at half the lease so a short lease (tests, impatient setups) still sends.
        attempt_budget=timedelta(
            seconds=min(
                settings.webhook_connect_timeout + settings.webhook_timeout,
                settings.webhook_lease_seconds / 2,
            )
        ),
        allow_private=settings.webhooks_allow_private,
        retry=retry,
        circuit=CircuitPolicy(disable_after=timedelta(days=settings.webhook_disable_after_days)),
    )


def build_dispatcher(hub: Hub, sender: WebhookSender | None = None) -> Dispatcher:
    """The webhook dispatcher on the hub's database; the HTTP/1.1 sender unless one is given."""
    settings = hub.settings
    service = hub.webhooks
    dispatcher = Dispatcher(
        service.endpoints,
        service.queue,
        service.sealer,
        sender
        or Http1Sender(
            connect_timeout=settings.webhook_connect_timeout,
            total_timeout=settings.webhook_timeout,
            per_host=settings.webhook_concurrency,
        ),
        dispatcher_config(settings),
        destinations=destination_factory(hub),
    )
    hub.units_of_work.committed.append(dispatcher.notify)
    return dispatcher


def destination_factory(hub: Hub) -> DestinationFactory:
    """Builds the destination of a non-webhook pipeline row by its kind: a Magento connector,
    a RabbitMQ broker, or an inbound source's catalog feed."""
    by_kind: dict[str, DestinationFactory] = {
        "magento": hub.connectors.destination,
        "rabbitmq": hub.brokers.destination,
        FEED_KIND: hub.feeds.destination,
    }

    def build(endpoint: WebhookEndpoint, secret: str) -> Destination | None:
        factory = by_kind.get(endpoint.kind)
        if factory is None:
            raise ValueError(f"this hub has no '{endpoint.kind}' destinations")
        return factory(endpoint, secret)

    return build


def build_worker(hub: Hub, sender: WebhookSender | None = None) -> Worker:
    return Worker(
        build_dispatcher(hub, sender),
        hub.webhooks,
        retention=timedelta(days=hub.settings.webhook_log_retention_days),
        scheduled_imports=hub.import_profiles.run_due,
        inbound=hub.inbound,
        inbound_retention=timedelta(days=hub.settings.inbound_log_retention_days),
        feeds=hub.feeds,
        audit=hub.audit,
        audit_retention=timedelta(days=hub.settings.audit_log_retention_days),
    )


def rate_limiter(settings: Settings, engine: Engine) -> RateLimiter:
    """The per-address and per-principal limits on the configured store (auto: Redis when
    redis_url is set, the database on PostgreSQL, memory on SQLite). A store that fails lets
    requests through and logs a warning (api/guard.py, docs/security.md)."""
    import structlog

    log = structlog.get_logger("pimhub.rate_limits")
    kind = settings.rate_limit_store
    if kind == "auto":
        if settings.redis_url:
            kind = "redis"
        else:
            kind = "database" if engine.dialect.name == "postgresql" else "memory"
    store: RateLimitStore
    if kind == "redis":
        if not settings.redis_url:
            raise ValueError("PIMHUB_REDIS_URL is required when rate_limit_store is redis")
        from pimhub.storage.redis_rate_limits import RedisRateLimitStore

        store = RedisRateLimitStore.from_url(settings.redis_url)
    elif kind == "database":
        from pimhub.storage.rate_limit_store import SqlRateLimitStore

        store = SqlRateLimitStore(engine)
    else:
        store = MemoryRateLimitStore()

    def failed(exc: Exception) -> None:
        log.warning("rate_limits.store_failed", store=kind, error=repr(exc), letting_through=True)

    return RateLimiter(
        store,
        per_address=parse_rate(settings.rate_limit_per_address, "rate_limit_per_address"),
        per_principal=parse_rate(settings.rate_limit_per_key, "rate_limit_per_key"),
        on_failure=failed,
    )
