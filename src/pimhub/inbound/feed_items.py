"""The items of an inbound feed message and how they are written to the catalog.

Items come from the message's payload by the source's `apply.items` JMESPath expression (no
expression: the payload is one item; an object found: that one item; nothing, or a text or
number: the whole message is refused). Each item's top-level keys are the columns of the
import mapping language, with their JSON values as they are: a nested object or list reaches
the mapping as that object or list, as in a JSON file import (`first` takes a list's first
element, `split` reads it as JSON text), and validation refuses it for a field that holds no
such value: `{column: stock}` of `{"stock": {"qty": 5}}` refuses the item rather than storing
text that looks like JSON. To reach into nested values, shape the items with the JMESPath
expression (`data.lines[].{sku: sku, qty: stock.qty}`).

Writing reuses the import (transfer.importer.run_import, on_error=skip) through the catalog's
batch writer: the same mapping steps, cell reading, validation, category paths, versions and
outbox events, per-row errors by column. One delivery's items are one batch, in one unit of
work; the same key twice in one message is written in turn (the later item last) rather than
refused as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jmespath
import orjson
from jmespath.exceptions import JMESPathError

from pimhub.catalog.batch import BatchWriter, WriteMode
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.retry import retrying
from pimhub.catalog.service import CatalogService
from pimhub.events.bounded_search import ResultTooLarge, bounded_search, result_limit
from pimhub.inbound.sources import FeedSpec
from pimhub.transfer.cell_text import as_written
from pimhub.transfer.importer import ImportOptions, OnError, RowError, run_import
from pimhub.transfer.mapping import ImportMapping, parse_mapping
from pimhub.transfer.sources import Record

FEED_BATCH = 1_000_000  # items of one message are one batch (MAX_ITEMS bounds it)
# The most items one message may give: each is validated and written in one unit of work, so
# a message of more would hold the feed's lease (and a transaction) for minutes. Senders split
# bigger updates into several messages. Not a setting: no honest feed needs more.
MAX_ITEMS = 100_000
WHOLE_MESSAGE = -1  # the item index of a refusal of a whole message (its items not found)
DUPLICATE = "duplicate"  # the batch writer's code for a key given twice in one batch


def feed_author(source: str) -> str:
    return f"inbound:{source}"


@lru_cache(maxsize=256)
def compiled(expression: str) -> Any:
    """A JMESPath expression, compiled once per text (the same feed applies thousands)."""
    return jmespath.compile(expression)


@dataclass(frozen=True, slots=True)
class Feed:
    """A source's `apply`, ready to use: the mapping parsed, the items expression compiled."""

    source: str
    spec: FeedSpec
    mapping: ImportMapping
    items: Any  # a compiled JMESPath expression, or None

    @property
    def mode(self) -> WriteMode:
        return WriteMode.UPSERT if self.spec.create else WriteMode.UPDATE


def build_feed(source: str, spec: FeedSpec) -> Feed:
    """Raises InvalidInput (InvalidMapping, or the items expression) naming the problem."""
    mapping = parse_mapping(spec.mapping)
    # A feed has nowhere to fetch files from (an import's asset steps download them).
    if fields := [fm.target for fm in mapping.fields if fm.asset]:
        raise InvalidInput(
            "a feed's mapping cannot fetch files into assets",
            [
                FieldError(f"apply.mapping.fields.{t}.asset", "not available in feeds")
                for t in fields
            ],
        )
    items = None
    if spec.items is not None:
        try:
            items = compiled(spec.items)
        except JMESPathError as exc:
            raise InvalidInput(
                "the feed's items expression is not JMESPath",
                [FieldError("apply.items", str(exc).replace("\n", " "))],
            ) from None
    return Feed(source, spec, mapping, items)


def extract_items(feed: Feed, payload: Any) -> list[Any] | FieldError:
    """The items of a payload, or why there are none (the whole message is refused)."""
    if feed.items is None:
        return [payload]
    # The expression is the sender's configuration, run on any payload: a multiplying one
    # (`[@,@][]` repeated) would build gigabytes, so it runs within a budget of the payload's size.
    limit = result_limit(len(orjson.dumps(payload)))
    try:
        found = bounded_search(feed.items, payload, limit)
    except ResultTooLarge:
        return FieldError(
            "apply.items",
            f"'{feed.spec.items}' gives more than {limit} bytes of items from this message"
            " (at most 4 times the message's size, and never less than 1 MiB)",
            "items-too-large",
        )
    except JMESPathError as exc:
        return FieldError("apply.items", f"failed on this message: {exc}", "items")
    if isinstance(found, list):
        if len(found) > MAX_ITEMS:
            return FieldError(
                "apply.items",
                f"this message gives {len(found)} items, more than the {MAX_ITEMS} a message"
                " may give: split it into several messages",
                "too-many-items",
            )
        return found
    if isinstance(found, dict):
        return [found]
    what = "nothing" if found is None else f"a {type(found).__name__}"
    return FieldError(
        "apply.items",
        f"'{feed.spec.items}' found {what} in this message, not a list of items",
        "items",
    )


