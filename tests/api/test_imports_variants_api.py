"""/api/v1/imports of Magento's configurable products with the shipped mapping, on both
databases: the job summary counts parents and variants, and a dry run links nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery
from tests.api.test_imports_api import finished

MAGENTO = (
    "sku,product_type,name,price,additional_attributes,configurable_variations\n"
    'MH01-S,simple,Hoodie S,52,"size=S,color=Gray",\n'
    'MH01-M,simple,Hoodie M,52,"size=M,color=Gray",\n'
    'MH01,configurable,Hoodie,52,,"sku=MH01-S,size=S,color=Gray|sku=MH01-M,size=M,color=Gray"\n'
    'MH02,configurable,Other,52,,"sku=MH02-X"\n'
)


@pytest.fixture
def imports(hub: Hub, tmp_path: Path) -> Hub:
    hub.imports.folder = tmp_path / "imports"
    return hub


def run(client: TestClient, admin: dict[str, str], **form: str) -> dict[str, object]:
    files = {"file": ("products.csv", MAGENTO.encode(), "text/csv")}
    response = client.post(
        "/api/v1/imports", data={"mapping": "magento-products", **form}, files=files, headers=admin
    )
    assert response.status_code == 202, response.text
    job = finished(client, response.json()["id"], admin)
    summary = job["summary"]
    assert isinstance(summary, dict)
    return summary


def test_a_magento_upload_links_variants_and_a_dry_run_keeps_nothing(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    dry = run(client, admin, dryRun="true")
    assert (dry["created"], dry["parents"], dry["variants"], dry["dryRun"]) == (3, 1, 2, True)
    assert client.get("/api/v1/products/MH01-S", headers=admin).status_code == 404
    done = run(client, admin)
    assert (done["created"], done["parents"], done["variants"]) == (3, 1, 2)
    [error] = done["errors"]  # type: ignore[misc]
    assert (error["row"], error["column"], error["code"]) == (
        4,
        "configurable_variations",
        "reference",
    )
    variants = imports.catalog.list_objects("Product", ListQuery(parent="MH01"))
    assert sorted(p.key for p in variants.items) == ["MH01-M", "MH01-S"]
