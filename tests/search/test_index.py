"""The search index on both databases: written in the catalog's transaction, ranked, per
language, faceted, rebuilt."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import ValidationFailed
from pimhub.search.documents import query_tokens
from pimhub.search.ports import Facet, Part, SearchPage, SearchRequest, TextQuery
from pimhub.search.postgres_fts import PostgresSearchIndex
from pimhub.search.rebuild import rebuild_on
from pimhub.search.sql_index import IndexLanguages
from pimhub.storage.engine import build_engine


def search(hub: Hub, q: str | None, **options: Any) -> SearchPage:
    parts = options.pop("parts", frozenset(Part))
    request = SearchRequest(
        class_names=options.pop("classes", ("Product",)),
        text=None if q is None else TextQuery(q, tuple(query_tokens(q)), parts),
        language=options.pop("language", "en"),
        **options,
    )
    return hub.search.search(request)


def keys(page: SearchPage) -> list[str]:
    return [o.key for o in page.objects]


def product(hub: Hub, sku: str, name: str, **values: Any) -> None:
    hub.catalog.create("Product", {"sku": sku, "name": {"en": name}, **values}, author="t")


def test_a_write_is_searchable_the_moment_it_commits(hub: Hub) -> None:
    product(hub, "P-1", "Trail runner")
    assert keys(search(hub, "trail")) == ["P-1"]
    hub.catalog.patch("Product", "P-1", {"name": {"en": "Road runner"}}, author="t")
    assert keys(search(hub, "trail")) == []
    assert keys(search(hub, "road")) == ["P-1"]
    hub.catalog.delete("Product", "P-1", author="t")
    assert keys(search(hub, "road")) == []
    assert hub.search.size() == 0


def test_a_rolled_back_write_never_reaches_the_index(hub: Hub) -> None:
    product(hub, "P-1", "Trail runner")
    with pytest.raises(ValidationFailed):
        # The second field is invalid: the whole save, index included, is refused.
        hub.catalog.patch("Product", "P-1", {"name": {"en": "Glacier"}, "stock": -1}, author="t")
    assert keys(search(hub, "glacier")) == []
    definition = hub.classes.get("Product")
    with hub.units_of_work(write=True) as uow:
        obj = uow.objects.get_by_key("Product", "P-1")
        assert obj is not None
        obj.values["name"] = {"en": "Glacier"}
        uow.search.put(definition, obj)
        # no commit
    assert keys(search(hub, "glacier")) == []
    assert keys(search(hub, "trail")) == ["P-1"]


def test_exact_business_key_first_then_name_then_other_text(hub: Hub) -> None:
    product(hub, "Z-3", "Desk", shortDescription={"en": "fits any laptop"})
    product(hub, "Y-2", "Laptop stand")
    product(hub, "laptop", "Notebook computer")
    product(hub, "W-4", "Laptop sleeve, laptop bag, laptop case")
    page = search(hub, "laptop")
    assert page.total == 4
    assert keys(page)[0] == "laptop"
    assert set(keys(page)[1:3]) == {"Y-2", "W-4"}
    assert keys(page)[3] == "Z-3"


def test_every_word_must_match_and_the_last_is_a_prefix(hub: Hub) -> None:
    product(hub, "P-1", "Crème brûlée torch")
    product(hub, "P-2", "Crème fraîche")
    assert keys(search(hub, "creme TOR")) == ["P-1"]
    assert sorted(keys(search(hub, "crème"))) == ["P-1", "P-2"]
    assert keys(search(hub, "torch creme bru")) == ["P-1"]
    assert keys(search(hub, "brulee fraiche")) == []


def test_localized_text_is_matched_per_language(hub: Hub) -> None:
    hub.catalog.create("Product", {"sku": "P-1", "name": {"en": "Shirt", "de": "Hemd"}}, author="t")
    product(hub, "P-2", "Shirt dress")  # English only: German searches fall back to it
    assert keys(search(hub, "hemd", language="de")) == ["P-1"]
    assert keys(search(hub, "hemd", language="en")) == []
    assert keys(search(hub, "shirt", language="de")) == ["P-2"]
    assert sorted(keys(search(hub, "shirt", language="en"))) == ["P-1", "P-2"]


def test_parts_limit_what_may_match(hub: Hub) -> None:
    product(hub, "P-1", "Lamp", shortDescription={"en": "secret supplier"})
    assert keys(search(hub, "secret")) == ["P-1"]
    assert keys(search(hub, "secret", parts=frozenset({Part.KEY, Part.NAME}))) == []
    assert keys(search(hub, "lamp", parts=frozenset({Part.KEY}))) == []
    assert keys(search(hub, "p 1", parts=frozenset({Part.KEY}))) == ["P-1"]


def test_drafts_class_and_filter_narrow_a_search(sample: Hub) -> None:
    assert keys(search(sample, "tee")) == ["TS-1"]
    assert sorted(keys(search(sample, "tee", published_only=False))) == ["TS-1", "TS-2"]
    assert keys(search(sample, "tops", classes=("Category",))) == ["men-tops"]
    no_match = search(sample, "tops tee", classes=("Product", "Category"))
    assert no_match.total == 0 or no_match.fuzzy  # PostgreSQL offers near matches
    both = search(sample, "t", classes=("Product", "Category"))
    assert sorted(keys(both)) == ["TS-1", "men-tops"]


def test_facets_count_values_over_all_matches(sample: Hub) -> None:
    c = sample.catalog
    c.create(
        "Product",
        {"sku": "TS-3", "name": {"en": "Tee long"}, "brand": "acme", "material": ["cotton"]},
        author="t",
    )
    c.create(
        "Product",
        {"sku": "TS-4", "name": {"en": "Tee wide"}, "material": ["cotton", "wool"]},
        author="t",
    )
    facets = (Facet("brand", False), Facet("material", True), Facet("featured", False, True))
    page = search(sample, "tee", facets=facets, size=1)
    assert page.total == 3 and len(page.objects) == 1
    acme = sample.catalog.get_object("Brand", "acme", include_drafts=False).uuid
    assert page.facets["brand"] == [(acme, 2)]
    assert page.facets["material"] == [("cotton", 2), ("wool", 1)]
    assert page.facets["featured"] == []


def test_listing_without_text_pages_by_keyset(sample: Hub) -> None:
    for i in range(5):
        product(sample, f"K-{i}", f"Item {i}", price={"amount": 10 + i, "currency": "EUR"})
    first = search(sample, None, size=4)
    assert first.total == 6 and keys(first) == ["TS-1", "K-0", "K-1", "K-2"]
    rest = search(sample, None, size=4, after=first.cursor_after_last)
    assert keys(rest) == ["K-3", "K-4"]


def test_a_class_change_that_alters_documents_reindexes_its_objects(hub: Hub) -> None:
    doc = {
        "name": "Doc",
        "businessKey": "code",
        "fields": [{"name": "code", "type": "text"}, {"name": "title", "type": "textarea"}],
    }
    hub.classes.create(doc, author="t")
    hub.catalog.create("Doc", {"code": "d1", "title": "Quarterly report"}, author="t")
    key_or_name = frozenset({Part.KEY, Part.NAME})
    assert keys(search(hub, "quarterly", classes=("Doc",), parts=key_or_name)) == ["d1"]
    # A text field called "name" now names Docs; the title becomes other text.
    doc["fields"] = [*doc["fields"], {"name": "name", "type": "text"}]
    hub.classes.replace("Doc", doc, author="t")
    assert keys(search(hub, "quarterly", classes=("Doc",), parts=key_or_name)) == []
    assert keys(search(hub, "quarterly", classes=("Doc",))) == ["d1"]


def test_rebuild_restores_a_lost_index(sample: Hub) -> None:
    with sample.engine.begin() as conn:
        table = "search_fts" if conn.dialect.name == "sqlite" else "search_documents"
        conn.execute(text(f"DELETE FROM {table}"))
    assert keys(search(sample, "tee")) == []
    assert sample.search.rebuild() == 5
    assert keys(search(sample, "tee")) == ["TS-1"]
    assert sample.search.rebuild(["Brand"]) == 1


def test_near_matches_when_nothing_matches_exactly(hub: Hub) -> None:
    product(hub, "P-1", "Laptop stand")
    page = search(hub, "lapton stand")
    if hub.engine.dialect.name == "sqlite":
        assert (page.total, page.fuzzy) == (0, False)  # FTS5 has no typo tolerance here
    else:
        assert (keys(page), page.fuzzy) == (["P-1"], True)


def test_hidden_text_does_not_move_an_object_up(hub: Hub) -> None:
    for i in range(10):  # so that "widget" is rare enough to score (BM25's IDF)
        product(hub, f"F-{i}", "Filler", shortDescription={"en": "nothing here"})
    product(hub, "W-A", "Widget")
    product(hub, "W-B", "Widget", shortDescription={"en": "widget widget widget"})
    # W-B's hidden text repeats the word; where that text may not match it must not rank W-B
    # first either (PostgreSQL's ts_rank would score the whole document unless filtered).
    assert keys(search(hub, "widget", parts=frozenset({Part.KEY, Part.NAME}))) == ["W-A", "W-B"]


def test_a_huge_name_is_indexed(hub: Hub) -> None:
    hub.classes.create(
        {
            "name": "Doc",
            "businessKey": "code",
            "fields": [{"name": "code", "type": "text"}, {"name": "text", "type": "rich_text"}],
        },
        author="t",
    )
    words = " ".join(f"w{i}" for i in range(120_000))  # about 900,000 characters
    hub.catalog.create("Doc", {"code": "d1", "text": f"<p>{words}</p>"}, author="t")
    assert keys(search(hub, "w1", classes=("Doc",))) == ["d1"]


def test_near_matches_need_no_search_path(hub: Hub) -> None:
    product(hub, "P-1", "Hoodie")
    typo = SearchRequest(("Product",), TextQuery("hoodiee", ("hoodiee",)), "en")
    if hub.engine.dialect.name == "sqlite":
        assert (hub.search.search(typo).total, hub.search.near(typo.text, "en")) == (0, None)  # type: ignore[arg-type]
        return
    with hub.engine.connect() as conn:
        own = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    # pg_trgm is in public; this engine's search path leaves public out.
    narrow = build_engine(hub.engine.url, connect_args={"options": f"-csearch_path={own}"})
    try:
        index = PostgresSearchIndex(narrow, IndexLanguages(("en", "de", "fr"), "en"))
        page = index.search(typo)
        assert (keys(page), page.fuzzy) == (["P-1"], True)
    finally:
        narrow.dispose()


def test_writes_during_a_rebuild_do_not_fail(hub: Hub) -> None:
    product(hub, "P-1", "Lamp")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            hub.catalog.patch("Product", "P-1", {"name": {"en": "Desk lamp"}}, author="t")
        except BaseException as exc:
            errors.append(exc)

    with hub.engine.connect() as conn:
        tx = conn.begin()
        rebuild_on(conn, IndexLanguages(("en", "de", "fr"), "en"))
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=1)  # on PostgreSQL it waits for the rebuild's rows
        tx.commit()
    writer.join(timeout=30)
    assert errors == []
    assert keys(search(hub, "desk")) == ["P-1"]
    assert hub.search.size() == 1  # English only: one document for any language
