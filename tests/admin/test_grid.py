"""The catalog grid: /admin/objects and /admin/objects/{class} (search, filters, sort,
columns, paging, drafts), on both backends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import quote

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.conftest import statements_run

GRID = "/admin/objects/Product"
_KEYS = re.compile(r'<td class="key"><a href="/admin/objects/Product/([^"]+)">')


def keys(html: str) -> list[str]:
    """The business keys of the grid's rows, in order (from their links)."""
    return _KEYS.findall(html)


def _more_products(hub: Hub, n: int = 30) -> None:
    for i in range(n):
        hub.catalog.create(
            "Product",
            {
                "sku": f"GR-{i:03}",
                "name": {"en": f"Grid item {i}"},
                "price": {"amount": 100 + i, "currency": "EUR"},
                "stock": i,
            },
            author="test",
        )


def test_objects_lists_the_classes_with_counts_and_links(
    signed_in: Callable[[str], AdminClient],
) -> None:
    page = signed_in("viewer").get("/admin/objects")
    assert page.status_code == 200
    assert '<a href="/admin/objects/Product">' in page.text
    assert re.search(r"Product</a>.*?<td class=\"num\">2</td>", page.text, re.S)
    assert re.search(r"Category</a>.*?<td class=\"num\">2</td>", page.text, re.S)


def test_grid_rows_are_links_and_default_columns(signed_in: Callable[[str], AdminClient]) -> None:
    page = signed_in("manager").get(GRID)
    assert page.status_code == 200
    assert keys(page.text) == ["TS-1", "TS-2"]
    headers = re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', page.text)
    assert [h.strip() for h in headers] == [
        "SKU", "Main image", "Name", "Price", "Stock", "Weight", "Published", "Modified"
    ]  # fmt: skip
    assert "19.99 EUR" in page.text
    assert "5.00 EUR" in page.text  # with the field's two decimals


def test_search_finds_a_product_by_name(signed_in: Callable[[str], AdminClient]) -> None:
    page = signed_in("manager").get(GRID, params={"q": "Tee"})
    assert page.status_code == 200
    assert keys(page.text)[0] == "TS-1"
    assert "Draft tee" in page.text  # the manager reads drafts: TS-2 matches too
    viewer = signed_in("viewer").get(GRID, params={"q": "draft"})
    assert keys(viewer.text) == ["TS-2"]


def test_filter_rows_and_raw_filter(signed_in: Callable[[str], AdminClient]) -> None:
    client = signed_in("manager")
    gt = client.get(GRID, params={"f": "price", "op": "gt", "v": "10"})
    assert keys(gt.text) == ["TS-1"]
    raw = client.get(GRID, params={"filter": json.dumps({"price": {"$lt": 10}})})
    assert keys(raw.text) == ["TS-2"]
    both = client.get(
        GRID, params={"f": "name", "op": "contains", "v": "tee", "filter": '{"stock": 7}'}
    )
    assert keys(both.text) == ["TS-1"]


def test_published_and_draft_filter(signed_in: Callable[[str], AdminClient]) -> None:
    client = signed_in("viewer")  # read-drafts: sees drafts
    assert keys(client.get(GRID).text) == ["TS-1", "TS-2"]
    assert keys(client.get(GRID, params={"published": "draft"}).text) == ["TS-2"]
    assert keys(client.get(GRID, params={"published": "published"}).text) == ["TS-1"]


def test_sort_by_header_both_ways(users_hub: Hub, signed_in: Callable[[str], AdminClient]) -> None:
    client = signed_in("manager")
    asc = client.get(GRID, params={"sort": "price"})
    assert keys(asc.text) == ["TS-2", "TS-1"]
    assert re.search(r'aria-sort="ascending">\s*<a href="([^"]+)">Price', asc.text)
    link = re.search(r'aria-sort="ascending">\s*<a href="([^"]+)">Price', asc.text)
    assert link is not None
    desc = client.get(link.group(1).replace("&amp;", "&"))
    assert keys(desc.text) == ["TS-1", "TS-2"]
    assert 'aria-sort="descending"' in desc.text


