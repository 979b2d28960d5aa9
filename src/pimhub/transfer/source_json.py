"""JSON sources: JSON Lines (one object per line, a line that is no object refused on its
own) and a JSON array of objects, streamed item by item."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from pimhub.catalog.errors import FieldError
from pimhub.transfer.source_lines import BoundedLines
from pimhub.transfer.source_types import (
    MAX_DEPTH,
    Record,
    UnreadableSource,
    deeper_than,
    too_deep,
)


def jsonl_records(text: Iterable[str], max_depth: int = MAX_DEPTH) -> Iterator[Record]:
    import orjson

    # A record's number counts the records (a blank line is none); its line is the file's.
    number = 0
    for line_number, line in enumerate(text, start=1):
        if isinstance(text, BoundedLines):
            text.record_ended()
        if not line.strip():
            continue
        number += 1
        try:
            value = orjson.loads(line)  # refuses more than 1024 levels itself
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc):
                raise too_deep(f"line {line_number}", max_depth) from None
            # Lines stand alone: one that is not JSON is refused, the others go on.
            problem = FieldError("", f"not JSON: {exc}", "not-json")
            yield Record(number, {}, None, problem, line_number)
            continue
        if isinstance(value, (dict, list)) and deeper_than(value, max_depth):
            raise too_deep(f"line {line_number}", max_depth)
        if not isinstance(value, dict):
            message = f"expected a JSON object, got {type(value).__name__}"
            yield Record(number, {}, None, FieldError("", message, "shape"), line_number)
            continue
        yield Record(number, value, line=line_number)


def json_array_records(raw: IO[bytes], max_depth: int) -> Iterator[Record]:
    """Items built from ijson's basic events, counting depth as they come: ijson.items keeps
    a prefix string per level, so its memory grows with the square of the depth, and a
    small file nested 100,000 deep took gigabytes before the first item."""
    import ijson  # type: ignore[import-untyped]

    events = ijson.basic_parse(raw, use_float=True)
    number = 0
    stack: list[Any] = []  # the containers of the item being built, outermost first
    key: str = ""
    try:
        first = next(events, None)
        if first is None or first[0] != "start_array":
            raise UnreadableSource(
                "the file is not a JSON array of objects",
                [FieldError("", "expected an array", "shape")],
            )
        # ijson.ObjectBuilder's work, inlined: this loop runs for every value of the file.
        for event, value in events:
            if event == "map_key":
                key = value
                continue
            if event == "end_map" or event == "end_array":
                if not stack:
                    break  # the end of the file's array
                done = stack.pop()
                if not stack:
                    yield Record(number, _object(done, f"item {number}"))
                continue
            if event == "start_map" or event == "start_array":
                value = {} if event == "start_map" else []
            if not stack:
                number += 1
            elif type(stack[-1]) is dict:
                stack[-1][key] = value
            else:
                stack[-1].append(value)
            if type(value) is dict or type(value) is list:
                stack.append(value)
                if len(stack) > max_depth:
                    raise too_deep(f"item {number}", max_depth)
            elif not stack:
                yield Record(number, _object(value, f"item {number}"))  # refused: no object
        for _ in events:  # anything after the array is an error of the parser's
            break
    except ijson.JSONError as exc:
        raise UnreadableSource(
            f"the file is not a JSON array of objects: {exc}", [FieldError("", "not JSON")]
        ) from None


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise UnreadableSource(
            f"{where} is not a JSON object", [FieldError(where, "expected an object", "shape")]
        )
    return value
