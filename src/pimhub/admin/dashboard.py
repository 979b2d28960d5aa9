"""The dashboard: objects per class, the outbox backlog, webhook endpoints in trouble, recent
imports with their true statuses, and alerts for what needs someone now.

Each part shows only to who may see it through the API: object counts per class the user
reads, the backlog and endpoints to integrators (and admins), imports of the classes the user
may write. Every number comes from a grouped read of a service (no object is loaded), so the
page stays fast at 100,000 products.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action, ApiKey
from pimhub.admin.durations import ago, span, stamp
from pimhub.admin.import_status import import_status
from pimhub.admin.web import blocking, hub_of, principal_of, render, url
from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.catalog.ports import ObjectCounts
from pimhub.events.deliveries import Backlog, DeliveryStatus, EndpointStats
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.transfer.job_records import ImportJob, JobStatus

# Events waiting longer than this mean the worker is down or an endpoint holds them up.
BACKLOG_ALERT_AFTER = timedelta(minutes=5)
FAILED_IMPORTS_WINDOW = timedelta(days=1)
RECENT_IMPORTS = 10
IMPORTS_SCANNED = 100  # the recent jobs looked through for failures in the window
KEYS_EXPIRING_WITHIN = timedelta(days=7)
# A job that ended in any of these did not do what was asked.
FAILED_IMPORT = frozenset({JobStatus.FAILED, JobStatus.ABORTED, JobStatus.INTERRUPTED})


@dataclass(frozen=True, slots=True)
class Alert:
    message: str
    link: str
    link_text: str


@dataclass(frozen=True, slots=True)
class ClassCount:
    name: str
    counts: ObjectCounts
    drafts_visible: bool


@dataclass(frozen=True, slots=True)
class EndpointTrouble:
    endpoint_id: str
    url: str
    state: str  # disabled | paused | failing
    detail: str
    open_deliveries: int
    dead: int


@dataclass
class Dashboard:
    now: datetime
    classes: list[ClassCount] | None = None  # None: the user reads no class
    backlog: Backlog | None = None  # None: not the user's to see
    endpoints_total: int = 0
    endpoints: list[EndpointTrouble] | None = None
    imports: list[ImportJob] | None = None
    keys: tuple[int, int] | None = None  # admin: active keys, of them expiring soon
    alerts: list[Alert] = field(default_factory=list)


def gather(hub: Hub, key: ApiKey, now: datetime) -> Dashboard:
    board = Dashboard(now=now)
    readable = [c.name for c in hub.classes.all() if key.allows(Action.READ, c.name)]
    if readable:
        counts = hub.catalog.object_counts()
        board.classes = [
            ClassCount(n, counts.get(n, ObjectCounts(0, 0)), key.allows(Action.READ_DRAFTS, n))
            for n in readable
        ]
    if key.allows(Action.INTEGRATE):
        _outbox(hub, board)
    if key.allows(Action.WRITE) or any(s.startswith("write:") for s in key.scopes):
        _imports(hub, key, board)
    if key.allows(Action.ADMIN):
        active = [k for k in hub.access.all() if k.is_active(now)]
        soon = [k for k in active if k.expires_at and k.expires_at - now < KEYS_EXPIRING_WITHIN]
        board.keys = (len(active), len(soon))
    return board


def _outbox(hub: Hub, board: Dashboard) -> None:
    board.backlog = backlog = hub.webhooks.backlog()
    oldest = backlog.oldest_pending_at
    if oldest is not None and board.now - oldest > BACKLOG_ALERT_AFTER:
        waiting = backlog.undispatched_events + backlog.open_deliveries
        board.alerts.append(
            Alert(
                f"The oldest undelivered event has waited {span(board.now - oldest)} "
                f"({waiting:,} waiting): is the worker running, or is an endpoint failing?",
                url("/deliveries?status=pending"),
                "Pending deliveries",
            )
        )
    endpoints = hub.webhooks.all()
    board.endpoints_total = len(endpoints)
    stats = {s.endpoint_id: s for s in hub.webhooks.stats()}
    board.endpoints = [
        t for e in endpoints if (t := _trouble(e, stats.get(e.endpoint_id), board.now))
    ]
    for t in board.endpoints:
        board.alerts.append(
            Alert(
                f"Webhook endpoint {t.url} is {t.state}: {t.detail}",
                url(f"/webhooks/{t.endpoint_id}"),
                "Open the endpoint",
            )
        )


def _trouble(
    endpoint: WebhookEndpoint, stats: EndpointStats | None, now: datetime
) -> EndpointTrouble | None:
    if not endpoint.spec.enabled:
        state, detail = "disabled", endpoint.disabled_reason or "disabled by an operator"
    elif endpoint.paused_until is not None and endpoint.paused_until > now:
        state = "paused"
        detail = (
            f"{endpoint.consecutive_failures} failures in a row; "
            f"retries resume {ago(endpoint.paused_until, now)}"
        )
    elif endpoint.consecutive_failures > 0:
        since = f" since {stamp(endpoint.failing_since)}" if endpoint.failing_since else ""
        state, detail = "failing", f"{endpoint.consecutive_failures} failures in a row{since}"
    else:
        return None
    counts = stats.counts if stats else {}
    open_ = counts.get(DeliveryStatus.PENDING.value, 0) + counts.get(
        DeliveryStatus.DELIVERING.value, 0
    )
    dead = counts.get(DeliveryStatus.DEAD.value, 0)
    return EndpointTrouble(endpoint.endpoint_id, endpoint.spec.url, state, detail, open_, dead)


def _imports(hub: Hub, key: ApiKey, board: Dashboard) -> None:
    jobs = [
        j for j in hub.imports.recent(IMPORTS_SCANNED) if key.allows(Action.WRITE, j.class_name)
    ]
    board.imports = jobs[:RECENT_IMPORTS]
    since = board.now - FAILED_IMPORTS_WINDOW
    failed = [
        j for j in jobs if j.status in FAILED_IMPORT and (j.finished_at or j.created_at) >= since
    ]
    if failed:
        latest = failed[0]
        status = import_status(latest)
        board.alerts.append(
            Alert(
                f"{len(failed)} import(s) did not complete in the last day; the latest, "
                f"{latest.file_name} into {latest.class_name}: {status.label}. "
                f"{latest.error or status.explanation}",
                url(f"/imports/{latest.id}"),
                "Open the import",
            )
        )


async def dashboard(request: Request) -> Response:
    board = await blocking(gather, hub_of(request), principal_of(request), utc_now())
    return render(
        request,
        "dashboard.html",
        {
            "board": board,
            "ago": ago,
            "span": span,
            "stamp": stamp,
            "import_status": import_status,
            "quote": lambda v: quote(v, safe=""),
        },
    )


routes: list[BaseRoute] = [Route("/", dashboard, methods=["GET"])]
