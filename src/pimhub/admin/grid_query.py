"""One page of the catalog grid: the listing (or, with a search, the search index's page),
then the relation targets and assets its cells show, each read with one statement.

Blocking: run it with `blocking(load_page, ...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pimhub.access.keys import Action, ApiKey
from pimhub.admin.grid_columns import (
    Column,
    Lookups,
    chosen_columns,
    columns_of,
    visible_keys,
    wanted_uuids,
)
from pimhub.admin.grid_state import MAX_OFFSET, GridState
from pimhub.assets.presets import ThumbnailPreset
from pimhub.assets.thumbnails import parse_presets
from pimhub.bootstrap import Hub
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort
from pimhub.catalog.service import ListQuery
from pimhub.search.documents import query_tokens
from pimhub.search.ports import SearchRequest, TextQuery

THUMBNAIL = "thumbnail"


@dataclass(slots=True)
class GridPage:
    definition: ClassDefinition
    columns: list[Column]
    unknown_columns: list[str]
    items: list[CatalogObject] = field(default_factory=list)
    total: int = 0
    next_after: str | None = None
    lookups: Lookups | None = None
    offered: dict[str, Column] = field(default_factory=dict)  # every column the class has


def list_query(state: GridState, filter_json: str | None, include_drafts: bool) -> ListQuery:
    """The catalog listing a grid state asks for (also what bench/admin_grid.py's floor
    runs)."""
    return ListQuery(
        filter=filter_json,
        sort=[s for s in state.sort.split(",") if s.strip()],
        first=state.first,
        after=state.after or None,
        include_drafts=include_drafts,
        count=False,  # a count reads every match; the grid offers the next page instead
    )


def load_page(
    hub: Hub, principal: ApiKey, definition: ClassDefinition, state: GridState
) -> GridPage:
    class_name = definition.name
    offered = columns_of(definition)
    columns, unknown = chosen_columns(definition, state.cols, offered)
    page = GridPage(definition, columns, unknown, offered=offered)
    language = hub.settings.default_language
    filter_json = state.filter_json(definition, language, hub.catalog.uuids_of_keys)
    drafts = principal.allows(Action.READ_DRAFTS, class_name)
    if state.q:
        _search(hub, definition, state, filter_json, drafts, page)
    else:
        query = list_query(state, filter_json, drafts)
        listed = hub.catalog.list_objects(class_name, query, definition=definition)
        page.items, page.total, page.next_after = listed.items, listed.total, listed.next_cursor
    page.lookups = _lookups(hub, principal, page)
    return page


def _search(
    hub: Hub,
    definition: ClassDefinition,
    state: GridState,
    filter_json: str | None,
    drafts: bool,
    page: GridPage,
) -> None:
    """A text search through the search index (as Simple REST searches), paged by offset."""
    offset = state.offset()
    tokens = tuple(query_tokens(state.q))
    if not tokens:
        return
    resolver = FieldResolver(definition, default_language=hub.settings.default_language)
    request = SearchRequest(
        class_names=(definition.name,),
        text=TextQuery(state.q, tokens),
        language=hub.settings.default_language,
        where=FilterParser(resolver).parse(filter_json),
        sort=tuple(parse_sort(resolver, [s for s in state.sort.split(",") if s.strip()])),
        size=state.first,
        offset=offset,
        published_only=not drafts,
    )
    found = hub.search.search(request)
    page.items, page.total = found.objects, found.total
    end = offset + len(found.objects)
    if found.objects and end < found.total and end <= MAX_OFFSET:
        page.next_after = str(end)


def _lookups(hub: Hub, principal: ApiKey, page: GridPage) -> Lookups:
    relations, asset_ids = wanted_uuids(page.items, page.columns)
    keys: dict[str, str] = {}
    assets = {}
    if relations or asset_ids:
        with hub.graph_reads.session() as session:
            if relations:
                keys = visible_keys(principal, session.by_uuids(relations))
            if asset_ids:
                assets = session.assets(asset_ids)
    return Lookups(
        keys, assets, _thumbnail(hub) if asset_ids else None, hub.settings.default_language
    )


def _thumbnail(hub: Hub) -> ThumbnailPreset | None:
    return parse_presets(hub.settings.assets_thumbnails).get(THUMBNAIL)
