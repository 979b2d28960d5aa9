"""Assets: serving cached thumbnails over HTTP, and drawing thumbnails the first time.

(a) Serving: `pimhub serve` answers GET /assets/{path}?thumbnail=product_list&v=... for ten
images whose thumbnails are already in the store (a database read of the asset, the
thumbnail looked up in the store, the file sent with ETag and cache headers). Floor: a bare
Starlette route on the same uvicorn that sends the same ten files at the same URLs with
FileResponse (no database, no lookup, no cache headers). Same load client, connections
and rounds as bench/rest_get.py, the servers alternating; the ratio is median pimhub req/s
over median floor req/s (goal >= 0.5).

(b) Generation: 100 thumbnails (product_list: 300 x 300 WebP) drawn for the first time
from 100 different 2,000 x 2,000 JPEG images (generated in the run), through
Thumbnailer.ensure as a first request does, reported in images/s. For scale, the same
work with bare Pillow (open, draft, resize, save WebP) is printed beside it.

    .venv/bin/python bench/assets.py
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rest_get import (
    HOST,
    alternate_rounds,
    clean_env,
    free_port,
    get_once,
    pimhub_command,
    run_fast,
    start,
    stop,
    summary,
    wait_ready,
)

SERVED = 10  # cached thumbnails the load asks for, at random
GENERATED = 100
SOURCE_SIDE = 2000
PRESET = "product_list"
REPEATS = 5
ROUND_SECONDS = 4.0


# -- images --------------------------------------------------------------------------------


def source_image(n: int, side: int) -> bytes:
    """A photo-like JPEG of side x side that differs for each n (gradients and shapes, so
    that the encoder and the resampler do real work)."""
    from PIL import Image, ImageDraw

    gradient = Image.linear_gradient("L").resize((side, side))
    image = Image.merge(
        "RGB",
        (
            gradient,
            gradient.rotate(90 + n % 180),
            Image.new("L", (side, side), (n * 37) % 256),
        ),
    )
    draw = ImageDraw.Draw(image)
    for k in range(12):
        x, y = (n * 131 + k * 157) % side, (n * 71 + k * 233) % side
        draw.ellipse((x, y, x + side // 6, y + side // 8), fill=((k * 40) % 256, 90, 200 - k))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


# -- the floor server ----------------------------------------------------------------------


def serve_floor(port: int, folder: str) -> None:
    """GET /assets/{path}: the file at that path under `folder` with FileResponse, the
    query ignored; nothing else."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response
    from starlette.routing import Route

    root = Path(folder)
    files = {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}

    async def thumbnail(request: Request) -> Response:
        return FileResponse(files[request.path_params["path"]], media_type="image/webp")

    app = Starlette(routes=[Route("/assets/{path:path}", thumbnail)])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- set-up --------------------------------------------------------------------------------


def settings_for(workdir: Path) -> Any:
    from pimhub.settings import Settings

    return Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", data_dir=workdir / "data")