@dataclass(slots=True)
class Applied:
    """What writing a list of items came to."""

    changed: int = 0  # created or updated
    unchanged: int = 0
    skipped: int = 0  # left out by the mapping's `skip`
    # Refused items by their index: the business key (when the mapping gives one) and why.
    refused: dict[int, tuple[str | None, list[FieldError]]] = field(default_factory=dict)

    @property
    def applied(self) -> int:
        return self.changed + self.unchanged

    def summary(self) -> str:
        text = f"applied {self.applied} ({self.changed} changed), refused {len(self.refused)}"
        return text + (f", skipped {self.skipped}" if self.skipped else "")


def apply_items(catalog: CatalogService, feed: Feed, items: Sequence[Any]) -> Applied:
    """Writes `items` (any JSON values; an item that is not an object is refused), each
    created or updated by business key as the feed allows, authored inbound:<source>.
    A lost race runs the whole write again (what was committed is then unchanged); any other
    database failure is raised, to fail the delivery."""
    return retrying(lambda: _apply_once(catalog, feed, items))


def _apply_once(catalog: CatalogService, feed: Feed, items: Sequence[Any]) -> Applied:
    outcome = Applied()
    keys: dict[int, str | None] = {}
    todo = list(range(len(items)))
    while todo:
        # Items refused only because an earlier item of the same round has their key: the
        # next round writes them over it, so the message's last word wins.
        errors = _write_round(catalog, feed, [(n, items[n]) for n in todo], outcome, keys)
        again = [n for n in todo if n in errors and {e.code for e in errors[n]} == {DUPLICATE}]
        for n in todo:
            if n in errors and n not in again:
                outcome.refused[n] = (keys.get(n), errors[n])
        todo = again
    return outcome


def _write_round(
    catalog: CatalogService,
    feed: Feed,
    numbered: list[tuple[int, Any]],
    outcome: Applied,
    keys: dict[int, str | None],
) -> dict[int, list[FieldError]]:
    errors: dict[int, list[FieldError]] = {}

    def refused(error: RowError) -> None:
        errors.setdefault(error.row - 1, []).append(
            FieldError(error.column, error.message, error.code)
        )

    @contextmanager
    def open_writer() -> Iterator[BatchWriter]:
        with catalog.batch_writer(
            feed.mapping.class_name, mode=feed.mode, author=feed_author(feed.source)
        ) as writer:
            keys.update(_keys(feed.mapping, numbered, writer.definition.business_key))
            yield writer

    options = ImportOptions(
        mode=feed.mode,
        on_error=OnError.SKIP,
        batch_size=FEED_BATCH,
        author=feed_author(feed.source),
    )
    summary = run_import(
        open_writer, _records(numbered), feed.mapping, options, on_row_error=refused
    )
    outcome.changed += summary.created + summary.updated
    outcome.unchanged += summary.unchanged
    outcome.skipped += summary.skipped
    return errors


def _records(numbered: list[tuple[int, Any]]) -> list[Record]:
    return [
        Record(n + 1, item, problem=None)
        if isinstance(item, Mapping)
        else Record(
            n + 1,
            {},
            problem=FieldError(
                "", f"an item is a JSON object of columns, not a {_json_type(item)}", "shape"
            ),
        )
        for n, item in numbered
    ]


def _keys(
    mapping: ImportMapping, numbered: list[tuple[int, Any]], business_key: str
) -> dict[int, str | None]:
    """Each item's business key as the mapping makes it (shown with its refusal)."""
    found: dict[int, str | None] = {}
    for n, item in numbered:
        key = mapping.apply(item)[0].get(business_key) if isinstance(item, Mapping) else None
        found[n] = as_written(key) if key is not None and not isinstance(key, dict | list) else None
    return found


def _json_type(value: Any) -> str:
    names: dict[type, str] = {list: "list", str: "text", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
