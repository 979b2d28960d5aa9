"""The catalog grid's columns: which a class offers, its default choice, and each cell's
text, with the relation targets and assets of a whole page read in one statement each."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape as html_escape
from typing import Any

from markupsafe import Markup, escape

from pimhub.access.keys import Action, ApiKey
from pimhub.assets.model import Asset, asset_url
from pimhub.assets.presets import ThumbnailPreset
from pimhub.assets.thumbnails import RASTER_TYPES
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import ORDERABLE_TYPES, FieldDefinition, FieldType
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.product_view import asset_uuids, pick_language
from pimhub.search.documents import name_field

SYSTEM_COLUMNS = {
    "published": "Published",
    "modifiedAt": "Modified",
    "createdAt": "Created",
    "version": "Version",
}
_SCALARS = (
    FieldType.MONEY,
    FieldType.NUMBER,
    FieldType.QUANTITY,
    FieldType.SELECT,
    FieldType.BOOLEAN,
    FieldType.DATE,
)
MAX_CELL = 80
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s\s|[^\S ]")  # runs of white space, or any but a plain space
_SPECIAL = re.compile(r"[&<>\"']")
# Text that needs neither escaping nor folding: the one search most cells get.
_PLAIN = re.compile(r"(?:[^&<>\"'\s]| (?! ))*")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    title: str
    sort_name: str | None  # what `sort=` names to sort by it; None: it cannot be sorted by
    numeric: bool = False
    field: FieldDefinition | None = None


def columns_of(definition: ClassDefinition) -> dict[str, Column]:
    """Every column the class offers, by name, in the class's order (the key first)."""
    found: dict[str, Column] = {}
    key = definition.key_field
    # Sorted by the indexed business key column rather than the field inside the data.
    found[key.name] = Column(key.name, key.title or key.name, "key", False, key)
    for f in definition.fields:
        if f.name == key.name:
            continue
        sortable = f.type in ORDERABLE_TYPES and not f.is_list and not f.price_list
        numeric = f.type in (FieldType.NUMBER, FieldType.MONEY, FieldType.QUANTITY)
        found[f.name] = Column(f.name, f.title or f.name, f.name if sortable else None, numeric, f)
    for name, title in SYSTEM_COLUMNS.items():
        found[name] = Column(name, title, name, name == "version")
    return found


def filterable(col: Column) -> bool:
    """Whether the filter rows offer the column: what sorts, and single relations (by
    their target's key). Lists (multiselects, several targets) the REST filter cannot
    compare yet."""
    f = col.field
    single_relation = f is not None and f.type == FieldType.RELATION and not f.is_list
    return col.sort_name is not None or single_relation


def default_columns(definition: ClassDefinition) -> tuple[str, ...]:
    """The business key, a thumbnail (the first asset field), the name, a few scalar
    fields, published and modified."""
    chosen = [definition.key_field.name]
    image = next((f for f in definition.fields if f.type == FieldType.ASSET), None)
    if image is not None:
        chosen.append(image.name)
    named = name_field(definition)
    if named is not None and named.name not in chosen:
        chosen.append(named.name)
    scalars = [f.name for f in definition.fields if f.type in _SCALARS and not f.is_list]
    chosen += [n for n in scalars if n not in chosen][:3]
    return (*chosen, "published", "modifiedAt")


def chosen_columns(
    definition: ClassDefinition, wanted: Sequence[str], offered: Mapping[str, Column]
) -> tuple[list[Column], list[str]]:
    """The columns `wanted` names (the key always first) among the `offered` ones, and the
    names it has that the class does not (a saved view older than a class change), which
    are left out."""
    names = list(dict.fromkeys(wanted or default_columns(definition)))
    key = definition.key_field.name
    unknown = [n for n in names if n not in offered]
    names = [key] + [n for n in names if n in offered and n != key]
    return [offered[n] for n in names], unknown


@dataclass(frozen=True, slots=True)
class Lookups:
    """What a page's cells show of other records: target keys and assets, by uuid."""

    keys: Mapping[str, str]
    assets: Mapping[str, Asset]
    thumbnail: ThumbnailPreset | None
    language: str


def wanted_uuids(
    objs: Iterable[CatalogObject], columns: Sequence[Column]
) -> tuple[list[str], list[str]]:
    """(relation target uuids, asset uuids) the page's chosen columns show."""
    relations: list[str] = []
    assets: list[str] = []
    linked = [
        (col.field.name, col.field.type == FieldType.ASSET)
        for col in columns
        if col.field is not None and col.field.type in (FieldType.RELATION, FieldType.ASSET)
    ]
    for obj in objs:
        values = obj.values
        for name, is_asset in linked:
            value = values.get(name)
            if value is None:
                continue
            found = asset_uuids([value])
            if is_asset:
                assets += found[:1]  # a gallery shows its first picture
            else:
                relations += found
    return list(dict.fromkeys(relations)), list(dict.fromkeys(assets))


def visible_keys(principal: ApiKey, targets: Mapping[str, CatalogObject]) -> dict[str, str]:
    """uuid -> business key of the targets the user may see."""
    return {
        uuid: obj.key
        for uuid, obj in targets.items()
        if principal.allows(Action.READ, obj.class_name)
        and (obj.published or principal.allows(Action.READ_DRAFTS, obj.class_name))
    }


Render = Callable[[CatalogObject], str]


def row_renderers(columns: Sequence[Column], lookups: Lookups) -> list[Render]:
    """Per column after the key, a function from an object to its cell's HTML. Chosen once
    per page, not per cell: a page has hundreds of cells, and this is the grid's hot path."""
    return [_renderer(col, lookups) for col in columns[1:]]


