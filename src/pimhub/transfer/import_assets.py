"""The files of an import's `asset` steps (transfer/asset_step.py): fetched and stored as
assets (transfer/asset_fetch.py) batch by batch, each replaced in the mapped values by its
asset's uuid."""

from __future__ import annotations

from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.transfer.asset_fetch import AssetFetcher, AssetOutcome
from pimhub.transfer.asset_step import AssetSource
from pimhub.transfer.mapping import ImportMapping, InvalidMapping
from pimhub.transfer.outcome import RowError, row_error
from pimhub.transfer.sources import Record


def check_assets(mapping: ImportMapping, assets: AssetFetcher | None) -> None:
    if assets is None and (fields := [fm.target for fm in mapping.fields if fm.asset]):
        raise InvalidMapping(
            "this import cannot fetch files into assets",
            [FieldError(f"fields.{t}.asset", "no asset store for this import") for t in fields],
        )


def resolve_assets(
    items: list[dict[str, Any]],
    rows: list[Record],
    partial: list[tuple[Record, dict[str, Any], list[FieldError]]],
    assets: AssetFetcher,
    mapping: ImportMapping,
) -> tuple[list[dict[str, Any]], list[Record], list[RowError]]:
    """Replaces the files the `asset` steps name by asset uuids, fetching what it must: the
    items and rows kept, and the errors of rows refused for a file that cannot be fetched or
    stored, naming the column and the file. Rows refused for other cells (`partial`) fetch
    nothing (their files are left out)."""
    heads = {fm.target.split(".")[0]: fm.column or fm.target for fm in mapping.fields if fm.asset}
    if not heads:
        return items, rows, []
    for _, values, _ in partial:
        for head in heads:
            if _has_source(values.get(head)):
                del values[head]
    found = [s for item in items for h in heads for s in _sources(item.get(h))]
    outcomes = assets.resolve(found)
    kept_items, kept_rows, refused = [], [], []
    for record, item in zip(rows, items, strict=True):
        errors = [
            row_error(record, column, got.error, "asset")
            for head, column in heads.items()
            for source in _sources(item.get(head))
            if (got := outcomes[source]).error is not None
        ]
        if errors:
            refused.extend(errors)
            continue
        for head in heads:
            if head in item:
                _put_assets(item, head, outcomes)
        kept_items.append(item)
        kept_rows.append(record)
    return kept_items, kept_rows, refused


def _sources(value: Any) -> list[AssetSource]:
    if isinstance(value, AssetSource):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, AssetSource)]
    return []


def _has_source(value: Any) -> bool:
    return bool(_sources(value))


def _put_assets(item: dict[str, Any], head: str, outcomes: dict[AssetSource, AssetOutcome]) -> None:
    """The field's files as asset uuids; a dry run's files still to fetch are left out."""
    value = item[head]
    if isinstance(value, AssetSource):
        uuid = outcomes[value].uuid
        if uuid is None:
            del item[head]
        else:
            item[head] = uuid
    elif isinstance(value, list):
        item[head] = [
            outcomes[v].uuid if isinstance(v, AssetSource) else v
            for v in value
            if not isinstance(v, AssetSource) or outcomes[v].uuid is not None
        ]
