"""What the editor pages share: object addresses, the language shown, permissions, and
reading references (relation targets by key and label, assets by path and thumbnail)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from pimhub.access.keys import Action, ApiKey
from pimhub.admin.editor_fields import Refs
from pimhub.admin.web import blocking, hub_of, url
from pimhub.assets.model import asset_url
from pimhub.assets.presets import parse_presets
from pimhub.assets.thumbnails import RASTER_TYPES
from pimhub.bootstrap import Hub
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.fields import FieldType
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.product_view import pick_language
from pimhub.catalog.service import ListQuery
from pimhub.search.documents import name_field

# The words that end an object's address; a business key may hold '/', but not these as a
# whole segment, or its address would be ambiguous.
ACTIONS = ("versions", "publish", "unpublish", "delete", "transitions")


class ObjectKeyConvertor(Convertor[str]):
    """A business key in a path: anything (slashes too) up to one of the action words."""

    regex = r"(?:(?!/(?:" + "|".join(ACTIONS) + r")(?:/|$)).)+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("objkey", ObjectKeyConvertor())


def object_path(class_name: str, key: str, suffix: str = "") -> str:
    """The editor's address of an object (key percent-encoded: ' ', '/', '%', '?' ...)."""
    return url(f"/objects/{quote(class_name, safe='')}/{quote(key, safe='')}{suffix}")


def when(moment: datetime) -> str:
    """A time as people read it in a list: to the second, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def with_lang(path: str, lang: str, default: str) -> str:
    return path if lang == default else f"{path}?{urlencode({'lang': lang})}"


def language(request: Request, given: str | None) -> str:
    """The language the editor shows localized fields in: `given` when configured."""
    hub = hub_of(request)
    languages = hub.settings.languages
    return given if given in languages else hub.settings.default_language


def version_number(raw: object, name: str = "version") -> int:
    """A version number from a form or path; InvalidInput (4xx) when it is none."""
    text = raw if isinstance(raw, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise InvalidInput(
            f"{name} must be a version number", [FieldError(name, f"got {text[:20]!r}")]
        )
    return int(text)


@dataclass(frozen=True, slots=True)
class Rights:
    read_drafts: bool
    write: bool
    delete: bool

    @classmethod
    def of(cls, principal: ApiKey, class_name: str) -> Rights:
        return cls(
            read_drafts=principal.allows(Action.READ_DRAFTS, class_name),
            write=principal.allows(Action.WRITE, class_name),
            delete=principal.allows(Action.DELETE, class_name),
        )


def label_of(definition: ClassDefinition | None, values: Mapping[str, Any], lang: str) -> str:
    named = name_field(definition) if definition is not None else None
    if named is None:
        return ""
    value = pick_language(values.get(named.name), lang, "en")
    return value if isinstance(value, str) else ""


def _uuids(definition: ClassDefinition, values: Mapping[str, Any], kind: FieldType) -> set[str]:
    found: set[str] = set()
    for f in definition.fields:
        if f.type != kind:
            continue
        value = values.get(f.name)
        found.update(str(v) for v in (value if isinstance(value, list) else [value]) if v)
    return found


async def read_refs(
    hub: Hub, definition: ClassDefinition, all_values: Iterable[Mapping[str, Any]], lang: str
) -> Refs:
    """The keys, labels, paths and thumbnails of everything the values refer to."""
    values = list(all_values)
    refs = Refs()
    targets = set().union(*(_uuids(definition, v, FieldType.RELATION) for v in values))
    assets = set().union(*(_uuids(definition, v, FieldType.ASSET) for v in values))
    if targets:
        objs = await blocking(hub.catalog.objects_by_uuids, sorted(targets))
        classes = {c.name: c for c in await blocking(hub.classes.all)}
        for uuid, obj in objs.items():
            refs.keys[uuid] = obj.key
            refs.labels[obj.key] = label_of(classes.get(obj.class_name), obj.values, lang)
    if assets:
        found = await blocking(hub.assets.get_many, sorted(assets))
        preset = parse_presets(hub.settings.assets_thumbnails).get("thumbnail")
        for uuid, asset in found.items():
            refs.paths[uuid] = asset.path
            if preset is not None and asset.mimetype in RASTER_TYPES:
                refs.thumbnails[asset.path] = asset_url("", asset, preset)
    return refs


MAX_VARIANTS_SHOWN = 100


@dataclass(slots=True)
class Family:
    """An object's place in a family: a variant's parent, or a parent's variants (key,
    editor address, axis values as text, published), and whether it may have variants."""

    parent_key: str | None = None
    parent_href: str = ""
    variants: list[tuple[str, str, str, bool]] | None = None
    more: bool = False
    may_have_variants: bool = False


async def read_family(
    hub: Hub, definition: ClassDefinition, obj: CatalogObject, include_drafts: bool
) -> Family:
    rules = definition.variants
    if rules is None:
        return Family()
    if obj.parent is not None:
        keys = await blocking(hub.catalog.parent_keys, [obj])
        key = keys.get(obj.parent, obj.parent)
        return Family(parent_key=key, parent_href=object_path(definition.name, key))
    query = ListQuery(
        sort=["key"],
        first=MAX_VARIANTS_SHOWN,
        include_drafts=include_drafts,
        parent=obj.key,
        count=False,
    )
    page = await blocking(hub.catalog.list_objects, definition.name, query)
    variants = [
        (
            child.key,
            object_path(definition.name, child.key),
            ", ".join(str(child.values[a]) for a in rules.axes if a in child.values),
            child.published,
        )
        for child in page.items
    ]
    return Family(variants=variants, more=page.next_cursor is not None, may_have_variants=True)
