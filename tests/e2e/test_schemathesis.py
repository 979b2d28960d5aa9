"""schemathesis against the OpenAPI document of a real `pimhub serve`, on SQLite and on
PostgreSQL: a bounded, derandomized run (its examples, coverage and fuzzing phases) whose checks
say that the server answers no 5xx, only documented statuses and content types, bodies that
match the documented schemas, and a 4xx to requests the document says are invalid.

schemathesis runs as its command-line tool in a subprocess (the same run a developer
repeats with `st run`): its coverage phase, which tries each parameter's boundaries and
every documented status, is the part that finds most, and only the tool runs it. A failure
prints schemathesis's report, with a curl command per failing request.

Not checked: positive_data_acceptance (a request the document allows must succeed). The
document gives the first checks of class definitions, datahub configurations, import
profiles and mappings, but not all of their rules (a field definition's options, which
classes exist, cron syntax), which the services answer as 422 problems listing each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from tests.api.test_assets_rest import image_bytes
from tests.conftest import POSTGRES_ENV, postgres_schema, require_service
from tests.e2e.processes import PIMHUB, init, printed_key, serving

pytestmark = pytest.mark.e2e

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
# Per operation and phase: the whole file stays near 90 s on two busy cores.
MAX_EXAMPLES = 5

CONFIG = f"""
[output.sanitization]
# The keys are throwaway; the report must show the exact requests.
enabled = false

[generation]
# The same cases on every run; no example database carried between runs either.
deterministic = true
database = "none"
max-examples = {MAX_EXAMPLES}

[parameters]
# Real names, so that requests reach past "unknown class" to filters, keys and bodies.
"path.class_name" = "Product"
"path.config" = "st"
"path.sku" = "ST-1"

[[operations]]
# Each connects to an address a request may have set: the profile's source, the webhook
# receiver, the broker, the shop. A test must not send requests out of the machine.
include-path-regex = "/(run|ping|test|check|dry-run)$"
enabled = false

# The surfaces that name their resources: each operation gets the name of one that _seed
# made, so requests reach past 404 to the documents, keys and bodies (a DELETE early in a
# phase leaves 404s for the rest, which are documented too).
[[operations]]
include-path-regex = "^/api/v1/brokers/"
parameters = {{ "path.name" = "st-mq" }}

[[operations]]
include-path-regex = "^/api/v1/connectors/"
parameters = {{ "path.name" = "st-shop", "path.sku" = "ST-1" }}

[[operations]]
include-path-regex = "^/api/v1/inbound/sources/"
parameters = {{ "path.name" = "st-erp" }}

[[operations]]
include-path-regex = "^/inbound/"
parameters = {{ "path.source" = "st-erp" }}

[[operations]]
include-path-regex = "^/api/v1/import-profiles/"
parameters = {{ "path.name" = "st-profile" }}

[[operations]]
include-path-regex = "^/(api/v1/asset-versions|api/v1/assets|assets)/"
parameters = {{ "path.path" = "st/logo.png" }}

[[operations]]
include-path-regex = "^/api/v1/objects/"
parameters = {{ "path.key" = "ST-1" }}

