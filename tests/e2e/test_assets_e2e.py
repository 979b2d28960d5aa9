"""Issue 17 end to end through the real `pimhub serve` and `pimhub worker`: an image uploaded
over REST, attached to a product, its thumbnail fetched via the URL GraphQL's
`image { fullpath(thumbnail: "product_list") }` gives (its size read back with Pillow), then
the product taken through its class's workflow to published; asset.created and
workflow.transitioned arrive at a webhook receiver."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.e2e.processes import init, running, serving
from tests.events.receiver import Receiver, receiver_in_thread

pytestmark = pytest.mark.e2e

WORKFLOW = {
    "initial": "draft",
    "states": {"draft": {}, "review": {}, "published": {"publishes": True}},
    "transitions": {
        "submit": {"from": ["draft"], "to": "review", "scopes": ["write"]},
        "publish": {"from": ["review"], "to": "published", "scopes": ["publish"]},
        "reject": {"from": ["review"], "to": "draft", "scopes": ["review"], "comment": "required"},
    },
}
QUERY = '{ getProduct(sku: "E2E-1") { sku image { fullpath(thumbnail: "product_list") } } }'


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, "PNG")
    return out.getvalue()


def _arrived(receiver: Receiver, wanted: set[str], seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = {r.payload["type"]: r.payload for r in receiver.delivered}
        if wanted <= set(got):
            return got
        time.sleep(0.05)
    raise AssertionError(
        f"missing events: {wanted - {r.payload['type'] for r in receiver.delivered}}"
    )


def test_upload_attach_thumbnail_publish_and_events(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PIMHUB_DATA_DIR": str(tmp_path / "data"),
        "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    env.pop("PIMHUB_DATABASE_URL", None)
    key = init(env, tmp_path)
    with (
        receiver_in_thread(Receiver()) as receiver,
        serving(env, tmp_path) as base,
        running(["worker"], env, tmp_path, "worker"),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        hook = http.post(
            "/api/v1/webhooks/endpoints",
            json={"url": receiver.url, "eventTypes": ["asset.created", "workflow.transitioned"]},
        )
        assert hook.status_code == 201, hook.text
        product_class = http.get("/api/v1/classes/Product").json()
        product_class["workflow"] = WORKFLOW
        applied = http.put("/api/v1/classes/Product", json=product_class)
        assert applied.status_code == 200, applied.text

        uploaded = http.post(
            "/api/v1/assets",
            data={"folder": "/products", "metadata": '{"alt": {"en": "Teal"}}'},
            files={"file": ("e2e.png", _png(600, 400), "image/png")},
        )
        assert uploaded.status_code == 201, uploaded.text
        asset = uploaded.json()
        saved = http.put(
            "/api/v1/objects/Product/E2E-1",
            json={
                "fields": {
                    "name": {"en": "Pictured"},
                    "price": {"amount": 9, "currency": "EUR"},
                    "image": "/products/e2e.png",
                }
            },
        )
        assert saved.status_code == 201, saved.text
        assert saved.json()["fields"]["image"] == asset["uuid"]

        classes = {"Product": {"fields": "*"}, "Category": {}, "Brand": {}}
        config = {"name": "shop", "drafts": True, "classes": classes}
        made = http.post("/api/v1/datahub", json=config)
        assert made.status_code == 201, made.text
        answer = http.post("/graphql/shop", json={"query": QUERY})
        assert answer.status_code == 200, answer.text
        url = answer.json()["data"]["getProduct"]["image"]["fullpath"]
        parts = urlsplit(url)
        assert parts.path == "/assets/products/e2e.png"
        assert f"v={asset['checksum'][:16]}" in parts.query
        thumbnail = httpx.get(f"{base}{parts.path}?{parts.query}")  # public: no key
        assert thumbnail.status_code == 200, thumbnail.text
        assert thumbnail.headers["content-type"] == "image/webp"
        assert thumbnail.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert Image.open(io.BytesIO(thumbnail.content)).size == (300, 200)

        for transition in ("submit", "publish"):
            moved = http.post(f"/api/v1/objects/Product/E2E-1/transitions/{transition}")
            assert moved.status_code == 200, moved.text
        product = http.get("/api/v1/objects/Product/E2E-1").json()
        assert product["published"] is True

        events = _arrived(receiver, {"asset.created", "workflow.transitioned"})
        assert events["asset.created"]["data"]["uuid"] == asset["uuid"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            transitions = [
                (
                    r.payload["data"]["transition"],
                    r.payload["data"]["from"],
                    r.payload["data"]["to"],
                )
                for r in receiver.delivered
                if r.payload["type"] == "workflow.transitioned"
            ]
            if len(transitions) >= 2:
                break
            time.sleep(0.05)
        assert transitions == [("submit", "draft", "review"), ("publish", "review", "published")]
