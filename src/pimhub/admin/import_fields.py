"""The inputs the upload form and the scheduled import form share: the class, the mapping
and how the source is read and written, kept as typed so a refused form shows them again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from pimhub.admin.web import text_field
from pimhub.catalog.batch import WriteMode
from pimhub.transfer.importer import OnError


@dataclass
class SourceFields:
    class_name: str = ""
    mapping: str = ""
    mode: str = WriteMode.UPSERT.value
    on_error: str = OnError.SKIP.value
    format: str = ""
    delimiter: str = ""
    record_path: str = ""
    sheet: str = ""


def typed_source_fields(form: FormData) -> dict[str, Any]:
    """SourceFields' values from a submitted form, as keyword arguments."""
    return {
        "class_name": text_field(form, "class").strip(),
        "mapping": text_field(form, "mapping"),
        "mode": text_field(form, "mode", WriteMode.UPSERT.value),
        "on_error": text_field(form, "on_error", OnError.SKIP.value),
        "format": text_field(form, "format").strip(),
        # Not stripped: a tab or a space may be the delimiter.
        "delimiter": text_field(form, "delimiter"),
        "record_path": text_field(form, "record_path").strip(),
        "sheet": text_field(form, "sheet").strip(),
    }
