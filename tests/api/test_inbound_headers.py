"""Headers the checks read, sent twice: refused 400 naming the header, and audited (reading
the first silently let a wrong second secret, id, signature or content type through)."""

from __future__ import annotations

import pytest

from pimhub.api.app import HubApp, create_app
from pimhub.bootstrap import Hub
from tests.api.test_inbound_route import BODY, audited, raw_post, signed


@pytest.fixture
def app(bare_hub: Hub) -> HubApp:
    return create_app(bare_hub)


@pytest.fixture
def secret(bare_hub: Hub) -> str:
    _, plain = bare_hub.inbound.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert plain is not None
    return plain


@pytest.mark.parametrize(
    ("header", "second"),
    [
        ("webhook-id", "m-2"),
        ("webhook-timestamp", "0"),
        ("webhook-signature", "v1,AAAA"),
        ("content-type", "text/plain"),
        ("x-webhook-secret", "wrong"),
    ],
)
def test_a_checked_header_sent_twice_is_refused(
    app: HubApp, bare_hub: Hub, secret: str, header: str, second: str
) -> None:
    given = signed(secret, BODY)
    raw = [(k.encode(), v.encode()) for k, v in given.items()]
    raw.append((header.encode(), second.encode()))
    if header == "x-webhook-secret":
        raw.append((b"x-webhook-secret", b"first"))
    status, _, body, _ = raw_post(app, "/inbound/shop", raw, [BODY])
    assert status == 400, body
    assert f"header {header} sent twice".encode() in body
    assert [(r.outcome, r.problem) for r in audited(bare_hub)] == [("rejected", "header-repeated")]


def test_several_signatures_in_one_header_are_fine(app: HubApp, bare_hub: Hub, secret: str) -> None:
    given = signed(secret, BODY)
    given["webhook-signature"] = "v1,AAAA " + given["webhook-signature"]
    raw = [(k.encode(), v.encode()) for k, v in given.items()]
    status, _, body, _ = raw_post(app, "/inbound/shop", raw, [BODY])
    assert status == 202, body


def test_an_empty_idempotency_key_counts_as_absent(app: HubApp, bare_hub: Hub) -> None:
    """Documented choice: the body's hash is the message id, so a resend is a duplicate."""
    _, plain = bare_hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    assert plain is not None
    raw = [
        (b"content-type", b"application/json"),
        (b"x-webhook-secret", plain.encode()),
        (b"idempotency-key", b""),
    ]
    first, _, _, _ = raw_post(app, "/inbound/erp", raw, [BODY])
    again, _, body, _ = raw_post(app, "/inbound/erp", raw, [BODY])
    assert (first, again) == (202, 200), body
    rows = audited(bare_hub)
    assert rows[0].message_id and rows[0].message_id == rows[1].message_id