def row_html(obj: CatalogObject, href: str, renderers: Sequence[Render]) -> Markup:
    """A row's cells: the key as a link, then each column's cell."""
    key = f'<td class="key"><a href="{cell_text(href)}">{cell_text(obj.key)}</a></td>'
    return Markup(key + "".join([render(obj) for render in renderers]))


def cell_text(text: str) -> str:
    """`text` escaped for HTML; most cells need no escaping, and one search says so."""
    return html_escape(text) if _SPECIAL.search(text) else text


# A picture cell keeps a thumbnail's height, with or without one, so rows line up.
_NO_PICTURE = '<td class="pic"><span class="thumb-none"></span></td>'
_PUBLISHED = '<td><span class="badge ok">Published</span></td>'
_DRAFT = '<td><span class="badge warn">Draft</span></td>'


def _renderer(col: Column, lookups: Lookups) -> Render:
    f = col.field
    if f is None:
        return _system_renderer(col.name)
    name = f.name
    if f.type == FieldType.ASSET:
        return lambda obj: _asset(obj.values.get(name), lookups)
    if f.type == FieldType.RELATION:
        keys = lookups.keys

        def related(obj: CatalogObject) -> str:
            refs = asset_uuids([obj.values.get(name)])  # a uuid or a list of them
            return f"<td>{escape(', '.join(keys[u] for u in refs if u in keys))}</td>"

        return related
    start = '<td class="num">' if col.numeric else "<td>"
    empty = start + "</td>"
    as_text = _formatter(f, lookups.language)
    plain, max_cell = _PLAIN.fullmatch, MAX_CELL

    def text(obj: CatalogObject) -> str:
        value = obj.values.get(name)
        if value is None:
            return empty
        shown = as_text(value)
        if len(shown) <= max_cell and plain(shown):
            return f"{start}{shown}</td>"
        return f"{start}{html_escape(_short(shown))}</td>"

    return text


def _formatter(f: FieldDefinition, language: str) -> Callable[[Any], str]:
    """A field's value as text, its type's common shape handled first: this runs per cell."""
    if f.localized:
        verbatim = f.type not in (FieldType.RICH_TEXT, FieldType.BOOLEAN)

        def localized(value: Any) -> str:
            if verbatim and type(value) is dict and type(found := value.get(language)) is str:
                return found
            return _text(f, pick_language(value, language, language))

        return localized
    if f.type == FieldType.MONEY and f.decimals and not f.price_list:
        spec = f".{f.decimals}f"

        def money(value: Any) -> str:
            if type(value) is dict:
                amount = value.get("amount")
                if type(amount) is float or type(amount) is int:
                    currency = value.get("currency")
                    shown = format(amount, spec)
                    return f"{shown} {currency}" if type(currency) is str and currency else shown
            return _text(f, value)

        return money
    if f.type == FieldType.NUMBER:
        return lambda value: str(value) if type(value) is int else _text(f, value)
    return lambda value: _text(f, value)


def _system_renderer(name: str) -> Render:
    if name == "published":
        return lambda obj: _PUBLISHED if obj.published else _DRAFT
    if name == "version":
        return lambda obj: f'<td class="num">{obj.version}</td>'
    if name == "modifiedAt":
        return lambda obj: f'<td class="when">{_minute(obj.modified_at)}</td>'
    return lambda obj: f'<td class="when">{_minute(obj.created_at)}</td>'


def _minute(moment: datetime) -> str:
    """To the minute, in UTC and saying so: the hub stores UTC, the reader may be anywhere."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.isoformat(sep=" ", timespec="minutes")[:16] + " UTC"


def _text(f: FieldDefinition, value: Any) -> str:
    if f.type == FieldType.MONEY and isinstance(value, dict):
        if "amount" in value:
            return f"{_amount(f, value.get('amount'))} {value.get('currency') or ''}".strip()
        return ", ".join(f"{_amount(f, amount)} {currency}" for currency, amount in value.items())
    if f.type == FieldType.QUANTITY and isinstance(value, dict):
        return f"{value.get('value')} {value.get('unit') or ''}".strip()
    if f.type == FieldType.BOOLEAN:
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if f.type == FieldType.RICH_TEXT:
        return _TAG.sub(" ", str(value))
    return str(value)


def _amount(f: FieldDefinition, amount: Any) -> str:
    """19.9 as 19.90 where the field has two decimals."""
    if f.decimals and isinstance(amount, int | float) and not isinstance(amount, bool):
        return f"{amount:.{f.decimals}f}"
    return str(amount)


def _short(text: str) -> str:
    if len(text) <= MAX_CELL and not _SPACES.search(text):
        return text  # most cells: nothing to fold or cut
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _asset(value: Any, lookups: Lookups) -> str:
    found = asset_uuids([value])
    asset = lookups.assets.get(found[0]) if found else None
    if asset is None:
        return _NO_PICTURE
    alt = asset.metadata.get("alt")
    alt_text = pick_language(alt, lookups.language, lookups.language) if alt else None
    label = str(alt_text or asset.filename)
    if asset.mimetype in RASTER_TYPES and lookups.thumbnail is not None:
        src = asset_url("", asset, lookups.thumbnail)
        return (
            f'<td class="pic"><img class="thumb" src="{escape(src)}" alt="{escape(label)}"'
            ' loading="lazy"></td>'
        )
    return f'<td class="pic">{escape(asset.filename)}</td>'
