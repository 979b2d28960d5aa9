"""The catalog: /objects (the classes with their object counts) and /objects/{class}, the
grid: search, filters, sort, columns and cursor paging, all in the query string, so that a
saved view is a stored query string and every row's key is a real link.

The page runs one listing (or search) query plus one statement each for the relation
targets and assets its cells show (grid_query.py); no per-row reads.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.grid_columns import (
    Column,
    chosen_columns,
    columns_of,
    filterable,
    row_html,
    row_renderers,
)
from pimhub.admin.grid_query import GridPage, load_page
from pimhub.admin.grid_state import (
    OPERATORS,
    PUBLISHED_CHOICES,
    FilterRow,
    GridState,
)
from pimhub.admin.web import (
    blocking,
    checked_form,
    field_errors,
    hub_of,
    parse_count,
    principal_of,
    render,
    see_other,
    text_field,
    url,
    user_of,
)
from pimhub.api.auth import require
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import InvalidInput, NotFound
from pimhub.users.views import SavedView

PAGE_SIZES = (25, 50, 100, 200)
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
# Errors of parameters without an input of their own on the form, shown under it.
_ELSEWHERE = ("after", "sort", "cols", "published")


def grid_url(class_name: str, query: str = "") -> str:
    return url(f"/objects/{quote(class_name, safe='')}") + (f"?{query}" if query else "")


def object_url(class_name: str, key: str) -> str:
    return url(f"/objects/{quote(class_name, safe='')}/{quote(key, safe='')}")


async def objects_index(request: Request) -> Response:
    hub, principal = hub_of(request), principal_of(request)

    def load() -> list[tuple[Any, int]]:
        readable = [c for c in hub.classes.all() if principal.allows(Action.READ, c.name)]
        counts = hub.catalog.object_counts()  # one grouped query for every class
        shown = []
        for c in readable:
            found = counts.get(c.name)
            drafts = principal.allows(Action.READ_DRAFTS, c.name)
            shown.append((c, 0 if found is None else found.total if drafts else found.published))
        return shown

    classes = await blocking(load)
    return render(request, "objects_index.html", {"classes": classes, "grid_url": grid_url})


def grid_state(params: QueryParams) -> GridState:
    lists = {k: params.getlist(k) for k in ("f", "op", "v")}
    single = {k: v for k, v in params.items() if k not in lists and k != "cols"}
    cols = [c for c in params.getlist("cols") if c]
    if cols:
        single["cols"] = ",".join(cols)
    return GridState.parse(single, lists)


def _as_typed(params: QueryParams) -> GridState:
    """What the user typed, unchecked (cut short, NULs dropped), to show it again beside
    the errors."""

    def clean(value: str, limit: int = 4096) -> str:
        return value.replace("\x00", "")[:limit]

    fs, ops, vs = (params.getlist(k)[:8] for k in ("f", "op", "v"))
    rows = tuple(
        FilterRow(clean(f, 200), clean(ops[n] if n < len(ops) else "eq", 20), clean(vs[n], 500))
        for n, f in enumerate(fs)
        if n < len(vs) and f
    )
    return GridState(
        q=clean(params.get("q", ""), 200),
        rows=rows,
        filter=clean(params.get("filter", "")),
        published=params.get("published", "")
        if params.get("published") in PUBLISHED_CHOICES
        else "",
        sort=clean(params.get("sort", ""), 300),
        cols=tuple(clean(c, 200) for c in ",".join(params.getlist("cols")).split(",") if c)[:30],
    )


async def grid(request: Request) -> Response:
    class_name = request.path_params["class_name"]
    require(principal_of(request), Action.READ, class_name)
    # One trip to the thread pool for the whole page, rendering included: each trip costs
    # more than a statement, and under load the event loop is the server's bottleneck.
    return await blocking(_page, request, class_name)


def _page(request: Request, class_name: str) -> Response:
    context, status = _load(request, class_name)
    return render(request, "grid.html", context, status=status)


def _load(request: Request, class_name: str) -> tuple[dict[str, Any], int]:
    """The page's context and status: 200, or 422 with what the user typed and the error."""
    hub, principal = hub_of(request), principal_of(request)
    definition = hub.classes.get(class_name)  # unknown: the 404 page
    error: InvalidInput | None = None
    try:
        state = grid_state(request.query_params)
        page = load_page(hub, principal, definition, state)
    except InvalidInput as exc:
        error, state, page = exc, _as_typed(request.query_params), GridPage(definition, [], [])
    views = hub.saved_views.list(user_of(request).id, class_name)
    return _context(class_name, state, page, views, error), 200 if error is None else 422


