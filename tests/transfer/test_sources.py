"""Streaming readers: CSV dialects, BOMs and embedded newlines; JSON Lines and arrays; XML by
record path; XLSX; and the errors of files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from pimhub.transfer.sources import Format, SourceOptions, UnreadableSource, read


def rows(path: Path, **options: object) -> list[tuple[int, dict[str, object]]]:
    return [(r.number, dict(r.values)) for r in read(path, SourceOptions(**options))]  # type: ignore[arg-type]


def test_csv_with_bom_quotes_embedded_newlines_and_sniffed_semicolons(tmp_path: Path) -> None:
    file = tmp_path / "p.csv"
    file.write_bytes(
        "\ufeffsku;name;description\r\n"
        'A-1;"Tee; cotton";"<p>line one\nline two</p>"\r\n'
        "B-2;Mug;\r\n".encode()
    )
    assert rows(file) == [
        (1, {"sku": "A-1", "name": "Tee; cotton", "description": "<p>line one\nline two</p>"}),
        (2, {"sku": "B-2", "name": "Mug", "description": ""}),
    ]
    assert {r.header for r in read(file)} == {("sku", "name", "description")}


def test_csv_encoding_and_delimiter_can_be_given(tmp_path: Path) -> None:
    file = tmp_path / "p.txt"
    file.write_bytes("sku|name\nA|Crème\n".encode("latin-1"))
    assert rows(file, delimiter="|", encoding="latin-1") == [(1, {"sku": "A", "name": "Crème"})]


def test_csv_shape_errors_name_the_row_or_column(tmp_path: Path) -> None:
    file = tmp_path / "p.csv"
    file.write_text("sku,name\nA,Tee,extra\nB,Top\n")
    first, second = read(file, SourceOptions())
    assert first.problem is not None and first.values == {}
    assert first.problem.message == "more cells (3) than the header has columns (2)"
    assert (second.number, second.problem, dict(second.values)) == (
        2,
        None,
        {"sku": "B", "name": "Top"},
    )
    file.write_text("sku,sku\nA,B\n")
    with pytest.raises(UnreadableSource, match="names the column 'sku' twice"):
        rows(file)


def test_json_lines_and_json_arrays(tmp_path: Path) -> None:
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"sku": "A", "price": 9.5}\n\n{"sku": "B"}\n')
    # A record's number counts records; its line is where it stands in the file.
    assert rows(lines) == [(1, {"sku": "A", "price": 9.5}), (2, {"sku": "B"})]
    assert [r.line for r in read(lines)] == [1, 3]
    array = tmp_path / "p.json"
    array.write_text('[{"sku": "A", "tags": ["x"]}, {"sku": "B"}]')
    assert rows(array) == [(1, {"sku": "A", "tags": ["x"]}), (2, {"sku": "B"})]
    assert {r.header for r in (*read(lines), *read(array))} == {None}  # keys per record
    lines.write_text('{"sku": "A"}\n[1]\n{"sku": \n{"sku": "D"}\n')
    records = list(read(lines, SourceOptions()))
    assert [(r.number, r.problem is None) for r in records] == [
        (1, True),
        (2, False),
        (3, False),
        (4, True),
    ]
    assert records[1].problem is not None
    assert records[1].problem.message == "expected a JSON object, got list"
    assert records[2].problem is not None and records[2].problem.message.startswith("not JSON")
    array.write_text('[{"sku": "A"}, {"sku": ')
    with pytest.raises(UnreadableSource, match="not a JSON array"):
        rows(array)


def test_xml_records_by_path_with_attributes_and_children(tmp_path: Path) -> None:
    file = tmp_path / "p.xml"
    file.write_text(
        "<catalog><products>"
        '<product sku="A"><name> Tee </name><price>9.5</price></product>'
        '<product sku="B"><name>Mug</name></product>'
        "</products><meta><product>not a record</product></meta></catalog>"
    )
    assert rows(file, record_path="products/product") == [
        (1, {"sku": "A", "name": "Tee", "price": "9.5"}),
        (2, {"sku": "B", "name": "Mug"}),
    ]
    with pytest.raises(UnreadableSource, match="record element"):
        rows(file)


def test_xml_entity_expansion_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "bomb.xml"
    file.write_text(
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<r><product><name>&b;</name></product></r>"
    )
    with pytest.raises(UnreadableSource, match="cannot be read"):
        rows(file, record_path="product")


def test_xlsx_first_sheet_streamed(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["sku", "price", None])
    sheet.append(["A", 9.5, None])
    sheet.append([None, None, None])
    sheet.append(["B", None, "ignored: no header"])
    file = tmp_path / "p.xlsx"
    book.save(file)
    # Empty sheet rows are no records: numbers count records, lines are the sheet's rows.
    assert rows(file) == [(1, {"sku": "A", "price": 9.5}), (2, {"sku": "B"})]
    assert [r.line for r in read(file)] == [2, 4]
    # A sheet's header, though cells are left out where empty.
    assert {r.header for r in read(file)} == {("sku", "price")}


def test_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    file = tmp_path / "p.dat"
    file.write_text("sku\nA\n")
    with pytest.raises(UnreadableSource, match="--format"):
        rows(file)
    assert rows(file, format=Format.CSV) == [(1, {"sku": "A"})]


def test_unreadable_files_are_named_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("sku,name\nA,Cr\xe8me\n".encode("latin-1"))
    with pytest.raises(UnreadableSource, match="--encoding"):
        rows(latin)
    with pytest.raises(UnreadableSource, match="unknown encoding"):
        rows(latin, encoding="klingon")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a workbook")
    with pytest.raises(UnreadableSource, match="not an XLSX workbook"):
        rows(fake)
    book = Workbook()
    real = tmp_path / "real.xlsx"
    book.save(real)
    with pytest.raises(UnreadableSource, match="no sheet 'Prices'"):
        rows(real, sheet="Prices")
