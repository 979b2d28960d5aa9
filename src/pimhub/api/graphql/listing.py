"""The two read root fields: get<Class> and get<Class>Listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from graphql import GraphQLError

from pimhub.api.graphql.binding import key_from_fullpath
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.errors import coded, from_domain
from pimhub.api.graphql.loaders import GraphObject
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import CatalogError, FieldError, InvalidInput
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.query import (
    INT64_MAX,
    INT64_MIN,
    BoolOp,
    Comparison,
    FieldRef,
    FieldResolver,
    FilterParser,
    Node,
    SystemField,
    ValueKind,
    parse_sort,
)
from pimhub.datahub.ports import Join, ListingRequest, ListingRows


class Listing:
    """A page: the nodes, their cursors on demand, and the total count on demand (it is a
    statement of its own, so it runs only when `totalCount` is selected)."""

    def __init__(
        self,
        ctx: RequestContext,
        request: ListingRequest,
        rows: ListingRows[Any],
        nodes: list[GraphObject],
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.rows = rows
        self.nodes = nodes
        self._total: int | None = None

    def total(self) -> int:
        if self._total is None:
            self._total = self.ctx.session.count(self.request)
        return self._total

    def cursor(self, index: int) -> str:
        return self.rows.cursor(index)

    def node(self, index: int) -> GraphObject:
        return self.nodes[index]

    def page_info(self) -> dict[str, Any]:
        last = len(self.nodes) - 1
        return {
            "hasNextPage": self.rows.has_next,
            "hasPreviousPage": bool(self.request.after) or self.request.offset > 0,
            "startCursor": self.rows.cursor(0) if last >= 0 else None,
            "endCursor": self.rows.cursor(last) if last >= 0 else None,
        }


def sort_spec(sort_by: Sequence[str] | None, sort_order: Sequence[str] | None) -> list[str]:
    """Pimcore's parallel sortBy/sortOrder lists as our `-field` form."""
    if len(sort_by or []) > MAX_SORT_KEYS:
        # Refused before any key is resolved: a list of 100,000 names took a second.
        raise coded(f"at most {MAX_SORT_KEYS} sort keys", "BAD_USER_INPUT")
    spec = []
    orders = list(sort_order or [])
    for i, name in enumerate(sort_by or []):
        order = (orders[i] if i < len(orders) else orders[-1] if orders else "ASC").upper()
        descending = order == "DESC" or name.startswith("-")
        spec.append(("-" if descending else "") + name.lstrip("-"))
    return spec


def _language(ctx: RequestContext, args: dict[str, Any]) -> str:
    return args.get("defaultLanguage") or ctx.default_language


def _filterable(ctx: RequestContext, definition: ClassDefinition) -> frozenset[str]:
    """The fields a filter or sort may name: those in the schema, so neither exposed fields
    of hidden classes nor relations to classes the configuration leaves out."""
    exposed = ctx.config.exposed(definition.name)
    if exposed is None:
        return frozenset()
    names = []
    for name in exposed.field_names(definition):
        f = definition.field(name)
        if f is not None and f.target is not None and ctx.config.exposed(f.target) is None:
            continue
        names.append(name)
    return frozenset(names)


def find_visible(
    ctx: RequestContext, definition: ClassDefinition, args: dict[str, Any]
) -> CatalogObject | None:
    """The object named by exactly one of the `id`, `fullpath`, `uuid` and business key
    arguments, if this configuration may see it (get<Class>, and the target of update and
    delete)."""
    key_field = definition.business_key
    names = ("id", "fullpath", "uuid", key_field)
    given = {k: args[k] for k in names if args.get(k) is not None}
    if len(given) != 1:
        raise InvalidInput(
            f"name the {definition.name} by exactly one of id, fullpath, uuid or {key_field}",
            [FieldError(key_field, "give exactly one of id, fullpath, uuid or the business key")],
        )
    object_id = _object_id(given["id"]) if "id" in given else None
    key = given.get(key_field)
    if "fullpath" in given:
        key = key_from_fullpath(definition.name, given["fullpath"])
        if key is None:
            return None  # another folder: no object of this class lives there
    obj = ctx.session.one(definition.name, id=object_id, uuid=given.get("uuid"), key=key)
    return obj if obj is not None and ctx.loader.visible(obj) else None


def _object_id(value: Any) -> int:
    """An `id` argument (an Int, so 32 bits; a plain call may pass more) as an id."""
    object_id = int(value)
    if not INT64_MIN <= object_id <= INT64_MAX:
        message = f"{object_id} is out of range: ids are 64-bit integers"
        raise InvalidInput(f"id: {message}", [FieldError("id", message, "out-of-range")])
    return object_id


def get_one(
    ctx: RequestContext, definition: ClassDefinition, args: dict[str, Any]
) -> GraphObject | None:
    try:
        obj = find_visible(ctx, definition, args)
    except CatalogError as exc:
        raise from_domain(exc) from None
    return None if obj is None else ctx.loader.batch([obj], _language(ctx, args))[0]


def page_size(ctx: RequestContext, first: int | None) -> int:
    """`first` checked against the configuration's page size (its default when None)."""
    limits = ctx.config.limits
    first = limits.max_page_size if first is None else first
    if first < 0:
        raise coded("first must not be negative", "BAD_USER_INPUT")
    if first > limits.max_page_size:
        raise coded(
            f"first is {first}, but this configuration serves at most "
            f"{limits.max_page_size} objects per page; page with `after`",
            "PAGE_SIZE_EXCEEDED",
            maximum=limits.max_page_size,
        )
    return first


