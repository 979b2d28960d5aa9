"""scripts/update-schemas: writes schema/ from what the code serves (see its header)."""

from __future__ import annotations

import sys
from pathlib import Path

from pimhub.api.schema_snapshots import compare, fresh_hub, generate, write

FOLDER = Path(__file__).resolve().parent.parent / "schema"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    with fresh_hub() as hub:
        files = generate(hub)
    changed = compare(FOLDER, files)
    for name, report in changed.items():
        print(f"== schema/{name}\n{report}")
    if not changed:
        print("schema/ is up to date")
        return 0
    if check:
        print("schema/ is out of date: run scripts/update-schemas and commit schema/")
        return 1
    write(FOLDER, files)
    print(f"wrote {len(files)} file(s) to schema/; review and commit them")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
