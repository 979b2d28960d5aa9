"""The delivery log's filter is parsed once (events/delivery_query.py) for REST and the admin:
both accept and refuse the same values, and digits that are not ASCII ('²' is a digit to
str.isdigit) are a 4xx, never a 500. Both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import InvalidInput
from pimhub.events.delivery_query import parse_count, parse_delivery_filter
from tests.admin.conftest import AdminClient

ROW = '<a href="/admin/deliveries/'


@pytest.fixture
def one_delivery(users_hub: Hub) -> str:
    """An endpoint with one pending delivery (the acme brand's update)."""
    hooks = users_hub.webhooks
    created = hooks.create({"url": "http://127.0.0.1:9/q", "eventTypes": ["object.updated"]})
    users_hub.catalog.patch("Brand", "acme", {"name": "Acme Q"}, author="test")
    hooks.queue.fan_out(hooks.clock(), 1000)
    return created.endpoint.endpoint_id


@pytest.mark.parametrize(
    "path",
    [
        "/admin/deliveries?after=%C2%B2",
        "/admin/deliveries?after=%D9%A3",  # ARABIC-INDIC DIGIT THREE
        "/admin/deliveries/%C2%B2",
        "/admin/deliveries/%C2%B2/status",
        "/admin/deliveries/%EF%BC%91",  # FULLWIDTH DIGIT ONE
    ],
)
def test_non_ascii_digits_are_a_4xx_page(
    one_delivery: str, signed_in: Callable[[str], AdminClient], path: str
) -> None:
    page = signed_in("integrator").get(path)
    assert 400 <= page.status_code < 500, page.status_code


def test_replaying_a_non_ascii_delivery_id_is_a_4xx(
    one_delivery: str, signed_in: Callable[[str], AdminClient]
) -> None:
    answer = signed_in("integrator").post_form("/admin/deliveries/%C2%B2/replay")
    assert 400 <= answer.status_code < 500


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ("eventType=object.updated", 1),
        ("eventType=no.such.event", 0),  # REST lists nothing for it; so does the admin now
        ("since=2000-01-01", 1),
        ("since=946684800", 1),  # Unix seconds, as REST has always taken them
        ("until=2000-01-01T00:00:00Z", 0),
    ],
)
def test_rest_and_the_admin_agree_on_a_filter(
    users_hub: Hub,
    one_delivery: str,
    signed_in: Callable[[str], AdminClient],
    query: str,
    rows: int,
) -> None:
    client = signed_in("integrator")
    key = users_hub.access.create("rest", ["integrate"], environment="test")[1]
    rest = client.get(
        f"/api/v1/webhooks/deliveries?{query}", headers={"Authorization": f"Bearer {key}"}
    )
    assert rest.status_code == 200, rest.text
    assert len(rest.json()["items"]) == rows
    page = client.get(f"/admin/deliveries?{query}")
    assert page.status_code == 200
    assert page.text.count(ROW) == rows


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=%C2%B2", "since"), ("until=yesterday", "until"), ("status=lost", "status")],
)
def test_rest_and_the_admin_refuse_the_same_value_naming_it(
    users_hub: Hub,
    one_delivery: str,
    signed_in: Callable[[str], AdminClient],
    query: str,
    field: str,
) -> None:
    client = signed_in("integrator")
    key = users_hub.access.create("rest", ["integrate"], environment="test")[1]
    rest = client.get(
        f"/api/v1/webhooks/deliveries?{query}", headers={"Authorization": f"Bearer {key}"}
    )
    assert rest.status_code == 400 and rest.json()["errors"][0]["field"] == field, rest.text
    page = client.get(f"/admin/deliveries?{query}")
    assert page.status_code == 422
    assert f'id="f-{field}-error"' in page.text


def test_the_parser_names_every_bad_parameter() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_delivery_filter({"status": "x", "since": "²", "until": "9999-12-31T23:59:59-23:59"})
    assert [e.field for e in refused.value.errors] == ["status", "since", "until"]
    where = parse_delivery_filter({"since": "2026-12-04T21:30", "endpoint": "ep_1"})
    assert where.since == datetime(2026, 12, 4, 21, 30, tzinfo=UTC)
    assert where.endpoint_id == "ep_1"


@pytest.mark.parametrize(
    "raw", ["²", "\u0661\u0662", "\uff11", "-1", "0", "+1", " 1", "9" * 20, ""]
)
def test_parse_count_takes_ascii_digits_only(raw: str) -> None:
    assert parse_count(raw, maximum=2**63 - 1) is None


def test_parse_count_takes_a_number_in_range() -> None:
    assert parse_count("42", maximum=100) == 42
    assert parse_count("101", maximum=100) is None
