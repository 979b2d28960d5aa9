"""Row error reports, written as the import goes (CSV or JSON), and mapping proposals."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldType
from pimhub.catalog.variants import CHILDREN_ITEM_KEY, PARENT_ITEM_KEY
from pimhub.transfer.importer import ErrorSink, RowError

REPORT_COLUMNS = ("row", "column", "value", "message", "code")


@contextmanager
def error_report(path: Path) -> Iterator[ErrorSink]:
    """A sink writing each row error to `path` at once (.json: an array; else CSV)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        if path.suffix.lower() == ".json":
            first = True
            out.write("[")

            def write_json(error: RowError) -> None:
                nonlocal first
                out.write(
                    ("" if first else ",\n") + orjson.dumps(error.to_dict(), default=str).decode()
                )
                first = False

            try:
                yield write_json
            finally:
                out.write("]\n")
            return
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)

        def write_csv(error: RowError) -> None:
            writer.writerow([error.row, error.column, error.value, error.message, error.code])

        yield write_csv


def propose_mapping(
    definition: ClassDefinition, header: Mapping[str, Any], default_language: str
) -> tuple[dict[str, Any], list[str]]:
    """A mapping from the columns whose names match the class's fields (ignoring case, `_`,
    `-` and spaces); the rest are listed for a human to decide."""
    by_name = {_plain(f.name): f for f in definition.fields}
    by_name.update({_plain(f.title): f for f in definition.fields if f.title})
    # A price list takes one column per currency: price_eur, "Price EUR", priceEUR.
    currency_of: dict[str, str] = {}
    for listed in definition.fields:
        for currency in listed.currencies if listed.price_list else ():
            currency_of[_plain(f"{listed.name}{currency}")] = currency
            by_name[_plain(f"{listed.name}{currency}")] = listed
    fields: dict[str, Any] = {}
    unmatched: list[str] = []
    for column in header:
        f = by_name.get(_plain(column))
        family = _family_target(definition, column) if f is None else None
        if family is not None:
            fields.setdefault(*family)
            continue
        if f is None:
            unmatched.append(column)
            continue
        target = f"{f.name}.{default_language}" if f.localized else f.name
        spec: dict[str, Any] = {"column": column}
        if f.type in (FieldType.NUMBER,):
            spec["number"] = True
        elif f.price_list:
            currency = currency_of.get(_plain(column), f.currencies[0])
            target = f"{f.name}.{currency}"
            spec["number"] = True
        elif f.type == FieldType.MONEY:
            target = f"{f.name}.amount"
            spec["number"] = True
            # A money value needs its currency; the first the field allows, else a guess
            # for a human to check.
            currency = f.currencies[0] if f.currencies else "EUR"
            fields.setdefault(f"{f.name}.currency", {"value": currency})
        elif f.type == FieldType.BOOLEAN:
            spec["boolean"] = True
        elif f.is_list:
            spec["split"] = ","
        fields.setdefault(target, spec if len(spec) > 1 else column)
    return {"class": definition.name, "fields": fields}, unmatched


def _family_target(definition: ClassDefinition, column: str) -> tuple[str, Any] | None:
    """In a class with variants: a `parent` column (Akeneo's, pimhub's export) names a
    variant's parent; Magento's configurable_variations lists a parent's variants."""
    if definition.variants is None:
        return None
    if _plain(column) == "parent":
        return PARENT_ITEM_KEY, column
    if _plain(column) == "configurablevariations":
        return CHILDREN_ITEM_KEY, {"column": column, "variations": "sku"}
    return None


def _plain(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()
