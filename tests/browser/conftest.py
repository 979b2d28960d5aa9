"""Browser tests: the real server (`pimhub serve` and `pimhub worker` in subprocesses, on a
SQLite data directory seeded with the demo catalog and one user per role), driven by
Playwright in Debian's Chromium (`/usr/bin/chromium`, through `executable_path`: Playwright's
own browser download is not possible here).

One site and one browser are shared by the browser tests (package scope, not session: while
Playwright's sync API is open it keeps an event loop running in the main thread, and every
later test calling asyncio.run() would fail); tests that change data use objects of their own
(a SKU or a name with a unique suffix) so their order does not matter. Without Chromium or
Playwright the tests skip with the reason (a failure under --require-services, as in CI).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pimhub.bootstrap import bootstrap
from pimhub.cli.server import initialize, seed_demo
from pimhub.settings import Settings
from tests.e2e.processes import running, serving

CHROMIUM = os.environ.get("PIMHUB_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "browser-test-password"
# One user per role; each test signs in as the least it needs.
USERS = {
    "admin": "admin",
    "manager": "catalog-manager",
    "integrator": "integrator",
    "viewer": "viewer",
}
DEMO_PRODUCTS = 120
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_browser(config: pytest.Config) -> None:
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed"
    if missing is None and not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing = f"Chromium is not at {CHROMIUM} (apt-get install chromium)"
    if missing is None:
        return
    strict = (
        config.getoption("--require-services")
        or os.environ.get("PIMHUB_TEST_REQUIRE_SERVICES") == "1"
    )
    if strict:
        pytest.fail(f"browser tests: {missing}; --require-services forbids skipping", False)
    pytest.skip(f"browser tests: {missing}")


@dataclass(frozen=True)
class Site:
    base: str  # http://127.0.0.1:<port>
    workdir: Path
    env: dict[str, str]
    api_key: str  # an admin API key, for arranging data through the REST API

    def admin(self, path: str = "/") -> str:
        return f"{self.base}/admin{path}"


def site_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIMHUB_")}
    env.update(
        PIMHUB_DATA_DIR=str(workdir / "data"),
        PIMHUB_PASSWORD_MEMORY_KIB="64",
        PIMHUB_PASSWORD_TIME_COST="1",
        PIMHUB_WEBHOOKS_ALLOW_PRIVATE="true",
        PIMHUB_IMPORT_SOURCES_ALLOW_PRIVATE="true",
        PIMHUB_WEBHOOK_RETRY_SCHEDULE="[1, 1]",
    )
    return env


@pytest.fixture(scope="package")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    _require_browser(request.config)
    workdir = tmp_path_factory.mktemp("admin-site")
    env = site_env(workdir)
    settings = Settings(data_dir=workdir / "data", password_memory_kib=64, password_time_cost=1)
    hub = bootstrap(settings)
    try:
        initialize(hub)
        seed_demo(hub, DEMO_PRODUCTS)
        for name, role in USERS.items():
            hub.users.create(name, PASSWORD, role, display_name=name.title())
        _, key = hub.access.create("browser-tests", ["admin"], environment="test")
    finally:
        hub.close()
    with serving(env, workdir) as base, running(["worker"], env, workdir, "worker"):
        yield Site(base=base, workdir=workdir, env=env, api_key=key)


@pytest.fixture(scope="package")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def sign_in(site: Site, browser: Any) -> Iterator[Callable[[str], Any]]:
    """`sign_in("manager")`: a fresh browser context signed in as that user; its page."""
    contexts: list[Any] = []

    def open_as(user: str) -> Any:
        context = browser.new_context(viewport={"width": 1366, "height": 850})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(site.admin("/login"))
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(site.admin("/"))
        return page

    yield open_as
    for context in contexts:
        context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious or critical accessibility violations axe finds on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found: list[dict[str, Any]] = results.response["violations"]
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def assert_accessible(page: Any) -> None:
    bad = axe_violations(page)
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in bad
    )


def screenshot(page: Any, name: str) -> Path:
    """Saves the whole page under test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
