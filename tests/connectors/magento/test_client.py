"""MagentoClient against httpx.MockTransport: signing, URLs, errors, rate limit."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson
import pytest

from pimhub.connectors.magento.client import (
    MagentoClient,
    MagentoCredentials,
    MagentoError,
    MagentoReply,
    MagentoUnavailable,
    parse_retry_after,
    render_message,
    search_criteria,
    sku_path,
)
from tests.connectors.magento.oauth_check import verify_oauth_header

BASE = "https://shop.example.com/"
CREDS = MagentoCredentials("ck-123", "cs-secret", "at-456", "ats-secret")
Handler = Callable[[httpx.Request], httpx.Response]


def run(handler: Handler, call: Callable[[MagentoClient], Awaitable[Any]], **kw: Any) -> Any:
    """Runs ``call`` against a client whose transport is ``handler``."""

    async def main() -> Any:
        creds = kw.pop("credentials", CREDS)
        transport = httpx.MockTransport(handler)
        async with MagentoClient(BASE, creds, transport=transport, **kw) as client:
            return await call(client)

    return asyncio.run(main())


def recording(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body, headers=headers)

    return seen, handler


def check(
    request: httpx.Request, url: str | None = None, creds: MagentoCredentials = CREDS
) -> str | None:
    return verify_oauth_header(request.method, url or str(request.url), request.headers, creds)


# --- signing -------------------------------------------------------------------------------


def test_signed_get_with_search_criteria_verifies() -> None:
    seen, handler = recording(body={"items": []})
    params = search_criteria([("sku", "a b%", "like")], page_size=5)
    reply = run(handler, lambda c: c.get("/V1/products", params=params))
    assert reply == MagentoReply(200, {"items": []}, reply.elapsed_ms)
    assert check(seen[0]) is None
    assert "searchCriteria%5BpageSize%5D=5" in str(seen[0].url)


def test_tampered_query_fails_verification() -> None:
    seen, handler = recording(body=[])
    params = search_criteria([("sku", "abc", "eq")])
    run(handler, lambda c: c.get("/V1/products", params=params))
    tampered = str(seen[0].url).replace("abc", "abd")
    assert check(seen[0], tampered) == "bad signature"


def test_tampered_path_and_method_fail_verification() -> None:
    seen, handler = recording(body={})
    run(handler, lambda c: c.put("/V1/products/x", json={"product": {"sku": "x"}}))
    request = seen[0]
    assert verify_oauth_header("PUT", str(request.url), request.headers, CREDS) is None
    assert verify_oauth_header("POST", str(request.url), request.headers, CREDS) == "bad signature"
    wrong_path = str(request.url).replace("/x", "/y")
    assert verify_oauth_header("PUT", wrong_path, request.headers, CREDS) == "bad signature"


def test_wrong_secrets_and_keys_are_named() -> None:
    seen, handler = recording(body={})
    run(handler, lambda c: c.get("/V1/store/storeViews"))
    request = seen[0]
    other_secret = MagentoCredentials("ck-123", "other", "at-456", "ats-secret")
    other_token_secret = MagentoCredentials("ck-123", "cs-secret", "at-456", "other")
    assert check(request, creds=other_secret) == "bad signature"
    assert check(request, creds=other_token_secret) == "bad signature"
    assert check(
        request, creds=MagentoCredentials("ck-x", "cs-secret", "at-456", "ats-secret")
    ) == ("wrong consumer key")
    assert check(
        request, creds=MagentoCredentials("ck-123", "cs-secret", "at-x", "ats-secret")
    ) == ("wrong token")


def test_header_uses_hmac_sha256_and_fresh_nonces() -> None:
    seen, handler = recording(body={})

    async def twice(client: MagentoClient) -> None:
        await client.get("/V1/products/a")
        await client.get("/V1/products/a")

    run(handler, twice)
    oauth = [_oauth_params(request) for request in seen]
    assert all(p["oauth_signature_method"] == "HMAC-SHA256" for p in oauth)
    assert oauth[0]["oauth_nonce"] != oauth[1]["oauth_nonce"]
    nonces: set[str] = set()
    assert (
        verify_oauth_header("GET", str(seen[0].url), seen[0].headers, CREDS, seen_nonces=nonces)
        is None
    )
    replay = verify_oauth_header(
        "GET", str(seen[0].url), seen[0].headers, CREDS, seen_nonces=nonces
    )
    assert replay == "nonce already used"


def test_json_body_is_sent_but_not_signed() -> None:
    seen, handler = recording(body={"id": 1})
    product = {"product": {"sku": "a/b c", "name": "Chair", "price": 12.5}}
    reply = run(handler, lambda c: c.put(f"/V1/products/{sku_path('a/b c')}", json=product))
    request = seen[0]
    assert orjson.loads(request.content) == product
    assert request.headers["content-type"] == "application/json"
    assert "oauth_body_hash" not in request.headers["authorization"]
    assert check(request) is None
    assert reply.data == {"id": 1}


def test_verify_oauth_header_rejects_unsupported_and_missing() -> None:
    seen, handler = recording(body={})
    run(handler, lambda c: c.get("/V1/products/a"))
    header = seen[0].headers["authorization"]
    url = str(seen[0].url)
    plaintext = {"Authorization": header.replace("HMAC-SHA256", "PLAINTEXT")}
    assert (
        verify_oauth_header("GET", url, plaintext, CREDS)
        == "unsupported signature method PLAINTEXT"
    )
    assert verify_oauth_header("GET", url, {}, CREDS) == "missing OAuth Authorization header"
    assert verify_oauth_header("GET", url, {"authorization": header}, CREDS) is None
    stale = verify_oauth_header(
        "GET", url, {"authorization": header}, CREDS, now=time.time() + 3600
    )
    assert stale == "stale timestamp"


def test_bearer_opt_in_sends_bearer() -> None:
    seen, handler = recording(body={})
    creds = MagentoCredentials("ck", "cs", "at-456", "ats", bearer=True)
    run(handler, lambda c: c.get("/V1/products/a"), credentials=creds)
    assert seen[0].headers["authorization"] == "Bearer at-456"
    assert check(seen[0], creds=creds) is not None


def _oauth_params(request: httpx.Request) -> dict[str, str]:
    header = request.headers["authorization"]
    assert header.startswith("OAuth ")
    pairs = (item.strip().split("=", 1) for item in header[len("OAuth ") :].split(","))
    return {key: unquote(value.strip('"')) for key, value in pairs}


# --- URLs and headers ----------------------------------------------------------------------


def test_url_defaults_to_global_scope_and_takes_a_store_code() -> None:
    seen, handler = recording(body={})

    async def calls(client: MagentoClient) -> None:
        await client.get("/V1/products/a")
        await client.put("/V1/products/a", store="de_store", json={"product": {}})
        await client.post("/async/bulk/V1/products", json=[{"product": {}}])

    run(handler, calls)
    paths = [request.url.raw_path.decode() for request in seen]
    assert paths == [
        "/rest/all/V1/products/a",
        "/rest/de_store/V1/products/a",
        "/rest/all/async/bulk/V1/products",
    ]
    assert all(check(request) is None for request in seen)
    assert seen[0].headers["accept"] == "application/json"
    assert seen[0].headers["user-agent"] == "pimhub-magento/0.1"


def test_sku_path_round_trips_slashes_and_spaces() -> None:
    seen, handler = recording(body={})
    sku = "a/b c"
    assert sku_path(sku) == "a%2Fb%20c"
    run(handler, lambda c: c.get(f"/V1/products/{sku_path(sku)}"))
    raw = seen[0].url.raw_path.decode()
    assert raw == "/rest/all/V1/products/a%2Fb%20c"
    assert unquote(raw.rsplit("/", 1)[1]) == sku
    assert check(seen[0]) is None
    # the signature covers the encoded path, as Magento's raw request URI does
    decoded = str(seen[0].url).replace("a%2Fb%20c", "a/b c")
    assert check(seen[0], decoded) == "bad signature"


def test_bad_path_and_store_are_refused() -> None:
    _, handler = recording(body={})
    with pytest.raises(ValueError, match="start with"):
        run(handler, lambda c: c.get("V1/products"))
    with pytest.raises(ValueError, match="store code"):
        run(handler, lambda c: c.get("/V1/products", store="a/b"))


def test_empty_and_non_json_replies_give_none() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"" if request.method == "DELETE" else b"<html>")

    async def calls(client: MagentoClient) -> list[Any]:
        return [(await client.delete("/V1/products/a")).data, (await client.get("/V1/x")).data]

    assert run(handler, calls) == [None, None]


# --- errors --------------------------------------------------------------------------------


def _raise(handler: Handler, call: Callable[[MagentoClient], Awaitable[Any]]) -> MagentoError:
    with pytest.raises(MagentoError) as info:
        run(handler, call)
    return info.value


def test_429_with_retry_after_seconds_is_retriable() -> None:
    _, handler = recording(429, {"message": "Too many requests"}, {"Retry-After": "7"})
    error = _raise(handler, lambda c: c.get("/V1/products/a"))
    assert (error.status, error.retry_after, error.retriable) == (429, 7.0, True)
    assert (error.method, error.path, error.message) == (
        "GET",
        "/V1/products/a",
        "Too many requests",
    )


def test_400_is_not_retriable_and_renders_the_message() -> None:
    body = {"message": 'The "%1" attribute value is empty.', "parameters": ["name"]}
    _, handler = recording(400, body)
    error = _raise(handler, lambda c: c.post("/V1/products", json={"product": {}}))
    assert error.retriable is False
    assert error.message == 'The "name" attribute value is empty.'
    assert orjson.loads(error.body) == body
    assert "400" in str(error) and "POST /V1/products" in str(error)
    assert "secret" not in str(error) and "at-456" not in str(error)


def test_503_with_http_date_retry_after() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    _, handler = recording(503, None, {"Retry-After": format_datetime(when, usegmt=True)})
    error = _raise(handler, lambda c: c.get("/V1/products/a"))
    assert error.retriable is True
    assert error.retry_after is not None and 115 <= error.retry_after <= 121


@pytest.mark.parametrize(("status", "retriable"), [(408, True), (404, False), (500, True)])
def test_retriable_statuses(status: int, retriable: bool) -> None:
    assert MagentoError(status, "x").retriable is retriable


def test_retry_after_parsing_edges() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_error_body_is_capped_at_4_kb() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, content=b"x" * 10_000)

    error = _raise(handler, lambda c: c.get("/V1/x"))
    assert len(error.body) == 4096
    assert error.message == "x" * 500


def test_connection_error_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(MagentoUnavailable) as info:
        run(handler, lambda c: c.get("/V1/products/a"))
    message = str(info.value)
    assert "Connection refused" in message
    assert "https://shop.example.com/rest/all/V1/products/a" in message
    assert isinstance(info.value, OSError)


def test_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(MagentoUnavailable, match=r"read timeout\) at https://shop"):
        run(handler, lambda c: c.get("/V1/products/a"))


def test_unavailable_message_hides_basic_auth_in_base_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    async def call() -> None:
        transport = httpx.MockTransport(handler)
        async with MagentoClient("https://u:pw@stage.example", CREDS, transport=transport) as c:
            await c.get("/V1/x")

    with pytest.raises(MagentoUnavailable) as info:
        asyncio.run(call())
    assert "pw" not in str(info.value) and "stage.example" in str(info.value)


# --- render_message ------------------------------------------------------------------------


def test_render_positional_parameters_longest_first() -> None:
    params = list("abcdefghij")
    body = {"message": "%1 and %10 and %2", "parameters": params}
    assert render_message(body) == "a and j and b"
    assert render_message(orjson.dumps(body)) == "a and j and b"


def test_render_named_parameters() -> None:
    body = {
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": {"fieldName": "sku"},
    }
    assert render_message(body) == '"sku" is required. Enter and try again.'


def test_render_nested_errors() -> None:
    body = {
        "message": "One or more input exceptions have occurred.",
        "errors": [
            {"message": '"%fieldName" is required.', "parameters": {"fieldName": "sku"}},
            {"message": "Invalid value %1 for %2", "parameters": [5, "qty"]},
            "garbage",
        ],
    }
    assert render_message(body) == (
        'One or more input exceptions have occurred.: "sku" is required.; Invalid value 5 for qty'
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        ("y" * 900, "y" * 500),
        (b"[1, 2]", "[1, 2]"),
        (b"\xff\xfe", "\ufffd\ufffd"),
        ({"message": 5}, "{'message': 5}"),
        ({"message": "no params %1"}, "no params %1"),
        ({"message": "null %1", "parameters": [None]}, "null "),
        (None, "None"),
    ],
)
def test_render_garbage_never_raises(body: Any, expected: str) -> None:
    assert render_message(body) == expected


# --- rate limit ----------------------------------------------------------------------------


def test_rate_limit_spaces_concurrent_starts() -> None:
    starts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        starts.append(time.monotonic())
        return httpx.Response(200, json={})

    async def ten(client: MagentoClient) -> float:
        begun = time.monotonic()
        await asyncio.gather(*(client.get(f"/V1/products/{n}") for n in range(10)))
        return time.monotonic() - begun

    elapsed = run(handler, ten, rate_limit=20)
    assert elapsed >= 0.44
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.04


def test_no_rate_limit_does_not_wait() -> None:
    _, handler = recording(body={})

    async def ten(client: MagentoClient) -> float:
        begun = time.monotonic()
        await asyncio.gather(*(client.get(f"/V1/products/{n}") for n in range(10)))
        return time.monotonic() - begun

    assert run(handler, ten) < 0.4


# --- search_criteria and credentials ------------------------------------------------------


def test_search_criteria_exact_keys() -> None:
    params = search_criteria(
        [("updated_at", "2026-01-01 00:00:00", "gteq"), ("type_id", "simple", "eq")],
        page_size=50,
        current_page=3,
        sort=[("updated_at", "ASC"), ("entity_id", "DESC")],
    )
    assert params == {
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-01-01 00:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[filter_groups][1][filters][0][field]": "type_id",
        "searchCriteria[filter_groups][1][filters][0][value]": "simple",
        "searchCriteria[filter_groups][1][filters][0][condition_type]": "eq",
        "searchCriteria[sortOrders][0][field]": "updated_at",
        "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[sortOrders][1][field]": "entity_id",
        "searchCriteria[sortOrders][1][direction]": "DESC",
        "searchCriteria[pageSize]": "50",
        "searchCriteria[currentPage]": "3",
    }
    assert search_criteria() == {
        "searchCriteria[pageSize]": "100",
        "searchCriteria[currentPage]": "1",
    }


def test_search_criteria_query_reaches_magento_decoded() -> None:
    seen, handler = recording(body={})
    params = search_criteria([("name", "50% off & more", "like")])
    run(handler, lambda c: c.get("/V1/products", params=params))
    query = dict(seen[0].url.params)
    assert query["searchCriteria[filter_groups][0][filters][0][value]"] == "50% off & more"
    assert urlsplit(str(seen[0].url)).query.count("&") == len(params) - 1


def test_credentials_json_round_trip_and_missing_key() -> None:
    creds = MagentoCredentials("ck", "cs", "at", "ats", bearer=True)
    assert MagentoCredentials.from_json(creds.to_json()) == creds
    data = orjson.loads(creds.to_json())
    del data["access_token_secret"]
    with pytest.raises(ValueError, match="access_token_secret"):
        MagentoCredentials.from_json(orjson.dumps(data).decode())
    with pytest.raises(ValueError):
        MagentoCredentials.from_json("[1]")
    assert (
        MagentoCredentials.from_json(
            '{"consumer_key":"a","consumer_secret":"b",'
            '"access_token":"c","access_token_secret":"d"}'
        ).bearer
        is False
    )


def test_credentials_repr_hides_secrets() -> None:
    text = repr(MagentoCredentials("ck", "cs-secret", "at-token", "ats-secret"))
    assert "secret" not in text and "at-token" not in text and "ck" in text


def test_closed_client_refuses_requests() -> None:
    _, handler = recording(body={})

    async def call() -> None:
        client = MagentoClient(BASE, CREDS, transport=httpx.MockTransport(handler))
        await client.get("/V1/x")
        await client.aclose()
        await client.get("/V1/x")

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(call())
