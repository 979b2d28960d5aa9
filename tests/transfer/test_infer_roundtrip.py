"""docs/import.md's promise, on SQLite and PostgreSQL: the demo catalog exported to CSV, a
mapping proposed (`--infer`) from each file alone, and the files imported into an empty hub
refuse no row and give back the same objects."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.cli.server import seed_demo
from pimhub.transfer.exporter import ExportOptions, export
from pimhub.transfer.importer import ImportOptions, run_import
from pimhub.transfer.inference import propose_mapping
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, from_text
from tests.conftest import empty_database

CLASSES = ("Brand", "Category", "Product")  # targets before what refers to them


def _export(hub: Hub, class_name: str) -> str:
    out = io.StringIO()
    export(
        hub.catalog,
        hub.graph_reads,
        hub.classes.get(class_name),
        ExportOptions(drafts=True),
        out,
        languages=hub.settings.languages,
    )
    return out.getvalue()


def comparable_rows(text: str) -> list[dict[str, Any]]:
    """The rows with numbers compared as numbers (an export writes 99.0 as it was stored)."""
    return [
        {k: _number_or_text(v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))
    ]


def _number_or_text(cell: str) -> Any:
    try:
        return Decimal(cell)
    except InvalidOperation:
        return cell


def test_export_infer_import_is_a_no_op(hub: Hub, engine: Engine) -> None:
    seed_demo(hub, 12)
    files = {name: _export(hub, name) for name in CLASSES}
    assert all(text.count("\n") > 5 for text in files.values())
    assert "|" in files["Product"]  # lists joined with |: what infer must split on

    assert "/products/" in files["Product"]  # images exported by path
    images = {a.path: b"".join(hub.assets.read(a)) for a in hub.assets.list_page(first=1000).items}

    empty_database(engine)
    fresh = bootstrap(hub.settings, engine=engine)
    fresh.classes.apply(commerce_model(), author="t")
    for path, data in images.items():  # the files come first, as with a real migration
        fresh.assets.add(io.BytesIO(data), path, author="t")
    for name, text in files.items():
        records = list(from_text(text, Format.CSV))
        proposal, unmapped = propose_mapping(
            fresh.classes.get(name),
            records[0].values,
            fresh.settings.default_language,
            fresh.settings.languages,
            [r.values for r in records],
        )
        assert unmapped == [], name

        def writer(name: str = name) -> Any:
            return fresh.catalog.batch_writer(name, author="t")

        summary = run_import(writer, iter(records), parse_mapping(proposal), ImportOptions())
        assert (summary.failed, summary.errors) == (0, []), name
        assert summary.created == summary.rows == len(records), name
        assert comparable_rows(_export(fresh, name)) == comparable_rows(text), name
