"""/admin/inbound: sources created and edited as YAML (checked without saving, the secret
shown once, a resent form making nothing twice, a stale edit refused with the text kept),
enabled and disabled, rotated and deleted; the audit with its filters, paging and a message's
body and fate; refused feed items replayed one at a time or all of a source after a
confirmation. Integrators and admins only; hostile input is a 4xx page. Both backends."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from pimhub.admin import inbound_audit_views
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import CatalogError, FieldError
from pimhub.inbound.errors import SourceDisabled
from pimhub.inbound.messages import MessageFilter, Outcome, Receipt
from pimhub.inbound.ports import Refusal
from tests.admin.conftest import AdminClient

ERP_YAML = """\
name: erp
scheme: shared-secret
description: the ERP
key: {path: data.sku}
eventTypes: [erp.stock.changed]
"""
SECRET = re.compile(r'id="secret-value" readonly value="([^"]+)"')
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="([^"]*)"')
TEXT = re.compile(r'<textarea id="configuration"[^>]*>(.*?)</textarea>', re.S)
RACERS = 12
ROW = re.compile(r'<td><a href="/admin/inbound/messages/(\d+)">#')


def _create(client: AdminClient, text: str = ERP_YAML) -> tuple[Any, str]:
    page = client.get("/admin/inbound/new")
    token = TOKEN.search(page.text)
    assert token is not None
    answer = client.post_form(
        "/admin/inbound/new",
        {"configuration": text, "form_token": token.group(1), "action": "save"},
    )
    found = SECRET.search(answer.text)
    return answer, found.group(1) if found else ""


def _send(
    hub: Hub, secret: str, message_id: str, body: Any, source: str = "erp"
) -> Receipt | CatalogError:
    headers = {
        "x-webhook-secret": secret,
        "idempotency-key": message_id,
        "content-type": "application/json",
    }
    try:
        return hub.inbound.receive(source, headers, orjson.dumps(body), "192.0.2.7")
    except CatalogError as exc:
        return exc


def _stock(sku: str, qty: Any) -> dict[str, Any]:
    return {"type": "erp.stock.changed", "data": {"sku": sku, "qty": qty}}


def _edit(client: AdminClient, name: str) -> dict[str, str]:
    page = client.get(f"/admin/inbound/sources/{name}")
    assert page.status_code == 200
    version = VERSION.search(page.text)
    text = TEXT.search(page.text)
    assert version is not None and text is not None
    return {"version": version.group(1), "configuration": html.unescape(text.group(1))}


@pytest.mark.parametrize("role", ["integrator", "admin"])
def test_integrators_and_admins_see_the_inbound_pages(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    _, secret = users_hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    assert secret is not None
    _send(users_hub, secret, "m-1", _stock("T-1", 1))
    _send(users_hub, "wrong", "m-2", _stock("T-1", 1))
    client = signed_in(role)
    listing = client.get("/admin/inbound")
    assert listing.status_code == 200
    assert "http://testserver/inbound/erp" in listing.text  # the address to give the sender
    assert "1 accepted" in listing.text and "1 rejected" in listing.text
    assert 'href="/admin/inbound"' in listing.text.split("<main", 1)[0]
    for path in ("/inbound/new", "/inbound/sources/erp", "/inbound/messages", "/inbound/refusals"):
        page = client.get("/admin" + path)
        assert page.status_code == 200, path
        assert secret not in page.text, path  # the secret is shown at creation only


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_managers_and_viewers_are_refused(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    users_hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    client = signed_in(role)
    for path in (
        "/inbound",
        "/inbound/new",
        "/inbound/sources/erp",
        "/inbound/sources/erp/delete",
        "/inbound/messages",
        "/inbound/refusals",
    ):
        assert client.get("/admin" + path).status_code == 403, path
    for path in ("/inbound/sources/erp/disable", "/inbound/sources/erp/rotate"):
        assert client.post_form("/admin" + path).status_code == 403, path
    assert users_hub.inbound.get_source("erp").spec.enabled
    assert "Inbound" not in client.get("/admin/").text.split("<main", 1)[0]


def test_create_shows_the_secret_once_and_a_resent_form_makes_nothing(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    page = client.get("/admin/inbound/new")
    token = TOKEN.search(page.text)
    assert token is not None
    form = {"configuration": ERP_YAML, "form_token": token.group(1), "action": "save"}
    answer = client.post_form("/admin/inbound/new", form)
    assert answer.status_code == 201, answer.text[:800]
    assert answer.headers["cache-control"] == "no-store"
    found = SECRET.search(answer.text)
    assert found is not None
    secret = found.group(1)
    assert secret not in answer.headers.get("set-cookie", "")
    stored = users_hub.inbound.get_source("erp")
    assert stored.spec.description == "the ERP" and stored.spec.event_types == (
        "erp.stock.changed",
    )
    receipt = _send(users_hub, secret, "m-1", _stock("T-1", 1))
    assert isinstance(receipt, Receipt) and receipt.outcome == Outcome.ACCEPTED

    again = client.post_form("/admin/inbound/new", form)
    assert again.status_code == 409
    assert "already sent" in again.text and secret not in again.text
    assert SECRET.search(again.text) is None
    assert [s.spec.name for s in users_hub.inbound.all_sources()] == ["erp"]
    assert secret not in client.get("/admin/inbound/sources/erp").text


def test_check_without_saving_and_refusals_keep_the_text(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    checked = client.post_form("/admin/inbound/new", {"configuration": ERP_YAML, "action": "check"})
    assert checked.status_code == 200
    assert "Check passed" in checked.text and "would create the source erp" in checked.text
    assert users_hub.inbound.all_sources() == []
    bad = ERP_YAML.replace("shared-secret", "carrier-pigeon")
    refused = client.post_form("/admin/inbound/new", {"configuration": bad, "action": "save"})
    assert refused.status_code == 422
    assert "<code>scheme</code>" in refused.text
    assert "carrier-pigeon" in refused.text  # the text is kept
    assert users_hub.inbound.all_sources() == []
    _create(client)
    taken = client.post_form("/admin/inbound/new", {"configuration": ERP_YAML, "action": "check"})
    assert taken.status_code == 409 and "exists" in taken.text


def test_an_edit_replaces_the_settings_and_check_says_what_it_would_do(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    _create(client)
    form = _edit(client, "erp")
    assert "description: the ERP" in form["configuration"]
    same = client.post_form("/admin/inbound/sources/erp", {**form, "action": "check"})
    assert same.status_code == 200 and "changes nothing" in same.text
    # The description line left out: it goes back to its default (the text is the whole).
    text = form["configuration"].replace("description: the ERP\n", "")
    text = text.replace("dedupeDays: 7", "dedupeDays: 9")
    check = client.post_form(
        "/admin/inbound/sources/erp", {**form, "configuration": text, "action": "check"}
    )
    assert check.status_code == 200 and "would change" in check.text
    assert users_hub.inbound.get_source("erp").version == 1
    saved = client.post_form(
        "/admin/inbound/sources/erp", {**form, "configuration": text, "action": "save"}
    )
    assert saved.status_code == 303, saved.text[:800]
    stored = users_hub.inbound.get_source("erp")
    assert (stored.version, stored.spec.description, stored.spec.dedupe_days) == (2, "", 9)
    renamed = form["configuration"].replace("name: erp", "name: other")
    refused = client.post_form(
        "/admin/inbound/sources/erp",
        {"configuration": renamed, "version": "2", "action": "save"},
    )
    assert refused.status_code == 422 and "cannot change" in refused.text
    no_version = client.post_form(
        "/admin/inbound/sources/erp", {"configuration": text, "action": "save"}
    )
    assert no_version.status_code == 422 and "version" in no_version.text
    assert users_hub.inbound.get_source("erp").version == 2


def test_a_stale_save_is_refused_with_the_text_kept_and_theirs_shown(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    mine, theirs = signed_in("integrator"), signed_in("admin")
    _create(mine)
    my_form = _edit(mine, "erp")
    their_form = _edit(theirs, "erp")
    their_text = their_form["configuration"].replace("the ERP", "their ERP")
    saved = theirs.post_form(
        "/admin/inbound/sources/erp", {**their_form, "configuration": their_text}
    )
    assert saved.status_code == 303
    my_text = my_form["configuration"].replace("the ERP", "my ERP")

    refused = mine.post_form("/admin/inbound/sources/erp", {**my_form, "configuration": my_text})

    assert refused.status_code == 409, refused.text[:800]
    assert "Someone else saved this source" in refused.text
    shown = TEXT.search(refused.text)
    assert shown is not None and "my ERP" in html.unescape(shown.group(1))  # mine kept
    assert "Now stored (version 2)" in refused.text and "their ERP" in refused.text
    assert users_hub.inbound.get_source("erp").spec.description == "their ERP"
    version = VERSION.search(refused.text)
    assert version is not None and version.group(1) == "2"
    again = mine.post_form("/admin/inbound/sources/erp", {"configuration": my_text, "version": "2"})
    assert again.status_code == 303
    assert users_hub.inbound.get_source("erp").spec.description == "my ERP"


def test_disable_enable_rotate_and_delete(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    _, secret = _create(client)
    assert client.post_form("/admin/inbound/sources/erp/disable").status_code == 303
    assert not users_hub.inbound.get_source("erp").spec.enabled
    assert isinstance(_send(users_hub, secret, "m-1", _stock("T-1", 1)), SourceDisabled)
    assert client.post_form("/admin/inbound/sources/erp/enable").status_code == 303
    stored = users_hub.inbound.get_source("erp")
    assert stored.spec.enabled and stored.spec.description == "the ERP"

    page = client.get("/admin/inbound/sources/erp")
    token = TOKEN.search(page.text)
    assert token is not None
    form = {"form_token": token.group(1), "overlapHours": "1"}
    rotated = client.post_form("/admin/inbound/sources/erp/rotate", form)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    found = SECRET.search(rotated.text)
    assert found is not None and found.group(1) != secret
    new = found.group(1)
    assert isinstance(_send(users_hub, new, "m-2", _stock("T-1", 2)), Receipt)
    assert isinstance(_send(users_hub, secret, "m-3", _stock("T-1", 3)), Receipt)  # overlap
    again = client.post_form("/admin/inbound/sources/erp/rotate", form)
    assert again.status_code == 409 and SECRET.search(again.text) is None
    assert isinstance(_send(users_hub, new, "m-4", _stock("T-1", 4)), Receipt)  # still valid
    bad = client.post_form(
        "/admin/inbound/sources/erp/rotate", {"form_token": "x", "overlapHours": "1e999"}
    )
    assert bad.status_code == 422 and "overlapHours" in bad.text

    confirm = client.get("/admin/inbound/sources/erp/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    gone = client.post_form("/admin/inbound/sources/erp/delete")
    assert gone.status_code == 303 and gone.headers["location"] == "/admin/inbound"
    assert users_hub.inbound.all_sources() == []
    assert client.get("/admin/inbound/sources/erp").status_code == 404


def test_an_api_key_source_has_no_secret_to_show_or_rotate(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    answer, secret = _create(client, "name: shop\nscheme: api-key\n")
    assert answer.status_code == 201 and secret == ""
    assert "hub API key" in answer.text
    page = client.get("/admin/inbound/sources/shop")
    assert "/rotate" not in page.text and "inbound:shop" in page.text


@pytest.fixture
def audited(users_hub: Hub) -> dict[str, Any]:
    """erp: two accepted messages, a duplicate of the first, one refused; shop: one accepted
    whose body holds markup. A webhook endpoint hears erp.stock.changed."""
    _, secret = users_hub.inbound.add_source(
        {"name": "erp", "scheme": "shared-secret", "key": {"path": "data.sku"}}
    )
    _, shop = users_hub.inbound.add_source({"name": "shop", "scheme": "shared-secret"})
    assert secret is not None and shop is not None
    endpoint = users_hub.webhooks.create(
        {"url": "https://hooks.example.com/stock", "eventTypes": ["erp.stock.changed"]}
    ).endpoint.endpoint_id
    markup = {"type": "shop.order.placed", "data": {"note": "<script>alert(1)</script>"}}
    receipts = [
        _send(users_hub, secret, "m-1", _stock("T-1", 1)),
        _send(users_hub, secret, "m-2", _stock("T-2", 2)),
        _send(users_hub, secret, "m-1", _stock("T-1", 1)),
        _send(users_hub, "wrong", "m-3", _stock("T-3", 3)),
        _send(users_hub, shop, "s-1", markup, source="shop"),
    ]
    assert [getattr(r, "outcome", "refused") for r in receipts] == [
        "accepted",
        "accepted",
        "duplicate",
        "refused",
        "accepted",
    ]
    users_hub.webhooks.queue.fan_out(datetime.now(UTC), 100)
    ids = [m.id for m in reversed(users_hub.inbound.messages(MessageFilter(), limit=10))]
    return {"endpoint": endpoint, "receipts": receipts, "ids": ids}


def _listed(client: AdminClient, query: str = "") -> list[int]:
    page = client.get(f"/admin/inbound/messages{query}")
    assert page.status_code == 200, page.text[:500]
    return [int(i) for i in re.findall(ROW, page.text)]


def test_the_audit_filters_by_the_query_string(
    signed_in: Callable[[str], AdminClient], audited: dict[str, Any]
) -> None:
    client = signed_in("integrator")
    ids = audited["ids"]
    assert _listed(client) == list(reversed(ids))
    assert _listed(client, "?outcome=rejected") == [ids[3]]
    assert _listed(client, "?source=shop") == [ids[4]]
    assert _listed(client, "?key=T-1") == [ids[2], ids[0]]
    assert _listed(client, "?type=shop.order.placed") == [ids[4]]
    assert _listed(client, "?source=erp&outcome=accepted") == [ids[1], ids[0]]
    assert _listed(client, "?since=2999-01-01T00:00") == []
    assert _listed(client, "?until=2000-01-01T00:00") == []
    kept = client.get("/admin/inbound/messages?key=T-1&outcome=duplicate")
    assert 'name="key" value="T-1"' in kept.text
    assert '<option value="duplicate" selected>' in kept.text


def test_the_audit_pages_backwards_by_cursor(
    signed_in: Callable[[str], AdminClient],
    audited: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbound_audit_views, "PAGE", 2)
    client = signed_in("integrator")
    seen: list[int] = []
    query = "?source=erp"
    while True:
        page = client.get(f"/admin/inbound/messages{query}")
        seen += [int(i) for i in re.findall(ROW, page.text)]
        older = re.search(r'href="/admin/inbound/messages\?([^"]+)">Older messages', page.text)
        if older is None:
            break
        query = "?" + html.unescape(older.group(1))
        assert "source=erp" in query
    assert seen == sorted(audited["ids"][:4], reverse=True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("outcome=maybe", "outcome"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=99999999999999999999", "since"),
        ("source=Not%20A%20Name", "source"),
        ("type=" + "t" * 300, "type"),
    ],
)
def test_bad_filters_are_named_and_list_nothing(
    signed_in: Callable[[str], AdminClient], audited: dict[str, Any], query: str, field: str
) -> None:
    page = signed_in("integrator").get(f"/admin/inbound/messages?{query}")
    assert page.status_code == 422, page.text[:500]
    assert f'id="f-{field}-error"' in page.text
    assert "/admin/inbound/messages/" not in page.text


def test_hostile_cursors_and_ids_are_4xx(
    signed_in: Callable[[str], AdminClient], audited: dict[str, Any]
) -> None:
    client = signed_in("integrator")
    for path in (
        "/admin/inbound/messages?before=%D9%A3",  # an Arabic-Indic three
        "/admin/inbound/messages?before=-1",
        "/admin/inbound/messages?before=" + "9" * 40,
        "/admin/inbound/refusals?after=%C2%B2",
        "/admin/inbound/refusals?source=a%00b",
        "/admin/inbound/messages?key=a%00b",
        "/admin/inbound/messages/%D9%A3",
        "/admin/inbound/messages/" + "9" * 40,
        "/admin/inbound/messages/999999",
        "/admin/inbound/sources/" + "a" * 300,
        "/admin/inbound/sources/A%00",
    ):
        status = client.get(path).status_code
        assert 400 <= status < 500, (path, status)


def test_a_message_shows_its_body_escaped_and_its_fate(
    signed_in: Callable[[str], AdminClient], audited: dict[str, Any]
) -> None:
    client = signed_in("integrator")
    ids = audited["ids"]
    first = client.get(f"/admin/inbound/messages/{ids[0]}")
    assert first.status_code == 200
    assert audited["receipts"][0].event_id in first.text
    assert '"sku": "T-1"' in html.unescape(first.text)  # indented JSON
    [delivery] = re.findall(r'href="/admin/deliveries/(\d+)"', first.text)
    assert client.get(f"/admin/deliveries/{delivery}").status_code == 200
    assert audited["endpoint"] in first.text
    duplicate = client.get(f"/admin/inbound/messages/{ids[2]}")
    assert f'href="/admin/inbound/messages/{ids[0]}"' in duplicate.text
    assert "/admin/deliveries/" not in duplicate.text
    refused = client.get(f"/admin/inbound/messages/{ids[3]}")
    assert "Not kept" in refused.text and "inbound-unverified" in refused.text
    shop = client.get(f"/admin/inbound/messages/{ids[4]}")
    assert "<script>alert" not in shop.text and "&lt;script&gt;alert(1)" in shop.text
    assert "No delivery yet" in shop.text


@pytest.fixture
def refused(users_hub: Hub) -> list[Refusal]:
    """A feed source and three refused items: one whose SKU exists now, two still bad."""
    users_hub.inbound.add_source(
        {
            "name": "feed",
            "scheme": "shared-secret",
            "eventType": {"value": "erp.stock.changed"},
            "apply": {
                "eventTypes": ["erp.stock.changed"],
                "items": "items",
                "mapping": {
                    "class": "Product",
                    "fields": {"sku": "sku", "stock": {"column": "qty", "number": True}},
                },
            },
        }
    )
    now = datetime.now(UTC)
    missing = FieldError("sku", "no Product with sku 'X' to update", "not-found")
    items: list[dict[str, Any]] = [
        {"sku": "TS-1", "qty": 11},
        {"sku": "NOPE-1", "qty": 1},
        {"sku": "NOPE-2", "qty": 2},
    ]
    users_hub.feeds.refusals.record(
        [
            Refusal(0, "feed", 1, "evt_feed", i, item["sku"], (missing,), item, now, None)
            for i, item in enumerate(items)
        ]
    )
    found = users_hub.feeds.refused("feed")
    assert len(found) == 3
    return found


def test_refused_items_are_listed_and_replayed_one_at_a_time(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], refused: list[Refusal]
) -> None:
    client = signed_in("integrator")
    page = client.get("/admin/inbound/refusals?source=feed")
    assert page.status_code == 200
    assert page.text.count('action="/admin/inbound/refusals/') == 4  # 3 items + all
    assert "no Product with sku" in page.text and "NOPE-2" in page.text
    applied = client.post_form(f"/admin/inbound/refusals/{refused[0].id}/replay")
    assert applied.status_code == 303
    assert applied.headers["location"] == "/admin/inbound/refusals?source=feed"
    product = users_hub.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert product.values.get("stock") == 11
    still = client.post_form(f"/admin/inbound/refusals/{refused[1].id}/replay")
    assert still.status_code == 303
    assert [r.id for r in users_hub.feeds.refused("feed")] == [refused[1].id, refused[2].id]
    again = client.post_form(f"/admin/inbound/refusals/{refused[0].id}/replay")
    assert again.status_code == 303  # applied already: nothing to do
    assert client.post_form("/admin/inbound/refusals/999999/replay").status_code == 404
    assert client.post_form("/admin/inbound/refusals/%D9%A3/replay").status_code == 404


def test_a_superseded_item_is_not_applied_and_the_page_says_so(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], refused: list[Refusal]
) -> None:
    """NOPE-1 was refused; the source has written that product since (a later message):
    replaying the old item would bring its stale stock back, so it is superseded."""
    users_hub.catalog.create(
        "Product", {"sku": "NOPE-1", "name": {"en": "n"}, "stock": 7}, author="inbound:feed"
    )
    client = signed_in("integrator")
    one = client.post_form(f"/admin/inbound/refusals/{refused[1].id}/replay")
    assert one.status_code == 303
    assert "superseded" in html.unescape(client.get(one.headers["location"]).text)
    assert (
        users_hub.catalog.get_object("Product", "NOPE-1", include_drafts=True).values.get("stock")
        == 7
    )
    done = client.post_form("/admin/inbound/refusals/replay", {"source": "feed", "confirm": "yes"})
    shown = html.unescape(client.get(done.headers["location"]).text)
    assert "feed: 1 applied, 1 still refused, 0 superseded" in shown


def test_replaying_all_of_a_source_asks_first_with_the_count(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], refused: list[Refusal]
) -> None:
    client = signed_in("integrator")
    ask = client.post_form("/admin/inbound/refusals/replay", {"source": "feed"})
    assert ask.status_code == 200
    assert "Apply 3 refused items of feed again?" in ask.text
    assert len(users_hub.feeds.refused("feed")) == 3  # asking changes nothing
    done = client.post_form("/admin/inbound/refusals/replay", {"source": "feed", "confirm": "yes"})
    assert done.status_code == 303
    assert [r.key for r in users_hub.feeds.refused("feed")] == ["NOPE-1", "NOPE-2"]
    for source, status in (("", 422), ("Not A Name", 422), ("a\x00b", 422), ("gone", 404)):
        answer = client.post_form("/admin/inbound/refusals/replay", {"source": source})
        assert answer.status_code in (400, status), (source, answer.status_code)


@pytest.mark.parametrize(
    ("text", "status", "says"),
    [
        ("name: erp\x00\nscheme: shared-secret\n", 422, "NUL"),
        ('name: erp\nscheme: shared-secret\ndescription: "\\ud800"\n', 422, "surrogate"),
        ("name: erp\nscheme: shared-secret\ndescription: " + "x" * 300_000 + "\n", 422, "long"),
        ("- just\n- a list\n", 422, "mapping"),
        ("name: [unclosed\n", 422, "not valid YAML"),
        ("name: erp\nscheme: shared-secret\nmaxBytes: \u0661\u0660\n", 422, "maxBytes"),
        ("a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
         "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", 422, "expands"),
    ],
)  # fmt: skip
def test_hostile_yaml_is_a_4xx_with_the_text_kept(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], text: str, status: int, says: str
) -> None:
    client = signed_in("integrator")
    for action in ("check", "save"):
        answer = client.post_form("/admin/inbound/new", {"configuration": text, "action": action})
        assert answer.status_code == status, (action, answer.text[:800])
        assert says in answer.text
    assert users_hub.inbound.all_sources() == []


def test_hostile_edit_forms_are_4xx(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    _create(client)
    form = _edit(client, "erp")
    for version in ("²", "٣", "-1", "9" * 400, "1\x00"):
        answer = client.post_form("/admin/inbound/sources/erp", {**form, "version": version})
        assert 400 <= answer.status_code < 500, (version, answer.status_code)
    huge = client.post_form("/admin/inbound/new", {"configuration": "x" * (2 * 1024 * 1024)})
    assert huge.status_code == 413
    assert users_hub.inbound.get_source("erp").version == 1


def test_parallel_saves_of_one_form_one_wins(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    if users_hub.engine.dialect.name != "postgresql":
        pytest.skip("requests truly run in parallel on PostgreSQL only")
    clients = [signed_in("integrator") for _ in range(4)]
    _create(clients[0])
    form = _edit(clients[0], "erp")

    def save(i: int) -> int:
        text = form["configuration"].replace("the ERP", f"racer {i}")
        client = clients[i % len(clients)]
        answer = client.post_form("/admin/inbound/sources/erp", {**form, "configuration": text})
        return int(answer.status_code)

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = list(pool.map(save, range(RACERS)))
    assert sorted(statuses) == [303] + [409] * (RACERS - 1), statuses
    winner = statuses.index(303)
    stored = users_hub.inbound.get_source("erp")
    assert (stored.version, stored.spec.description) == (2, f"racer {winner}")


def test_refused_items_page_by_cursor_and_a_large_count_says_at_least(
    signed_in: Callable[[str], AdminClient],
    refused: list[Refusal],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbound_audit_views, "PAGE", 2)
    client = signed_in("integrator")
    first = client.get("/admin/inbound/refusals?source=feed")
    assert [f"refusal-{r.id}" in first.text for r in refused] == [True, True, False]
    more = re.search(r'href="/admin/inbound/refusals\?([^"]+)">More', first.text)
    assert more is not None
    second = client.get("/admin/inbound/refusals?" + html.unescape(more.group(1)))
    assert [f"refusal-{r.id}" in second.text for r in refused] == [False, False, True]
    assert ">More<" not in second.text
    monkeypatch.setattr(inbound_audit_views, "COUNT_PAGE", 1)
    monkeypatch.setattr(inbound_audit_views, "MAX_COUNTED", 2)
    ask = client.post_form("/admin/inbound/refusals/replay", {"source": "feed"})
    assert ask.status_code == 200 and "Apply 2+ refused items of feed again?" in ask.text


def test_a_secret_in_the_text_is_checked_and_becomes_the_senders(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    short = ERP_YAML + "secret: tiny\n"
    for action in ("check", "save"):
        refused = client.post_form("/admin/inbound/new", {"configuration": short, "action": action})
        assert refused.status_code == 422, action
        assert "<code>secret</code>" in refused.text
    given = "the-erp-already-knows-this-one"
    text = ERP_YAML + f"secret: {given}\n"
    checked = client.post_form("/admin/inbound/new", {"configuration": text, "action": "check"})
    assert checked.status_code == 200 and "Check passed" in checked.text
    answer, secret = _create(client, text)
    assert answer.status_code == 201 and secret == given
    assert isinstance(_send(users_hub, given, "m-1", _stock("T-1", 1)), Receipt)


@pytest.mark.parametrize(
    "config",
    [
        {"name": "erp", "scheme": "shared-secret"},
        {"name": "hooks", "scheme": "standard-webhooks", "tolerance": 60, "eventTypes": ["a.b"]},
        {
            "name": "magento",
            "scheme": "mageos",
            "enabled": False,
            "eventType": {"path": "type", "prefix": "magento.", "map": {"x.y": "magento.z"}},
            "schemas": {"magento.z": {"type": "object", "required": ["id"]}},
        },
        {
            "name": "feed",
            "scheme": "shared-secret",
            "header": "X-Feed-Token",
            "messageId": {"hash": True},
            "eventType": {"value": "erp.stock.changed"},
            "key": {"path": "warehouse"},
            "apply": {
                "eventTypes": ["erp.stock.changed"],
                "items": "items",
                "mapping": {"class": "Product", "fields": {"sku": "sku"}},
            },
        },
    ],
)
def test_the_editor_text_reads_back_as_the_same_source(config: dict[str, Any]) -> None:
    from pimhub.admin.inbound_forms import editable
    from pimhub.admin.inbound_views import replacing
    from pimhub.admin.yaml_field import dump, read_mapping
    from pimhub.inbound.source_parser import parse_source

    spec = parse_source(config)
    text = dump(editable(spec))
    assert "''" not in text and "{}" not in text and "[]" not in text
    again = parse_source(replacing(read_mapping(text, "configuration"), spec), spec)
    assert again.to_dict() == spec.to_dict()


def test_a_source_named_new_opens_apart_from_the_create_form(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    # The create form is /admin/inbound/new and a source's page /admin/inbound/sources/<name>:
    # the name "new" stays usable (brokers, whose pages share the form's path, reserve it).
    users_hub.inbound.add_source({"name": "new", "scheme": "shared-secret"})
    page = signed_in("integrator").get("/admin/inbound/sources/new")
    assert page.status_code == 200
    assert 'name="version"' in page.text and "name: new" in html.unescape(page.text)
