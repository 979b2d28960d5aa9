"""Mapping proposals (`pimhub import --infer`): a mapping read off a file's header and first
records, for a human to check.

A column is matched to a field by the field's name or title, ignoring case, spaces, `-` and
`_` (`Short Description` is `shortDescription`). A column may also name a part of a field
after a separator (`.`, `-`, `_`, `~`, a space) or in parentheses, as pimhub's own export
and other PIMs' exports write them:

- a language of a localized field: `name.en` (pimhub), `name-en_US` (Akeneo, also with a
  channel: `description-en_US-ecommerce`), `Name (de)`; only the hub's languages;
- money: `price.amount` and `price.currency` (pimhub), a currency (`price-EUR`, `price.USD`:
  one column per currency of a price list);
- a quantity: `weight.value` and `weight.unit` (pimhub), `weight` with `weight-unit`
  (Akeneo), or `weight` alone holding `500 GRAM`.

Lists are split on `|` when a sampled cell holds one (pimhub's export joins lists with it),
on `,` when one holds a comma, and otherwise on `|` for a pimhub export (dotted columns) and
`,` for any other file. Every column left out is explained.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pimhub.catalog.batch import PUBLISHED_ITEM_KEY
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.catalog.variants import CHILDREN_ITEM_KEY, PARENT_ITEM_KEY

PIMHUB_SEPARATOR = "|"  # transfer.exporter.LIST_SEPARATOR; not imported: the exporter is heavy
# A language, optionally with a region (en_US, de-DE) and, after it, an Akeneo channel.
_LOCALE = re.compile(r"(?P<lang>[a-z]{2,3})(?:[_-][a-z]{2})?(?:-(?P<channel>[a-z0-9_]+))?", re.I)
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_SPLIT_AT = re.compile(r"[.\-_~ ]")
MAX_SPLIT_COLUMN = 200  # longer column names are matched whole only
# Names other PIMs give fields the commerce model calls otherwise (Akeneo's category label).
_SYNONYMS = {"label": "name"}
_MAGENTO_COLUMNS = frozenset({"sku", "product_type", "attribute_set_code"})
# What pimhub's XML and JSON Lines exports write beside the fields, and why none is mapped.
_EXPORT_METADATA = {
    "uuid": "pimhub's object id; an import matches objects by business key",
    "class": "the class of pimhub's export; --class names it",
    "key": "the business key, which the export also writes as its field",
    "version": "kept by the hub, one more at every change",
    "modifiedAt": "kept by the hub",
    "fields": "a JSON Lines export nests the values here, and a mapping reads top-level "
    "keys: export --format csv (or xml) to import an export back",
}


# The published flag: pimhub's export (CSV with drafts, XML, JSON Lines), Akeneo's `enabled`.
_PUBLISHED_COLUMNS = frozenset({"published", "@published", "enabled"})


class Unmapped(NamedTuple):
    """A column the proposal leaves out, and why."""

    column: str
    reason: str


@dataclass
class _Proposal:
    definition: ClassDefinition
    languages: Sequence[str]
    samples: Sequence[Mapping[str, Any]]
    pimhub_style: bool
    fields: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # target -> the column it reads
    unmapped: list[Unmapped] = field(default_factory=list)

    def put(self, column: str, target: str, spec: dict[str, Any]) -> None:
        """Maps `column` to `target`, unless an earlier column already feeds it."""
        if target in self.sources:
            self.skip(column, f"{target} already reads the column '{self.sources[target]}'")
            return
        self.sources[target] = column
        self.fields[target] = spec if len(spec) > 1 else column

    def skip(self, column: str, reason: str) -> None:
        self.unmapped.append(Unmapped(column, reason))


def propose_mapping(
    definition: ClassDefinition,
    header: Mapping[str, Any],
    default_language: str,
    languages: Sequence[str] | None = None,
    samples: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], list[Unmapped]]:
    """A mapping for the columns of `header` (a record; its keys are the columns) and the
    columns it leaves out with the reason. `samples` (the first records) choose list
    separators; `languages` are the hub's (default: the default language alone)."""
    columns = list(header)
    _refuse_nested_export(definition, header)
    proposal = _Proposal(
        definition,
        [lang.lower() for lang in (languages or [default_language])],
        list(samples) or [header],
        pimhub_style=any(_is_pimhub_part(definition, c) for c in columns),
    )
    with_unit = _quantities_with_unit_column(definition, columns)
    for column in columns:
        _propose_column(proposal, column, default_language, with_unit)
    if {c.strip().lower() for c in columns} >= _MAGENTO_COLUMNS:
        proposal.unmapped.insert(
            0, Unmapped("(file)", "this is Magento's product import CSV: -m magento-products")
        )
    return {"class": definition.name, "fields": proposal.fields}, proposal.unmapped


