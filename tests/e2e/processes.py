"""Starting the real `pimhub` command in subprocesses for end-to-end tests."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PIMHUB = [sys.executable, "-m", "pimhub.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def init(env: dict[str, str], workdir: Path) -> str:
    """Runs `pimhub init` and returns the admin key it printed."""
    done = subprocess.run(
        [*PIMHUB, "init"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return printed_key(done.stdout)


def printed_key(output: str) -> str:
    """The API key a `pimhub` command printed."""
    key = re.search(r"phk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", output)
    assert key, output
    return key.group(0)


@contextmanager
def running(
    args: list[str], env: dict[str, str], workdir: Path, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`pimhub <args>` in the background, its output in workdir/<name>.log; stopped on exit."""
    log = (workdir / f"{name}.log").open("w")
    proc = subprocess.Popen(
        [*PIMHUB, *args], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@contextmanager
def serving(env: dict[str, str], workdir: Path) -> Iterator[str]:
    """`pimhub serve` on a free loopback port, once /readyz answers; yields the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(["serve", "--port", str(port)], env, workdir, "server"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"server did not start: {(workdir / 'server.log').read_text()}")
        yield base
