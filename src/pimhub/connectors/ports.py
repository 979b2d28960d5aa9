"""What connectors need from the catalog: current objects by uuid, families, whole classes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from pimhub.catalog.objects import CatalogObject


class CatalogReader(Protocol):
    def by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]: ...
    def by_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, CatalogObject]: ...
    def children_of(self, parent_uuids: Sequence[str]) -> dict[str, list[CatalogObject]]: ...
    def pages(self, class_name: str, size: int) -> Iterator[list[CatalogObject]]:
        """Every object of the class, in id order, `size` at a time."""
