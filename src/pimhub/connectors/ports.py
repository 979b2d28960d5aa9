"""What connectors need from the hub: current objects by uuid, families, whole classes, and
the assets (images) objects refer to."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from pimhub.assets.model import Asset
from pimhub.catalog.objects import CatalogObject


class CatalogReader(Protocol):
    def by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]: ...
    def by_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, CatalogObject]: ...
    def children_of(self, parent_uuids: Sequence[str]) -> dict[str, list[CatalogObject]]: ...
    def using_assets(
        self, class_name: str, asset_uuids: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """asset uuid -> (uuid, business key) of the class's objects that use the asset."""

    def pages(self, class_name: str, size: int) -> Iterator[list[CatalogObject]]:
        """Every object of the class, in id order, `size` at a time."""


class AssetReader(Protocol):
    """The part of the AssetService a connector uses (assets by uuid, and their bytes)."""

    def get_many(self, uuids: Sequence[str]) -> dict[str, Asset]: ...
    def read(self, asset: Asset) -> Iterator[bytes]: ...