def prepare_served(workdir: Path) -> list[str]:
    """SERVED assets with their thumbnails drawn; copies of the thumbnail files for the
    floor in workdir/floor; the pimhub URLs (path and query) of those thumbnails."""
    from pimhub.assets.model import asset_url
    from pimhub.assets.presets import parse_presets
    from pimhub.assets.thumbnails import Thumbnailer
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize

    hub = bootstrap(settings_for(workdir))
    try:
        initialize(hub)
        thumbnailer = Thumbnailer(hub.assets.store, parse_presets({}))
        floor = workdir / "floor"
        floor.mkdir()
        urls = []
        for n in range(SERVED):
            content = io.BytesIO(source_image(n, 1200))
            asset = hub.assets.add(content, f"/products/served-{n}.jpg", author="bench").asset
            thumbnail = thumbnailer.ensure(asset, PRESET)
            local = hub.assets.store.local_path(thumbnail.key)
            assert local is not None, "the bench expects the filesystem store"
            copy = floor / asset.path.lstrip("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(local.read_bytes())
            urls.append(asset_url("", asset, thumbnailer.preset(PRESET)))
        return urls
    finally:
        hub.close()


def get_request(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nAccept: image/*\r\n\r\n".encode()


# -- (a) serving ---------------------------------------------------------------------------


async def serving(workdir: Path) -> float:
    urls = prepare_served(workdir)
    ports = {"pimhub": free_port(), "floor (FileResponse)": free_port()}
    requests = [get_request(u) for u in urls]  # the same for both servers
    env = clean_env(
        PIMHUB_DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        PIMHUB_DATA_DIR=str(workdir / "data"),
    )
    commands = {
        "pimhub": ([*pimhub_command(), "serve", "--port", str(ports["pimhub"])], env),
        "floor (FileResponse)": (
            [
                sys.executable,
                __file__,
                "--floor-server",
                str(ports["floor (FileResponse)"]),
                str(workdir / "floor"),
            ],
            clean_env(),
        ),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, (command, environment) in commands.items():
            procs[name] = start(command, environment, workdir)
            await wait_ready(ports[name], requests[0], procs[name])
        # Same work: both send the same bytes for the same thumbnail.
        ours = (await get_once(ports["pimhub"], requests[3]))[1]
        floor = (await get_once(ports["floor (FileResponse)"], requests[3]))[1]
        if ours != floor:
            raise RuntimeError("the servers send different files")
        print(f"(a) serving a cached {PRESET} thumbnail ({len(ours):,} bytes)", flush=True)
        results = await alternate_rounds(ports, procs, requests, REPEATS, ROUND_SECONDS)
    finally:
        for proc in procs.values():
            stop(proc)
    figures = {name: summary(name, rounds) for name, rounds in results.items()}
    for _, line in figures.values():
        print(line)
    return figures["pimhub"][0] / figures["floor (FileResponse)"][0]


# -- (b) generation ------------------------------------------------------------------------


def generation(workdir: Path) -> None:
    from pimhub.assets.presets import parse_presets
    from pimhub.assets.thumbnails import Thumbnailer, render
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize

    began = time.perf_counter()
    sources = [source_image(1000 + n, SOURCE_SIDE) for n in range(GENERATED)]
    hub = bootstrap(settings_for(workdir))
    try:
        initialize(hub)
        assets = [
            hub.assets.add(io.BytesIO(data), f"/gen/{n:03}.jpg", author="bench").asset
            for n, data in enumerate(sources)
        ]
        print(
            f"\n(b) {GENERATED} source images of {SOURCE_SIDE} x {SOURCE_SIDE} "
            f"(JPEG, {statistics.median(len(s) for s in sources) / 1e6:.2f} MB median) made "
            f"and stored in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        thumbnailer = Thumbnailer(hub.assets.store, parse_presets({}))
        start_time = time.perf_counter()
        for asset in assets:
            thumbnailer.ensure(asset, PRESET)
        ours = time.perf_counter() - start_time
        start_time = time.perf_counter()
        again = [thumbnailer.ensure(asset, PRESET) for asset in assets]
        cached = time.perf_counter() - start_time
    finally:
        hub.close()

    from PIL import Image

    preset = parse_presets({})[PRESET]
    start_time = time.perf_counter()
    for data in sources:
        with Image.open(io.BytesIO(data)) as image:
            render(image, preset, "webp")
    bare = time.perf_counter() - start_time
    print(f"first-time generation:   {GENERATED / ours:7.1f} images/s ({ours:.2f} s)")
    print(f"bare Pillow (same draw): {GENERATED / bare:7.1f} images/s ({bare:.2f} s)")
    print(
        f"second request (cached): {GENERATED / cached:7.0f} images/s "
        f"({len(again)} found in the store)"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        serve_floor(int(sys.argv[2]), sys.argv[3])
        return
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-assets-") as tmp:
        ratio = run_fast(serving(Path(tmp)))
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-assets-") as tmp:
        generation(Path(tmp))
    print(f"ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
