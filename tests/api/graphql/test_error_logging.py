"""Unexpected failures are logged with their exception: type, message and traceback, not a
bare `"exc_info": true`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import structlog

from pimhub.api.graphql import mutations
from pimhub.api.observability import configure_logging
from tests.api.graphql.conftest import Gql


@pytest.fixture
def log_stream() -> Iterator[io.BytesIO]:
    stream = io.BytesIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        yield stream
    finally:
        configure_logging("INFO", json=True)


def lines(stream: io.BytesIO) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in stream.getvalue().splitlines()]


def raise_boom(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("boom in the write")


def test_a_failed_mutation_logs_its_exception(
    gql: Gql, storefront: Any, log_stream: io.BytesIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storefront.catalog, "patch", raise_boom)
    # Loggers cache the configuration they first met; this one must meet the test's.
    monkeypatch.setattr(mutations, "log", structlog.get_logger("pimhub.graphql"))
    body = gql('mutation { updateProduct(sku: "TS-1", input: {stock: 3}) { success code } }')
    assert body["data"]["updateProduct"] == {"success": False, "code": "internal-error"}
    line = next(x for x in lines(log_stream) if x["event"] == "graphql.mutation_failed")
    assert "exc_info" not in line
    (exception,) = line["exception"]
    assert (exception["exc_type"], exception["exc_value"]) == ("RuntimeError", "boom in the write")
    assert exception["frames"][-1]["name"] == "raise_boom"
    assert all("locals" not in frame for frame in exception["frames"])


def test_an_exception_passed_as_exc_info_is_rendered(log_stream: io.BytesIO) -> None:
    missing: dict[str, int] = {}
    try:
        try:
            missing["inner"]
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        error = exc
    structlog.get_logger("t").error("failed", exc_info=error)
    (line,) = [x for x in lines(log_stream) if x["event"] == "failed"]
    assert [(e["exc_type"], e["exc_value"]) for e in line["exception"]] == [
        ("ValueError", "outer"),
        ("KeyError", "'inner'"),
    ]
