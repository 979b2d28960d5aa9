"""A disabled source's 503 (planned, with Retry-After) is a warning in the request log, not
an error; a failure of the hub (500) stays an error (tests/api/test_log_lines.py)."""

from __future__ import annotations

import io

import orjson
from fastapi.testclient import TestClient

from pimhub.api import observability
from pimhub.api.app import create_app
from pimhub.api.observability import configure_logging
from pimhub.bootstrap import Hub
from tests.api.test_inbound_route import BODY, secret, signed  # noqa: F401


def test_a_disabled_sources_503_is_logged_as_a_warning(
    bare_hub: Hub,
    secret: str,  # noqa: F811
) -> None:
    stream = io.BytesIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        bare_hub.inbound.update_source("shop", {"enabled": False})
        client = TestClient(create_app(bare_hub))
        answer = client.post(
            "/inbound/shop", content=BODY, headers={**signed(secret, BODY), "X-Request-ID": "r1"}
        )
        assert answer.status_code == 503
        assert observability._request_lines is not None
        observability._request_lines.flush()
        lines = [orjson.loads(x) for x in stream.getvalue().splitlines()]
        [request] = [x for x in lines if x["event"] == "request" and x["request_id"] == "r1"]
        assert (request["status"], request["level"]) == (503, "warning")
        assert not [x for x in lines if x.get("level") == "error"]
    finally:
        configure_logging("INFO", json=True)
