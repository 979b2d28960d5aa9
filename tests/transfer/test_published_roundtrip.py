"""Export -> --infer -> import keeps drafts drafts, on both databases: a CSV export with
drafts writes a published column and XML an attribute, which --infer maps to `@published`;
the JSON Lines export, whose values a mapping cannot reach, is refused by --infer with the
reason instead of a proposal that refuses every row."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import InvalidInput
from pimhub.transfer.exporter import ExportFormat, ExportOptions, export
from pimhub.transfer.importer import ImportOptions, run_import
from pimhub.transfer.inference import propose_mapping
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, Record, SourceOptions, from_text, read
from tests.conftest import empty_database

SOURCE = "sku,name,online\nS-1,One,yes\nS-4,Four,no\n"
SEED = parse_mapping(
    {"class": "Product", "fields": {"sku": "sku", "name.en": "name", "@published": "online"}}
)


def _seed(hub: Hub) -> None:
    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="t")

    summary = run_import(writer, from_text(SOURCE, Format.CSV), SEED, ImportOptions())
    assert summary.created == 2 and _published(hub) == {"S-1": True, "S-4": False}


def _published(hub: Hub) -> dict[str, bool]:
    return {
        key: hub.catalog.get_object("Product", key, include_drafts=True).published
        for key in ("S-1", "S-4")
    }


def _export(hub: Hub, fmt: ExportFormat, drafts: bool = True) -> str:
    out = io.StringIO()
    options = ExportOptions(format=fmt, drafts=drafts)
    languages = hub.settings.languages
    export(
        hub.catalog, hub.graph_reads, hub.classes.get("Product"), options, out, languages=languages
    )
    return out.getvalue()


def _records(text: str, fmt: ExportFormat, tmp_path: Path) -> list[Record]:
    if fmt == ExportFormat.CSV:
        return list(from_text(text, Format.CSV))
    file = tmp_path / f"export.{fmt.value}"
    file.write_text(text, encoding="utf-8")
    return list(
        read(file, SourceOptions(record_path="product" if fmt == ExportFormat.XML else None))
    )


def _propose(hub: Hub, records: list[Record]) -> dict[str, Any]:
    proposal, _ = propose_mapping(
        hub.classes.get("Product"),
        records[0].values,
        hub.settings.default_language,
        hub.settings.languages,
        [r.values for r in records],
    )
    return proposal


@pytest.mark.parametrize("fmt", [ExportFormat.CSV, ExportFormat.XML])
def test_an_export_with_drafts_imports_back_with_its_drafts(
    hub: Hub, engine: Engine, tmp_path: Path, fmt: ExportFormat
) -> None:
    _seed(hub)
    records = _records(_export(hub, fmt), fmt, tmp_path)
    empty_database(engine)
    fresh = bootstrap(hub.settings, engine=engine)
    fresh.classes.apply(commerce_model(), author="t")
    proposal = _propose(fresh, records)
    assert proposal["fields"]["@published"] == "published"

    def writer() -> Any:
        return fresh.catalog.batch_writer("Product", author="t")

    summary = run_import(writer, iter(records), parse_mapping(proposal), ImportOptions())
    assert (summary.created, summary.failed) == (2, 0)
    assert _published(fresh) == {"S-1": True, "S-4": False}


def test_a_csv_export_without_drafts_has_no_published_column(hub: Hub) -> None:
    _seed(hub)
    assert _export(hub, ExportFormat.CSV, drafts=False).splitlines()[0].split(",")[-1] != (
        "published"
    )
    assert _export(hub, ExportFormat.CSV).splitlines()[0].split(",")[-1] == "published"


def test_akeneos_enabled_column_is_the_published_flag(hub: Hub) -> None:
    records = list(from_text("sku,name-en_US,enabled\nA,Tee,0\n", Format.CSV))
    assert _propose(hub, records)["fields"]["@published"] == "enabled"


def test_infer_refuses_the_json_lines_export_and_says_why(hub: Hub, tmp_path: Path) -> None:
    _seed(hub)
    records = _records(_export(hub, ExportFormat.JSONL), ExportFormat.JSONL, tmp_path)
    with pytest.raises(InvalidInput) as caught:
        _propose(hub, records)
    assert "nests" in caught.value.detail and "--format csv" in caught.value.detail
