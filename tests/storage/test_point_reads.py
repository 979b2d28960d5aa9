"""Point reads (storage/point_reads.py) on both backends: same objects as the unit of work
reads, and the SQLite memo never serves a row that another connection has changed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import update

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import Unauthorized
from pimhub.storage.engine import begin_write
from pimhub.storage.point_reads import PointReader, SqlObjectPointReads
from pimhub.storage.tables import api_keys


def test_object_with_targets_matches_unit_of_work_reads(sample: Hub) -> None:
    found = SqlObjectPointReads(sample.engine).get_with_targets(
        "Product", "TS-1", ["category", "brand"]
    )
    assert found is not None
    product, related = found
    with sample.catalog.uow() as uow:
        expected = uow.objects.get_by_key("Product", "TS-1")
        category = uow.objects.get_by_key("Category", "men-tops")
        brand = uow.objects.get_by_key("Brand", "acme")
    assert product == expected
    assert category is not None and brand is not None
    assert {
        name: (r.class_name, r.key, r.uuid, r.published, r.values) for name, r in related.items()
    } == {
        "category": ("Category", "men-tops", category.uuid, True, category.values),
        "brand": ("Brand", "acme", brand.uuid, True, brand.values),
    }
    assert product.created_at.tzinfo is not None


def test_missing_targets_are_left_out(sample: Hub) -> None:
    found = SqlObjectPointReads(sample.engine).get_with_targets(
        "Product", "TS-2", ["category", "brand"]
    )
    assert found is not None
    assert found[1] == {}


def test_unknown_key_reads_none(sample: Hub) -> None:
    reads = SqlObjectPointReads(sample.engine)
    assert reads.get_with_targets("Product", "nope", ["category"]) is None
    # Field names are bound values: a hostile one is just a path that matches nothing.
    found = reads.get_with_targets("Product", "TS-1", ["x') OR 1=1 --"])
    assert found is not None and found[1] == {}


def test_memo_is_sqlite_only_and_emptied_by_any_commit(hub: Hub) -> None:
    reader = PointReader(hub.engine)
    memo = reader.memo()
    if hub.engine.dialect.name != "sqlite":
        assert memo is None
        return
    assert memo is not None
    memo["k"] = "cached"
    assert reader.memo() == {"k": "cached"}
    hub.catalog.create("Brand", {"code": "new", "name": "New"}, author="test")
    assert reader.memo() == {}


def test_revocation_in_another_process_is_seen_by_the_next_request(hub: Hub) -> None:
    key, token = hub.access.create("victim", ["read"], environment="test")
    hub.access.authenticate(token)
    hub.access.authenticate(token)  # now served from the memo on SQLite
    script = (
        "import sys\n"
        "from sqlalchemy import create_engine, text\n"
        "e = create_engine(sys.argv[1], connect_args=dict(options=sys.argv[3]) if sys.argv[3]"
        " else {})\n"
        "with e.begin() as c:\n"
        "    c.execute(text('UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"
        " WHERE key_id = :k'), {'k': sys.argv[2]})\n"
    )
    url = hub.engine.url.render_as_string(hide_password=False)
    options = _search_path(hub) if hub.engine.dialect.name == "postgresql" else ""
    subprocess.run([sys.executable, "-c", script, url, key.key_id, options], check=True)
    with pytest.raises(Unauthorized, match="revoked"):
        hub.access.authenticate(token)


def test_expiry_set_directly_in_the_database_is_seen(hub: Hub) -> None:
    key, token = hub.access.create("soon", ["read"], environment="test")
    hub.access.authenticate(token)
    with begin_write(hub.engine) as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key.key_id)
            .values(expires_at=hub.access.clock().replace(year=2000))
        )
    with pytest.raises(Unauthorized, match="expired"):
        hub.access.authenticate(token)


def _search_path(hub: Hub) -> str:
    with hub.engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    return f"-csearch_path={schema}"