[[operations]]
# negative_data_rejection sends form fields of the wrong type, but every form field is text
# on the wire: "null" for an optional field is the text "null", which the server reads as a
# file name or a delimiter, as it should.
include-path = "/api/v1/imports"
include-method = "POST"
checks.negative_data_rejection.enabled = false
"""


@dataclass(frozen=True)
class Server:
    base: str
    admin: str
    narrow: str
    workdir: Path
    env: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = Path(tmp_path_factory.mktemp(f"schemathesis-{request.param}"))
    env = {
        **os.environ,
        "PIMHUB_DATA_DIR": str(workdir / "data"),
        "PIMHUB_LOG_LEVEL": "WARNING",
        # Thousands of requests a minute from one key: without this, most answers are 429.
        "PIMHUB_RATE_LIMIT_PER_KEY": "off",
        "PIMHUB_RATE_LIMIT_PER_ADDRESS": "off",
    }
    env.pop("PIMHUB_DATABASE_URL", None)
    if request.param == "sqlite":
        yield from _serve(env, workdir)
        return
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    with postgres_schema(url, "pimhub_st") as engine:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
        options = quote(f"-csearch_path={schema},public")
        env["PIMHUB_DATABASE_URL"] = f"{url}?options={options}"
        yield from _serve(env, workdir)
        engine.dispose()


def _serve(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    admin = init(env, workdir)
    narrow = _key(env, workdir, "write:Product")
    with serving(env, workdir) as base:
        _seed(base, admin)
        yield Server(base, admin, narrow, workdir, env)


def _key(env: dict[str, str], workdir: Path, scope: str) -> str:
    done = subprocess.run(
        [*PIMHUB, "keys", "create", "--name", "narrow", "--scope", scope],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return printed_key(done.stdout)


# One of each surface that names its resources, for the parameters in CONFIG to name;
# every address is a reserved name (.invalid) that never resolves, and nothing contacts them.
SEEDS: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/v1/brokers",
        {
            "config": {
                "name": "st-mq",
                "url": "amqp://rabbit.invalid:5672/st",
                "exchange": "pimhub.events",
                "eventTypes": ["object.updated"],
                "classes": ["Product"],
            },
            "credentials": {"username": "st", "password": "st-password-1"},
        },
    ),
    (
        "/api/v1/connectors",
        {
            "config": {
                "name": "st-shop",
                "baseUrl": "https://shop.invalid",
                "stores": {"en": "en"},
            },
            "credentials": {
                "consumerKey": "ck",
                "consumerSecret": "cs",
                "accessToken": "at",
                "accessTokenSecret": "ats",
            },
        },
    ),
    (
        "/api/v1/inbound/sources",
        {"name": "st-erp", "scheme": "api-key", "key": {"path": "data.sku"}},
    ),
]
PROFILE = {
    "source": "https://erp.invalid/products.csv",
    "mapping": "class: Product\nfields:\n  sku: sku\n  name.en: name\n",
    "cron": "0 2 * * *",
}


def _seed(base: str, admin: str) -> None:
    """A product, a datahub configuration and SEEDS for the parameters in CONFIG to name."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as http:
        product = {"fields": {"name": {"en": "Tent"}, "stock": 3}}
        assert http.put("/api/v1/objects/Product/ST-1", json=product).status_code == 201
        config = {
            "name": "st",
            "classes": {
                "Product": {"fields": "*"},
                "Category": {"fields": ["code", "name", "parent"]},
                "Brand": {"fields": ["code", "name"]},
            },
        }
        assert http.put("/api/v1/datahub/st", json=config).status_code == 201
        for path, body in SEEDS:
            created = http.post(path, json=body)
            assert created.status_code == 201, (path, created.text)
        profile = http.put("/api/v1/import-profiles/st-profile", json=PROFILE)
        assert profile.status_code == 201, profile.text
        logo = http.put("/api/v1/assets/st/logo.png", content=image_bytes())
        assert logo.status_code == 201, logo.text


def schemathesis(server: Server, key: str, name: str, *extra: str) -> str:
    """Runs `st run` against the server with `key`; fails the test with its report unless
    every check passed. Returns the report."""
    config = server.workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server.base}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        # One worker: with two threads, CPython 3.11's ast (which hypothesis uses to describe
        # strategies) fails now and then with "AST constructor recursion depth mismatch".
        "--workers",
        "1",
        "--max-failures",
        "100",
        "--request-timeout",
        "20",
        *extra,
    ]
    done = subprocess.run(
        command, cwd=server.workdir, capture_output=True, text=True, timeout=300, check=False
    )
    report = done.stdout + done.stderr
    (server.workdir / f"schemathesis-{name}.txt").write_text(report)
    assert done.returncode == 0, report
    assert re.search(r"\d+ generated", report), report
    return report


def test_the_api_answers_as_documented_to_an_admin_key(server: Server) -> None:
    report = schemathesis(server, server.admin, "admin", "--phases", "examples,coverage,fuzzing")
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) >= 40, report


def test_the_api_answers_as_documented_to_a_narrow_key(server: Server) -> None:
    """A key that may only write products meets 403 on most operations, and its writes are
    answered without the object (201 or 204 with the ETag only): documented. The admin run
    has covered the parameters' boundaries; this one fuzzes briefly."""
    schemathesis(server, server.narrow, "narrow", "--phases", "fuzzing", "--max-examples", "5")