def test_column_choice(signed_in: Callable[[str], AdminClient]) -> None:
    page = signed_in("manager").get(GRID, params={"cols": "ean,stock"})
    headers = re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', page.text)
    assert [h.strip() for h in headers] == ["SKU", "EAN / GTIN", "Stock"]
    assert "4006381333931" in page.text
    several = signed_in("manager").get(GRID + "?cols=name&cols=version")
    headers = re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', several.text)
    assert [h.strip() for h in headers] == ["SKU", "Name", "Version"]


def test_paging_with_after_walks_every_row_once(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _more_products(users_hub)
    client = signed_in("manager")
    seen: list[str] = []
    path = GRID + "?sort=-stock&first=7"
    for _ in range(10):
        page = client.get(path)
        assert page.status_code == 200
        seen += keys(page.text)
        found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        if found is None:
            break
        path = found.group(1).replace("&amp;", "&")
        assert "first=7" in path and "sort=-stock" in path
    assert len(seen) == 32 and len(set(seen)) == 32
    assert seen[0] == "GR-029"


def test_search_pages_by_offset(users_hub: Hub, signed_in: Callable[[str], AdminClient]) -> None:
    _more_products(users_hub, 12)
    client = signed_in("manager")
    first = client.get(GRID, params={"q": "grid", "first": 5, "sort": "key"})
    assert keys(first.text) == [f"GR-{i:03}" for i in range(5)]
    found = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert found is not None
    second = client.get(found.group(1).replace("&amp;", "&"))
    assert keys(second.text) == [f"GR-{i:03}" for i in range(5, 10)]


def test_unknown_class_is_a_404_page(signed_in: Callable[[str], AdminClient]) -> None:
    page = signed_in("viewer").get("/admin/objects/Nope")
    assert page.status_code == 404
    assert "<h1>" in page.text


def test_invalid_filter_json_is_a_422_page_naming_it(
    signed_in: Callable[[str], AdminClient],
) -> None:
    page = signed_in("manager").get(GRID, params={"filter": '{"price": '})
    assert page.status_code == 422
    assert "filter is not valid JSON" in page.text
    assert 'id="filter" name="filter" rows="3" aria-invalid="true"' in page.text
    assert "{&#34;price&#34;: </textarea>" in page.text  # what was typed is kept
    unknown = signed_in("manager").get(GRID, params={"filter": '{"colour": "red"}'})
    assert unknown.status_code == 422
    assert "unknown field" in unknown.text and "colour" in unknown.text


def test_a_bad_filter_row_names_its_field(signed_in: Callable[[str], AdminClient]) -> None:
    page = signed_in("manager").get(GRID, params={"f": "price", "op": "gt", "v": "cheap"})
    assert page.status_code == 422
    assert 'id="v1" name="v" value="cheap"' in page.text
    assert 'aria-invalid="true" aria-describedby="err-v1"' in page.text
    assert "price: &#39;cheap&#39; is not a number" in page.text


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "filter=" + quote('{"name": "a\u0000"}'),
        "filter=" + quote(json.dumps({"sku": "x" * 10_000})),
        "filter=" + "%7B%22%24not%22%3A" * 3000,
        "filter=" + quote('{"$not": ' * 300 + '{"stock": 1}' + "}" * 300),
        "first=1000000000",
        "first=-1",
        "first=abc",
        "first=%C2%B2",
        "first=%D9%A3",
        "q=tee&after=%C2%B2",
        "q=tee&after=" + "9" * 5000,
        "after=garbage",
        "q=tee&after=garbage",
        "sort=nonsense",
        "sort=-category",
        "published=maybe",
        "f=price&op=drop&v=1",
        "f=nope&op=eq&v=1",
        "cols=" + ",".join(["x"] * 40),
        "q=" + "t" * 300,
    ],
)
def test_hostile_query_strings_are_4xx_never_500(
    signed_in: Callable[[str], AdminClient], query: str
) -> None:
    client = signed_in("manager")
    page = client.get(f"{GRID}?{query}")
    assert 400 <= page.status_code < 500, (query, page.status_code, page.text[:300])


