"""Hostile import files are refused before they cost memory or time: JSON, JSON Lines and XML
nested too deep, XLSX workbooks that unpack too large (a zip bomb)."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from pimhub.transfer.sources import SourceLimits, SourceOptions, UnreadableSource, read


def records(path: Path, limits: SourceLimits = SourceLimits(), **options: object) -> list[object]:
    return [dict(r.values) for r in read(path, SourceOptions(**options), limits)]  # type: ignore[arg-type]


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_json_items_nested_too_deep_are_refused_naming_the_item(tmp_path: Path) -> None:
    file = tmp_path / "deep.json"
    file.write_text(f'[{{"sku": "A", "x": {nested(63)}}}, {{"sku": "B", "x": {nested(64)}}}]')
    with pytest.raises(UnreadableSource, match="item 2 nests deeper than 64 levels") as refused:
        records(file)
    assert refused.value.errors[0].code == "too-deep"
    file.write_text(f'[{{"sku": "A", "x": {nested(63)}}}, 5]')  # 64 levels: fine
    with pytest.raises(UnreadableSource, match="item 2 is not a JSON object"):
        records(file)
    file.write_text('{"sku": "A"}')
    with pytest.raises(UnreadableSource, match="not a JSON array"):
        records(file)
    file.write_text('[{"sku": "A", "n": 1.5, "t": [true, null, {"k": [[]]}]}, {"sku": "B"}] ')
    assert records(file) == [
        {"sku": "A", "n": 1.5, "t": [True, None, {"k": [[]]}]},
        {"sku": "B"},
    ]
    file.write_text("[]")
    assert records(file) == []


def test_json_lines_nested_too_deep_are_refused_naming_the_line(tmp_path: Path) -> None:
    file = tmp_path / "deep.jsonl"
    file.write_text(f'{{"sku": "A"}}\n{{"x": {nested(64)}}}\n')
    with pytest.raises(UnreadableSource, match="line 2 nests deeper than 64 levels"):
        records(file)
    # orjson stops at 1024 levels on its own; that is the same refusal.
    file.write_text("[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(UnreadableSource, match="line 1 nests deeper than 64 levels"):
        records(file)


def test_xml_nested_too_deep_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "deep.xml"
    file.write_text("<r><p><sku>A</sku></p><p>" + "<x>" * 70 + "</x>" * 70 + "</p></r>")
    with pytest.raises(UnreadableSource, match=r"after record 1.*deeper than 64") as refused:
        records(file, record_path="p")
    assert refused.value.errors[0].code == "too-deep"


def test_a_json_file_nested_100000_deep_fails_at_once_in_little_memory(tmp_path: Path) -> None:
    """The issue's file: 200 KB nested 100,000 levels, which took 23 GB. Read in a child
    process allowed 1.5 GB of address space, so a regression fails instead of swapping."""
    for name, text in (
        ("deep.json", "[" + "[" * 100_000 + "]" * 100_000 + "]"),
        ("deep.jsonl", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
        ("deep.xml", "<r>" + "<x>" * 100_000 + "</x>" * 100_000 + "</r>"),
    ):
        (tmp_path / name).write_text(text)
    script = (
        "import resource, sys, time\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
        "from pathlib import Path\n"
        "from pimhub.transfer.sources import SourceOptions, UnreadableSource, read\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        list(read(Path(name), SourceOptions(record_path='x')))\n"
        "    except UnreadableSource as exc:\n"
        "        print(exc.detail)\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, "deep.json", "deep.jsonl", "deep.xml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "item 1 nests deeper than 64 levels",
        "line 1 nests deeper than 64 levels",
        "the XML (element <x> after record 0) nests deeper than 64 levels",
    ]
    assert time.monotonic() - started < 30


def xlsx_with_shared_strings(path: Path, strings: int) -> None:
    """A valid workbook whose shared strings part is replaced by `strings` strings, written
    streaming (a 170 MB part packs to a few hundred KB)."""
    plain = path.with_suffix(".plain.xlsx")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["sku"])
    sheet.append(["A"])
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            if not info.filename.endswith("sharedStrings.xml"):
                target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
        strings_part = zipfile.ZipInfo("xl/sharedStrings.xml")
        strings_part.compress_type = zipfile.ZIP_DEFLATED
        with target.open(strings_part, "w") as part:
            ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
            part.write(f'<sst xmlns="{ns}" count="{strings}" uniqueCount="{strings}">'.encode())
            block = b"<si><t>sku</t></si>" * 10_000
            for _ in range(strings // 10_000):
                part.write(block)
            part.write(b"</sst>")


def test_an_xlsx_zip_bomb_is_refused_before_openpyxl_reads_it(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    xlsx_with_shared_strings(bomb, 6_000_000)  # 114 MB unpacked
    assert bomb.stat().st_size < 2 << 20
    started = time.monotonic()
    with pytest.raises(
        UnreadableSource, match=r"sharedStrings\.xml unpacks to .* bytes"
    ) as refused:
        records(bomb)
    assert "PIMHUB_IMPORT_XLSX_MAX_PART_BYTES" in refused.value.detail
    assert time.monotonic() - started < 5


def test_xlsx_ratio_count_and_total_limits(tmp_path: Path) -> None:
    book = tmp_path / "strings.xlsx"
    xlsx_with_shared_strings(book, 100_000)  # 1.9 MB unpacked, some 30 KB packed
    with pytest.raises(UnreadableSource, match="times larger than it is packed"):
        records(book)
    roomy = SourceLimits(xlsx_max_ratio=1000)
    assert records(book, roomy) == [{"sku": "A"}]  # openpyxl writes the cells inline
    with pytest.raises(UnreadableSource, match="more than 99999 shared strings"):
        records(book, SourceLimits(xlsx_max_ratio=1000, xlsx_max_shared_strings=99_999))
    with pytest.raises(UnreadableSource, match="over 1000000 bytes"):
        records(book, SourceLimits(xlsx_max_ratio=1000, xlsx_max_total_bytes=1_000_000))


def test_an_xlsx_of_too_many_parts_is_refused_before_zipfile_lists_them(tmp_path: Path) -> None:
    book = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(book, "w") as parts:
        for n in range(10_001):
            parts.writestr(f"{n}", b"")
    with pytest.raises(UnreadableSource, match="holds 10001 parts"):
        records(book)
    with zipfile.ZipFile(book, "w") as parts:
        parts.writestr("0", b"")
    data = bytearray(book.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"  # ZIP64's "more than 65534 entries"
    book.write_bytes(bytes(data))
    with pytest.raises(UnreadableSource, match="at least 65535 parts"):
        records(book)
