"""Class evolution and API keys against the real database, on both backends."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pimhub.access.service import AccessService
from pimhub.bootstrap import Hub
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import (
    ClassInUse,
    IncompatibleClassChange,
    InvalidClassDefinition,
    InvalidInput,
    Unauthorized,
)
from pimhub.storage.api_keys import SqlApiKeyRepository
from pimhub.storage.tables import api_keys


def model(name: str) -> dict[str, Any]:
    return copy.deepcopy(next(c for c in commerce_model() if c["name"] == name))


def field(definition: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in definition["fields"] if f["name"] == name)
    return found


def retype(definition: dict[str, Any], name: str, new_type: str) -> None:
    f = field(definition, name)
    f.pop("maxLength", None)
    f["type"] = new_type


# -- class evolution ------------------------------------------------------------------------


def test_apply_is_idempotent(hub: Hub) -> None:
    assert {state for _, state in hub.classes.apply(commerce_model(), author="t")} == {"unchanged"}


def test_safe_changes_are_accepted_on_a_class_with_objects(sample: Hub) -> None:
    brand = model("Brand")
    brand["fields"].append({"name": "country", "type": "text", "maxLength": 2})
    field(brand, "name")["maxLength"] = 500
    assert dict(sample.classes.apply([brand], author="t"))["Brand"] == "updated"
    assert sample.classes.get("Brand").field("country") is not None


@pytest.mark.parametrize(
    ("change", "blamed"),
    [
        (lambda c: field(c, "name").update(maxLength=2), "acme.name"),
        (lambda c: retype(c, "name", "boolean"), "acme.name"),
        (lambda c: c["fields"].append({"name": "vat", "type": "text", "required": True}), "vat"),
        (lambda c: c.update(businessKey="name"), "businessKey"),
        (lambda c: c.update(fields=[f for f in c["fields"] if f["name"] != "name"]), "name"),
    ],
)
def test_breaking_changes_are_refused_with_the_reason(
    sample: Hub, change: Any, blamed: str
) -> None:
    brand = model("Brand")
    change(brand)
    with pytest.raises(IncompatibleClassChange) as caught:
        sample.classes.apply([brand], author="t")
    assert any(blamed in e.field for e in caught.value.errors), caught.value.errors
    assert sample.classes.get("Brand").field("name") is not None  # nothing applied


def test_making_a_field_unique_needs_unique_values(sample: Hub) -> None:
    sample.catalog.create("Brand", {"code": "other", "name": "Acme"}, author="t")
    brand = model("Brand")
    field(brand, "name")["unique"] = True
    with pytest.raises(IncompatibleClassChange) as caught:
        sample.classes.apply([brand], author="t")
    assert "Acme" in str(caught.value.errors)


def test_invalid_definitions_name_the_place(hub: Hub) -> None:
    bad = {"name": "thing", "businessKey": "code", "fields": [{"name": "code", "type": "nope"}]}
    with pytest.raises(InvalidClassDefinition) as caught:
        hub.classes.apply([bad], author="t")
    assert all(e.field.startswith("classes[0].") for e in caught.value.errors)


def test_class_with_objects_or_referrers_cannot_be_deleted(sample: Hub) -> None:
    with pytest.raises(ClassInUse):
        sample.classes.delete("Product", author="t")
    sample.catalog.delete("Brand", "acme", force=True, author="t")
    with pytest.raises(ClassInUse) as caught:
        sample.classes.delete("Brand", author="t")  # Product.brand still targets it
    assert "Product.brand" in str(caught.value)


# -- API keys -------------------------------------------------------------------------------


def test_only_a_hash_of_the_secret_is_stored(hub: Hub) -> None:
    key, token = hub.access.create("erp", ["read", "write:Product"], environment="production")
    assert token.startswith(f"phk_{key.key_id}_")
    with hub.engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key.key_id)).one()
    secret = token.removeprefix(f"phk_{key.key_id}_")  # the secret may itself hold "_"
    assert all(secret not in str(value) for value in row)
    assert hub.access.authenticate(token).scopes == ("read:*", "write:Product")


@pytest.mark.parametrize(
    "token", [None, "", "phk_nothing", "phk_000000000000_" + "A" * 43, "Bearer x"]
)
def test_bad_tokens_are_refused(hub: Hub, token: str | None) -> None:
    with pytest.raises(Unauthorized):
        hub.access.authenticate(token)


def test_a_right_id_with_a_wrong_secret_is_refused(hub: Hub) -> None:
    _, token = hub.access.create("erp", ["read"], environment="test")
    with pytest.raises(Unauthorized):
        hub.access.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_revocation_is_immediate(hub: Hub) -> None:
    key, token = hub.access.create("erp", ["read"], environment="test")
    hub.access.authenticate(token)
    assert [k.key_id for k in hub.access.revoke("erp")] == [key.key_id]
    with pytest.raises(Unauthorized, match="revoked"):
        hub.access.authenticate(token)


def test_invalid_scopes_and_environments_are_refused(hub: Hub) -> None:
    with pytest.raises(InvalidInput):
        hub.access.create("x", ["read:product"], environment="test")
    with pytest.raises(InvalidInput):
        hub.access.create("x", ["superuser"], environment="test")
    with pytest.raises(InvalidInput):
        hub.access.create("x", ["read"], environment="moon")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_expiry_and_last_used_throttling(hub: Hub) -> None:
    clock = Clock()
    access = AccessService(SqlApiKeyRepository(hub.engine), clock=clock)
    key, token = access.create("temp", ["read"], environment="test", expires_in_days=1)

    def last_used() -> datetime | None:
        return next(k for k in access.all() if k.key_id == key.key_id).last_used_at

    access.authenticate(token)
    first = last_used()
    assert first == clock.now
    clock.now += timedelta(seconds=30)
    access.authenticate(token)
    assert last_used() == first  # within a minute: not rewritten
    clock.now += timedelta(seconds=31)
    access.authenticate(token)
    assert last_used() == clock.now
    clock.now += timedelta(days=1)
    with pytest.raises(Unauthorized, match="expired"):
        access.authenticate(token)
