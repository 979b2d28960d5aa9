"""Connectors as operators manage them (REST and CLI both use this): add, change, show,
remove, status per SKU, dry runs, and building the destination a worker delivers through."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from pimhub.access.audit import Auditor
from pimhub.assets.model import ASSET_CLASS
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import Conflict, FieldError, NotFound, WriteConflict
from pimhub.catalog.retry import WRITE_ATTEMPTS, retrying
from pimhub.catalog.service import CatalogService
from pimhub.connectors.ledger import BulkLedger, LedgerEntry
from pimhub.connectors.magento.bulk import BulkSync, SyncReport
from pimhub.connectors.magento.client import MagentoClient, MagentoCredentials
from pimhub.connectors.magento.config import InvalidConnector, MagentoConfig, parse_config
from pimhub.connectors.magento.destination import MagentoDestination
from pimhub.connectors.magento.pull import PullReport, pull
from pimhub.connectors.magento.push import Pusher, Target
from pimhub.connectors.magento.reconcile import DriftReport, reconcile
from pimhub.connectors.ports import AssetReader, CatalogReader
from pimhub.connectors.records import ConnectorRepository, StoredConnector
from pimhub.connectors.state import ConnectorState, ItemState
from pimhub.events.destinations import blocked_address
from pimhub.events.endpoints import EndpointSpec, WebhookEndpoint
from pimhub.events.ports import Sealer

log = structlog.get_logger("pimhub.connectors")
# What a Magento destination hears about: every change to an object of its class.
OBJECT_EVENTS = (
    "object.created",
    "object.updated",
    "object.deleted",
    "object.published",
    "object.unpublished",
)
ASSET_EVENTS = ("asset.updated",)
CREDENTIAL_KEYS = ("consumerKey", "consumerSecret", "accessToken", "accessTokenSecret")


class ConnectorNotFound(NotFound):
    code = "connector-not-found"
    title = "Connector not found"


class ConnectorExists(Conflict):
    code = "connector-exists"
    title = "Connector exists"


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    connector: StoredConnector
    counts: Mapping[str, int]
    items: list[ItemState]

    def to_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector.name,
            "counts": dict(self.counts),
            "items": [i.to_dict() for i in self.items],
            "next": self.items[-1].sku if self.items else None,
        }


class ConnectorService:
    def __init__(
        self,
        repository: ConnectorRepository,
        state: ConnectorState,
        catalog: CatalogReader,
        sealer: Sealer,
        classes: Callable[[str], ClassDefinition],
        ledger: BulkLedger,
        writer: CatalogService,
        *,
        clock: Callable[[], datetime],
        allow_private: bool = False,
        transport: Any = None,
        languages: Sequence[str] = (),
        assets: AssetReader | None = None,
        audit: Auditor | None = None,
    ) -> None:
        self.audit = audit  # records each change after it committed
        self.languages = tuple(languages)  # the hub's; empty: not checked
        self.assets = assets  # the images a connector sends; None: no media is sent
        self.repository = repository
        self.state = state
        self.catalog = catalog
        self.sealer = sealer
        self.classes = classes
        self.ledger = ledger
        self.writer = writer  # the catalog a pull writes to
        self.clock = clock
        self.allow_private = allow_private
        self.transport = transport  # an httpx transport for tests; None: the network

    # -- settings --------------------------------------------------------------------------

    def check(self, body: Any) -> MagentoConfig:
        """The configuration, checked against the class it syncs; every problem by path."""
        if not isinstance(body, Mapping):
            raise InvalidConnector("the connector configuration must be a mapping")
        class_name = body.get("class", "Product")
        try:
            definition = self.classes(str(class_name))
        except NotFound:
            problem = FieldError("class", f"no class '{class_name}'", "unknown-class")
            raise InvalidConnector("the connector configuration is not valid", [problem]) from None
        config = parse_config(body, definition)
        problems = self._language_problems(config)
        if not self.allow_private and (reason := blocked_address(config.base_url)):
            problems.append(FieldError("baseUrl", f"destination refused: {reason}", "destination"))
        if problems:
            raise InvalidConnector("the connector configuration is not valid", problems)
        return config

    def _language_problems(self, config: MagentoConfig) -> list[FieldError]:
        """Languages the hub does not have would silently send nothing."""
        if not self.languages:
            return []
        known = ", ".join(self.languages)
        problems = []
        if config.default_language not in self.languages:
            message = f"'{config.default_language}' is not one of the hub's languages ({known})"
            problems.append(FieldError("defaultLanguage", message, "option"))
        for language in config.stores:
            if language not in self.languages:
                message = f"'{language}' is not one of the hub's languages ({known})"
                problems.append(FieldError(f"stores.{language}", message, "option"))
        return problems

    def add(self, body: Any, credentials: Any) -> StoredConnector:
        config = self.check(body)
        secret = parse_credentials(credentials, bearer=config.bearer)
        sealed = self.sealer.encrypt(secret.to_json())
        # Two saves of one name at once: the loser runs again and finds the winner's row.
        stored = retrying(
            lambda: self.repository.add(
                config.name, "magento", dict(config.source), _spec(config), sealed, self.clock()
            )
        )
        if stored is None:
            raise ConnectorExists(f"a connector named '{config.name}' exists")
        if self.audit is not None:
            self.audit.record_change("connector", "created", config.name, None, stored)
        return stored

    def update(self, name: str, body: Any, credentials: Any = None) -> StoredConnector:
        """Replaces the settings (the name stays); new credentials when given. Never a
        conflict: a connector removed (and perhaps added again) meanwhile is read again and
        the change applies to the row there now (ConnectorNotFound when none is)."""
        before = self.get(name)  # an unknown name is a 404 before any problem with the body
        if isinstance(body, Mapping):
            body = {**body, "name": name}
        config = self.check(body)
        sealed = None
        if credentials is not None:
            secret = parse_credentials(credentials, bearer=config.bearer)
            sealed = self.sealer.encrypt(secret.to_json())
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                self.get(name)  # gone meanwhile and not added again: 404
            if retrying(
                lambda: self.repository.save(
                    name, dict(config.source), _spec(config), self.clock(), sealed
                )
            ):
                after = self.get(name)
                if self.audit is not None:  # the credentials never, only whether replaced
                    self.audit.record_change(
                        "connector",
                        "updated",
                        name,
                        before,
                        after,
                        credentials_replaced=bool(sealed),
                    )
                return after
        raise WriteConflict(
            f"connector '{name}' was removed and added again while it was being changed; "
            "nothing was saved, try again"
        )

    def get(self, name: str) -> StoredConnector:
        stored = self.repository.get(name)
        if stored is None:
            raise ConnectorNotFound(f"no connector '{name}'")
        return stored

    def all(self) -> list[StoredConnector]:
        return self.repository.all()

    def remove(self, name: str) -> None:
        # A remove that lost a race with a change or an add of the same name runs again.
        before = self.repository.get(name)
        if not retrying(lambda: self.repository.remove(name)):
            raise ConnectorNotFound(f"no connector '{name}'")
        if self.audit is not None:
            self.audit.record_change("connector", "deleted", name, before, None)
        self.state.forget(name)
        self.ledger.forget(name)

    def config(self, name: str) -> MagentoConfig:
        return parse_config(self.get(name).config, None)

    # -- status ----------------------------------------------------------------------------

    def status(
        self, name: str, *, state: str | None = None, after: str | None = None, limit: int = 100
    ) -> ConnectorStatus:
        stored = self.get(name)
        counts = self.state.counts(name)
        items = self.state.page_items(name, state=state, after=after, limit=min(limit, 500))
        return ConnectorStatus(stored, counts, items)

    def item(self, name: str, sku: str) -> ItemState:
        self.get(name)
        found = self.state.items(name, [sku]).get(sku)
        if found is None:
            raise ConnectorNotFound(f"connector '{name}' has not dealt with SKU '{sku}'")
        return found

    # -- pushing ---------------------------------------------------------------------------

    def pusher(self, name: str, credentials: str | None = None, *, guard: bool = True) -> Pusher:
        """A pusher for the connector, with its own client (close it with `pusher.client`).
        The shop's address is checked again here (`guard`), as a webhook's is at delivery
        time: a name that resolved to a public address when saved may not any more. (The
        worker's destinations are checked by the dispatcher before each batch instead.)"""
        stored = self.get(name)
        definition = self.classes(stored.config.get("class", "Product"))
        config = parse_config(stored.config, definition)
        if guard and not self.allow_private and (reason := blocked_address(config.base_url)):
            problem = FieldError("baseUrl", f"destination refused: {reason}", "destination")
            raise InvalidConnector(f"connector '{name}' cannot be used", [problem])
        if credentials is None:
            credentials = self._credentials(name)
        client = MagentoClient(
            config.base_url,
            # The configuration's `auth` decides, not what was stored with the credentials.
            replace(MagentoCredentials.from_json(credentials), bearer=config.bearer),
            timeout=config.timeout,
            rate_limit=config.rate_limit,
            max_connections=config.concurrency,
            transport=self.transport,
        )
        axes = definition.variants.axes if definition.variants else ()
        return Pusher(
            config,
            client,
            self.state,
            self.catalog,
            axes=axes,
            clock=self.clock,
            open_skus=self.ledger.open_skus,
            assets=self.assets,
        )

    def _credentials(self, name: str) -> str:
        sealed = self.repository.sealed_secret(name)
        if sealed is None:
            raise ConnectorNotFound(f"no connector '{name}'")
        return self.sealer.decrypt(sealed)

    async def dry_run(self, name: str, sku: str) -> list[dict[str, Any]]:
        """The requests pushing one product would send now (lookups of ids in Magento are
        made; nothing is written there or here)."""
        pusher = self.pusher(name)
        try:
            config = pusher.config
            found = self.catalog.by_keys(config.class_name, [sku]).get(sku)
            target = Target(sku, found.uuid if found else None, found)
            outcome = (await pusher.push([target], dry_run=True))[0]
        finally:
            await pusher.client.aclose()
            pusher.close_db()
        if outcome.error:
            raise InvalidConnector(f"the dry run stopped: {outcome.error}")
        return [
            {"method": m, "store": s, "path": p, "body": body} for m, s, p, body in outcome.requests
        ]

    async def push_skus(self, name: str, skus: list[str]) -> list[Any]:
        """Pushes the given SKUs now, outside the queue (the CLI's `connectors push`)."""
        pusher = self.pusher(name)
        try:
            found = self.catalog.by_keys(pusher.config.class_name, skus)
            targets = [Target(s, found[s].uuid if s in found else None, found.get(s)) for s in skus]
            return await pusher.push(targets)
        finally:
            await pusher.client.aclose()
            pusher.close_db()

    async def full_sync(
        self,
        name: str,
        *,
        force: bool = False,
        poll_interval: float = 1.0,
        progress: Callable[[str, int], None] | None = None,
    ) -> SyncReport:
        """Every wanted product through Magento's async bulk API, waiting for Magento to
        process it; safe to run again after a crash (the ledger skips what is open or done)."""
        pusher = self.pusher(name)
        try:
            sync = BulkSync(pusher, self.ledger, poll_interval=poll_interval, progress=progress)
            return await sync.full(force=force)
        finally:
            await pusher.client.aclose()
            pusher.close_db()

    async def poll_bulks(self, name: str, *, wait: bool = False) -> int:
        """Checks the connector's open bulk operations once (or until none is open); returns
        how many are still open."""
        pusher = self.pusher(name)
        try:
            sync = BulkSync(pusher, self.ledger)
            if wait:
                await sync.wait()
            return await sync.poll()
        finally:
            await pusher.client.aclose()
            pusher.close_db()

    async def reconcile(
        self, name: str, *, fix: bool = False, skus: Sequence[str] | None = None
    ) -> DriftReport:
        """Drift per SKU between the hub and Magento (missing, extra, different owned
        values); with `fix`, the hub's state is pushed again."""
        pusher = self.pusher(name)
        try:
            return await reconcile(pusher, fix=fix, skus=skus)
        finally:
            await pusher.client.aclose()
            pusher.close_db()

    async def pull(self, name: str, *, full: bool = False, page_size: int = 200) -> PullReport:
        """Magento's catalog into the hub, from the last checkpoint (or all of it)."""
        pusher = self.pusher(name)
        try:
            return await pull(pusher, self.writer, full=full, page_size=page_size)
        finally:
            await pusher.client.aclose()
            pusher.close_db()

    def ledger_page(
        self, name: str, *, status: str | None = None, after: int | None = None, limit: int = 100
    ) -> tuple[dict[str, int], list[LedgerEntry]]:
        """Counts of the connector's bulk operations by status, and a page of them."""
        self.get(name)
        page = self.ledger.page(name, status=status, after=after, limit=min(limit, 500))
        return self.ledger.counts(name), page

    def destination(self, endpoint: WebhookEndpoint, secret: str) -> MagentoDestination | None:
        """The pipeline destination of a connector's row (the dispatcher's factory)."""
        stored = self.repository.by_endpoint(endpoint.id)
        if stored is None:
            log.error("connector.missing", endpoint=endpoint.endpoint_id)
            return None
        pusher = self.pusher(stored.name, secret, guard=False)
        return MagentoDestination(pusher, pusher.client, self.clock, self.ledger)


def parse_credentials(value: Any, *, bearer: bool) -> MagentoCredentials:
    """The four integration credentials (camelCase keys), each printable text."""
    if not isinstance(value, Mapping):
        message = "must be an object with " + ", ".join(CREDENTIAL_KEYS)
        raise InvalidConnector(
            f"credentials {message}", [FieldError("credentials", message, "type")]
        )
    errors = [
        FieldError(f"credentials.{key}", "unknown credential", "unknown-field")
        for key in sorted(set(map(str, value)) - set(CREDENTIAL_KEYS))
    ]
    for key in CREDENTIAL_KEYS:
        problem = _credential_problem(value.get(key))
        if problem is not None:
            code = "required" if value.get(key) in (None, "") else "format"
            errors.append(FieldError(f"credentials.{key}", problem, code))
    if errors:
        raise InvalidConnector("the credentials are not valid", errors)
    return MagentoCredentials(
        consumer_key=value["consumerKey"],
        consumer_secret=value["consumerSecret"],
        access_token=value["accessToken"],
        access_token_secret=value["accessTokenSecret"],
        bearer=bearer,
    )


def _credential_problem(value: Any) -> str | None:
    if value is None or value == "":
        return "is required"
    if not isinstance(value, str):
        return "must be text"
    if len(value) > 512:
        return "is longer than 512 characters"
    if any(ord(c) < 33 or ord(c) == 127 for c in value):
        return "must not contain spaces or control characters"
    return None


def _spec(config: MagentoConfig) -> EndpointSpec:
    # With images mapped, a changed asset (new bytes, new alt text) pushes its products.
    media = bool(config.media)
    return EndpointSpec(
        url=config.base_url,
        description=f"Magento connector {config.name}",
        event_types=OBJECT_EVENTS + (ASSET_EVENTS if media else ()),
        classes=(config.class_name, *((ASSET_CLASS,) if media else ())),
    )
