"""Upgrading a catalog made before the search index existed fills the index (migration 0004),
so existing objects are searchable right after `pimhub db upgrade`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from pimhub.bootstrap import bootstrap
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.search.documents import query_tokens
from pimhub.search.ports import SearchRequest, TextQuery
from pimhub.settings import Settings
from pimhub.storage.migrate import upgrade
from pimhub.storage.tables import class_definitions, objects


def test_an_upgrade_indexes_the_objects_already_there(old_database: tuple[str, Engine]) -> None:
    url, engine = old_database
    upgrade(engine, "0003")  # the schema before the search index
    now = datetime.now(UTC)
    product = next(c for c in commerce_model() if c["name"] == "Product")
    definition = parse_class_definition(product).to_dict(with_version=False)
    with engine.begin() as conn:
        conn.execute(
            insert(class_definitions).values(
                name="Product", version=1, definition=definition, updated_at=now, updated_by="t"
            )
        )
        conn.execute(
            insert(objects),
            [
                {
                    "uuid": str(uuid.uuid4()),
                    "class_name": "Product",
                    "business_key": f"OLD-{n}",
                    "published": True,
                    "version": 1,
                    "created_at": now,
                    "modified_at": now,
                    "data": {"sku": f"OLD-{n}", "name": {"en": f"Heritage lamp {n}"}},
                }
                for n in range(3)
            ],
        )
    upgrade(engine)
    hub = bootstrap(Settings(database_url=url), engine=engine)
    found = hub.search.search(
        SearchRequest(("Product",), TextQuery("heritage", tuple(query_tokens("heritage"))), "en")
    )
    assert sorted(o.key for o in found.objects) == ["OLD-0", "OLD-1", "OLD-2"]