def test_one_grid_page_runs_a_fixed_number_of_statements(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """No statement per row: a page of 5 rows and one of 30 run the same number."""
    _more_products(users_hub)
    client = signed_in("manager")
    client.get(GRID)  # warm the caches
    counts = []
    for first in (5, 30):
        with statements_run(users_hub.engine) as seen:
            page = client.get(
                GRID, params={"first": first, "cols": "sku,name,brand,category,image"}
            )
        assert len(keys(page.text)) == first
        counts.append(len(seen))
    assert counts[0] == counts[1]
    assert counts[1] <= 12, counts


def test_the_grid_does_not_count_a_listing_but_offers_more(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    from pimhub.catalog.service import ListQuery

    uncounted = users_hub.catalog.list_objects(
        "Product", ListQuery(first=1, include_drafts=True, count=False)
    )
    assert uncounted.total == -1 and len(uncounted.items) == 1 and uncounted.next_cursor
    counted = users_hub.catalog.list_objects("Product", ListQuery(first=1, include_drafts=True))
    assert counted.total == 2
    page = signed_in("manager").get(GRID, params={"first": 1})
    assert "1 shown; there are more on the next page." in page.text
    searched = signed_in("manager").get(GRID, params={"q": "tee", "first": 1})
    assert "1 of 2 shown." in searched.text  # a search knows its total


def test_thumbnails_and_relation_keys_are_read_once_per_page(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """Every product with its own picture and a brand: still a fixed number of statements,
    and each picture shown by its thumbnail's URL."""
    import io

    from tests.assets.images import png

    for i in range(12):
        asset = users_hub.assets.add(io.BytesIO(png()), f"/grid/p{i}.png", author="t").asset
        users_hub.catalog.create(
            "Product",
            {"sku": f"IMG-{i:02}", "name": {"en": f"Pictured {i}"}, "image": asset.uuid,
             "brand": "acme"},
            author="t",
        )  # fmt: skip
    client = signed_in("manager")
    query = {"cols": "sku,image,brand", "filter": '{"sku": {"$like": "IMG-%"}}'}
    client.get(GRID, params=query)  # warm
    counts = []
    for first in (3, 12):
        with statements_run(users_hub.engine) as seen:
            page = client.get(GRID, params={**query, "first": first})
        assert len(keys(page.text)) == first
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    thumbs = re.findall(r'<img class="thumb" src="([^"]+)" alt="([^"]*)"', page.text)
    assert len(thumbs) == 12
    src, alt = thumbs[0]
    assert re.fullmatch(
        r"/assets/grid/p0\.png\?thumbnail=thumbnail&amp;v=[0-9a-f]{16}-[0-9a-f]{8}", src
    )
    assert alt == "p0.png"
    assert page.text.count("<td>acme</td>") == 12


def test_there_is_no_rows_fragment(signed_in: Callable[[str], AdminClient]) -> None:
    """The unused htmx fragment is gone: the page is the one address of a view."""
    assert signed_in("viewer").get("/admin/grid/Product/rows").status_code == 404


def test_cells_keep_their_shape(signed_in: Callable[[str], AdminClient]) -> None:
    """The key cell does not wrap, a picture cell has a thumbnail's height with or
    without one, and times say their zone."""
    page = signed_in("manager").get(GRID, params={"sort": "key"}).text
    assert '<td class="key"><a href="/admin/objects/Product/TS-1">' in page
    assert '<td class="pic"><span class="thumb-none"></span></td>' in page  # no picture
    assert re.search(r'<td class="when">\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>', page)
    css = signed_in("viewer").get("/admin/static/admin.css").text
    assert re.search(r"table\.grid td\.key[^{]*\{[^}]*white-space: nowrap", css)
    assert re.search(r"\.columns-choice label\.inline \{[^}]*white-space: nowrap", css)


def test_the_error_state_keeps_the_columns_ticked(
    signed_in: Callable[[str], AdminClient],
) -> None:
    page = signed_in("manager").get(GRID, params={"cols": "sku,stock", "first": "0"})
    assert page.status_code == 422
    ticked = re.findall(r'name="cols" value="([^"]+)" checked', page.text)
    assert ticked == ["sku", "stock"]
    default = signed_in("manager").get(GRID, params={"first": "0"})
    assert "published" in re.findall(r'name="cols" value="([^"]+)" checked', default.text)
