"""/docs works offline: Swagger UI comes from the package, and the page names no other origin."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient

from pimhub.api import docs_page

EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _Links(HTMLParser):
    """Every URL the page makes a browser fetch: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))
        self._in_script_without_src = tag == "script" and not values.get("src")
        if "style" in values:
            self.inline_scripts += 1  # an inline style the policy would block

    def handle_data(self, data: str) -> None:
        if self._in_script_without_src and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script_without_src = False


def test_docs_names_no_other_origin_and_every_asset_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9]", response.text, re.IGNORECASE), response.text
    links = _Links()
    links.feed(response.text)
    assert links.inline_scripts == 0
    assert len(links.urls) == 4  # the stylesheet, the icon, Swagger UI and its start-up
    for url in links.urls:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        expected = EXPECTED_TYPES["." + url.rsplit(".", 1)[1]]
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])


def test_docs_allows_scripts_and_styles_from_the_hub_only(client: TestClient) -> None:
    policy = client.get("/docs").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert "http" not in policy


def test_the_start_up_script_reads_the_documents_url_from_the_page(client: TestClient) -> None:
    body = client.get("/docs").text
    assert 'data-openapi-url="/openapi.json"' in body
    script = client.get(f"{docs_page.ASSETS}/docs.js").text
    assert "document.body.dataset.openapiUrl" in script
    assert "validatorUrl: null" in script  # Swagger UI's default validator is remote


def test_the_license_ships_with_swagger_ui() -> None:
    license_text = (docs_page.STATIC / "swagger" / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert (docs_page.STATIC / "swagger" / "NOTICE").is_file()


def test_assets_say_their_type_and_forbid_sniffing(client: TestClient) -> None:
    """The licence files have no extension: they are served as text, never guessed at."""
    for name in ("swagger/LICENSE", "swagger/NOTICE"):
        response = client.get(f"{docs_page.ASSETS}/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
    bundle = client.get(f"{docs_page.ASSETS}/swagger/swagger-ui-bundle.js")
    assert bundle.headers["x-content-type-options"] == "nosniff"


def test_no_page_loads_a_cdn(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page loads a CDN script
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_the_assets_are_package_data() -> None:
    """A wheel ships them: every file under api/static matches a package-data pattern."""
    root = Path(__file__).parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["pimhub"]
    package = root / "src" / "pimhub"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assets = {path for path in docs_page.STATIC.rglob("*") if path.is_file()}
    assert assets and assets <= shipped, sorted(str(a) for a in assets - shipped)


def test_only_the_assets_are_served_and_refusals_are_problems(client: TestClient) -> None:
    for url in (
        f"{docs_page.ASSETS}/%2e%2e/app.py",
        f"{docs_page.ASSETS}/swagger/..%2F..%2Fapp.py",
        f"{docs_page.ASSETS}/swagger/",
        f"{docs_page.ASSETS}/nothing.js",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/problem+json", url
    assert client.post(f"{docs_page.ASSETS}/docs.js").status_code == 405
