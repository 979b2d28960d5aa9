"""`pimhub inbound refusals` pages with --after and filters by --message, `messages` says
how to see the next page, and `show` counts the message's refused items."""

from __future__ import annotations

from dataclasses import replace

import orjson
from typer.testing import CliRunner

from pimhub.inbound.messages import Receipt
from pimhub.storage.inbound_refusals import SqlRefusalStore
from tests.api.test_inbound_rest import send, stock
from tests.cli.test_cli import init, invoke
from tests.cli.test_sources_cli import hub_of, settings_env  # noqa: F401
from tests.inbound.test_refusals_storage import refusal


def test_refusals_page_and_filter_by_message(runner: CliRunner, db_url: str) -> None:
    init(runner)
    hub = hub_of(db_url)
    store = SqlRefusalStore(hub.engine)
    store.record([replace(refusal("evt_a", n), message=7) for n in range(3)])
    store.record([replace(refusal("evt_b", 0), message=8)])
    ids = [r.id for r in store.page(None, open_only=True, limit=10, after_id=None)]

    code, out, err = invoke(runner, "inbound", "refusals", "--limit", "2")
    assert code == 0, err
    assert f"more exist: pimhub inbound refusals --limit 2 --after {ids[1]}" in out
    code, out, err = invoke(runner, "inbound", "refusals", "--limit", "2", "--after", str(ids[1]))
    assert code == 0, err
    assert "more exist" in out  # a full page again
    code, out, err = invoke(
        runner, "inbound", "refusals", "--limit", "2", "--after", str(ids[3]), "--json"
    )
    assert orjson.loads(out) == []

    code, out, err = invoke(runner, "inbound", "refusals", "--message", "8", "--json")
    assert code == 0, err
    assert [r["id"] for r in orjson.loads(out)] == [ids[3]]
    code, out, _ = invoke(runner, "inbound", "refusals", "--message", "7", "--limit", "2", "--all")
    assert "more exist: pimhub inbound refusals --message 7 --limit 2 --all --after" in out


def test_messages_say_how_to_see_more_and_show_counts_refused_items(
    runner: CliRunner, db_url: str
) -> None:
    init(runner)
    hub = hub_of(db_url)
    _, secret = hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    assert secret is not None
    receipts = [send(hub, secret, f"m-{n}", stock(f"T-{n}", n)) for n in range(3)]
    assert all(isinstance(r, Receipt) for r in receipts)
    code, out, err = invoke(runner, "inbound", "messages", "--source", "erp", "--limit", "2")
    assert code == 0, err
    newest = max(r.message for r in receipts if isinstance(r, Receipt))
    assert (
        f"more exist: pimhub inbound messages --source erp --limit 2 --before {newest - 1}" in out
    )

    first = receipts[0]
    assert isinstance(first, Receipt)
    SqlRefusalStore(hub.engine).record(
        [replace(refusal("evt_z", n), message=first.message) for n in range(2)]
    )
    code, out, err = invoke(runner, "inbound", "show", str(first.message))
    assert code == 0, err
    assert orjson.loads(out)["refusedItems"] == {
        "count": 2,
        "open": 2,
        "command": f"pimhub inbound refusals --message {first.message} --all",
    }
