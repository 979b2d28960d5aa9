"""What connectors remember about the other system: sent sections, per-SKU state, remote ids,
checkpoints. Every method is one short transaction; upserts use ON CONFLICT on both backends, so
two workers recording the same key never fail each other."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, and_, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from pimhub.catalog.retry import retrying
from pimhub.connectors.state import ItemState, SectionState
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import (
    connector_checkpoints as cp,
)
from pimhub.storage.tables import (
    connector_ids as ids,
)
from pimhub.storage.tables import (
    connector_items as items,
)
from pimhub.storage.tables import (
    connector_sections as sections,
)

CHUNK = 500
# A connector_ids row whose object someone is creating right now holds minus the Unix time of
# its claim; a claim older than CLAIM_EXPIRES_SECONDS (its worker died) may be taken over.
CLAIMED = 0
CLAIM_EXPIRES_SECONDS = 60


class SqlConnectorState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- sections --------------------------------------------------------------------------

    def sections(self, connector: str, skus: Sequence[str]) -> dict[str, dict[str, SectionState]]:
        """sku -> section -> what was last sent."""
        out: dict[str, dict[str, SectionState]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(skus), CHUNK):
                rows = conn.execute(
                    select(sections.c.sku, sections.c.section, sections.c.hash, sections.c.sent)
                    .where(sections.c.connector == connector)
                    .where(sections.c.sku.in_(skus[start : start + CHUNK]))
                ).all()
                for r in rows:
                    out.setdefault(r.sku, {})[r.section] = SectionState(r.hash, r.sent)
        return out

    def save_sections(
        self, connector: str, sent: Mapping[str, Mapping[str, SectionState]], now: datetime
    ) -> None:
        rows = [
            {
                "connector": connector,
                "sku": sku,
                "section": name,
                "hash": state.hash,
                "sent": dict(state.sent),
                "updated_at": now,
            }
            for sku, by_section in sent.items()
            for name, state in by_section.items()
        ]
        if not rows:
            return
        stmt = self._insert(sections)
        stmt = stmt.on_conflict_do_update(
            index_elements=["connector", "sku", "section"],
            set_={"hash": stmt.excluded.hash, "sent": stmt.excluded.sent, "updated_at": now},
        )
        self._write(
            lambda conn: [
                conn.execute(stmt, rows[i : i + CHUNK]) for i in range(0, len(rows), CHUNK)
            ]
        )

    def merge_record(
        self,
        connector: str,
        sku: str,
        section: str,
        added: Mapping[str, Any],
        removed: Sequence[str],
        now: datetime,
    ) -> None:
        """Edits a section that records what exists in the other system (`sent["entries"]`,
        keyed by the other system's id): `added` entries set, `removed` ids dropped, on the
        stored value in one transaction. Two pushes of one SKU at once therefore both keep
        what they created; neither overwrites the other's record."""
        key = (
            (sections.c.connector == connector)
            & (sections.c.sku == sku)
            & (sections.c.section == section)
        )
        empty = {"connector": connector, "sku": sku, "section": section, "hash": ""}
        seed = self._insert(sections).values(**empty, sent={"entries": {}}, updated_at=now)
        seed = seed.on_conflict_do_nothing(index_elements=["connector", "sku", "section"])
        read = select(sections.c.sent).where(key)
        if self.engine.dialect.name == "postgresql":
            read = read.with_for_update()

        def run(conn: Any) -> None:
            conn.execute(seed)
            stored = conn.execute(read).scalar() or {}
            entries = dict(stored.get("entries") or {}) if isinstance(stored, Mapping) else {}
            for gone in removed:
                entries.pop(gone, None)
            entries |= {k: dict(v) for k, v in added.items()}
            sent = {"entries": entries}
            digest = hashlib.sha256(orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)).hexdigest()
            conn.execute(update(sections).where(key).values(hash=digest, sent=sent, updated_at=now))

        self._write(run)

    def forget_sections(
        self, connector: str, skus: Sequence[str], keep: Sequence[str] = ()
    ) -> None:
        """The next push of these SKUs sends everything again. Sections named in `keep` stay:
        a record of what exists in the other system (a product's media entries) rather than
        of what was sent."""
        query = (
            delete(sections)
            .where(sections.c.connector == connector)
            .where(sections.c.sku.in_(list(skus)))
        )
        if keep:
            query = query.where(sections.c.section.not_in(list(keep)))
        self._write(lambda conn: conn.execute(query))

    # -- items -----------------------------------------------------------------------------

    def items(self, connector: str, skus: Sequence[str]) -> dict[str, ItemState]:
        out: dict[str, ItemState] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(skus), CHUNK):
                rows = conn.execute(
                    select(items)
                    .where(items.c.connector == connector)
                    .where(items.c.sku.in_(skus[start : start + CHUNK]))
                ).all()
                out |= {r.sku: _item(r) for r in rows}
        return out

    def save_items(self, connector: str, states: Iterable[ItemState], now: datetime) -> None:
        rows = [
            {
                "connector": connector,
                "sku": s.sku,
                "object_uuid": s.object_uuid,
                "remote_id": s.remote_id,
                "created_by_hub": s.created_by_hub,
                "state": s.state,
                "synced_version": s.synced_version,
                "synced_at": s.synced_at,
                "last_error": s.last_error,
                "updated_at": now,
            }
            for s in states
        ]
        if not rows:
            return
        stmt = self._insert(items)
        keep = ("object_uuid", "remote_id", "state", "synced_version", "synced_at", "last_error")
        update = {c: getattr(stmt.excluded, c) for c in (*keep, "updated_at")}
        # Once the hub created a product it stays the hub's, whatever a later write says.
        update["created_by_hub"] = items.c.created_by_hub | stmt.excluded.created_by_hub
        stmt = stmt.on_conflict_do_update(index_elements=["connector", "sku"], set_=update)
        self._write(
            lambda conn: [
                conn.execute(stmt, rows[i : i + CHUNK]) for i in range(0, len(rows), CHUNK)
            ]
        )

    def skus_of_uuids(self, connector: str, uuids: Sequence[str]) -> dict[str, list[str]]:
        """The SKUs the connector has dealt with for each object (more than one after a
        rename)."""
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(uuids), CHUNK):
                rows = conn.execute(
                    select(items.c.object_uuid, items.c.sku).where(
                        items.c.connector == connector,
                        items.c.object_uuid.in_(list(uuids[start : start + CHUNK])),
                    )
                ).all()
                for r in rows:
                    found.setdefault(r.object_uuid, []).append(r.sku)
        return found

    def page_items(
        self, connector: str, *, state: str | None, after: str | None, limit: int
    ) -> list[ItemState]:
        query = select(items).where(items.c.connector == connector)
        if state:
            query = query.where(items.c.state == state)
        if after:
            query = query.where(items.c.sku > after)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(items.c.sku).limit(limit)).all()
        return [_item(r) for r in rows]

    def counts(self, connector: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.state, func.count())
                .where(items.c.connector == connector)
                .group_by(items.c.state)
            ).all()
        return {state: count for state, count in rows}

    # -- remote ids ------------------------------------------------------------------------

    def remote_ids(self, connector: str, kind: str, codes: Sequence[str]) -> dict[str, int]:
        if not codes:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ids.c.code, ids.c.remote_id).where(
                    and_(
                        ids.c.connector == connector,
                        ids.c.kind == kind,
                        ids.c.code.in_(list(codes)),
                        ids.c.remote_id > CLAIMED,
                    )
                )
            ).all()
        return {r.code: r.remote_id for r in rows}

    def remote_ids_of(
        self, connector: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """(kind, code) -> id for many kinds at once."""
        if not pairs:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ids.c.kind, ids.c.code, ids.c.remote_id).where(
                    ids.c.connector == connector,
                    tuple_(ids.c.kind, ids.c.code).in_(list(pairs)),
                    ids.c.remote_id > CLAIMED,
                )
            ).all()
        return {(r.kind, r.code): r.remote_id for r in rows}

    def remember_ids(self, connector: str, kind: str, found: Mapping[str, int]) -> None:
        if not found:
            return
        rows = [
            {"connector": connector, "kind": kind, "code": c, "remote_id": i}
            for c, i in found.items()
        ]
        stmt = self._insert(ids)
        stmt = stmt.on_conflict_do_update(
            index_elements=["connector", "kind", "code"],
            set_={"remote_id": stmt.excluded.remote_id},
        )
        self._write(lambda conn: conn.execute(stmt, rows))

    def claim_id(self, connector: str, kind: str, code: str) -> bool:
        """True when this caller may create the (kind, code) object in the other system: the
        first to claim it, or the one taking over a claim whose worker went away. Others wait
        for its id (two workers creating the same category at once would leave two
        categories in Magento)."""
        now = int(time.time())
        key = (ids.c.connector == connector) & (ids.c.kind == kind) & (ids.c.code == code)
        stmt = self._insert(ids).values(connector=connector, kind=kind, code=code, remote_id=-now)
        stmt = stmt.on_conflict_do_nothing(index_elements=["connector", "kind", "code"])
        # RETURNING says whether a row was written (rowcount is not reliable on psycopg here).
        claimed = stmt.returning(ids.c.code)
        stale = (
            update(ids)
            .where(
                key, ids.c.remote_id <= CLAIMED, ids.c.remote_id > -(now - CLAIM_EXPIRES_SECONDS)
            )
            .values(remote_id=-now)
            .returning(ids.c.code)
        )
        done: list[bool] = []

        def run(conn: Any) -> None:
            got = conn.execute(claimed).first() or conn.execute(stale).first()
            done.append(got is not None)

        self._write(run)
        return done[-1]

    def release_claim(self, connector: str, kind: str, code: str) -> None:
        """Gives a claim up (the creation failed), so that the next attempt may claim it."""
        self._write(
            lambda conn: conn.execute(
                delete(ids).where(
                    ids.c.connector == connector,
                    ids.c.kind == kind,
                    ids.c.code == code,
                    ids.c.remote_id <= CLAIMED,
                )
            )
        )

    def all_ids(self, connector: str, kind: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ids.c.code, ids.c.remote_id).where(
                    ids.c.connector == connector, ids.c.kind == kind, ids.c.remote_id > CLAIMED
                )
            ).all()
        return {r.code: r.remote_id for r in rows}

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint(self, connector: str, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(cp.c.value).where(cp.c.connector == connector, cp.c.name == name)
            ).scalar()

    def save_checkpoint(self, connector: str, name: str, value: Any, now: datetime) -> None:
        stmt = self._insert(cp).values(connector=connector, name=name, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["connector", "name"],
            set_={"value": stmt.excluded.value, "updated_at": now},
        )
        self._write(lambda conn: conn.execute(stmt))

    def forget(self, connector: str) -> None:
        """Everything remembered for a connector (when it is removed)."""

        def run(conn: Any) -> None:
            for table in (sections, items, ids, cp):
                conn.execute(delete(table).where(table.c.connector == connector))

        self._write(run)

    def _write_chunks(self, stmt: Any, rows: list[dict[str, Any]]) -> None:
        def run(conn: Any) -> None:
            for start in range(0, len(rows), CHUNK):
                conn.execute(stmt, rows[start : start + CHUNK])

        self._write(run)

    def _write(self, work: Any) -> None:
        def once() -> None:
            with begin_write(self.engine) as conn:
                work(conn)

        retrying(once)


def _item(row: Any) -> ItemState:
    return ItemState(
        sku=row.sku,
        object_uuid=row.object_uuid,
        remote_id=row.remote_id,
        created_by_hub=row.created_by_hub,
        state=row.state,
        synced_version=row.synced_version,
        synced_at=row.synced_at,
        last_error=row.last_error,
    )