def _context(
    class_name: str,
    state: GridState,
    page: GridPage,
    views: list[SavedView],
    error: InvalidInput | None,
) -> dict[str, Any]:
    errors = field_errors(error) if error else {}
    rows = []
    if page.lookups is not None:
        renderers = row_renderers(page.columns, page.lookups)
        prefix = object_url(class_name, "")
        rows = [row_html(obj, prefix + _quoted(obj.key), renderers) for obj in page.items]
    # The table body as one piece: a template loop over the rows costs more than the join.
    body = Markup("".join([f"<tr>{row}</tr>\n" for row in rows]))  # each row is safe HTML
    offered = page.offered or columns_of(page.definition)
    links = _sort_links(class_name, state, page.columns)
    sorted_by = {col.name: _aria_sort(state, col) for col in page.columns}
    return {
        "definition": page.definition,
        "class_name": class_name,
        "state": state,
        "page": page,
        "rows": rows,
        "table_body": body,
        "offered": list(offered.values()),
        "shown": {c.name for c in page.columns or _in_effect(page.definition, state, offered)},
        "filterable": [c for c in offered.values() if filterable(c)],
        "operators": OPERATORS,
        "published_choices": PUBLISHED_CHOICES,
        "page_sizes": PAGE_SIZES,
        "error": error,
        "errors": errors,
        "invalid": lambda name: _invalid(errors, name),
        "problem": lambda name: _problem(errors, name),
        "filter_errors": {k: v for k, v in errors.items() if k.startswith("filter")},
        "other_errors": {k: v for k, v in errors.items() if k.split("[")[0] in _ELSEWHERE},
        "views": views,
        "grid_url": grid_url,
        "sort_link": lambda col: links[col.name],
        "aria_sort": lambda col: sorted_by.get(col.name),
    }


def _in_effect(
    definition: ClassDefinition, state: GridState, offered: dict[str, Column]
) -> list[Column]:
    """The columns the state asks for, when no page was read (the error state)."""
    return chosen_columns(definition, state.cols, offered)[0]


def _quoted(key: str) -> str:
    """`key` as a path segment; most keys need no quoting, and one match says so."""
    return key if _URL_SAFE.fullmatch(key) else quote(key, safe="")


def _sort_links(class_name: str, state: GridState, columns: list[Column]) -> dict[str, str]:
    """Each sortable header's link: ascending first, then descending; back to page one."""
    name, descending = _primary_sort(state)
    base = state.query(sort="", after="")
    links = {}
    for col in columns:
        if col.sort_name is None:
            continue
        wanted = f"-{col.sort_name}" if col.sort_name == name and not descending else col.sort_name
        query = (base + "&" if base else "") + urlencode({"sort": wanted})
        links[col.name] = grid_url(class_name, query)
    return links


def _invalid(errors: dict[str, str], name: str) -> Markup:
    """The attributes marking the input of `name` as invalid, when it is."""
    if name not in errors:
        return Markup("")
    return Markup(' aria-invalid="true" aria-describedby="err-{}"').format(name)


def _problem(errors: dict[str, str], name: str) -> Markup:
    """The message next to the input of `name`, when it has one."""
    if name not in errors:
        return Markup("")
    return Markup('<p class="field-error" id="err-{}">{}</p>').format(name, errors[name])


def _primary_sort(state: GridState) -> tuple[str, bool]:
    first = next((s.strip() for s in state.sort.split(",") if s.strip()), "")
    return first.lstrip("-+"), first.startswith("-")


def _aria_sort(state: GridState, col: Column) -> str | None:
    name, descending = _primary_sort(state)
    if col.sort_name is None or col.sort_name != name:
        return None
    return "descending" if descending else "ascending"


# The save button's own fields, not the view's.
_NOT_VIEW = ("csrf_token", "view_name")


async def save_view(request: Request) -> Response:
    """Saves what the filter form shows, applied or not: the 'Save view' button is in that
    form and posts its fields here; they become the canonical query string Apply would
    give, and the answer shows the view applied."""
    form = await checked_form(request)
    class_name = request.path_params["class_name"]
    hub, principal = hub_of(request), principal_of(request)
    require(principal, Action.READ, class_name)
    definition = await blocking(hub.classes.get, class_name)
    name = text_field(form, "view_name")
    fields = [(k, v) for k, v in form.multi_items() if k not in _NOT_VIEW and isinstance(v, str)]
    typed = QueryParams(fields)
    try:
        # Stored as the grid writes it: only the grid's parameters, checked, without a page.
        state = grid_state(typed)
        # A view that would open on an error page is not saved: its filter is checked as
        # the grid checks it (rows, relation keys, the raw JSON).
        language = hub.settings.default_language
        await blocking(state.filter_json, definition, language, hub.catalog.uuids_of_keys)
        query = state.query(after="")
        saved = await blocking(hub.saved_views.save, user_of(request).id, class_name, name, query)
    except InvalidInput as exc:
        back = _as_typed(typed).query()
        return see_other(grid_url(class_name, back), f"The view was not saved: {exc.detail}")
    return see_other(grid_url(class_name, saved.query), f"Saved the view '{saved.name}'.")


async def delete_view(request: Request) -> Response:
    await checked_form(request)
    class_name = request.path_params["class_name"]
    raw = request.path_params["view_id"]
    try:
        view_id = parse_count(raw, field="view", maximum=10**12)
    except InvalidInput:
        raise NotFound(f"no saved view {raw[:40]!r}") from None
    await blocking(hub_of(request).saved_views.delete, user_of(request).id, view_id)
    return see_other(grid_url(class_name), "Deleted the saved view.")


routes: list[BaseRoute] = [
    Route("/objects", objects_index, methods=["GET"]),
    Route("/objects/{class_name}", grid, methods=["GET"]),
    Route("/grid/{class_name}/views", save_view, methods=["POST"]),
    Route("/grid/{class_name}/views/{view_id}/delete", delete_view, methods=["POST"]),
]
