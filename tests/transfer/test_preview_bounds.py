"""The dry-run preview reads within bounds: a file with a huge cell costs the preview about
a few megabytes, not the cell (parallel previews of such files took the server to 1.5 GB), and
says where it stopped; an import still reads the cell whole."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from pimhub.bootstrap import Hub
from pimhub.transfer.jobs import JobRequest
from pimhub.transfer.preview import PREVIEW_RECORD_CHARS, preview
from pimhub.transfer.sources import RecordTooLarge, SourceLimits, SourceOptions, read

MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"
CELL = 16 << 20  # characters of the huge cell


def _huge(path: Path, *, quoted: bool = True, jsonl: bool = False) -> Path:
    with path.open("w") as out:
        if jsonl:
            out.write('{"sku": "OK-1", "name": "fine"}\n{"sku": "BIG-1", "name": "')
            out.write("x" * CELL)
            out.write('"}\n{"sku": "OK-2", "name": "fine"}\n')
        else:
            out.write("sku,name\nOK-1,fine\nBIG-1,")
            out.write('"' + "x\n" * (CELL // 2) + '"' if quoted else "x" * CELL)
            out.write("\nOK-2,fine\n")
    return path


@pytest.mark.parametrize(
    ("name", "quoted", "jsonl"),
    [("quoted.csv", True, False), ("plain.csv", False, False), ("lines.jsonl", False, True)],
)
def test_a_huge_cell_stops_the_preview_without_being_read(
    hub: Hub, tmp_path: Path, name: str, quoted: bool, jsonl: bool
) -> None:
    path = _huge(tmp_path / name, quoted=quoted, jsonl=jsonl)
    tracemalloc.start()
    try:
        result = preview(hub.imports, JobRequest("Product", MAPPING), path, author="t")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * PREVIEW_RECORD_CHARS + (4 << 20), f"peak {peak >> 20} MiB"
    assert [row.number for row in result.rows] == [1, 2]
    assert not result.rows[0].errors
    stop = result.rows[1].errors
    assert [e.message for e in stop] == [
        "a record over 2 MiB of text: the preview stops here (an import reads it)"
    ]


def test_an_import_still_reads_the_huge_cell(tmp_path: Path) -> None:
    path = _huge(tmp_path / "plain.csv", quoted=False)
    cells = [len(r.values["name"]) for r in read(path, SourceOptions())]
    assert cells == [4, CELL, 4]
    with pytest.raises(RecordTooLarge):  # the bound, when asked for
        list(read(path, SourceOptions(), SourceLimits(max_record_chars=1 << 20)))


def test_many_small_rows_stop_at_the_total(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("sku,name\n" + "".join(f"S-{i},{'y' * 1000}\n" for i in range(100)))
    limits = SourceLimits(max_record_chars=2000, max_read_chars=50_000)
    read_rows = []
    with pytest.raises(RecordTooLarge, match="in all"):
        for record in read(path, SourceOptions(), limits):
            read_rows.append(record.number)
    assert 40 <= len(read_rows) <= 50
    assert len(list(read(path, SourceOptions(), SourceLimits(max_record_chars=2000)))) == 100
