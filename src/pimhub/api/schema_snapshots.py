"""The service contracts the repository commits under schema/: the OpenAPI document and the
GraphQL SDL of the demo's datahub configuration, generated as a fresh hub serves them.

scripts/update-schemas writes them; tests/api/test_schema_snapshots.py fails when what the
code generates differs from the committed copy, naming the breaking changes
(api/schema_changes.py). See docs/api.md#schema-versioning.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from graphql import print_schema

from pimhub.bootstrap import Hub, bootstrap
from pimhub.settings import Settings

OPENAPI_FILE = "openapi.json"


def add_demo_datahub(hub: Hub) -> str:
    """Creates the datahub configuration `pimhub demo` ships on `hub`; returns its name."""
    from pimhub.datahub.demo import ensure_demo_datahub

    return ensure_demo_datahub(hub.datahub).name


def sdl_file(config_name: str) -> str:
    return f"{config_name}.graphql"


@contextmanager
def fresh_hub() -> Iterator[Hub]:
    """A hub on a throwaway SQLite file with the default commerce model and the demo's
    datahub configuration. Languages are the defaults, whatever the environment says: they
    appear in the SDL."""
    from pimhub.catalog.commerce import commerce_model
    from pimhub.storage.migrate import upgrade

    fields = Settings.model_fields
    with tempfile.TemporaryDirectory(prefix="pimhub-schema-") as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url=f"sqlite:///{Path(folder) / 'pimhub.db'}",
            secret_key="schema-snapshot",
            languages=list(fields["languages"].default),
            default_language=fields["default_language"].default,
        )
        hub = bootstrap(settings)
        try:
            upgrade(hub.engine)
            hub.classes.apply(commerce_model(), author="schema")
            add_demo_datahub(hub)
            yield hub
        finally:
            hub.close()


def generate(hub: Hub) -> dict[str, str]:
    """File name -> text, for every file schema/ holds."""
    from pimhub.api.app import create_app, graphql_service

    document = create_app(hub).openapi()
    files = {OPENAPI_FILE: dump_json(document)}
    [config] = [c.name for c in hub.datahub.all()]  # fresh_hub's: the demo's
    schema = graphql_service(hub).schema(config).schema
    files[sdl_file(config)] = print_schema(schema) + "\n"
    return files


def dump_json(document: Mapping[str, Any]) -> str:
    """Stable text: sorted keys and indented, so a change reads as a small diff."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def compare(folder: Path, files: Mapping[str, str]) -> dict[str, str]:
    """File name -> what differs between `folder`'s committed copy and `files`, for the files
    that differ: breaking changes apart from the rest (api/schema_changes.py)."""
    from pimhub.api.schema_changes import openapi_changes, sdl_changes

    found = {}
    for name, text in files.items():
        path = folder / name
        if not path.is_file():
            found[name] = f"{path} is missing"
            continue
        committed = path.read_text("utf-8")
        if committed == text:
            continue
        if name.endswith(".json"):
            changes = openapi_changes(orjson.loads(committed), orjson.loads(text))
        else:
            changes = sdl_changes(committed, text)
        found[name] = changes.report()
    stale = sorted(p.name for p in folder.glob("*") if p.is_file() and p.name not in files)
    for name in stale:
        found[name] = f"{folder / name} is no longer generated (a removed configuration?)"
    return found


def write(folder: Path, files: Mapping[str, str]) -> None:
    """Makes `folder` hold exactly `files`."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*"):
        if path.is_file() and path.name not in files:
            path.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
