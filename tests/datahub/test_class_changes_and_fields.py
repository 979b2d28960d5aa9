"""A class change that removes a field a datahub configuration lists in `fields`, or deletes a
class a configuration exposes, is refused with 409 naming the configuration: accepted, it
would leave a configuration that can no longer be saved as it is."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import IncompatibleClassChange
from tests.conftest import bearer


def gadget(*names: str) -> dict[str, Any]:
    fields = [{"name": n, "type": "number" if n == "price" else "text"} for n in names]
    return {"name": "Gadget", "businessKey": "code", "fields": fields}


CONFIG = {"name": "gadgets", "classes": {"Gadget": {"fields": ["code", "price", "extra"]}}}


@pytest.fixture
def gadget_hub(bare_hub: Hub) -> Hub:
    bare_hub.classes.create(gadget("code", "price", "extra", "note"), author="test")
    bare_hub.datahub.create(CONFIG, author="test")
    return bare_hub


def test_removing_a_listed_field_is_a_409_naming_the_configuration(
    gadget_hub: Hub, client: TestClient
) -> None:
    headers = bearer(gadget_hub, "admin", name="admin")
    answer = client.put("/api/v1/classes/Gadget", json=gadget("code", "price"), headers=headers)
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["code"] == "incompatible-class-change"
    assert [e["field"] for e in problem["errors"]] == ["datahub.gadgets.classes.Gadget.fields[2]"]
    assert "datahub configuration 'gadgets'" in problem["detail"]
    assert gadget_hub.classes.get("Gadget").version == 1
    # The configuration can still be saved as it is.
    again = client.put("/api/v1/datahub/gadgets", json=CONFIG, headers=headers)
    assert again.status_code == 200, again.text


def test_apply_is_refused_too_and_unlisted_fields_may_go(gadget_hub: Hub) -> None:
    with pytest.raises(IncompatibleClassChange) as caught:
        gadget_hub.classes.apply([gadget("code", "price", "note")], author="test")
    assert [e.field for e in caught.value.errors] == ["datahub.gadgets.classes.Gadget.fields[2]"]
    # `note` is not listed, so the configuration does not care.
    kept = gadget("code", "price", "extra")
    assert gadget_hub.classes.replace("Gadget", kept, author="t").version == 2


def test_a_field_already_missing_does_not_hold_up_other_changes(gadget_hub: Hub) -> None:
    gadget_hub.classes.dependents.clear()  # as if removed before this check existed
    gadget_hub.classes.replace("Gadget", gadget("code", "price"), author="test")
    gadget_hub.classes.dependents.append(gadget_hub.datahub.class_change_problems)
    other = gadget("code", "price", "x")
    assert gadget_hub.classes.replace("Gadget", other, author="t").version == 3


def test_deleting_an_exposed_class_is_a_409_naming_the_configuration(
    gadget_hub: Hub, client: TestClient
) -> None:
    headers = bearer(gadget_hub, "admin", name="admin")
    answer = client.delete("/api/v1/classes/Gadget", headers=headers)
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["code"] == "incompatible-class-change"
    assert [e["field"] for e in problem["errors"]] == ["datahub.gadgets.classes.Gadget"]
    assert "datahub configuration 'gadgets'" in problem["detail"]
    gadget_hub.datahub.delete("gadgets")
    assert client.delete("/api/v1/classes/Gadget", headers=headers).status_code == 204
