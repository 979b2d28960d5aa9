"""A class change that would break a saved datahub `formats` entry is refused, naming the
configuration; a configuration that was already stale answers the field in its own shape
instead of failing every query as if the client had erred."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import IncompatibleClassChange
from pimhub.datahub.config import InvalidDatahubConfig, parse_datahub_config
from tests.conftest import bearer


def emp(*, currencies: list[str], family: str = "length", unit: str = "m", pl_type: str = "money"
        ) -> dict[str, Any]:  # fmt: skip
    pl: dict[str, Any] = {"name": "pl", "type": pl_type}
    if pl_type == "money":
        pl |= {"priceList": True, "currencies": currencies}
    return {
        "name": "Emp",
        "businessKey": "code",
        "fields": [
            {"name": "code", "type": "text"},
            pl,
            {"name": "len", "type": "quantity", "family": family, "unit": unit},
        ],
    }


CONFIG = {
    "name": "w",
    "classes": {
        "Emp": {
            "formats": {
                "pl": {"as": "number", "currency": "USD"},
                "len": {"as": "quantityValue", "unit": "mm"},
            }
        }
    },
}


@pytest.fixture
def emp_hub(bare_hub: Hub) -> Hub:
    bare_hub.classes.create(emp(currencies=["EUR", "USD"]), author="test")
    bare_hub.datahub.create(CONFIG, author="test")
    bare_hub.catalog.create(
        "Emp",
        {
            "code": "e1",
            "pl": [{"amount": 5, "currency": "EUR"}, {"amount": 6, "currency": "USD"}],
            "len": {"value": 1.5, "unit": "m"},
        },
        author="test",
    )
    return bare_hub


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        (emp(currencies=["EUR"]), ["datahub.w.classes.Emp.formats.pl.currency"]),
        (emp(currencies=["EUR", "USD"], family="mass", unit="kg"), [
            "datahub.w.classes.Emp.formats.len.unit"]),
        (emp(currencies=["EUR"], pl_type="text"), ["datahub.w.classes.Emp.formats.pl.as"]),
    ],
)  # fmt: skip
def test_a_class_change_that_breaks_a_format_is_refused(
    emp_hub: Hub, change: dict[str, Any], paths: list[str]
) -> None:
    # The stored object is made to fit every new shape, so only the format is in the way.
    emp_hub.catalog.patch("Emp", "e1", {"pl": None, "len": None}, author="test")
    with pytest.raises(IncompatibleClassChange) as caught:
        emp_hub.classes.replace("Emp", change, author="test")
    assert [e.field for e in caught.value.errors] == paths
    assert all("datahub configuration 'w'" in e.message for e in caught.value.errors)
    assert "datahub configuration 'w'" in caught.value.detail
    assert emp_hub.classes.get("Emp").version == 1  # nothing was saved
    with pytest.raises(IncompatibleClassChange):
        emp_hub.classes.apply([change], author="test")


def test_the_refusal_is_a_409_naming_the_configuration(emp_hub: Hub, client: TestClient) -> None:
    emp_hub.catalog.patch("Emp", "e1", {"pl": None, "len": None}, author="test")
    answer = client.put(
        "/api/v1/classes/Emp",
        json=emp(currencies=["EUR"], family="mass", unit="kg"),
        headers=bearer(emp_hub, "admin", name="admin"),
    )
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert sorted(e["field"] for e in problem["errors"]) == [
        "datahub.w.classes.Emp.formats.len.unit",
        "datahub.w.classes.Emp.formats.pl.currency",
    ]


def test_changes_that_keep_every_format_fitting_are_accepted(emp_hub: Hub) -> None:
    wider = emp(currencies=["EUR", "USD", "GBP"])
    assert emp_hub.classes.replace("Emp", wider, author="test").version == 2


def test_a_configuration_already_stale_answers_the_field_in_its_own_shape(
    emp_hub: Hub, client: TestClient
) -> None:
    # As if saved before class changes were checked: the class loses USD and its length
    # becomes a mass behind the configuration's back.
    emp_hub.classes.dependents.clear()
    emp_hub.catalog.patch("Emp", "e1", {"pl": None, "len": None}, author="test")
    emp_hub.classes.replace("Emp", emp(currencies=["EUR"], family="mass", unit="kg"), author="t")
    emp_hub.catalog.patch(
        "Emp",
        "e1",
        {"pl": [{"amount": 5, "currency": "EUR"}], "len": {"value": 2, "unit": "kg"}},
        author="test",
    )
    headers = bearer(emp_hub, "datahub:w", name="w")
    query = (
        "{ getEmpListing { edges { node { code pl { amount currency } len { value unit } } } } }"
    )
    body = client.post("/graphql/w", json={"query": query}, headers=headers).json()
    assert "errors" not in body, body
    (edge,) = body["data"]["getEmpListing"]["edges"]
    assert edge["node"] == {
        "code": "e1",
        "pl": {"amount": 5.0, "currency": "EUR"},  # a price list answers its first currency
        "len": {"value": 2.0, "unit": "kg"},
    }
    # A change that breaks nothing new is not held up by what was already stale.
    still = emp(currencies=["EUR", "CHF"], family="mass", unit="kg")
    emp_hub.classes.dependents.append(emp_hub.datahub.class_change_problems)
    assert emp_hub.classes.replace("Emp", still, author="test").version == 3
    # Saved again, the configuration itself is refused with what is wrong.
    stale = emp_hub.datahub.get("w").to_dict()
    definitions = {c.name: c for c in emp_hub.classes.all()}
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config(stale, definitions)
    assert sorted(e.field for e in caught.value.errors) == [
        "classes.Emp.formats.len.unit",
        "classes.Emp.formats.pl.currency",
    ]