def listing_request(
    ctx: RequestContext, definition: ClassDefinition, args: dict[str, Any]
) -> ListingRequest:
    first = page_size(ctx, args.get("first"))
    published = args.get("published")
    if published is False and not ctx.config.drafts:
        raise coded(
            f"configuration '{ctx.config.name}' does not show unpublished objects",
            "FORBIDDEN",
        )
    resolver = FieldResolver(
        definition, default_language=_language(ctx, args), exposed=_filterable(ctx, definition)
    )
    try:
        where = FilterParser(resolver).parse(args.get("filter"))
        sort = parse_sort(resolver, sort_spec(args.get("sortBy"), args.get("sortOrder")))
    except CatalogError as exc:
        raise from_domain(exc) from None
    where = _in_fullpaths(where, definition, args.get("fullpaths"))
    after, offset = _paging(args)
    return ListingRequest(
        class_name=definition.name,
        where=where,
        sort=sort,
        first=first,
        after=after,
        offset=offset,
        # Without `published`, a configuration that shows drafts lists them too.
        published_only=published is True or not ctx.config.drafts,
        ids=_ids(args.get("ids")),
        family=args.get("family"),
    )


MAX_FULLPATHS = 1000
MAX_IDS = 1000  # as $in and fullpaths
MAX_SORT_KEYS = 5  # as parse_sort
_KEY = FieldRef(SystemField.KEY, (), ValueKind.STRING)


def _in_fullpaths(where: Node | None, definition: ClassDefinition, raw: str | None) -> Node | None:
    """Pimcore's `fullpaths: "/Product/A,/Product/B"` as a condition on the business key,
    beside the filter; paths in another class's folder match nothing."""
    if raw is None:
        return where
    paths = [p.strip() for p in split_fullpaths(raw) if p.strip()]
    if len(paths) > MAX_FULLPATHS:
        raise coded(f"fullpaths holds at most {MAX_FULLPATHS} paths", "BAD_USER_INPUT")
    keys = [k for p in paths if (k := key_from_fullpath(definition.name, p)) is not None]
    # No key is ever null: `$null` is a condition nothing meets.
    wanted = Comparison(_KEY, "$in", keys) if keys else Comparison(_KEY, "$null", True)
    return wanted if where is None else BoolOp("$and", (where, wanted))


def split_fullpaths(raw: str) -> list[str]:
    """`fullpaths` split at its commas. A key may hold a comma itself: written `\\,` it is
    part of the path (`/Offer/a\\,b` is the key `a,b`), and `\\\\` is one backslash; any
    other backslash is kept as it is."""
    paths: list[str] = []
    current: list[str] = []
    chars = iter(raw)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            current.append(following if following in (",", "\\") else char + following)
        elif char == ",":
            paths.append("".join(current))
            current = []
        else:
            current.append(char)
    paths.append("".join(current))
    return paths


def _paging(args: dict[str, Any]) -> tuple[str | None, int]:
    """Pimcore's integer offset (`after`) or our keyset cursor (`afterCursor`), not both."""
    offset, cursor = args.get("after"), args.get("afterCursor")
    if offset is not None and cursor is not None:
        raise coded(
            "give either after (an offset) or afterCursor (a cursor), not both", "BAD_USER_INPUT"
        )
    if offset is not None and offset < 0:
        raise coded("an offset must not be negative", "BAD_USER_INPUT")
    return cursor or None, offset or 0


def _ids(raw: str | None) -> list[int] | None:
    if raw is None:
        return None
    parts = [part for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_IDS:
        # Each id is a bound parameter: 100,000 of them took seconds (and are over
        # PostgreSQL's limit of parameters per statement).
        raise coded(f"ids holds at most {MAX_IDS} ids", "BAD_USER_INPUT")
    try:
        ids = [int(part) for part in parts]
    except ValueError:
        raise coded("ids is a comma-separated list of ids", "BAD_USER_INPUT") from None
    wrong = next((i for i in ids if not INT64_MIN <= i <= INT64_MAX), None)
    if wrong is not None:
        raise coded(f"ids: {wrong} is out of range; ids are 64-bit integers", "BAD_USER_INPUT")
    return ids


def _read_failed(exc: CatalogError) -> GraphQLError:
    """A listing's read refused: storage names a bad cursor `after`, as REST calls it; here
    the cursor is `afterCursor` (`after` is Pimcore's integer offset)."""
    exc.errors = [
        replace(e, field="afterCursor") if e.code == "invalid-cursor" and e.field == "after" else e
        for e in exc.errors
    ]
    return from_domain(exc)


def get_listing(ctx: RequestContext, definition: ClassDefinition, args: dict[str, Any]) -> Listing:
    request = listing_request(ctx, definition, args)
    try:
        rows = ctx.session.listing(request) if request.first else _empty(ctx, request)
    except CatalogError as exc:
        raise _read_failed(exc) from None
    nodes = ctx.loader.batch(rows.objects, _language(ctx, args))
    return Listing(ctx, request, rows, nodes)


def _empty(ctx: RequestContext, request: ListingRequest) -> ListingRows[Any]:
    return ListingRows([], [], ctx.session.count(request) > request.offset, lambda v: "")


def get_joined_listing(
    ctx: RequestContext,
    definition: ClassDefinition,
    args: dict[str, Any],
    joins: list[Join],
    columns: list[frozenset[str]],
) -> Listing:
    """A page read with its to-one relations in one statement; the nodes are joined rows,
    shaped by a compiled plan (plan.py), which reads the language from the context."""
    request = listing_request(ctx, definition, args)
    ctx.language = _language(ctx, args)
    try:
        if request.first:
            rows = ctx.session.joined_listing(request, joins, columns, drafts=ctx.config.drafts)
        else:
            rows = _empty(ctx, request)
    except CatalogError as exc:
        raise _read_failed(exc) from None
    return Listing(ctx, request, rows, rows.objects)  # type: ignore[arg-type]
