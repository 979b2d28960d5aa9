"""Imports on both databases: counts, idempotent re-runs, skip and abort, dry runs, and a
crash in the middle that a re-run completes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from pimhub.bootstrap import Hub
from pimhub.storage.tables import objects, outbox
from pimhub.transfer.category_paths import path_code
from pimhub.transfer.importer import ImportOptions, ImportSummary, OnError, RowError, run_import
from pimhub.transfer.mapping import InvalidMapping, parse_mapping
from pimhub.transfer.sources import Format, Record, from_text

MAPPING = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "price.amount": {"column": "price", "number": True},
            "price.currency": {"value": "EUR"},
            "stock": {"column": "qty", "number": True},
            "brand": "brand",
        },
    }
)


def csv_rows(n: int, start: int = 0, **overrides: str) -> str:
    lines = ["sku,name,price,qty,brand"]
    for i in range(start, start + n):
        row = {
            "sku": f"I-{i:05}",
            "name": f"Item {i}",
            "price": "9.5",
            "qty": str(i),
            "brand": "acme",
        }
        row.update({k: v for k, v in overrides.items() if k in row})
        lines.append(",".join(row.values()))
    return "\n".join(lines) + "\n"


def run(hub: Hub, records: Any, **options: Any) -> tuple[ImportSummary, list[RowError]]:
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    summary = run_import(
        writer, records, MAPPING, ImportOptions(**options), on_row_error=errors.append
    )
    return summary, errors


def totals(hub: Hub) -> tuple[int, int]:
    with hub.engine.connect() as conn:
        products = conn.execute(
            select(func.count()).select_from(objects).where(objects.c.class_name == "Product")
        ).scalar_one()
        events = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return products, events


def test_import_then_the_same_file_again_changes_nothing(sample: Hub) -> None:
    text = csv_rows(250)
    first, _ = run(sample, from_text(text, Format.CSV), batch_size=100)
    assert (first.rows, first.created, first.failed) == (250, 250, 0)
    after_first = totals(sample)
    again, _ = run(sample, from_text(text, Format.CSV), batch_size=100)
    assert (again.unchanged, again.created, again.updated) == (250, 0, 0)
    assert totals(sample) == after_first
    changed, _ = run(sample, from_text(csv_rows(3, price="12"), Format.CSV))
    assert changed.updated == 3
    item = sample.catalog.get_object("Product", "I-00001", include_drafts=False)
    assert item.values["price"] == {"amount": 12, "currency": "EUR"} and item.version == 2


def test_skip_keeps_valid_rows_and_reports_each_bad_one(sample: Hub) -> None:
    text = "sku,name,price,qty,brand\nA-1,Fine,1,1,acme\nA-2,Bad price,cheap,1,acme\n"
    text += "A-3,Bad brand,1,1,nobody\nA-4,Negative,1,-2,acme\n,No key,1,1,acme\n"
    summary, errors = run(sample, from_text(text, Format.CSV))
    assert (summary.created, summary.failed) == (1, 4)
    assert [(e.row, e.column, e.value) for e in errors] == [
        (2, "price", "cheap"),
        (3, "brand", "nobody"),
        (4, "qty", "-2"),
        (5, "sku", ""),
    ]
    assert "not a number" in errors[0].message and errors[1].code == "reference"


def test_abort_keeps_nothing_and_a_dry_run_keeps_nothing(sample: Hub) -> None:
    before = totals(sample)
    bad = csv_rows(150) + "X-1,Bad,cheap,1,acme\n"
    summary, errors = run(
        sample, from_text(bad, Format.CSV), on_error=OnError.ABORT, batch_size=100
    )
    assert summary.aborted and summary.created == 150 and len(errors) == 1
    assert totals(sample) == before
    dry, _ = run(sample, from_text(csv_rows(120), Format.CSV), dry_run=True, batch_size=50)
    assert (dry.created, dry.committed_rows) == (120, 0)
    assert totals(sample) == before
    whole, _ = run(
        sample, from_text(csv_rows(150), Format.CSV), on_error=OnError.ABORT, batch_size=100
    )
    assert whole.committed_rows == 150 and totals(sample)[0] == before[0] + 150


def test_a_crash_keeps_whole_batches_and_a_rerun_completes(sample: Hub) -> None:
    before = totals(sample)
    text = csv_rows(300)

    def crashing() -> Iterator[Record]:
        for record in from_text(text, Format.CSV):
            if record.number == 251:
                raise RuntimeError("the power went out")
            yield record

    with pytest.raises(RuntimeError):
        run(sample, crashing(), batch_size=100)
    products, events = totals(sample)
    assert (products - before[0], events - before[1]) == (200, 200)  # whole batches only
    rerun, _ = run(sample, from_text(text, Format.CSV), batch_size=100)
    assert (rerun.unchanged, rerun.created) == (200, 100)
    assert totals(sample) == (before[0] + 300, before[1] + 300)


def test_huge_and_odd_numbers_are_row_errors_not_crashes(sample: Hub) -> None:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {"sku": "sku", "name.en": "sku", "weight": {"column": "w", "number": True}},
        }
    )
    text = "sku,w\nW-1,1e20\nW-2,1e400\nW-3,Infinity\nW-4,NaN\nW-5,2.5\nW-6,1e-400\nW-7,-0\n"

    def writer() -> Any:
        return sample.catalog.batch_writer("Product", author="t")

    errors: list[RowError] = []
    summary = run_import(
        writer, from_text(text, Format.CSV), mapping, ImportOptions(), on_row_error=errors.append
    )
    assert [(e.row, e.column, e.value) for e in errors] == [
        (2, "w", "1e400"),
        (3, "w", "Infinity"),
        (4, "w", "NaN"),
        (6, "w", "1e-400"),  # would silently have become 0
    ]
    assert summary.created == 3
    huge = sample.catalog.get_object("Product", "W-1", include_drafts=False)
    assert huge.values["weight"] == {"value": 1e20, "unit": "kg"}


def test_rows_may_refer_to_objects_earlier_rows_create(hub: Hub) -> None:
    mapping = parse_mapping(
        {"class": "Category", "fields": {"code": "code", "name.en": "name", "parent": "parent"}}
    )
    text = "code,name,parent\ntop,Top,\nmid,Mid,top\nleaf,Leaf,mid\nlost,Lost,nowhere\nbad,,top\n"

    def writer() -> Any:
        return hub.catalog.batch_writer("Category", author="t")

    for options in (ImportOptions(dry_run=True, batch_size=1), ImportOptions(batch_size=100)):
        errors: list[RowError] = []
        summary = run_import(
            writer, from_text(text, Format.CSV), mapping, options, on_row_error=errors.append
        )
        assert (summary.created, summary.failed) == (3, 2), (options, errors)
        assert [(e.row, e.column) for e in errors] == [(4, "parent"), (5, "name")]
    leaf = hub.catalog.get_object("Category", "leaf", include_drafts=False)
    mid = hub.catalog.get_object("Category", "mid", include_drafts=False)
    assert leaf.values["parent"] == mid.uuid


def test_a_row_referring_to_a_refused_row_is_refused_too(hub: Hub) -> None:
    mapping = parse_mapping(
        {"class": "Category", "fields": {"code": "code", "name.en": "name", "parent": "parent"}}
    )
    text = "code,name,parent\nroot,,\nchild,Child,root\n"

    def writer() -> Any:
        return hub.catalog.batch_writer("Category", author="t")

    errors: list[RowError] = []
    summary = run_import(
        writer, from_text(text, Format.CSV), mapping, ImportOptions(), on_row_error=errors.append
    )
    assert summary.failed == 2 and errors[1].row == 2 and "'root'" in errors[1].message


def test_importing_as_drafts_leaves_unchanged_objects_published(sample: Hub) -> None:
    def writer() -> Any:
        return sample.catalog.batch_writer("Product", author="t", published=False)

    text = csv_rows(2)
    run(sample, from_text(text, Format.CSV))  # published
    summary = run_import(writer, from_text(text, Format.CSV), MAPPING, ImportOptions())
    assert summary.unchanged == 2
    assert sample.catalog.get_object("Product", "I-00000", include_drafts=False).published
    changed = run_import(
        writer, from_text(csv_rows(2, price="3"), Format.CSV), MAPPING, ImportOptions()
    )
    assert changed.updated == 2
    assert not sample.catalog.get_object("Product", "I-00000", include_drafts=True).published


PATHS = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "category": {
                "column": "categories",
                "split": ",",
                "first": True,
                "path": {"skip": 1, "create": True},
            },
        },
    }
)


def test_category_paths_resolve_and_create_what_is_missing(hub: Hub) -> None:
    text = (
        "sku,name,categories\n"
        'H-1,Hoodie,"Default Category/Men/Tops/Hoodies & Sweatshirts,Default Category/Sale"\n'
        "H-2,Tee,Default Category/Men/Tops\n"
        "H-3,Plain,Default Category\n"
    )

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="t")

    dry = run_import(writer, from_text(text, Format.CSV), PATHS, ImportOptions(dry_run=True))
    assert (dry.created, dry.failed) == (3, 0)
    with hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(objects)).scalar_one() == 0
    first = run_import(writer, from_text(text, Format.CSV), PATHS, ImportOptions(batch_size=2))
    assert (first.created, first.failed) == (3, 0)
    hoodie = hub.catalog.get_object("Product", "H-1", include_drafts=False)
    leaf = hub.catalog.get_object("Category", "men-tops-hoodies-sweatshirts", include_drafts=False)
    tops = hub.catalog.get_object("Category", "men-tops", include_drafts=False)
    men = hub.catalog.get_object("Category", "men", include_drafts=False)
    assert hoodie.values["category"] == leaf.uuid
    assert leaf.values["name"] == {"en": "Hoodies & Sweatshirts"}
    assert (leaf.values["parent"], tops.values["parent"]) == (tops.uuid, men.uuid)
    assert "category" not in hub.catalog.get_object("Product", "H-3", include_drafts=False).values
    again = run_import(writer, from_text(text, Format.CSV), PATHS, ImportOptions())
    assert again.unchanged == 3
    with hub.engine.connect() as conn:
        categories = conn.execute(
            select(func.count()).select_from(objects).where(objects.c.class_name == "Category")
        ).scalar_one()
    assert categories == 3  # men, men-tops, men-tops-hoodies-sweatshirts; each once


def test_a_path_that_cannot_become_a_category_refuses_its_rows(hub: Hub) -> None:
    long_name = "x" * 300  # beyond the category name's 255 characters
    # The second batch of two is validated ahead (the first was all new): the refused row
    # leaves it, the other row's path is a code by then.
    text = (
        "sku,name,categories\n"
        "J-0,Men,Default Category/Men\n"
        "J-00,Women,Default Category/Women\n"
        f"J-1,Long,Default Category/{long_name}\n"
        "J-2,Tokyo,Default Category/東京\n"
    )

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="t")

    errors: list[RowError] = []
    summary = run_import(
        writer,
        from_text(text, Format.CSV),
        PATHS,
        ImportOptions(batch_size=2),
        on_row_error=errors.append,
    )
    assert (summary.created, summary.failed) == (3, 1)
    assert (errors[0].row, errors[0].column, errors[0].code) == (3, "categories", "path")
    assert "name" in errors[0].message and "255" in errors[0].message
    tokyo = hub.catalog.get_object("Product", "J-2", include_drafts=False)
    category = hub.catalog.get_object("Category", path_code(["東京"]), include_drafts=False)
    assert tokyo.values["category"] == category.uuid and category.values["name"] == {"en": "東京"}


def test_batches_committed_behind_see_each_other_and_count_once(sample: Hub) -> None:
    """Batches of two, each committed on the commit thread while the next is read: a key
    repeated in the next batch is an update of what the previous one created, and the
    counts match one event per change."""
    before = totals(sample)
    text = (
        "sku,name,price,qty,brand\n"
        "B-1,One,1,1,acme\nB-2,Two,1,1,acme\n"
        "B-1,One again,1,1,acme\nB-3,Three,1,1,acme\n"
        "B-3,Three,1,1,acme\nB-4,Four,1,x,acme\n"
    )
    summary, errors = run(sample, from_text(text, Format.CSV), batch_size=2)
    assert (summary.created, summary.updated, summary.unchanged) == (3, 1, 1)
    assert [(e.row, e.column) for e in errors] == [(6, "qty")]
    assert summary.committed_rows == 6
    one = sample.catalog.get_object("Product", "B-1", include_drafts=False)
    assert (one.values["name"], one.version) == ({"en": "One again"}, 2)
    assert totals(sample) == (before[0] + 3, before[1] + 4)


def test_a_failed_commit_stops_the_import_and_keeps_the_batches_before_it(sample: Hub) -> None:
    before = totals(sample)
    opened = 0

    class FailingSecondCommit:
        def __init__(self) -> None:
            nonlocal opened
            opened += 1
            self.context = sample.catalog.batch_writer("Product", author="import")
            self.number = opened

        def __enter__(self) -> Any:
            writer = self.context.__enter__()
            if self.number == 2:

                def commit() -> None:
                    raise OSError("disk full")

                writer.commit = commit
            return writer

        def __exit__(self, *exc: Any) -> Any:
            return self.context.__exit__(*exc)

    text = csv_rows(250).replace("I-00220,Item 220,9.5,220", "I-00220,Item 220,9.5,many")
    assert "many" in text
    errors: list[RowError] = []
    with pytest.raises(OSError, match="disk full"):
        run_import(
            FailingSecondCommit,
            from_text(text, Format.CSV),
            MAPPING,
            ImportOptions(batch_size=100),
            on_row_error=errors.append,
        )
    assert opened == 2  # nothing after the failed batch was written
    assert errors == []  # nor reported: the third batch was read, never written
    assert totals(sample) == (before[0] + 100, before[1] + 100)


def test_a_column_the_file_lacks_is_refused_before_anything_is_written(sample: Hub) -> None:
    before = totals(sample)
    typo = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": {"template": "{name} {colour}"},
                "stock": "quantity",
                "brand": {"column": "maker", "optional": True},  # some files have it
            },
        }
    )

    def writer() -> Any:
        return sample.catalog.batch_writer("Product", author="import")

    for on_error in OnError:
        with pytest.raises(InvalidMapping) as caught:
            run_import(
                writer,
                from_text(csv_rows(1500), Format.CSV),
                typo,
                ImportOptions(on_error=on_error, batch_size=1000),
            )
        assert [(e.field, e.code) for e in caught.value.errors] == [
            ("fields.name.en", "missing-column"),
            ("fields.stock", "missing-column"),
        ]
        assert "'colour'" in caught.value.errors[0].message
        assert "'quantity'" in caught.value.errors[1].message
        assert caught.value.detail.startswith("the file has no column for name.en, stock")
        assert "sku, name, price, qty, brand" in caught.value.detail
    assert totals(sample) == before
    # Records without a header (JSON, XML) may each lack keys: those fields are just empty.
    sparse = [Record(1, {"sku": "J-1", "name": "Json", "price": "3"})]
    summary, errors = run(sample, sparse)
    assert (summary.created, errors) == (1, [])


def test_optional_must_be_a_boolean() -> None:
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping({"class": "Product", "fields": {"sku": {"column": "s", "optional": "y"}}})
    assert [e.field for e in caught.value.errors] == ["fields.sku.optional"]


def test_an_unreadable_json_lines_line_refuses_that_row_only(hub: Hub) -> None:
    good = '{"sku": "%s", "name": "Tee", "price": "9.50"}\n'
    text = good % "J-1" + '{"sku": "J-2", \n' + "7\n" + good % "J-4"
    summary, errors = run(hub, from_text(text, Format.JSONL))
    assert (summary.created, summary.failed) == (2, 2)
    assert [(e.row, e.code) for e in errors] == [(2, "not-json"), (3, "shape")]
    assert errors[1].message == "expected a JSON object, got int"


def test_numeric_xlsx_cells_of_text_fields_are_read_as_their_text(hub: Hub, tmp_path: Any) -> None:
    from openpyxl import Workbook

    from pimhub.transfer.sources import SourceOptions, read

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["sku", "name", "qty"])
    sheet.append([12345, 0.3, 4])
    sheet.append([12346.0, 1e3, 5.0])
    sheet.append([0.3, "Tee", 6])
    file = tmp_path / "numbers.xlsx"
    book.save(file)
    mapping = parse_mapping(
        {"class": "Product", "fields": {"sku": "sku", "name.en": "name", "stock": "qty"}}
    )

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    errors: list[RowError] = []
    options = ImportOptions(batch_size=2)  # the second batch is validated ahead
    records = read(file, SourceOptions())
    summary = run_import(writer, records, mapping, options, on_row_error=errors.append)
    assert errors == [] and summary.created == 3
    found = {
        key: hub.catalog.get_object("Product", key, include_drafts=True).values
        for key in ("12345", "12346", "0.3")
    }
    assert [v["name"] for v in found.values()] == [{"en": "0.3"}, {"en": "1000"}, {"en": "Tee"}]
    assert [v["stock"] for v in found.values()] == [4, 5, 6]  # a number field keeps numbers
