"""The dashboard on both backends: what each role sees, numbers equal to what the services
report, and alerts for an old outbox backlog, failing or disabled endpoints and failed
imports."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from pimhub.bootstrap import Hub, dispatcher_config
from pimhub.catalog.clock import utc_now
from pimhub.events.dispatcher import Dispatcher
from pimhub.events.http1 import Http1Sender
from pimhub.transfer.job_records import JobStatus
from pimhub.transfer.jobs import JobRequest, SourceUnavailable
from tests.admin.conftest import AdminClient

MAPPING = """class: Product
fields:
  sku: sku
  name.en: name
"""


def _cells(html: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row {row_id}"
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]


def _alerts(html: str) -> str:
    found = re.search(r'<section class="alert[^"]*" role="alert".*?</section>', html, re.S)
    return found[0] if found else ""


@pytest.mark.parametrize("role", ["admin", "manager", "integrator", "viewer"])
def test_every_role_sees_object_counts_equal_to_the_catalog(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    page = signed_in(role).get("/admin/")
    assert page.status_code == 200
    counts = users_hub.catalog.object_counts()
    assert (counts["Product"].published, counts["Product"].drafts) == (1, 1)
    for name in ("Product", "Brand", "Category"):
        published, drafts, total = _cells(page.text, f"count-{name}")[1:]
        assert (int(published), int(drafts), int(total)) == (
            counts[name].published,
            counts[name].drafts,
            counts[name].total,
        )


def test_each_part_shows_only_to_the_roles_that_may_see_it(
    signed_in: Callable[[str], AdminClient],
) -> None:
    seen = {
        role: signed_in(role).get("/admin/").text
        for role in ("admin", "manager", "integrator", "viewer")
    }
    assert "Outbox backlog" in seen["admin"] and "Outbox backlog" in seen["integrator"]
    assert "Outbox backlog" not in seen["manager"] and "Outbox backlog" not in seen["viewer"]
    assert "Recent imports" in seen["manager"] and "Recent imports" in seen["integrator"]
    assert "Recent imports" not in seen["viewer"]
    assert "API keys" in seen["admin"] and 'href="/admin/keys"' not in seen["integrator"]


def test_the_backlog_equals_the_outbox_and_an_old_one_raises_an_alert(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    fresh = client.get("/admin/").text
    backlog = users_hub.webhooks.backlog()
    # The sample catalog's own events: written just now, nothing dispatches them in tests.
    with users_hub.engine.connect() as conn:
        waiting = conn.execute(
            text("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL")
        ).scalar_one()
    assert waiting >= 5 and backlog.undispatched_events == waiting
    assert backlog.open_deliveries == 0
    total = re.search(r'id="backlog-total">([\d,]+)<', fresh)
    assert total and int(total[1].replace(",", "")) == waiting
    assert "waited" not in _alerts(fresh)

    users_hub.catalog.clock = lambda: utc_now() - timedelta(minutes=12)
    users_hub.catalog.create("Brand", {"code": "old", "name": "Old"}, author="test")
    page = client.get("/admin/").text
    alert = _alerts(page)
    assert f"The oldest undelivered event has waited 12 min ({waiting + 1} waiting)" in alert
    assert re.search(r'id="backlog-age">Oldest pending:\s*<strong>12 min</strong>', page)


def test_a_failed_import_shows_failed_with_its_error_and_raises_an_alert(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], tmp_path: Path
) -> None:
    users_hub.imports.folder = tmp_path / "imports"

    def broken_disk(path: Path) -> None:
        raise OSError("no space left on device")

    with pytest.raises(SourceUnavailable) as failed:
        users_hub.imports.run_now(JobRequest(None, MAPPING), "products.csv", broken_disk, "bob")
    job = users_hub.imports.get(failed.value.job.id)
    assert job.status == JobStatus.FAILED and job.error
    page = signed_in("manager").get("/admin/").text
    row = re.search(rf'<a href="/admin/imports/{job.id}">products.csv</a>.*?</tr>', page, re.S)
    assert row and '<span class="badge bad">failed</span>' in row[0]
    assert job.error in row[0].replace("&#39;", "'")
    alert = _alerts(page)
    assert "1 import(s) did not complete in the last day" in alert
    assert f'href="/admin/imports/{job.id}"' in alert
    # Imports are shown by write access, as the REST list: a viewer sees none.
    assert job.id not in signed_in("viewer").get("/admin/").text


def test_disabled_and_failing_endpoints_are_listed_with_links_and_alerts(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    users_hub.webhooks.allow_private = True
    off = users_hub.webhooks.create({"url": "http://127.0.0.1:9/off"}).endpoint.endpoint_id
    users_hub.webhooks.set_enabled(off, False)
    # Nothing listens on port 9: one dispatch round makes the endpoint fail.
    failing = users_hub.webhooks.create({"url": "http://127.0.0.1:9/down"}).endpoint.endpoint_id
    # An endpoint gets the events written after it was made.
    users_hub.catalog.create("Brand", {"code": "new", "name": "New"}, author="test")
    _dispatch_once(users_hub)
    assert users_hub.webhooks.get(failing).consecutive_failures >= 1

    page = signed_in("integrator").get("/admin/").text
    alert = _alerts(page)
    assert "http://127.0.0.1:9/off is disabled" in alert
    assert re.search(r"http://127.0.0.1:9/down is (failing|paused)", alert)
    for endpoint_id in (off, failing):
        assert f'href="/admin/webhooks/{endpoint_id}"' in page
        assert f'href="/admin/deliveries?endpoint={endpoint_id}"' in page
    backlog = users_hub.webhooks.backlog()
    assert backlog.open_deliveries > 0
    total = re.search(r'id="backlog-total">([\d,]+)<', page)
    assert total and int(total[1].replace(",", "")) == (
        backlog.undispatched_events + backlog.open_deliveries
    )
    assert "http://127.0.0.1:9/off" not in signed_in("manager").get("/admin/").text


def _dispatch_once(hub: Hub) -> None:
    async def main() -> None:
        sender = Http1Sender(connect_timeout=2, total_timeout=5)
        service = hub.webhooks
        dispatcher = Dispatcher(
            service.endpoints,
            service.queue,
            service.sealer,
            sender,
            dispatcher_config(hub.settings),
            clock=service.clock,
        )
        try:
            for _ in range(5):
                if not await dispatcher.run_once():
                    break
        finally:
            await sender.close()

    asyncio.run(main())
