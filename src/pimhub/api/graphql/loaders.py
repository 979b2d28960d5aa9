"""Per-request object loading without N+1.

Objects read together (a page, or the targets of one relation across a page) form a Batch.
The first time any member's relation field is resolved, that field is loaded for every
member of the batch with one statement, and the targets form the next batch. So a listing of
100 products with category and brand costs three statements whatever the page size, and the
same holds for both execution paths (graphql-core resolvers and compiled plans).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pimhub.catalog.objects import CatalogObject
from pimhub.datahub.ports import GraphReadSession


@dataclass(slots=True, eq=False)
class GraphObject:
    """An object as GraphQL sees it: the stored object, the batch it was read with, and the
    language its localized fields fall back to (the enclosing query's defaultLanguage)."""

    obj: CatalogObject
    batch: Batch
    language: str


@dataclass(slots=True, eq=False)
class Batch:
    members: list[GraphObject] = field(default_factory=list)
    # field name -> {uuid: target GraphObject} once that field was loaded for all members
    # (PARENT for the variants' parents)
    loaded: dict[str, dict[str, GraphObject]] = field(default_factory=dict)
    # `first` -> {parent uuid: its variants} once children were loaded for all members
    children: dict[int, dict[str, list[GraphObject]]] = field(default_factory=dict)
    # (first, columns) -> {parent uuid: its variants as rows} for compiled plans
    child_rows: dict[tuple[int, frozenset[str]], dict[str, list[tuple[Any, ...]]]] = field(
        default_factory=dict
    )


PARENT = "@parent"  # no field name starts with '@'


def _parent_of(obj: CatalogObject, _name: str) -> Any:
    return obj.parent


def _field_of(obj: CatalogObject, name: str) -> Any:
    return obj.values.get(name)


class ObjectLoader:
    """Loads relation targets batch-wise, hiding unpublished targets unless drafts are
    visible."""

    def __init__(self, session: GraphReadSession, *, drafts: bool) -> None:
        self.session = session
        self.drafts = drafts

    def batch(self, objects: Sequence[CatalogObject], language: str) -> list[GraphObject]:
        batch = Batch()
        batch.members = [GraphObject(o, batch, language) for o in objects]
        return batch.members

    def visible(self, obj: CatalogObject | None) -> bool:
        return obj is not None and (obj.published or self.drafts)

    def _targets(
        self,
        node: GraphObject,
        field_name: str,
        refs: Callable[[CatalogObject, str], Any] = _field_of,
    ) -> dict[str, GraphObject]:
        batch = node.batch
        found = batch.loaded.get(field_name)
        if found is not None:
            return found
        wanted: list[str] = []
        for member in batch.members:
            value = refs(member.obj, field_name)
            if isinstance(value, list):
                wanted.extend(value)
            elif isinstance(value, str):
                wanted.append(value)
        objects = self.session.by_uuids(wanted) if wanted else {}
        visible = [o for o in objects.values() if self.visible(o)]
        targets = self.batch(visible, node.language)
        found = batch.loaded[field_name] = {t.obj.uuid: t for t in targets}
        return found

    def one(self, node: GraphObject, field_name: str) -> GraphObject | None:
        value = node.obj.values.get(field_name)
        if not isinstance(value, str):
            return None
        loaded = node.batch.loaded.get(field_name)
        target = (self._targets(node, field_name) if loaded is None else loaded).get(value)
        return self._in_language(target, node)

    def parent(self, node: GraphObject) -> GraphObject | None:
        """A variant's parent, loaded for every variant of the batch at once."""
        if node.obj.parent is None:
            return None
        loaded = node.batch.loaded.get(PARENT)
        targets = self._targets(node, PARENT, _parent_of) if loaded is None else loaded
        return self._in_language(targets.get(node.obj.parent), node)

    def children(self, node: GraphObject, first: int) -> list[GraphObject]:
        """An object's variants (its first `first`, oldest first), loaded for every member
        of the batch with one statement; together they form the next batch."""
        batch = node.batch
        found = batch.children.get(first)
        if found is None:
            uuids = [m.obj.uuid for m in batch.members if m.obj.parent is None]
            read = (
                self.session.children(uuids, first=first, published_only=not self.drafts)
                if uuids and first > 0
                else {}
            )
            members = self.batch([o for objs in read.values() for o in objs], node.language)
            if members:
                # The children's parents are this batch: `children { parent }` reads nothing.
                members[0].batch.loaded[PARENT] = {m.obj.uuid: m for m in batch.members}
            found = batch.children[first] = {}
            for member in members:
                assert member.obj.parent is not None
                found.setdefault(member.obj.parent, []).append(member)
        own = found.get(node.obj.uuid, [])
        if own and own[0].language != node.language:
            return [GraphObject(c.obj, c.batch, node.language) for c in own]
        return own

    def child_rows(
        self, node: GraphObject, first: int, columns: frozenset[str]
    ) -> list[tuple[Any, ...]]:
        """As `children`, as undecoded rows of `columns` (see GraphReadSession.children_rows)
        for a compiled plan that shapes them directly."""
        batch = node.batch
        found = batch.child_rows.get((first, columns))
        if found is None:
            uuids = [m.obj.uuid for m in batch.members if m.obj.parent is None]
            found = batch.child_rows[(first, columns)] = (
                self.session.children_rows(
                    uuids, first=first, published_only=not self.drafts, columns=sorted(columns)
                )
                if uuids and first > 0
                else {}
            )
        return found.get(node.obj.uuid, [])

    @staticmethod
    def _in_language(target: GraphObject | None, node: GraphObject) -> GraphObject | None:
        if target is not None and target.language != node.language:
            # Same object reached from a subtree with another defaultLanguage.
            return GraphObject(target.obj, target.batch, node.language)
        return target

    def many(self, node: GraphObject, field_name: str) -> list[GraphObject]:
        value = node.obj.values.get(field_name)
        if not isinstance(value, list):
            return []
        targets = self._targets(node, field_name)
        out = []
        for uuid in value:
            target = targets.get(uuid)
            if target is not None:
                out.append(
                    target
                    if target.language == node.language
                    else GraphObject(target.obj, target.batch, node.language)
                )
        return out
