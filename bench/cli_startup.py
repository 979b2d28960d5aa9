"""Start-up time of the `pimhub` command.

Printed: the median wall time of `pimhub --help`, of `pimhub keys list` on a small SQLite
database (three keys), and of the floor, `python -c pass` with the same interpreter, each
started fresh as a subprocess, alternating so that a noisy neighbour hits all three alike.

The ratio is the median start-up of `pimhub --help` over the floor's (lower is better here;
the goal is 15 or less). Note that DESIGN.md's other ratios are throughput over the floor's,
where higher is better; a start-up time has no throughput, so this one is inverted.

    .venv/bin/python bench/cli_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIMHUB = Path(sys.executable).with_name("pimhub")


def timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit of `command`; it must succeed."""
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PIMHUB_DATA_DIR": data, "COLUMNS": "120"}
        env.pop("PIMHUB_DATABASE_URL", None)
        subprocess.run([PIMHUB, "init"], env=env, check=True, capture_output=True)
        for name in ("erp", "shop"):
            subprocess.run(
                [PIMHUB, "keys", "create", "--name", name, "--scopes", "read"],
                env=env,
                check=True,
                capture_output=True,
            )
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "pimhub --help": [str(PIMHUB), "--help"],
            "pimhub keys list": [str(PIMHUB), "keys", "list"],
        }
        for command in cases.values():
            timed(command, env)  # warm the file cache
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, command in cases.items():
                times[name].append(timed(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        spread = f"{min(times[name]) * 1000:.0f}-{max(times[name]) * 1000:.0f}"
        print(f"{name}: median {median * 1000:.0f} ms over {runs} runs (range {spread} ms)")
    floor = medians["python -c pass"]
    print(f"pimhub keys list / floor: {medians['pimhub keys list'] / floor:.1f}")
    print(f"ratio: {medians['pimhub --help'] / floor:.1f}")


if __name__ == "__main__":
    main()
