"""The README's five-minute tour, as a reader pastes it: its bash blocks, in order, in one
shell, in a directory holding `.venv` (the installed project) and `pimhub-data`, against a
real `pimhub demo` on a free port. Any command that fails, and any HTTP answer of 4xx or 5xx
the README does not show as the expected outcome, fails the test. The demo's banner is
checked too: the webhook command it advises works as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import free_port

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
VENV = Path(sys.prefix) if sys.prefix != sys.base_prefix else None  # the running virtualenv
PRODUCTS = 60  # enough for every product the tour names; seeding 1,000 takes longer
# Every curl fails on an HTTP error (exit 22), still printing the body.
CURL = 'curl() { command curl --silent --show-error --fail-with-body "$@"; }'


@dataclass(frozen=True)
class Block:
    number: int
    text: str
    expected_status: int | None  # a block that shows a refusal names its status

    @property
    def graphql(self) -> bool:
        return "/graphql/" in self.text


# The sections whose bash blocks run against the demo, in this order.
TOUR_SECTIONS = ("## A five-minute tour", "## Assets", "## Workflows")


def tour_blocks(readme: str) -> list[Block]:
    """The bash blocks of the tour's sections (each up to the next section)."""
    blocks: list[str] = []
    for heading in TOUR_SECTIONS:
        start = readme.index(f"\n{heading}\n")
        end = readme.index("\n## ", start + 1)
        blocks += re.findall(r"```bash\n(.*?)```", readme[start:end], flags=re.S)
    found = []
    for number, text in enumerate(blocks, 1):
        shown = re.search(r'#.*"status":\s*(\d{3})', text)
        found.append(Block(number, text, int(shown.group(1)) if shown else None))
    return found


def script(blocks: list[Block], port: int) -> str:
    """One bash script running every block in order, stopping at the first command that
    fails (`set -e`, with the failing command named); each block's output after a marker. A
    block that shows a refusal must fail."""
    lines = [
        "set -euo pipefail",
        CURL,
        """trap 'echo "!!! block $BLOCK failed: $BASH_COMMAND"' ERR""",
    ]
    for block in blocks:
        text = block.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        lines.append(f"BLOCK={block.number}; echo; echo '>>> block {block.number}'")
        if block.expected_status is None:
            lines.append(text)
        else:
            lines += ["set +e; trap - ERR", text, "status=$?; set -e"]
            lines.append(
                f"[ $status -ne 0 ] || {{ echo '!!! block {block.number} passed'; exit 1; }}"
            )
            lines.append("""trap 'echo "!!! block $BLOCK failed: $BASH_COMMAND"' ERR""")
    return "\n".join(lines) + "\necho; echo '>>> end'\n"


def outputs(stdout: str) -> dict[int, str]:
    parts = re.split(r"^>>> block (\d+)$", stdout, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """`.venv/bin/pimhub demo` in a fresh directory that links the project's virtualenv."""
    if VENV is None or not (VENV / "bin" / "pimhub").exists():
        pytest.skip("needs the project installed in a virtualenv (.venv/bin/pimhub)")
    workdir = tmp_path_factory.mktemp("tour")
    (workdir / ".venv").symlink_to(VENV)
    # The reader pastes in the checkout, which holds the examples the README names.
    (workdir / "examples").symlink_to(README.parent / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIMHUB_")}
    port = free_port()
    log = (workdir / "demo.log").open("w")
    command = [".venv/bin/pimhub", "demo", "--port", str(port), "--products", str(PRODUCTS)]
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, workdir / "demo.log")
        yield workdir, port, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"the demo did not start: {log.read_text()}")


def test_the_tour_runs_as_pasted(demo: tuple[Path, int, dict[str, str]]) -> None:
    workdir, port, env = demo
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 10 and any(b.expected_status for b in blocks)
    done = subprocess.run(
        ["bash", "-c", script(blocks, port)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = f"stdout:\n{done.stdout[-6000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert done.returncode == 0 and "!!!" not in done.stdout, shown
    assert done.stdout.rstrip().endswith(">>> end"), shown
    printed = outputs(done.stdout)
    assert set(printed) == {b.number for b in blocks}, shown
    for block in blocks:
        out = printed[block.number]
        if block.expected_status is not None:
            assert f'"status":{block.expected_status}' in out.replace(" ", ""), out
        if block.graphql:
            assert '"errors"' not in out and '"data"' in out, out


def test_the_banner_webhook_command_works_as_printed(
    demo: tuple[Path, int, dict[str, str]],
) -> None:
    workdir, _, env = demo
    banner = (workdir / "demo.log").read_text()
    advice = [line.strip() for line in banner.splitlines() if "webhooks create --url" in line]
    assert len(advice) == 1, banner
    done = subprocess.run(
        ["bash", "-c", advice[0]], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "created endpoint" in done.stdout and "whsec_" in done.stdout


def test_the_tour_is_found_and_blocks_are_kept_apart() -> None:
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    assert blocks[0].text.startswith("KEY=$(cat pimhub-data/demo.key)")
    assert [b.expected_status for b in blocks if b.expected_status] == [422, 409]
    body = script(blocks, 1234)
    assert "127.0.0.1:8000" not in body and "127.0.0.1:1234" in body