class CannotPropose(InvalidInput):
    """A file no mapping can import as it is."""

    code = "cannot-propose"
    title = "No mapping can read this file"


def _refuse_nested_export(definition: ClassDefinition, header: Mapping[str, Any]) -> None:
    """pimhub's JSON Lines export nests an object's values under `fields`, and a mapping
    reads a record's top-level keys only: a proposal would map nothing but metadata and
    refuse every row for its missing business key, so there is none."""
    nested = header.get("fields")
    if not isinstance(nested, Mapping) or definition.business_key in header:
        return
    raise CannotPropose(
        "this is pimhub's JSON Lines export, which nests each object's values under "
        "'fields'; a mapping reads top-level keys only, so none can import it: export "
        "with --format csv --drafts (or --format xml --drafts) to import an export back",
        [FieldError("fields", "values nested here cannot be mapped", "nested")],
    )


def _propose_column(
    proposal: _Proposal, column: str, default_language: str, with_unit: dict[str, str]
) -> None:
    definition = proposal.definition
    family = _family_target(definition, column)
    whole = _field_named(definition, column)
    if family is not None and whole is None:
        proposal.put(column, *family)
        return
    if whole is None and _plain(column) in _PUBLISHED_COLUMNS:
        proposal.put(column, PUBLISHED_ITEM_KEY, {"column": column})
        return
    if whole is not None:
        if with_unit.get(whole.name) not in (None, column):
            proposal.put(column, f"{whole.name}.value", {"column": column, "number": True})
        else:
            _propose_whole(proposal, column, whole, default_language)
        return
    for base, part in _splits(column):
        f = _field_named(definition, base)
        if f is not None:
            _propose_part(proposal, column, f, part)
            return
    if (priced := _price_list_column(definition, column)) is not None:
        _propose_money(proposal, column, *priced)
        return
    proposal.skip(
        column,
        _EXPORT_METADATA.get(column, f"{definition.name} has no field named or titled so"),
    )


def _propose_whole(
    proposal: _Proposal, column: str, f: FieldDefinition, default_language: str
) -> None:
    """A column holding a whole field's value."""
    spec: dict[str, Any] = {"column": column}
    target = f"{f.name}.{default_language}" if f.localized else f.name
    if f.type == FieldType.NUMBER:
        spec["number"] = True
    elif f.price_list:
        target = f"{f.name}.{f.currencies[0]}"
        spec["number"] = True
    elif f.type == FieldType.MONEY:
        target = f"{f.name}.amount"
        spec["number"] = True
        # A money value needs its currency: the first the field allows, else a guess for a
        # human to check.
        currency = f.currencies[0] if f.currencies else "EUR"
        proposal.fields.setdefault(f"{f.name}.currency", {"value": currency})
    elif f.type == FieldType.BOOLEAN:
        spec["boolean"] = True
    elif f.is_list:
        spec["split"] = _list_separator(proposal, column)
    proposal.put(column, target, spec)


def _propose_part(proposal: _Proposal, column: str, f: FieldDefinition, part: str) -> None:
    """A column holding a part of a field: a language, an amount, a currency, a unit."""
    if f.localized:
        _propose_language(proposal, column, f, part)
    elif f.type == FieldType.MONEY:
        _propose_money(proposal, column, f, part)
    elif f.type == FieldType.QUANTITY and part.lower() in ("value", "unit"):
        spec: dict[str, Any] = {"column": column}
        if part.lower() == "value":
            spec["number"] = True
        else:
            spec["unit"] = f.family
        proposal.put(column, f"{f.name}.{part.lower()}", spec)
    else:
        proposal.skip(column, f"{f.name} is a {f.type.value} field, with no part '{part}'")


def _propose_language(proposal: _Proposal, column: str, f: FieldDefinition, part: str) -> None:
    locale = _LOCALE.fullmatch(part)
    if locale is None:
        proposal.skip(column, f"{f.name} is localized, and '{part}' is not a language")
        return
    lang = locale.group("lang").lower()
    if lang not in proposal.languages:
        known = ", ".join(proposal.languages)
        proposal.skip(
            column,
            f"'{lang}' is not one of this hub's languages ({known}); add it to "
            "PIMHUB_LANGUAGES to import this column",
        )
        return
    # Only text fields are localized, and none of them is a list: nothing to split.
    proposal.put(column, f"{f.name}.{lang}", {"column": column})


