"""The grid page reads its class's definition once and hands it to the listing, which then
does not read it again (each read is a statement and its decoding, on every page view)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery
from tests.admin.conftest import AdminClient


def test_the_listing_reads_no_second_definition(
    signed_in: Callable[[str], AdminClient], users_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in("manager")
    reads: list[str] = []
    real = users_hub.catalog.class_definition

    def counted(uow: Any, name: str) -> Any:
        reads.append(name)
        return real(uow, name)

    monkeypatch.setattr(users_hub.catalog, "class_definition", counted)
    answer = client.get("/admin/objects/Product?sort=-price")
    assert answer.status_code == 200 and "<table" in answer.text
    assert reads == []
    # Without a definition, or with another class's, the listing reads its own.
    users_hub.catalog.list_objects("Product", ListQuery(first=1))
    other = users_hub.classes.get("Brand")
    users_hub.catalog.list_objects("Product", ListQuery(first=1), definition=other)
    assert reads == ["Product", "Product"]
