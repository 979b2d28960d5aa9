"""`pimhub assets`: add files into a folder (table and --json, failures listed and exit 1),
list, show by path or uuid, versions, rm refused while in use unless --force, gc."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import orjson
from PIL import Image
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke, one_line_error


def png(path: Path, color: str = "red", size: tuple[int, int] = (32, 16)) -> Path:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def test_add_list_show_versions_and_rm(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    red, blue = png(tmp_path / "red.png"), png(tmp_path / "blue.png", "blue")
    code, out, err = invoke(runner, "assets", "add", str(red), str(blue), "--folder", "/products")
    assert code == 0, err
    assert "/products/red.png" in out and "created" in out and "32x16" in out
    code, out, _ = invoke(runner, "assets", "add", str(red), "--folder", "products", "--json")
    assert code == 0
    [again] = orjson.loads(out)["saved"]
    assert again["status"] == "unchanged" and again["path"] == "/products/red.png"
    assert again["url"].endswith(f"/assets/products/red.png?v={again['checksum'][:16]}")

    code, out, _ = invoke(runner, "assets", "list", "--folder", "/products", "--json")
    listed = orjson.loads(out)
    assert [a["path"] for a in listed["items"]] == ["/products/blue.png", "/products/red.png"]
    code, out, _ = invoke(runner, "assets", "list")
    assert "/products/blue.png" in out and "2 of 2" in out

    code, out, _ = invoke(runner, "assets", "show", again["uuid"])
    assert code == 0 and orjson.loads(out)["path"] == "/products/red.png"
    png(red, "green")
    assert invoke(runner, "assets", "add", str(red), "--folder", "/products")[0] == 0
    code, out, _ = invoke(runner, "assets", "versions", "/products/red.png", "--json")
    assert [v["version"] for v in orjson.loads(out)["items"]] == [2, 1]

    hub = bootstrap(Settings(database_url=db_url))
    hub.catalog.put(
        "Product",
        "IMG-1",
        {
            "name": {"en": "x"},
            "price": {"amount": 1, "currency": "EUR"},
            "image": "/products/red.png",
        },
        author="test",
    )
    code, _, err = invoke(runner, "assets", "rm", "/products/red.png")
    assert "IMG-1" in one_line_error(code, err)
    code, out, err = invoke(runner, "assets", "rm", "/products/red.png", "--force")
    assert code == 0, err
    assert "deleted /products/red.png" in out
    code, _, err = invoke(runner, "assets", "show", "/products/red.png")
    assert "/products/red.png" in one_line_error(code, err)


def test_add_lists_each_failure_and_exits_1(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    good = png(tmp_path / "good.png")
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    code, out, err = invoke(
        runner, "assets", "add", str(good), str(text), str(tmp_path / "missing.png")
    )
    assert code == 1
    assert "/good.png" in out
    assert "notes.txt" in err and "missing.png" in err
    code, _, err = invoke(runner, "assets", "add", str(good), "--folder", "/a/../b")
    one_line_error(code, err)


def test_gc_removes_blobs_no_asset_holds(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    file = png(tmp_path / "x.png")
    assert invoke(runner, "assets", "add", str(file))[0] == 0
    png(file, "blue")
    assert invoke(runner, "assets", "add", str(file))[0] == 0  # the red blob is unused now
    blobs = [p for p in (tmp_path / "pimhub-data").rglob("*") if p.is_file() and "blobs" in p.parts]
    assert len(blobs) == 2
    code, out, _ = invoke(runner, "assets", "gc", "--json")
    assert orjson.loads(out)["blobs_deleted"] == 0  # both younger than the grace period
    old = time.time() - 7200
    for blob in blobs:
        os.utime(blob, (old, old))
    code, out, _ = invoke(runner, "assets", "gc", "--dry-run")
    assert code == 0 and "would delete 1 files" in out
    code, out, _ = invoke(runner, "assets", "gc", "--grace", "0.5", "--json")
    report = orjson.loads(out)
    assert (report["checksums"], report["held"], report["blobs_deleted"]) == (2, 1, 1)
    assert invoke(runner, "assets", "show", "/x.png")[0] == 0
