"""The committed contracts in schema/ are what the code serves: a change to the REST API or to
the demo's GraphQL schema fails here until schema/ is regenerated (scripts/update-schemas),
and the failure names the breaking changes apart from the additions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pimhub.api.schema_snapshots import OPENAPI_FILE, compare, fresh_hub, generate

FOLDER = Path(__file__).resolve().parents[2] / "schema"


@pytest.fixture(scope="module")
def generated() -> Iterator[dict[str, str]]:
    with fresh_hub() as hub:
        yield generate(hub)


def test_the_committed_contracts_are_current(generated: dict[str, str]) -> None:
    assert OPENAPI_FILE in generated and any(n.endswith(".graphql") for n in generated)
    changed = compare(FOLDER, generated)
    assert not changed, (
        "schema/ differs from what the code serves. If the change is meant, run "
        "scripts/update-schemas and commit schema/ with it; BREAKING changes need a "
        "deprecation first (docs/api.md#schema-versioning).\n"
        + "\n".join(f"== schema/{name}\n{report}" for name, report in changed.items())
    )


def test_a_changed_contract_is_reported_by_its_changes(
    generated: dict[str, str], tmp_path: Path
) -> None:
    """What the failure above says, on a copy of schema/ with one field fewer and one more."""
    sdl_name = next(n for n in generated if n.endswith(".graphql"))
    sdl = generated[sdl_name]
    assert "  sku: String!\n" in sdl
    (tmp_path / sdl_name).write_text(
        sdl.replace("  sku: String!\n", "  sku: String!\n  old: Int\n", 1)
    )
    openapi = generated[OPENAPI_FILE].replace('"nextCursor"', '"nextPage"', 1)
    (tmp_path / OPENAPI_FILE).write_text(openapi)
    changed = compare(tmp_path, generated)
    assert "BREAKING" in changed[sdl_name] and ".old was removed" in changed[sdl_name]
    assert "nextPage" in changed[OPENAPI_FILE] and "was removed" in changed[OPENAPI_FILE]
    assert "nextCursor' was added" in changed[OPENAPI_FILE]
