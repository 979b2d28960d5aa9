"""`pimhub assets`: upload files, list, show, remove, versions, and collect unused blobs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    expected_failure,
    fail,
    handles_errors,
    open_hub,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from pimhub.assets.model import Asset
    from pimhub.bootstrap import Hub

app = typer.Typer(help="Manage assets: files the catalog refers to.", no_args_is_help=True)

AUTHOR = "cli"
RefArg = Annotated[str, typer.Argument(help="The asset's path (/products/a.jpg) or uuid")]


def shown(hub: Hub, asset: Asset) -> dict[str, Any]:
    """The asset as the REST API shows it, with its URL (settings.public_url)."""
    from pimhub.assets.model import asset_url

    return {**asset.to_dict(), "url": asset_url(hub.settings.base_url, asset)}


def _size(asset: Asset) -> str:
    return f"{asset.filesize:,}"


def _pixels(asset: Asset) -> str:
    return f"{asset.width}x{asset.height}" if asset.width and asset.height else ""


_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@contextmanager
def open_regular(file: Path, limit: int) -> Iterator[BinaryIO]:
    """`file` open for reading if it is a regular file (a symbolic link is followed) of at
    most `limit` bytes; OSError naming what it is otherwise. Opened without blocking and
    checked on the open descriptor: a FIFO would wait for a writer for good, and a check
    by name before opening could be raced."""
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode, size = (info := os.fstat(fd)).st_mode, info.st_size
        if stat.S_ISDIR(mode):
            raise OSError(f"is a directory; name the files in it (e.g. {file}/*.jpg)")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "special")
            raise OSError(f"not a regular file ({kind}); only files are uploaded")
        if size > limit:
            raise OSError(f"larger than assets_max_bytes ({limit:,} bytes)")
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


@app.command("add")
def add(
    files: Annotated[list[Path], typer.Argument(help="Files to upload", exists=False)],
    folder: Annotated[str, typer.Option(help="Folder the files go into, e.g. /products")] = "/",
    json: JsonFlag = False,
) -> None:
    """Upload files into a folder; each keeps its file name. Exits 1 if any failed."""
    from pimhub.assets.paths import normalize_folder, normalize_path

    try:
        base = normalize_folder(folder).rstrip("/")
    except Exception as exc:
        raise fail(expected_failure(exc) or str(exc)) from None
    hub = open_hub()
    saved: list[tuple[str, Asset]] = []
    failed: list[tuple[str, str]] = []
    for file in files:
        try:
            path = normalize_path(f"{base}/{file.name}")
            with open_regular(file, hub.settings.assets_max_bytes) as content:
                save = hub.assets.add(content, path, author=AUTHOR)
        except Exception as exc:
            message = expected_failure(exc)
            if message is None:
                raise
            failed.append((str(file), message))
            continue
        status = "created" if save.created else "replaced" if save.changed else "unchanged"
        saved.append((status, save.asset))
    if json:
        print_json(
            {
                "saved": [{**shown(hub, a), "status": s} for s, a in saved],
                "failed": [{"file": f, "error": e} for f, e in failed],
            }
        )
    elif saved:
        print_table(
            ["path", "status", "type", "bytes", "pixels", "uuid"],
            [[a.path, s, a.mimetype, _size(a), _pixels(a), a.uuid] for s, a in saved],
        )
    for file_name, error in failed:
        err_console.print(f"[bold red]failed:[/] {file_name}: {error}", markup=True)
    if failed:
        raise typer.Exit(1)


@app.command("list")
@handles_errors
def list_assets(
    folder: Annotated[str | None, typer.Option(help="Only this folder and below")] = None,
    first: Annotated[int, typer.Option(min=1, max=1000, help="Page size")] = 100,
    after: Annotated[str | None, typer.Option(help="nextCursor of the previous page")] = None,
    json: JsonFlag = False,
) -> None:
    """List assets by path."""
    from pimhub.assets.paths import normalize_folder

    hub = open_hub()
    page = hub.assets.list_page(
        folder=None if folder is None else normalize_folder(folder), first=first, after=after
    )
    if json:
        print_json(
            {
                "total": page.total,
                "items": [shown(hub, a) for a in page.items],
                "nextCursor": page.next_cursor,
            }
        )
        return
    print_table(
        ["path", "type", "bytes", "pixels", "version", "uuid"],
        [[a.path, a.mimetype, _size(a), _pixels(a), str(a.version), a.uuid] for a in page.items],
    )
    more = f"; next page: --after {page.next_cursor}" if page.next_cursor else ""
    console.print(f"{len(page.items)} of {page.total}{more}", highlight=False, markup=False)


@app.command("show")
@handles_errors
def show(ref: RefArg) -> None:
    """One asset as JSON."""
    hub = open_hub()
    print_json(shown(hub, hub.assets.get(ref)))


@app.command("rm")
@handles_errors
def remove(
    ref: RefArg,
    force: Annotated[
        bool, typer.Option("--force", help="Also remove the objects' references to it")
    ] = False,
) -> None:
    """Delete an asset; refused while objects use it, unless --force."""
    deleted = open_hub().assets.delete(ref, author=AUTHOR, force=force)
    console.print(f"deleted {deleted.path}", highlight=False, markup=False)


@app.command("versions")
@handles_errors
def versions(ref: RefArg, json: JsonFlag = False) -> None:
    """An asset's versions, newest first."""
    items = open_hub().assets.versions(ref)
    if json:
        print_json({"items": [v.to_dict() for v in items]})
        return
    print_table(
        ["version", "action", "author", "at", "changed"],
        [
            [
                str(v.version),
                str(v.action),
                v.author or "",
                v.created_at.isoformat(timespec="seconds"),
                ", ".join(v.changed_fields),
            ]
            for v in items
        ],
    )


@app.command("gc")
@handles_errors
def gc(
    grace: Annotated[
        float,
        typer.Option(min=0, help="Keep unused blobs written within this many hours"),
    ] = 1.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go")] = False,
    json: JsonFlag = False,
) -> None:
    """Delete stored files and thumbnails that no asset holds any more."""
    from datetime import timedelta

    report = open_hub().assets.collect_garbage(grace=timedelta(hours=grace), dry_run=dry_run)
    if json:
        print_json(report.as_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{report.checksums} stored contents, {report.held} in use; {verb} "
        f"{report.blobs_deleted} files ({report.bytes_freed:,} bytes) and "
        f"{report.thumbnails_deleted} thumbnails; kept {report.kept_young} younger than "
        f"{grace:g} h",
        highlight=False,
        markup=False,
    )
