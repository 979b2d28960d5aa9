"""What an import reports, on both databases: rows counted once however many errors they
have, the file line of each refused row, a row refused because of an earlier refused row
named by its column and value, and all of a row's errors found in one pass."""

from __future__ import annotations

from typing import Any

from pimhub.bootstrap import Hub
from pimhub.transfer.importer import ImportOptions, ImportSummary, RowError, run_import
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, from_text
from tests.transfer.test_import import MAPPING

CATEGORIES = parse_mapping(
    {"class": "Category", "fields": {"code": "code", "name.en": "name", "parent": "parent"}}
)
VARIANTS = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "color": {"column": "color", "lowercase": True},
            "@parent": "parent",
        },
    }
)


def run(
    hub: Hub, text: str, mapping: Any = MAPPING, fmt: Format = Format.CSV, **options: Any
) -> tuple[ImportSummary, list[RowError]]:
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer(mapping.class_name, author="import")

    summary = run_import(
        writer, from_text(text, fmt), mapping, ImportOptions(**options), on_row_error=errors.append
    )
    return summary, errors


def test_a_row_with_several_errors_is_one_refused_row(hub: Hub) -> None:
    text = "sku,name,price,qty,brand\nC-1,One,cheap,many,\nC-2,Two,1,2,\nC-3,,x,1,\n"
    summary, errors = run(hub, text)
    assert (summary.rows, summary.created, summary.failed, summary.error_count) == (3, 1, 2, 3)
    assert len(errors) == 3
    shown = summary.to_dict()
    assert (shown["refused"], shown["failed"], shown["errorCount"], shown["accepted"]) == (
        2,
        2,
        3,
        1,
    )


def test_validation_errors_count_their_row_once(hub: Hub) -> None:
    # A name too long (present, so not also missing) and an unknown brand, in one pass.
    text = f"sku,name,price,qty,brand\nV-1,{'n' * 300},1,1,nobrand\n"
    summary, errors = run(hub, text)
    assert (summary.failed, summary.error_count) == (1, 2)
    assert [(e.row, e.column, e.code) for e in errors] == [
        (1, "name", "too-long"),
        (1, "brand", "reference"),
    ]


def test_a_row_refused_for_a_cell_shows_its_other_problems_too(hub: Hub) -> None:
    text = f"sku,name,price,qty,brand\nW-1,{'n' * 300},cheap,1,\n"
    summary, errors = run(hub, text)
    assert (summary.failed, summary.error_count) == (1, 2)
    assert [(e.column, e.code) for e in errors] == [("price", "transform"), ("name", "too-long")]


def test_a_row_refused_for_a_cell_is_not_blamed_for_what_mapping_still_does(hub: Hub) -> None:
    # A category path (still a path, not a code, when the row is refused) and an empty price
    # (no price) are no problems of their own.
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name",
                "price.amount": {"column": "price", "number": True},
                "price.currency": {"value": "EUR"},
                "stock": {"column": "qty", "number": True},
                "category": {"column": "category", "path": {"create": True}},
            },
        }
    )
    text = "sku,name,price,qty,category\nX-1,Tee,,many,Men/Tops\nX-2,Mug,,1,Home/Kitchen\n"
    summary, errors = run(hub, text, mapping)
    assert (summary.created, summary.failed) == (1, 1)
    assert [(e.column, e.code) for e in errors] == [("qty", "transform")]


def test_row_errors_give_the_line_where_a_multi_line_record_starts(hub: Hub) -> None:
    text = (
        "sku,name,price,qty,brand\n"
        'L-1,"Two\nlines",1,1,\n'
        'L-2,"Three\r\nlines\nhere",bad,1,\n'
        "\n"
        "L-3,One,worse,1,\n"
    )
    summary, errors = run(hub, text)
    assert [(e.row, e.line) for e in errors] == [(2, 4), (3, 8)]
    assert summary.to_dict()["errors"][0]["line"] == 4


def test_json_lines_rows_are_records_and_lines_are_lines(hub: Hub) -> None:
    line = '{"sku": "%s", "name": "A", "price": "x"}\n'
    text = line % "J-1" + "\n" + line % "J-2"
    summary, errors = run(hub, text, fmt=Format.JSONL)
    assert summary.rows == 2
    assert [(e.row, e.line) for e in errors] == [(1, 1), (2, 3)]


def test_a_reference_to_a_refused_row_names_its_column_and_value(hub: Hub) -> None:
    text = "code,name,parent\nroot,,\nchild,Child,root\n"
    summary, errors = run(hub, text, CATEGORIES)
    assert summary.failed == 2
    dependent = errors[1]
    assert (dependent.row, dependent.column, dependent.value) == (2, "parent", "root")
    assert "item" not in dependent.message and "'root'" in dependent.message


def test_a_variant_whose_parent_row_was_refused_names_the_parent(hub: Hub) -> None:
    text = "sku,name,color,parent\nP,,,\nP-red,Red one,Red,P\n"
    summary, errors = run(hub, text, VARIANTS)
    assert summary.failed == 2, errors
    variant = next(e for e in errors if e.row == 2)
    assert (variant.column, variant.value) == ("parent", "P")
    assert "item" not in variant.message and "'P'" in variant.message


def test_one_pass_reports_validation_and_reference_errors_together(hub: Hub) -> None:
    text = "code,name,parent\nlost,,nowhere\n"
    summary, errors = run(hub, text, CATEGORIES)
    assert summary.failed == 1
    assert sorted((e.column, e.code) for e in errors) == [
        ("name", "required"),
        ("parent", "reference"),
    ]


def test_category_and_brand_codes_may_hold_underscores_as_other_pims_write_them(
    hub: Hub,
) -> None:
    text = (
        "code,name,parent\ntvs_projectors,TVs,\nhome_cinema,Home cinema,tvs_projectors\nBad,Bad,\n"
    )
    summary, errors = run(hub, text, CATEGORIES)
    assert (summary.created, summary.failed) == (2, 1), errors
    assert [(e.row, e.column, e.code) for e in errors] == [(3, "code", "pattern")]
    brands = parse_mapping({"class": "Brand", "fields": {"code": "code", "name": "name"}})
    summary, errors = run(hub, "code,name\nsony_group,Sony\n", brands)
    assert summary.created == 1, errors


def test_the_summary_keeps_errors_in_row_order(hub: Hub) -> None:
    # Category paths are resolved (and refused) before the rows are saved, last row first:
    # the summary, which the console prints, still lists the errors by row.
    from tests.transfer.test_import import PATHS

    long_name = "x" * 300
    text = (
        "sku,name,categories\n"
        f"O-1,{long_name},Default Category/Fine\n"
        f"O-2,Two,Default Category/{long_name}\n"
        f"O-3,Three,Default Category/{long_name}y\n"
    )
    summary, errors = run(hub, text, PATHS)
    assert summary.failed == 3
    assert sorted(e.row for e in errors) == [1, 2, 3]
    assert [(e.row, e.code) for e in summary.errors] == [(1, "too-long"), (2, "path"), (3, "path")]


def test_row_numbers_count_records_not_blank_lines(hub: Hub) -> None:
    text = '{"sku": "B-1", "name": "One"}\n\n{"sku": "B-2"}\n\n{"sku": "B-3", "name": "Three"}\n'
    summary, errors = run(hub, text, fmt=Format.JSONL)
    assert (summary.rows, summary.created, summary.failed) == (3, 2, 1)
    assert [(e.row, e.line, e.code) for e in errors] == [(2, 3, "required")]
