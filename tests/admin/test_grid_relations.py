"""Filter rows on relations (by the target's business key) and 'is one of', through the
grid page, on both backends."""

from __future__ import annotations

from collections.abc import Callable

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.admin.test_grid import GRID, keys


def _other_product(hub: Hub) -> None:
    hub.catalog.create("Brand", {"code": "zeta", "name": "Zeta"}, author="test")
    hub.catalog.create(
        "Product",
        {"sku": "TS-3", "name": {"en": "Zeta tee"}, "brand": "zeta", "category": "men"},
        author="test",
    )


def test_relations_are_offered_and_filter_by_key(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _other_product(users_hub)
    client = signed_in("manager")
    page = client.get(GRID)
    assert '<option value="brand">' in page.text and '<option value="category">' in page.text

    def found(**params: str) -> list[str]:
        answer = client.get(GRID, params={"sort": "key", **params})
        assert answer.status_code == 200, answer.text[:500]
        return keys(answer.text)

    assert found(f="brand", op="eq", v="acme") == ["TS-1"]
    assert found(f="category", op="eq", v="men-tops") == ["TS-1"]
    assert found(f="brand", op="in", v="acme, zeta") == ["TS-1", "TS-3"]
    assert found(f="brand", op="ne", v="acme") == ["TS-3"]
    assert found(f="brand", op="empty", v="") == ["TS-2"]
    assert found(f="brand", op="set", v="") == ["TS-1", "TS-3"]
    assert found(q="tee", f="brand", op="eq", v="zeta") == ["TS-3"]  # the search's path
    assert found(f="stock", op="in", v="7, 8") == ["TS-1"]


def test_a_relation_row_names_what_is_wrong(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    unknown = client.get(GRID, params={"f": "brand", "op": "eq", "v": "nobody"})
    assert unknown.status_code == 422
    assert 'aria-describedby="err-v1"' in unknown.text
    assert "no Brand &#39;nobody&#39;" in unknown.text
    assert 'id="v1" name="v" value="nobody"' in unknown.text
    wrong = client.get(GRID, params={"f": "brand", "op": "gt", "v": "acme"})
    assert wrong.status_code == 422 and 'aria-describedby="err-op1"' in wrong.text
    assert 'id="err-op1">brand compares by Brand key' in wrong.text
    huge = client.get(GRID, params={"f": "brand", "op": "in", "v": ",".join(map(str, range(99)))})
    assert huge.status_code == 422 and 'aria-describedby="err-v1"' in huge.text
