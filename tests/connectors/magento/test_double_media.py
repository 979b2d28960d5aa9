"""The contract double's media gallery behaves as Magento's does: bodies checked against the
schema, content checked from the bytes, one entry per role, answers in the schema's shapes."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image

from .double import MagentoDouble
from .double_media import BAD_BASE64, BAD_MIME, BAD_NAME, NO_IMAGE_TO_DELETE, NO_IMAGE_WITH_ID
from .schema import validate_response
from .test_double import run, simple

MEDIA = "/rest/all/V1/products/M-1/media"


def png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def entry(types: list[str], **content: str) -> dict[str, object]:
    return {
        "entry": {
            "media_type": "image",
            "label": "x",
            "position": 1,
            "disabled": False,
            "types": types,
            "content": {"base64_encoded_data": png(), "type": "image/png", "name": "x.png"}
            | content,
        }
    }


def test_entries_are_stored_with_ids_roles_move_and_answers_match_the_schema() -> None:
    double = MagentoDouble()

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.put("/rest/all/V1/products/M-1", json=simple("M-1"))
        first = (await client.post(MEDIA, json=entry(["image", "thumbnail"]))).json()
        second = (await client.post(MEDIA, json=entry(["image"]))).json()
        assert isinstance(first, int) and second == first + 1
        listed = (await client.get(MEDIA)).json()
        assert validate_response("GET", "/V1/products/{sku}/media", listed) == []
        assert {e["id"]: e["types"] for e in listed} == {first: ["thumbnail"], second: ["image"]}
        assert [e["file"] for e in listed] == ["/x/_/x.png", "/x/_/x_1.png"]
        one = (await client.get(f"{MEDIA}/{first}")).json()
        body = {"entry": {**one, "id": first, "types": ["image"], "label": "y"}}
        assert (await client.put(f"{MEDIA}/{first}", json=body)).json() is True
        shown = (await client.get("/rest/all/V1/products/M-1")).json()["media_gallery_entries"]
        assert {e["id"]: (e["types"], e["label"]) for e in shown} == {
            first: (["image"], "y"),
            second: ([], "x"),
        }
        assert (await client.delete(f"{MEDIA}/{second}")).json() is True
        assert [e["id"] for e in (await client.get(MEDIA)).json()] == [first]

    run(double, scenario)
    assert double.violations == []
    assert double.media_content(1) == base64.b64decode(png())


def test_refusals_of_bad_content_names_ids_and_bodies() -> None:
    double = MagentoDouble()

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.put("/rest/all/V1/products/M-1", json=simple("M-1"))
        cases = [
            (entry([], base64_encoded_data="not base64!"), BAD_BASE64),
            (entry([], type="image/jpeg"), BAD_MIME),  # PNG bytes declared as JPEG
            (entry([], base64_encoded_data=base64.b64encode(b"%PDF-1.4").decode()), BAD_MIME),
            (entry([], name="../x.png"), BAD_NAME),
        ]
        for body, message in cases:
            answer = await client.post(MEDIA, json=body)
            assert (answer.status_code, answer.json()["message"]) == (400, message)
        missing = await client.put(f"{MEDIA}/99", json={"entry": {**entry([])["entry"], "id": 99}})
        assert (missing.status_code, missing.json()["message"]) == (404, NO_IMAGE_WITH_ID)
        gone = await client.delete(f"{MEDIA}/99")
        assert (gone.status_code, gone.json()["message"]) == (404, NO_IMAGE_TO_DELETE)
        nowhere = await client.post("/rest/all/V1/products/NOPE/media", json=entry([]))
        assert nowhere.status_code == 404
        # A body the schema refuses (no label) is a 400 and a recorded violation.
        body = entry([])
        del body["entry"]["label"]  # type: ignore[attr-defined]
        assert (await client.post(MEDIA, json=body)).status_code == 400

    run(double, scenario)
    assert len(double.violations) == 1 and "label" in double.violations[0]
    assert double.media("M-1") == []
