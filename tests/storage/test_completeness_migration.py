"""Catalogs made before completeness existed upgrade in place (migration 0008): every object
gets a completeness column, filled for classes that declare channels, and applying the
shipped model afterwards computes it for every existing product."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from pimhub.bootstrap import bootstrap
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.settings import Settings
from pimhub.storage.migrate import upgrade
from pimhub.storage.tables import class_definitions, objects


def _old_catalog(engine: Engine, product: dict[str, Any]) -> None:
    """The schema before completeness, holding a Product class and two products."""
    upgrade(engine, "0007")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(class_definitions).values(
                name="Product", version=1, definition=product, updated_at=now, updated_by="t"
            )
        )
        conn.execute(
            insert(objects),
            [
                {
                    "uuid": str(uuid.uuid4()),
                    "class_name": "Product",
                    "business_key": key,
                    "published": True,
                    "version": 1,
                    "created_at": now,
                    "modified_at": now,
                    "data": data,
                }
                for key, data in [
                    ("OLD-1", {"sku": "OLD-1", "name": {"en": "Lamp"}, "image": "l.png"}),
                    ("OLD-2", {"sku": "OLD-2", "name": {"en": "Desk", "de": "Tisch"}}),
                ]
            ],
        )


def _completeness(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(objects.c.business_key, objects.c.completeness))
        return {r.business_key: r.completeness for r in rows}


def _product(with_channels: bool) -> dict[str, Any]:
    raw = next(c for c in commerce_model() if c["name"] == "Product")
    if not with_channels:
        raw = {k: v for k, v in raw.items() if k != "completeness"}
    return parse_class_definition(raw).to_dict(with_version=False)


def test_an_upgrade_then_the_new_model_computes_existing_objects(
    old_database: tuple[str, Engine],
) -> None:
    url, engine = old_database
    _old_catalog(engine, _product(with_channels=False))
    upgrade(engine)
    assert _completeness(engine) == {"OLD-1": {}, "OLD-2": {}}
    hub = bootstrap(Settings(database_url=url), engine=engine)
    hub.classes.apply(commerce_model(), author="upgrade")
    found = _completeness(engine)
    assert found["OLD-1"]["ecommerce"]["en"] == {"ratio": 50, "missing": ["description", "price"]}
    assert found["OLD-2"]["ecommerce"]["de"]["ratio"] == 25
    listed = hub.catalog.get_object("Product", "OLD-2", include_drafts=True)
    assert listed.to_dict()["completeness"] == found["OLD-2"]


def test_the_migration_fills_classes_that_already_declare_channels(
    old_database: tuple[str, Engine],
) -> None:
    _, engine = old_database
    _old_catalog(engine, _product(with_channels=True))
    upgrade(engine)
    found = _completeness(engine)
    assert found["OLD-1"]["ecommerce"]["en"]["ratio"] == 50
    assert found["OLD-2"]["ecommerce"] == {
        "en": {"ratio": 25, "missing": ["description", "price", "image"]},
        "de": {"ratio": 25, "missing": ["description", "price", "image"]},
    }