def _propose_money(proposal: _Proposal, column: str, f: FieldDefinition, part: str) -> None:
    if part.lower() == "amount" and not f.price_list:
        proposal.put(column, f"{f.name}.amount", {"column": column, "number": True})
    elif part.lower() == "currency" and not f.price_list:
        # A currency column replaces the guessed static currency of an amount column.
        if isinstance(proposal.fields.get(f"{f.name}.currency"), dict):
            del proposal.fields[f"{f.name}.currency"]
        proposal.put(column, f"{f.name}.currency", {"column": column})
    elif not _CURRENCY.fullmatch(part):
        proposal.skip(column, f"{f.name} is money, and '{part}' is not a currency")
    elif f.currencies and part.upper() not in f.currencies:
        allowed = ", ".join(f.currencies)
        proposal.skip(column, f"{f.name} takes {allowed}, not {part.upper()}")
    elif f.price_list:
        proposal.put(column, f"{f.name}.{part.upper()}", {"column": column, "number": True})
    elif f"{f.name}.amount" in proposal.sources:
        proposal.skip(
            column,
            f"{f.name} holds one amount in one currency, read from "
            f"'{proposal.sources[f'{f.name}.amount']}'; make it a price list "
            "(docs/classes.md) to keep one amount per currency",
        )
    else:
        proposal.put(column, f"{f.name}.amount", {"column": column, "number": True})
        proposal.fields[f"{f.name}.currency"] = {"value": part.upper()}


def _list_separator(proposal: _Proposal, column: str) -> str:
    """`|` or `,`: what the sampled cells hold, else the convention of the file's kind."""
    cells = [str(r.get(column) or "") for r in proposal.samples]
    if any(PIMHUB_SEPARATOR in c for c in cells):
        return PIMHUB_SEPARATOR
    if any("," in c for c in cells):
        return ","
    return PIMHUB_SEPARATOR if proposal.pimhub_style else ","


def _quantities_with_unit_column(
    definition: ClassDefinition, columns: Iterable[str]
) -> dict[str, str]:
    """The quantity fields whose unit has a column of its own (`weight-unit`), by name: their
    plain column holds a bare number."""
    out: dict[str, str] = {}
    for column in columns:
        for base, part in _splits(column):
            f = _field_named(definition, base)
            if f is not None and f.type == FieldType.QUANTITY and part.lower() == "unit":
                out.setdefault(f.name, column)
    return out


def _splits(column: str) -> list[tuple[str, str]]:
    """(field, part) readings of a column, the longest field name first: `Name (de)`,
    `name.en`, `description-en_US-ecommerce` (tried as description + en_US-ecommerce too)."""
    text = column.strip()
    if len(text) > MAX_SPLIT_COLUMN:
        return []  # each reading costs a pass over the name: a hostile header could hang
    if (paren := re.fullmatch(r"(.+?)\s*\(([^()]+)\)", text)) is not None:
        return [(paren.group(1), paren.group(2).strip())]
    return [
        (text[: m.start()], text[m.end() :])
        for m in reversed(list(_SPLIT_AT.finditer(text)))
        if m.start() > 0 and m.end() < len(text)
    ]


def _field_named(definition: ClassDefinition, name: str) -> FieldDefinition | None:
    wanted = _plain(name)
    for f in definition.fields:
        if _plain(f.name) == wanted or (f.title and _plain(f.title) == wanted):
            return f
    synonym = _SYNONYMS.get(wanted)
    return definition.field(synonym) if synonym else None


def _price_list_column(
    definition: ClassDefinition, column: str
) -> tuple[FieldDefinition, str] | None:
    """A price list's currency column written without a separator: `priceEUR`."""
    for f in definition.fields:
        for currency in f.currencies if f.price_list else ():
            if _plain(column) == _plain(f.name + currency):
                return f, currency
    return None


def _is_pimhub_part(definition: ClassDefinition, column: str) -> bool:
    base, dot, _ = column.partition(".")
    return bool(dot) and definition.field(base) is not None


def _family_target(definition: ClassDefinition, column: str) -> tuple[str, Any] | None:
    """In a class with variants: a `parent` column (Akeneo's, pimhub's export) names a
    variant's parent; Magento's configurable_variations lists a parent's variants."""
    if definition.variants is None:
        return None
    if _plain(column) in ("parent", "@parent"):
        return PARENT_ITEM_KEY, {"column": column}
    if _plain(column) == "configurablevariations":
        return CHILDREN_ITEM_KEY, {"column": column, "variations": "sku"}
    return None


def _plain(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()
