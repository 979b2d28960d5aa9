"""Reads for the GraphQL datahub, on one connection per request.

Statements are SQLAlchemy Core (so filters reuse listing.py's compiler and the statement
cache), but object columns are selected without result processing: decoding JSON and two
timestamps per row through SQLAlchemy's type processors cost more than the query on a page of
100; PointReader decodes them directly instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Engine,
    Integer,
    and_,
    bindparam,
    false,
    func,
    select,
    type_coerce,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.types import NullType

from pimhub.assets.model import Asset
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.query import BoolOp, Node, Not, SystemField, ValueKind
from pimhub.catalog.relations import looks_like_uuid
from pimhub.catalog.variants import FamilyFilter, FamilyRole
from pimhub.datahub.ports import MAX_JOINS, PARENT_JOIN, Join, ListingRequest, ListingRows
from pimhub.storage import listing
from pimhub.storage.assets import ASSET_COLUMNS_SQL, SqlAssetRepository, decode_asset
from pimhub.storage.point_reads import OBJECT_COLUMNS, PointReader
from pimhub.storage.tables import class_definitions, datahub_configs, objects

_TIME_FIELDS = (SystemField.CREATED_AT, SystemField.MODIFIED_AT)
_RAW = [type_coerce(objects.c[name], NullType()).label(name) for name in OBJECT_COLUMNS]
_WIDTH = len(OBJECT_COLUMNS)
_ALL_COLUMNS = (frozenset(OBJECT_COLUMNS),)
MAX_IN = 500  # uuids per IN list; larger batches are split
# Statement construction is a large part of a joined read; aliases and their columns are
# built once.
_ALIASES = [objects.alias(f"t{i + 1}") for i in range(MAX_JOINS)]
# Asset fields' assets (GraphQL): what the asset type shows, in SqlGraphReadSession._asset's
# order.
_ASSETS_SQL = f"SELECT {ASSET_COLUMNS_SQL} FROM assets WHERE uuid"
_BY_UUID_SQL = f"SELECT {', '.join(OBJECT_COLUMNS)} FROM objects WHERE uuid"
# Each parent's first variants: ranked per parent, so `first` bounds what is read however
# large a family is. The parent's uuid comes last, after the columns asked for.
_CHILDREN_SQL = (
    "SELECT {columns}, parent_ FROM (SELECT {columns}, parent_uuid AS parent_, id AS id_, "
    "ROW_NUMBER() OVER (PARTITION BY parent_uuid ORDER BY id) AS rank_ FROM objects WHERE "
    "parent_uuid {parents}{published}) AS ranked WHERE rank_ <= {first} ORDER BY parent_, id_"
)


@cache
def _family_conditions(role: FamilyRole) -> list[Any]:
    """Built once per role: an EXISTS over an alias costs more to build than to run."""
    return listing.family_conditions(FamilyFilter(role))


def _identity(value: Any) -> Any:
    return value


class _Namer:
    """Binds values as parameters named v0, v1, ... in the order the statement uses them,
    so values found by walking a request again line up with a cached statement."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> Any:
        name = f"v{len(self.values)}"
        self.values[name] = value
        return bindparam(name)


def _request_filters(
    request: ListingRequest, bind: listing.Bind, *, cursor: bool = True
) -> list[Any]:
    """The WHERE conditions of a listing (without the cursor: what its total counts).
    `bind` wraps each value: `_identity` for statements SQLAlchemy caches itself, a
    `_Namer` for statements compiled once here."""
    conditions: list[Any] = [objects.c.class_name == bind(request.class_name)]
    if request.where is not None:
        conditions.append(listing.compile_filter(request.where, bind))
    if request.published_only:
        conditions.append(objects.c.published.is_(True))
    if request.family is not None:
        conditions += _family_conditions(request.family)
    if request.ids is not None:
        # An empty list matches nothing; SQLAlchemy's own empty IN would be an "expanding"
        # parameter, which a statement compiled once cannot carry.
        ids = [bind(i) for i in request.ids]
        conditions.append(objects.c.id.in_(ids) if ids else false())
    if cursor and request.after:
        cols = listing.sort_columns(request.sort)
        values = listing.decode_cursor(request.sort, request.after)
        conditions.append(listing.after_cursor(cols, values, bind))
    return conditions


def _bound_values(request: ListingRequest) -> dict[str, Any]:
    namer = _Namer()
    _request_filters(request, namer)
    return {**namer.values, "limit_": request.first + 1, "offset_": request.offset}


