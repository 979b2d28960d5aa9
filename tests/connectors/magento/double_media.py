"""The contract double's media gallery: `/V1/products/{sku}/media[/{entryId}]`.

As Magento 2.4.8's GalleryManagement and ImageContentValidator behave: a new entry needs
base64 content of a JPEG, PNG or GIF (checked from the bytes, and the declared type must be one
of those) and a name without forbidden characters; it answers the new entry's id. An update
changes label, position, disabled and types but never the content. An image role (`types`)
names one entry per product: giving it to one entry takes it from the others. Entries live in
the product's `media_gallery_entries`, so GET of the product shows them, and go with it.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import threading
from typing import Any

NO_IMAGE_WITH_ID = "No image with the provided ID was found. Verify the ID and try again."
NO_IMAGE_TO_DELETE = "There is no image with provided ID."
BAD_BASE64 = "The image content must be valid base64 encoded data."
BAD_MIME = "The image MIME type is not valid or not supported."
BAD_NAME = "Provided image name contains forbidden characters."
FORBIDDEN_NAME = re.compile(r'[\\/?*:";<>()|{}]')
MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}


def detected_type(data: bytes) -> str | None:
    return next((mime for magic, mime in MAGIC if data.startswith(magic)), None)


class MediaGallery:
    """Mixed into MagentoDouble, which provides the lock, products and errors."""

    _lock: threading.RLock
    _products: dict[str, Any]

    def _media_init(self) -> None:
        self._media_ids = itertools.count(1)
        self._media_content: dict[int, bytes] = {}
        self._files: set[str] = set()

    # -- observation -----------------------------------------------------------------------

    def media(self, sku: str) -> list[dict[str, Any]]:
        """The product's gallery entries, as GET .../media answers them (no content)."""
        with self._lock:
            product = self._products.get(sku)
            return [dict(e) for e in self._entries(product)] if product else []

    def media_content(self, entry_id: int) -> bytes | None:
        """The decoded bytes an entry was created with."""
        with self._lock:
            return self._media_content.get(entry_id)

    # -- handlers --------------------------------------------------------------------------

    def _entries(self, product: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = product.entity.setdefault("media_gallery_entries", [])
        return entries

    def _media_product(self, sku: str) -> Any:
        from .double import NOT_FOUND_PRODUCT, MagentoError

        product = self._products.get(sku)
        if product is None:
            raise MagentoError(404, NOT_FOUND_PRODUCT)
        return product

    async def _do_list_media(self, call: Any) -> Any:
        with self._lock:
            return [dict(e) for e in self._entries(self._media_product(call.params["sku"]))]

    async def _do_get_media(self, call: Any) -> Any:
        from .double import MagentoError

        with self._lock:
            entries = self._entries(self._media_product(call.params["sku"]))
            found = next((e for e in entries if str(e["id"]) == call.params["entryId"]), None)
            if found is None:
                raise MagentoError(404, "The image doesn't exist. Verify and try again.")
            return dict(found)

    async def _do_add_media(self, call: Any) -> Any:
        from .double import MagentoError

        entry = call.body["entry"]
        content = entry.get("content")
        if not isinstance(content, dict):
            raise MagentoError(
                400, "The image content is invalid. Verify the content and try again."
            )
        try:
            data = base64.b64decode(content["base64_encoded_data"], validate=True)
        except (binascii.Error, ValueError):
            raise MagentoError(400, BAD_BASE64) from None
        mime = detected_type(data)
        if mime is None or content["type"] != mime:
            raise MagentoError(400, BAD_MIME)
        name = str(content["name"])
        if not name or FORBIDDEN_NAME.search(name):
            raise MagentoError(400, BAD_NAME)
        with self._lock:
            product = self._media_product(call.params["sku"])
            entry_id = next(self._media_ids)
            self._media_content[entry_id] = data
            saved = {
                "id": entry_id,
                "media_type": entry.get("media_type", "image"),
                "label": entry.get("label"),
                "position": entry.get("position", 0),
                "disabled": bool(entry.get("disabled")),
                "types": list(entry.get("types") or []),
                "file": self._file_name(name, mime),
            }
            self._take_roles(product, saved["types"])
            self._entries(product).append(saved)
            return entry_id

    async def _do_put_media(self, call: Any) -> Any:
        from .double import MagentoError

        entry = call.body["entry"]
        with self._lock:
            product = self._media_product(call.params["sku"])
            wanted = str(entry.get("id", call.params["entryId"]))
            found = next((e for e in self._entries(product) if str(e["id"]) == wanted), None)
            if found is None:
                raise MagentoError(404, NO_IMAGE_WITH_ID)
            self._take_roles(product, list(entry.get("types") or []))
            for key in ("label", "position", "disabled", "types"):
                if key in entry:
                    found[key] = entry[key]
            return True

    async def _do_delete_media(self, call: Any) -> Any:
        from .double import MagentoError

        with self._lock:
            product = self._media_product(call.params["sku"])
            entries = self._entries(product)
            found = next((e for e in entries if str(e["id"]) == call.params["entryId"]), None)
            if found is None:
                raise MagentoError(404, NO_IMAGE_TO_DELETE)
            entries.remove(found)
            return True

    def _take_roles(self, product: Any, types: list[str]) -> None:
        """A role is a product attribute naming one file: the other entries lose it."""
        for other in self._entries(product):
            other["types"] = [t for t in other["types"] if t not in types]

    def _file_name(self, name: str, mime: str) -> str:
        """Magento's dispersion path (/a/b/name.ext), with _1, _2... when the name is taken."""
        stem = name.rsplit(".", 1)[0] if "." in name else name
        base = f"/{stem[:1].lower() or '_'}/{stem[1:2].lower() or '_'}/{stem}"
        extension = EXTENSIONS[mime]
        candidate = f"{base}.{extension}"
        for n in itertools.count(1):
            if candidate not in self._files:
                break
            candidate = f"{base}_{n}.{extension}"
        self._files.add(candidate)
        return candidate
