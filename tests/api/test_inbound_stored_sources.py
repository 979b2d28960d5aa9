"""A source saved under older rules (schemas that today's save-time checks refuse) still loads
from the database without those checks running again, and each message its schemas cannot
check is an audited 422, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.inbound import source_parser, validation
from pimhub.inbound.errors import InvalidMessage
from tests.conftest import bearer

SOURCES = "/api/v1/inbound/sources"
CYCLE = {"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"}
BACKREFERENCE = {"properties": {"x": {"pattern": "(a)\\1"}}}


def nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"allOf": [schema]}
    return schema


@pytest.fixture
def integrator(hub: Hub) -> dict[str, str]:
    return bearer(hub, "integrate", name="integrator")


def test_a_source_saved_under_older_rules_loads_and_refuses_per_message(
    client: TestClient, integrator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = {"a.cycle": CYCLE, "a.backref": BACKREFERENCE, "a.deep": nested(100)}
    with monkeypatch.context() as older:  # the rules when it was saved: none of today's
        older.setattr(source_parser, "schema_problems", lambda *_: [])
        older.setattr(source_parser, "check_depth", lambda *_: None)
        body = {"name": "old", "scheme": "shared-secret", "schemas": schemas}
        created = client.post(SOURCES, json=body, headers=integrator)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    # Today's checks refuse every one of these schemas; loading does not run them.
    tried: list[Any] = []
    monkeypatch.setattr(validation, "_cycle_problems", lambda *a: tried.append(a) or [])
    got = client.get(f"{SOURCES}/old", headers=integrator)
    assert got.status_code == 200, got.text
    assert set(got.json()["schemas"]) == set(schemas)

    headers = {"content-type": "application/json", "x-webhook-secret": secret}

    def send(body: bytes) -> Any:
        return client.post("/inbound/old", content=body, headers=headers)

    cycle = send(b'{"type": "a.cycle", "id": "m1"}')
    assert cycle.status_code == 422, cycle.text
    assert [e["code"] for e in cycle.json()["errors"]] == ["ref-cycle"]
    backref = send(b'{"type": "a.backref", "id": "m2", "x": "aa"}')
    assert backref.status_code == 422, backref.text
    [error] = backref.json()["errors"]
    assert (error["field"], error["code"]) == ("/x", "pattern")
    assert "cannot be used" in error["message"]
    deep = send(b'{"type": "a.deep", "id": "m3"}')
    assert deep.status_code == 202, deep.text
    assert tried == []  # no trial validation on load or on the cache's refresh
    audit = client.get("/api/v1/inbound/messages?source=old", headers=integrator).json()
    assert sorted((m["outcome"], m["problem"]) for m in audit["items"]) == [
        ("accepted", None),
        ("rejected", "invalid-message"),
        ("rejected", "invalid-message"),
    ]


def test_a_schema_that_cannot_be_compiled_refuses_its_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(*_: Any, **__: Any) -> Any:
        raise ValueError("cannot be built")

    monkeypatch.setattr(validation, "LinearValidator", failing)
    validator = validation.compile_schemas({"a.b": {"type": "object"}})["a.b"]
    with pytest.raises(InvalidMessage) as refused:
        validation.validate(validator, {}, "a.b")
    assert [e.code for e in refused.value.errors] == ["schema-failed"]
    assert "cannot be built" in refused.value.errors[0].message
