"""The inbound scopes: `inbound` (every api-key source) and `inbound:<source>` (one)."""

from __future__ import annotations

import pytest

from pimhub.access.keys import parse_scopes
from pimhub.catalog.errors import InvalidInput


def test_inbound_scopes_are_kept_as_given() -> None:
    assert parse_scopes(["inbound", "inbound:erp-1"]) == ("inbound", "inbound:erp-1")


@pytest.mark.parametrize(
    "scope", ["inbound:", "inbound:ERP", "inbound:*", "inbound:1erp", "inbound:" + "a" * 31]
)
def test_malformed_inbound_scopes_are_refused(scope: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_scopes([scope])
    assert "inbound[:<source>]" in caught.value.errors[0].message
