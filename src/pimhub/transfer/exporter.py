"""Export: the objects of a class, filtered, streamed page by page to CSV, JSON Lines or XML.

Relations are written as their targets' business keys, localized fields as one column per
language (or the one asked for), money as amount and currency (a price list as one column per
currency: price.EUR), a quantity as value and unit (weight.value, weight.unit), lists joined
with `|` in CSV and XML, so an export reads back in through a mapping.

In a class with variants a variant names its parent's key (a `parent` column, a JSON `parent`
key, an XML `parent` attribute), and parents come before variants, so an import that maps
the column to `@parent` finds each parent already written. The Magento format lists them the
other way round, as Magento does: simple products first, then the configurable ones that
list them in `configurable_variations`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.catalog.objects import CatalogObject, iso
from pimhub.catalog.product_view import pick_language
from pimhub.catalog.service import CatalogService, ListQuery
from pimhub.catalog.variants import FamilyRole
from pimhub.datahub.ports import GraphReads
from pimhub.transfer.magento_csv import MagentoCsv, category_paths

PAGE = 1000
LIST_SEPARATOR = "|"
PARENT_COLUMN = "parent"  # a variant's parent's key, in classes with variants


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    XML = "xml"
    MAGENTO = "magento-csv"  # Magento 2's catalog product import CSV (Product only)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    format: ExportFormat = ExportFormat.CSV
    filter: str | None = None
    fields: tuple[str, ...] | None = None  # None: every field
    language: str | None = None  # None: every configured language, one column each
    drafts: bool = False
    delimiter: str | None = None  # CSV only; None: a comma


DELIMITER_RULE = "one character, not a quote, a line break or NUL"


def delimiter_problem(given: str) -> str | None:
    """Why `given` cannot delimit CSV, read or written, or None when it can. A backslash can:
    the csv module has no escape character unless one is set, so it is plain text."""
    return DELIMITER_RULE if len(given) != 1 or given in '"\r\n\0' else None


def check_delimiter(options: ExportOptions) -> None:
    """Refuses a delimiter that would make the file unreadable (a quote, a line break, NUL,
    more than one character) or one given for a format without delimiters."""
    given = options.delimiter
    if given is None:
        return
    if options.format != ExportFormat.CSV:
        problem: str | None = f"applies to the csv format, not {options.format.value}"
    else:
        problem = delimiter_problem(given)
    if problem is None:
        return
    raise InvalidQuery(
        f"{given!r} cannot delimit this export", [FieldError("delimiter", problem, "invalid-value")]
    )


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    field: FieldDefinition
    part: str | None  # a language, "amount" or "currency"


def columns(
    definition: ClassDefinition, options: ExportOptions, languages: Sequence[str]
) -> list[Column]:
    wanted = options.fields or tuple(definition.field_names)
    unknown = [
        n
        for n in wanted
        if definition.field(n) is None and n != parent_column(definition, options.fields)
    ]
    if unknown:
        raise InvalidQuery(
            f"{definition.name} has no field(s) {', '.join(unknown)}",
            [FieldError("fields", f"unknown field '{n}'", "unknown-field") for n in unknown],
        )
    out: list[Column] = []
    for name in wanted:
        f = definition.field(name)
        if f is None:
            continue  # the parent column, written apart
        if f.localized and options.language is None:
            out.extend(Column(f"{name}.{lang}", f, lang) for lang in languages)
        elif f.localized:
            out.append(Column(name, f, options.language))
        elif f.price_list:
            out.extend(Column(f"{name}.{c}", f, c) for c in f.currencies)
        elif f.type == FieldType.MONEY:
            out.extend(Column(f"{name}.{p}", f, p) for p in ("amount", "currency"))
        elif f.type == FieldType.QUANTITY:
            out.extend(Column(f"{name}.{p}", f, p) for p in ("value", "unit"))
        else:
            out.append(Column(name, f, None))
    return out


def parent_column(definition: ClassDefinition, fields: Sequence[str] | None) -> str | None:
    """The column naming a variant's parent: in a class with variants, exported with all
    fields or when `fields` names it; '@parent' if the class has a field called parent."""
    if definition.variants is None:
        return None
    name = PARENT_COLUMN if definition.field(PARENT_COLUMN) is None else "@parent"
    return name if fields is None or name in fields else None


def published_column(definition: ClassDefinition) -> str:
    """The CSV column of the published flag (written with drafts only: without them every
    object exported is published, and the file stays as it always was): `published`, or
    `@published` in a class with a field of that name."""
    return "@published" if definition.field("published") is not None else "published"


def export(
    catalog: CatalogService,
    reads: GraphReads,
    definition: ClassDefinition,
    options: ExportOptions,
    out: IO[str],
    *,
    languages: Sequence[str],
    default_language: str = "en",
) -> int:
    """Writes every matching object to `out`; the number written."""
    check_delimiter(options)
    cols = columns(definition, options, languages)
    if options.format == ExportFormat.MAGENTO:
        writer: Any = _magento_writer(catalog, definition, out, default_language)
    else:
        parent = parent_column(definition, options.fields)
        extra: dict[str, Any] = {}
        if options.delimiter is not None:
            extra["delimiter"] = options.delimiter
        if options.format == ExportFormat.CSV and options.drafts:
            extra["published"] = published_column(definition)
        writer = _WRITERS[options.format](out, definition, cols, parent, **extra)
    count = 0
    for role in _family_order(definition, options.format):
        for obj, keys in _objects(catalog, reads, definition, options, role):
            writer.write(obj, keys, options.language)
            count += 1
    writer.close()
    return count


def _magento_writer(
    catalog: CatalogService, definition: ClassDefinition, out: IO[str], language: str
) -> MagentoCsv:
    if definition.name != "Product" or definition.field("sku") is None:
        raise InvalidQuery(
            "the Magento format exports the commerce model's Product class",
            [FieldError("format", f"not for {definition.name}", "invalid-value")],
        )
    categories: list[CatalogObject] = []
    after: str | None = None
    while True:
        page = catalog.list_objects(
            "Category", ListQuery(first=PAGE, after=after, include_drafts=True)
        )
        categories.extend(page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    axes = definition.variants.axes if definition.variants is not None else ()
    return MagentoCsv(out, category_paths(categories, language), language, axes)


def _family_order(definition: ClassDefinition, fmt: ExportFormat) -> list[FamilyRole | None]:
    """The listings an export writes one after the other (None: every object)."""
    if definition.variants is None:
        return [None]
    if fmt == ExportFormat.MAGENTO:
        return [FamilyRole.STANDALONE, FamilyRole.VARIANTS, FamilyRole.PARENTS]
    return [FamilyRole.PARENTS, FamilyRole.STANDALONE, FamilyRole.VARIANTS]


def _objects(
    catalog: CatalogService,
    reads: GraphReads,
    definition: ClassDefinition,
    options: ExportOptions,
    role: FamilyRole | None = None,
) -> Iterator[tuple[CatalogObject, dict[str, str]]]:
    """The objects in `role` with the keys of what they refer to (relation targets, and
    the parents of variants) by uuid."""
    after: str | None = None
    relations = definition.relation_fields()
    while True:
        page = catalog.list_objects(
            definition.name,
            ListQuery(
                filter=options.filter,
                first=PAGE,
                after=after,
                include_drafts=options.drafts,
                family=role,
            ),
        )
        uuids = {
            u for obj in page.items for f in relations for u in _as_list(obj.values.get(f.name))
        }
        keys: dict[str, str] = {}
        if uuids:
            with reads.session() as session:
                keys = {u: o.key for u, o in session.by_uuids(sorted(uuids)).items()}
        if role == FamilyRole.VARIANTS:
            keys.update(catalog.parent_keys(page.items))
        keys.update(_asset_paths(catalog, definition, page.items))
        for obj in page.items:
            yield obj, keys
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _asset_paths(
    catalog: CatalogService, definition: ClassDefinition, objs: list[CatalogObject]
) -> dict[str, str]:
    """The paths of the assets `objs` use, by uuid: an export names assets as an import
    takes them, by path."""
    fields = [f.name for f in definition.fields if f.type == FieldType.ASSET]
    uuids = {u for obj in objs for f in fields for u in _as_list(obj.values.get(f))}
    if not uuids:
        return {}
    with catalog.uow() as uow:
        return {u: a.path for u, a in uow.assets.get_many(sorted(uuids)).items()}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _value(col: Column, obj: CatalogObject, keys: dict[str, str]) -> Any:
    value = obj.values.get(col.field.name)
    if value is None:
        return None
    if col.field.localized:
        return value.get(col.part) if isinstance(value, dict) else value
    if col.field.type in (FieldType.MONEY, FieldType.QUANTITY):
        return value.get(col.part) if isinstance(value, dict) else None
    if col.field.type in (FieldType.RELATION, FieldType.ASSET):
        return _targets(col.field, value, keys)
    return value


def _targets(f: FieldDefinition, value: Any, keys: dict[str, str]) -> Any:
    """Relation targets by business key, assets by path."""
    found = [keys[u] for u in _as_list(value) if u in keys]
    return found if f.multiple else next(iter(found), None)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(_cell(v) for v in value)
    return str(value)


def _parent_key(obj: CatalogObject, keys: dict[str, str]) -> str | None:
    return keys.get(obj.parent) if obj.parent is not None else None


class _Csv:
    def __init__(
        self,
        out: IO[str],
        definition: ClassDefinition,
        cols: list[Column],
        parent: str | None,
        delimiter: str = ",",
        published: str | None = None,
    ) -> None:
        self.cols = cols
        self.parent = parent
        self.published = published
        self.writer = csv.writer(out, delimiter=delimiter)
        extra = [name for name in (parent, published) if name]
        self.writer.writerow([c.name for c in cols] + extra)

    def write(self, obj: CatalogObject, keys: dict[str, str], language: str | None) -> None:
        row = [_cell(_value(c, obj, keys)) for c in self.cols]
        if self.parent:
            row.append(_cell(_parent_key(obj, keys)))
        if self.published:
            row.append(_cell(obj.published))  # 1 or 0, as the XML attribute
        self.writer.writerow(row)

    def close(self) -> None:
        pass


class _Jsonl:
    def __init__(
        self, out: IO[str], definition: ClassDefinition, cols: list[Column], parent: str | None
    ) -> None:
        self.out = out
        self.names = list(dict.fromkeys(c.field.name for c in cols))
        self.definition = definition
        self.parent = parent

    def write(self, obj: CatalogObject, keys: dict[str, str], language: str | None) -> None:
        fields: dict[str, Any] = {}
        for name in self.names:
            f = self.definition.field(name)
            value = obj.values.get(name)
            if f is None or value is None:
                continue
            if f.type in (FieldType.RELATION, FieldType.ASSET):
                value = _targets(f, value, keys)
            elif f.localized and language is not None:
                value = pick_language(value, language, language)
            fields[name] = value
        line = {
            "uuid": obj.uuid,
            "class": obj.class_name,
            "key": obj.key,
            **({"parent": _parent_key(obj, keys)} if self.parent else {}),
            "published": obj.published,
            "version": obj.version,
            "modifiedAt": iso(obj.modified_at),
            "fields": fields,
        }
        self.out.write(orjson.dumps(line).decode() + "\n")

    def close(self) -> None:
        pass


class _Xml:
    def __init__(
        self, out: IO[str], definition: ClassDefinition, cols: list[Column], parent: str | None
    ) -> None:
        self.out = out
        self.cols = cols
        self.parent = parent
        self.tag = definition.name.lower()
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.tag}s>\n')

    def write(self, obj: CatalogObject, keys: dict[str, str], language: str | None) -> None:
        parent = _parent_key(obj, keys) if self.parent else None
        family = f" parent={quoteattr(parent)}" if parent else ""
        parts = [
            f"  <{self.tag} uuid={quoteattr(obj.uuid)}{family} "
            f"published={quoteattr(_cell(obj.published))}>"
        ]
        for c in self.cols:
            value = _value(c, obj, keys)
            if value is not None:
                parts.append(f"    <{c.name}>{escape(_cell(value))}</{c.name}>")
        parts.append(f"  </{self.tag}>\n")
        self.out.write("\n".join(parts))

    def close(self) -> None:
        self.out.write(f"</{self.tag}s>\n")


_WRITERS: dict[ExportFormat, Any] = {
    ExportFormat.CSV: _Csv,
    ExportFormat.JSONL: _Jsonl,
    ExportFormat.XML: _Xml,
}
