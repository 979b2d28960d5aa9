"""XML sources: the elements at a record path, streamed with defusedxml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.transfer.source_types import Record, SourceOptions, UnreadableSource, too_deep


def xml_records(path: Path, options: SourceOptions, max_depth: int) -> Iterator[Record]:
    """Records are the elements at `record_path` (slash-separated from the root's children,
    e.g. "product" or "catalog/products/product"); a record's values are its attributes and
    its child elements' text."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    if not options.record_path:
        raise UnreadableSource(
            "an XML import needs the path of its record element (--record-path product)",
            [FieldError("record_path", "required for XML", "required")],
        )
    wanted = [p for p in options.record_path.strip("/").split("/") if p]
    stack: list[str] = []
    number = 0
    try:
        for event, element in iterparse(str(path), events=("start", "end")):
            if event == "start":
                stack.append(element.tag)
                if len(stack) > max_depth:
                    raise too_deep(
                        f"the XML (element <{str(element.tag)[:100]}> after record {number})",
                        max_depth,
                    )
                continue
            if stack[-len(wanted) :] == wanted:
                number += 1
                values: dict[str, Any] = dict(element.attrib)
                for child in element:
                    values[child.tag] = (child.text or "").strip()
                yield Record(number, values)
                element.clear()  # constant memory: the record is done with
            stack.pop()
    except (SyntaxError, DefusedXmlException) as exc:  # ParseError; entity and DTD tricks
        raise UnreadableSource(
            f"the XML cannot be read: {exc}", [FieldError("", str(exc), "xml")]
        ) from None