def _shape(node: Node | None) -> Any:
    """What of a filter decides the SQL text: everything except the compared values."""
    if node is None:
        return None
    if isinstance(node, BoolOp):
        return (node.op, tuple(_shape(n) for n in node.items))
    if isinstance(node, Not):
        return ("$not", _shape(node.item))
    value = node.value
    detail = len(value) if isinstance(value, list) else None
    if node.op in ("$null", "$notnull"):
        detail = value
    return (node.ref, node.op, detail)


Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, Callable[[Any], Any]]]


class _JoinedStatements:
    """Joined listing statements compiled once per shape: building and compiling one costs
    about three times running it."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.cache: dict[Any, Compiled] = {}

    def get(
        self,
        request: ListingRequest,
        joins: Sequence[Join],
        columns: Sequence[frozenset[str]],
        drafts: bool,
    ) -> Compiled:
        key = (
            _shape(request.where),
            tuple((k.ref, k.descending) for k in request.sort),
            bool(request.after),
            len(request.ids) if request.ids is not None else None,
            request.published_only,
            request.family,
            tuple(joins),
            tuple(columns),
            drafts,
        )
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._compile(request, joins, columns, drafts)
            if len(self.cache) > 1000:
                self.cache.pop(next(iter(self.cache)))
        return found

    def _compile(
        self,
        request: ListingRequest,
        joins: Sequence[Join],
        columns: Sequence[frozenset[str]],
        drafts: bool,
    ) -> Compiled:
        cols = listing.sort_columns(request.sort)
        # The page subquery carries only what the outer statement reads: its joins need
        # `data`, and every column more costs on each of its rows.
        inner = columns[0] | {"id"} | ({"data"} if joins else set())
        if (0, PARENT_JOIN) in joins:
            inner |= {"parent_uuid"}
        page = (
            select(
                *[objects.c[name] for name in OBJECT_COLUMNS if name in inner],
                *[c.label(f"_s{i}") for i, (c, _) in enumerate(cols)],
            )
            .where(*_request_filters(request, _Namer()))
            .order_by(*[c.desc() if d else c.asc() for c, d in cols])
            .limit(bindparam("limit_", type_=Integer))
            # An offset is any 64-bit number a client sends (`after: <offset>`).
            .offset(bindparam("offset_", type_=BigInteger))
            .subquery("p")
        )
        sources: list[Any] = [page]
        joined: Any = page
        for i, (parent, field_name) in enumerate(joins):
            target = _ALIASES[i]
            source = sources[parent]
            on = target.c.uuid == (
                source.c.parent_uuid
                if field_name == PARENT_JOIN
                else source.c.data[field_name].as_string()
            )
            if not drafts:
                on = and_(on, target.c.published.is_(True))
            joined = joined.outerjoin(target, on)
            sources.append(target)
        # Only the columns the plan shapes, each object's in OBJECT_FIELDS order: reading
        # and converting all 27 (even as NULLs) cost as much as the join itself.
        selected: list[Any] = []
        for i, source in enumerate(sources):
            selected += [
                type_coerce(source.c[n], NullType()).label(f"c{i}_{n}")
                for n in OBJECT_COLUMNS
                if n in columns[i]
            ]
        # Sort keys last, raw: cursors are made from them.
        selected += [type_coerce(page.c[f"_s{i}"], NullType()) for i in range(len(cols))]
        order = [
            page.c[f"_s{i}"].desc() if d else page.c[f"_s{i}"].asc()
            for i, (_, d) in enumerate(cols)
        ]
        compiled = (
            select(*selected).select_from(joined).order_by(*order).compile(dialect=self.dialect)
        )
        positions = compiled.positiontup
        return (
            compiled.string,
            tuple(positions) if positions is not None else None,
            dict(compiled.construct_params(_bound_values(request))),
            {k: v for k, v in compiled._bind_processors.items() if callable(v)},
        )


class SqlGraphReadSession:
    """Takes a pooled connection at its first read and gives it back at `fresh()` or at the
    end of the request: a mutation writes on a connection of its own, and a request that
    held its read connection meanwhile would hold two. As many such requests as the pool has
    connections then each wait for a second one, and the whole server stalls."""

    def __init__(self, engine: Engine, reader: PointReader, statements: _JoinedStatements) -> None:
        self.engine = engine
        self.reader = reader
        self.statements = statements
        self._conn: Connection | None = None
        self._pool_timeout: PoolTimeout | None = None

    @property
    def conn(self) -> Connection:
        conn = self._conn
        if conn is None:
            if self._pool_timeout is not None:
                # The pool had no connection for this request once: every later read of
                # it gives up at once instead of waiting out the timeout again.
                raise self._pool_timeout
            try:
                conn = self._conn = self.engine.connect()
            except PoolTimeout as exc:
                self._pool_timeout = exc
                raise
        return conn

    def _rows(self, request: ListingRequest, rows: list[Any], width: int) -> ListingRows[Any]:
        more = len(rows) > request.first
        rows = rows[: request.first]
        sort, count = request.sort, len(request.sort) + 1
        return ListingRows(
            rows,
            [tuple(r[width : width + count]) for r in rows],
            more,
            lambda values: listing.encode_cursor(sort, values),
        )

    def joined_listing(
        self,
        request: ListingRequest,
        joins: Sequence[Join],
        columns: Sequence[frozenset[str]],
        *,
        drafts: bool,
    ) -> ListingRows[tuple[Any, ...]]:
        """The page as a subquery (so the joins run for its rows only, not for the rows an
        offset skips), then one LEFT JOIN per relation, Hasura-style. The statement is
        compiled once per shape (see _JoinedStatements); a request only binds values."""
        sql, order, defaults, processors = self.statements.get(request, joins, columns, drafts)
        values = {**defaults, **_bound_values(request)}
        for name, process in processors.items():
            values[name] = process(values[name])
        args: Any = tuple(values[n] for n in order) if order is not None else values
        rows = list(self.conn.exec_driver_sql(sql, args).fetchall())
        page = self._rows(request, rows, sum(len(c) for c in columns))
        if self.reader.sqlite:
            # Unprocessed sort keys come back as SQLite stores them (timestamps as text,
            # booleans as 0/1); cursors want what SQLAlchemy's types would have made.
            convert = {
                i: self.reader.utc if k.ref.system in _TIME_FIELDS else bool
                for i, k in enumerate(request.sort)
                if k.ref.system in _TIME_FIELDS or k.ref.kind == ValueKind.BOOLEAN
            }
            if convert:
                page.sort_values = [
                    tuple(
                        convert[i](v) if i in convert and v is not None else v
                        for i, v in enumerate(row)
                    )
                    for row in page.sort_values
                ]
        return page

    def json_decoder(self) -> Callable[[Any], Any]:
        # SQLite hands JSON back as text; psycopg has decoded it already.
        return orjson.loads if self.reader.sqlite else _identity

    def utc(self, value: Any) -> datetime:
        return self.reader.utc(value)

    def listing(self, request: ListingRequest) -> ListingRows[CatalogObject]:
        """A joined listing without joins and with every column: its statement is compiled
        once per shape, which building it per request through SQLAlchemy cost more than
        running it."""
        page: ListingRows[Any] = self.joined_listing(request, (), _ALL_COLUMNS, drafts=True)
        decode = self.reader.catalog_object
        page.objects = [decode(r) for r in page.objects]
        return page

    def count(self, request: ListingRequest) -> int:
        conditions = _request_filters(request, _identity, cursor=False)
        statement = select(func.count()).select_from(objects).where(*conditions)
        total: int = self.conn.execute(statement).scalar_one()
        return total

    def one(
        self, class_name: str, *, id: int | None, uuid: str | None, key: str | None
    ) -> CatalogObject | None:
        query = select(*_RAW).where(objects.c.class_name == class_name)
        if id is not None:
            query = query.where(objects.c.id == id)
        if uuid is not None:
            query = query.where(objects.c.uuid == uuid)
        if key is not None:
            query = query.where(objects.c.business_key == key)
        row = self.conn.execute(query).first()
        return self.reader.catalog_object(row) if row is not None else None

    def assets(self, uuids: Sequence[str]) -> dict[str, Asset]:
        """Assets by uuid (asset fields), on this session's connection (a second one per
        request is what the class docstring warns of), as driver SQL like by_uuids."""
        wanted = list(dict.fromkeys(u for u in uuids if looks_like_uuid(u)))
        found: dict[str, Asset] = {}
        for start in range(0, len(wanted), MAX_IN):
            chunk = wanted[start : start + MAX_IN]
            if self.reader.sqlite:
                sql = f"{_ASSETS_SQL} IN ({', '.join('?' * len(chunk))})"
                rows = self.conn.exec_driver_sql(sql, tuple(chunk))
            else:
                rows = self.conn.exec_driver_sql(f"{_ASSETS_SQL} = ANY(%(u)s)", {"u": chunk})
            for row in rows:
                asset = self._asset(row)
                found[asset.uuid] = asset
        return found

    def _asset(self, row: Any) -> Asset:
        return decode_asset(row, self.reader.json, self.reader.utc)

    def asset_at(self, path: str) -> Asset | None:
        return SqlAssetRepository(self.conn).get_by_path(path)

    def by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]:
        """Objects by uuid, as driver SQL: building an IN list through SQLAlchemy coerces
        every value into a bound parameter object, which cost more than the read."""
        found: dict[str, CatalogObject] = {}
        wanted = list(dict.fromkeys(uuids))
        decode = self.reader.catalog_object
        for start in range(0, len(wanted), MAX_IN):
            chunk = wanted[start : start + MAX_IN]
            if self.reader.sqlite:
                sql = f"{_BY_UUID_SQL} IN ({', '.join('?' * len(chunk))})"
                rows = self.conn.exec_driver_sql(sql, tuple(chunk))
            else:
                rows = self.conn.exec_driver_sql(f"{_BY_UUID_SQL} = ANY(%(u)s)", {"u": chunk})
            for row in rows:
                obj = decode(row)
                found[obj.uuid] = obj
        return found

    def children(
        self, parent_uuids: Sequence[str], *, first: int, published_only: bool
    ) -> dict[str, list[CatalogObject]]:
        decode = self.reader.catalog_object
        rows = self.children_rows(
            parent_uuids, first=first, published_only=published_only, columns=OBJECT_COLUMNS
        )
        return {parent: [decode(r) for r in found] for parent, found in rows.items()}

    def children_rows(
        self,
        parent_uuids: Sequence[str],
        *,
        first: int,
        published_only: bool,
        columns: Sequence[str],
    ) -> dict[str, list[tuple[Any, ...]]]:
        found: dict[str, list[tuple[Any, ...]]] = {}
        wanted = list(dict.fromkeys(parent_uuids))
        names = ", ".join(c for c in OBJECT_COLUMNS if c in columns)  # never client text
        published = " AND published" if published_only else ""
        for start in range(0, len(wanted), MAX_IN):
            chunk = wanted[start : start + MAX_IN]
            if self.reader.sqlite:
                parents = f"IN ({', '.join('?' * len(chunk))})"
                sql = _CHILDREN_SQL.format(
                    columns=names, parents=parents, published=published, first="?"
                )
                rows = self.conn.exec_driver_sql(sql, (*chunk, first))
            else:
                sql = _CHILDREN_SQL.format(
                    columns=names, parents="= ANY(%(u)s)", published=published, first="%(first)s"
                )
                rows = self.conn.exec_driver_sql(sql, {"u": chunk, "first": first})
            for row in rows:
                found.setdefault(row[-1], []).append(tuple(row))
        return found

    def fresh(self) -> None:
        self.close()

    def close(self) -> None:
        """Ends the snapshot and returns the connection to the pool (the next read takes
        one again)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class SqlGraphReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = PointReader(engine)
        self.statements = _JoinedStatements(engine.dialect)

    @contextmanager
    def session(self) -> Iterator[SqlGraphReadSession]:
        session = SqlGraphReadSession(self.engine, self.reader, self.statements)
        try:
            yield session
        finally:
            session.close()

    def assets(self, uuids: Sequence[str]) -> dict[str, Asset]:
        """Assets by uuid, as the session's `assets`, for a request that reads nothing else
        with them (the product route): on the point reader's connection, without a pool
        checkout and SQLAlchemy's result machinery, which cost more than the statement
        (measured: about 40 us of a product GET's 370)."""
        reader = self.reader
        wanted = list(dict.fromkeys(u for u in uuids if looks_like_uuid(u)))
        found: dict[str, Asset] = {}
        for start in range(0, len(wanted), MAX_IN):
            chunk = wanted[start : start + MAX_IN]
            if reader.sqlite:
                rows = reader.all(f"{_ASSETS_SQL} IN ({', '.join('?' * len(chunk))})", chunk)
            else:
                rows = reader.all(f"{_ASSETS_SQL} = ANY(%s)", [chunk])
            for row in rows:
                asset = decode_asset(row, reader.json, reader.utc)
                found[asset.uuid] = asset
        return found

    def fingerprint(self, config_name: str) -> tuple[Any, ...] | None:
        """One small statement; memoized on SQLite until anything is committed (see
        PointReader.memo), read every time on PostgreSQL."""
        memo = self.reader.memo()
        cache_key = ("datahub-fingerprint", config_name)
        if memo is not None and cache_key in memo:
            cached: tuple[Any, ...] | None = memo[cache_key]
            return cached
        config = select(datahub_configs.c.version, datahub_configs.c.updated_at).where(
            datahub_configs.c.name == config_name
        )
        classes = select(
            class_definitions.c.name, class_definitions.c.version, class_definitions.c.updated_at
        ).order_by(class_definitions.c.name)
        with self.engine.connect() as conn:
            head = conn.execute(config).first()
            result = (
                None
                if head is None
                else (tuple(head), tuple(tuple(r) for r in conn.execute(classes)))
            )
        if memo is not None:
            memo[cache_key] = result
        return result
