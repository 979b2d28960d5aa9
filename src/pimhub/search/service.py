"""Simple REST search: turns a request's parameters into a search of the index, limited to
what a datahub configuration exposes, and shapes the answer.

Only the configuration's classes and fields appear, and a search never matches on text the
configuration hides: where a class hides its name field or any other text field, matching
leaves out that part of its documents.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from pimhub.access.keys import ApiKey
from pimhub.catalog.channels import LANGUAGE_PATTERN
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, Forbidden, InvalidQuery, NotFound
from pimhub.catalog.fields import FieldType
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.product_view import pick_language
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort
from pimhub.datahub.config import DatahubConfig, ExposedClass
from pimhub.datahub.ports import GraphReads
from pimhub.datahub.service import DatahubService
from pimhub.search.documents import body_fields, name_field, query_tokens
from pimhub.search.ports import Facet, Part, SearchIndex, SearchPage, SearchRequest, TextQuery

# `cursor` is the old name of `after`, deprecated (docs/api.md#paging).
SEARCH_PARAMETERS = ("q", "class", "filter", "sort", "size", "after", "cursor", "facets", "lang")
OBJECT_PARAMETERS = ("class", "lang")
DEFAULT_SIZE = 20
MAX_QUERY_CHARS = 200
# A text search pages by offset, up to here; past it, narrow the search (or list without q,
# which pages by keyset over any number of objects).
MAX_WINDOW = 10_000
MAX_FACETS = 10
FACET_TYPES = frozenset(
    {FieldType.SELECT, FieldType.MULTISELECT, FieldType.BOOLEAN, FieldType.RELATION, FieldType.TEXT}
)
UUID_LENGTH = 36


class NotExposed(NotFound):
    code = "not-found"
    title = "Not found"


def bad(parameter: str, message: str, code: str = "invalid-value") -> InvalidQuery:
    return InvalidQuery(f"{parameter}: {message}", [FieldError(parameter, message, code)])


@dataclass(frozen=True, slots=True)
class Scope:
    """One request's view: the configuration and the exposed classes it searches."""

    config: DatahubConfig
    classes: tuple[tuple[ClassDefinition, ExposedClass], ...]

    def fields(self, definition: ClassDefinition, exposed: ExposedClass) -> frozenset[str]:
        """The exposed fields, less relations to classes the configuration does not expose
        (a class may have gained one since the configuration was checked)."""
        classes = {c.name for c in self.config.classes}
        return frozenset(
            name
            for name in exposed.field_names(definition)
            if (f := definition.field(name)) is not None
            and (f.type != FieldType.RELATION or f.target in classes)
        )


class SimpleSearch:
    def __init__(
        self,
        datahub: DatahubService,
        classes: Callable[[], Sequence[ClassDefinition]],
        index: SearchIndex,
        reads: GraphReads,
        *,
        languages: Sequence[str],
        default_language: str,
    ) -> None:
        self.datahub = datahub
        self.classes = classes
        self.index = index
        self.reads = reads
        self.languages = tuple(languages)
        self.default_language = default_language
        self._configurations: dict[str, tuple[Any, DatahubConfig, dict[str, ClassDefinition]]] = {}

    # -- requests -------------------------------------------------------------------------

    def search(self, config_name: str, key: ApiKey, params: Mapping[str, str]) -> dict[str, Any]:
        _refuse_unknown(params, SEARCH_PARAMETERS)
        scope = self._scope(config_name, key, params.get("class"))
        language = self._language(params.get("lang"))
        single = scope.classes[0] if len(scope.classes) == 1 else None
        resolver = self._resolver(scope, single, params)
        where = FilterParser(resolver).parse(params.get("filter")) if resolver else None
        sort_spec = params.get("sort")
        sort = tuple(parse_sort(resolver, _split(sort_spec))) if resolver and sort_spec else ()
        text = self._text(scope, params.get("q"))
        size = _size(params.get("size"), scope.config.limits.max_page_size)
        fingerprint = _fingerprint(params, language)
        offset, after = _decode(_after(params), fingerprint, text is not None)
        if text is not None and not text.tokens:
            return _answer(0, [], None, {}, fuzzy=False)
        request = SearchRequest(
            class_names=tuple(d.name for d, _ in scope.classes),
            text=text,
            language=language,
            where=where,
            sort=sort,
            size=size,
            offset=offset,
            after=after,
            published_only=not scope.config.drafts,
            facets=self._facets(scope, single, params.get("facets")),
            part_groups=_group_tuples(scope) if text is not None else (),
        )
        page = self.index.search(request)
        cursor = _next_cursor(request, page, fingerprint)
        items, facets = self._render(scope, page, language)
        return _answer(page.total, items, cursor, facets, fuzzy=page.fuzzy if text else None)

    def get_object(
        self, config_name: str, key: ApiKey, ident: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        """The object with uuid or business key `ident` among the exposed classes (or the
        one `class` names)."""
        _refuse_unknown(params, OBJECT_PARAMETERS)
        scope = self._scope(config_name, key, params.get("class"))
        if "\x00" in ident:
            raise NotExposed(f"no object {ident!r} in configuration '{config_name}'")
        language = self._language(params.get("lang"))
        found: list[CatalogObject] = []
        with self.reads.session() as session:
            for definition, _ in scope.classes:
                by_uuid = len(ident) == UUID_LENGTH and ident.count("-") == 4
                obj = session.one(
                    definition.name,
                    id=None,
                    uuid=ident if by_uuid else None,
                    key=None if by_uuid else ident,
                )
                if obj is not None and (obj.published or scope.config.drafts):
                    found.append(obj)
        if not found:
            raise NotExposed(f"no object '{ident}' in configuration '{config_name}'")
        if len(found) > 1:
            names = ", ".join(o.class_name for o in found)
            raise bad("class", f"'{ident}' names objects of {names}; say which class", "ambiguous")
        page = SearchPage(found, 1, None)
        items, _ = self._render(scope, page, language)
        return items[0]

    # -- parameters -----------------------------------------------------------------------

    def _configuration(self, config_name: str) -> tuple[DatahubConfig, dict[str, ClassDefinition]]:
        """The configuration and the class definitions, parsed again only when the
        fingerprint (versions of both) changes: parsing them costs more than a cheap search."""
        fingerprint = self.reads.fingerprint(config_name)
        cached = self._configurations.get(config_name)
        if fingerprint is None or cached is None or cached[0] != fingerprint:
            config = self.datahub.get(config_name)  # raises when there is none
            definitions = {d.name: d for d in self.classes()}
            cached = (fingerprint, config, definitions)
            if fingerprint is not None:
                self._configurations[config_name] = cached
        return cached[1], cached[2]

    def _scope(self, config_name: str, key: ApiKey, class_name: str | None) -> Scope:
        config, definitions = self._configuration(config_name)
        if not key.opens_datahub(config_name):
            raise Forbidden(
                f"the key '{key.name}' may not use datahub configuration '{config_name}'; "
                f"it needs the scope '{config.scope}'"
            )
        exposed = [(definitions[c.name], c) for c in config.classes if c.name in definitions]
        if class_name is not None:
            exposed = [(d, c) for d, c in exposed if d.name == class_name]
            if not exposed:
                names = ", ".join(c.name for c in config.classes)
                raise bad("class", f"'{class_name}' is not one of this configuration's: {names}")
        if not exposed:
            raise NotExposed(f"configuration '{config_name}' exposes no class that exists")
        return Scope(config, tuple(exposed))

    def _language(self, lang: str | None) -> str:
        if lang is None or lang == "":
            return self.default_language
        if self.languages and lang not in self.languages:
            raise bad("lang", f"unknown language '{lang}'; use one of {', '.join(self.languages)}")
        if not LANGUAGE_PATTERN.match(lang):
            raise bad("lang", f"'{lang}' is not a language code such as en or de_CH")
        return lang

    def _resolver(
        self,
        scope: Scope,
        single: tuple[ClassDefinition, ExposedClass] | None,
        params: Mapping[str, str],
    ) -> FieldResolver | None:
        needs = [p for p in ("filter", "sort", "facets") if params.get(p)]
        if not needs:
            return None
        if single is None:
            raise bad(
                needs[0],
                "filters, sorts and facets name fields of one class; add class=<name>",
                "class-required",
            )
        definition, exposed = single
        return FieldResolver(
            definition,
            default_language=self.default_language,
            exposed=scope.fields(definition, exposed),
        )

    def _text(self, scope: Scope, q: str | None) -> TextQuery | None:
        if q is None or not q.strip():
            return None
        if len(q) > MAX_QUERY_CHARS:
            raise bad("q", f"at most {MAX_QUERY_CHARS} characters", "too-large")
        if "\x00" in q:
            raise bad("q", "contains a NUL character")
        groups = _part_groups(scope)
        parts = next(iter(groups)) if len(groups) == 1 else frozenset(Part)
        return TextQuery(q, tuple(query_tokens(q)), parts)

    def _facets(
        self,
        scope: Scope,
        single: tuple[ClassDefinition, ExposedClass] | None,
        raw: str | None,
    ) -> tuple[Facet, ...]:
        if not raw:
            return ()
        names = _split(raw)
        if len(names) > MAX_FACETS:
            raise bad("facets", f"at most {MAX_FACETS} fields", "too-large")
        assert single is not None  # _resolver refused facets without one class
        definition, exposed = single
        visible = scope.fields(definition, exposed)
        facets = []
        for name in names:
            f = definition.field(name)
            if f is None or name not in visible:
                raise bad("facets", f"unknown field '{name}' in {definition.name}", "unknown-field")
            if f.type not in FACET_TYPES or f.localized:
                raise bad(
                    "facets",
                    f"'{name}' is a {'localized ' if f.localized else ''}{f.type.value} field; "
                    "facets count select, multiselect, boolean, relation and plain text fields",
                )
            facets.append(Facet(name, f.is_list, f.type == FieldType.BOOLEAN))
        return tuple(facets)

    # -- answers --------------------------------------------------------------------------

    def _render(
        self, scope: Scope, page: SearchPage, language: str
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        relations = {
            d.name: [f for f in d.relation_fields() if f.name in scope.fields(d, e)]
            for d, e in scope.classes
        }
        wanted = {
            uuid
            for obj in page.objects
            for f in relations.get(obj.class_name, [])
            for uuid in _as_list(obj.values.get(f.name))
        }
        for facet_name in page.facets:
            definition = scope.classes[0][0]
            f = definition.field(facet_name)
            if f is not None and f.type == FieldType.RELATION:
                wanted.update(str(v) for v, _ in page.facets[facet_name])
        targets = self._targets(wanted, scope.config.drafts)
        items = [self._item(scope, obj, language, targets) for obj in page.objects]
        facets = {
            name: _facet_values(scope.classes[0][0], name, values, targets)
            for name, values in page.facets.items()
        }
        return items, facets

    def _targets(self, uuids: set[str], drafts: bool) -> dict[str, CatalogObject]:
        if not uuids:
            return {}
        with self.reads.session() as session:
            found = session.by_uuids(sorted(uuids))
        return {u: o for u, o in found.items() if o.published or drafts}

    def _item(
        self,
        scope: Scope,
        obj: CatalogObject,
        language: str,
        targets: Mapping[str, CatalogObject],
    ) -> dict[str, Any]:
        definition, exposed = next((d, e) for d, e in scope.classes if d.name == obj.class_name)
        fields: dict[str, Any] = {}
        visible = scope.fields(definition, exposed)
        for name in (n for n in exposed.field_names(definition) if n in visible):
            f = definition.field(name)
            value = obj.values.get(name)
            if f is None or value is None:
                continue
            if f.localized:
                value = pick_language(value, language, self.default_language)
            elif f.type == FieldType.RELATION:
                refs = [_ref(targets[u]) for u in _as_list(value) if u in targets]
                value = refs if f.multiple else (refs[0] if refs else None)
            fields[name] = value
        out = obj.to_dict()
        out["fields"] = fields
        return out


def _parts(scope: Scope, definition: ClassDefinition, exposed: ExposedClass) -> frozenset[Part]:
    """The parts of this class's documents a search may match: not the name where the
    configuration hides the name field, no other text where it hides any of it."""
    visible = scope.fields(definition, exposed)
    parts = set(Part)
    named = name_field(definition)
    if named is not None and named.name not in visible:
        parts.discard(Part.NAME)
    if any(f.name not in visible for f in body_fields(definition)):
        parts.discard(Part.BODY)
    return frozenset(parts)


def _part_groups(scope: Scope) -> dict[frozenset[Part], tuple[str, ...]]:
    groups: dict[frozenset[Part], tuple[str, ...]] = {}
    for definition, exposed in scope.classes:
        parts = _parts(scope, definition, exposed)
        groups[parts] = (*groups.get(parts, ()), definition.name)
    return groups


def _group_tuples(scope: Scope) -> tuple[tuple[frozenset[Part], tuple[str, ...]], ...]:
    """Per group of classes that may match the same parts; empty when there is one group."""
    groups = _part_groups(scope)
    return tuple(groups.items()) if len(groups) > 1 else ()


def _ref(target: CatalogObject) -> dict[str, str]:
    return {"class": target.class_name, "key": target.key, "uuid": target.uuid}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _facet_values(
    definition: ClassDefinition,
    name: str,
    values: list[tuple[Any, int]],
    targets: Mapping[str, CatalogObject],
) -> list[dict[str, Any]]:
    f = definition.field(name)
    if f is None or f.type != FieldType.RELATION:
        return [{"value": v, "count": n} for v, n in values]
    return [{"value": targets[v].key, "count": n} for v, n in values if v in targets]


def _answer(
    total: int,
    items: list[dict[str, Any]],
    cursor: str | None,
    facets: dict[str, list[dict[str, Any]]],
    *,
    fuzzy: bool | None,
) -> dict[str, Any]:
    # `cursor`: the old name of nextCursor, deprecated (docs/api.md#paging).
    out: dict[str, Any] = {"total": total, "items": items, "nextCursor": cursor, "cursor": cursor}
    if facets:
        out["facets"] = facets
    if fuzzy is not None:
        out["fuzzy"] = fuzzy
    return out


def _refuse_unknown(params: Mapping[str, str], known: Sequence[str]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InvalidQuery(
            f"unknown parameter(s): {', '.join(unknown)}; this endpoint takes {', '.join(known)}",
            [FieldError(p, "unknown parameter", "unknown-parameter") for p in unknown],
        )


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _size(raw: str | None, maximum: int) -> int:
    if raw is None:
        return min(DEFAULT_SIZE, maximum)
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= maximum:
        raise bad("size", f"must be a whole number from 1 to {maximum}", "out-of-range")
    return int(raw)


def _fingerprint(params: Mapping[str, str], language: str) -> str:
    """What a cursor must have been issued for: the same search."""
    same = [params.get(p, "") for p in ("q", "class", "filter", "sort", "facets")]
    return hashlib.sha1(orjson.dumps([*same, language])).hexdigest()[:12]


def _after(params: Mapping[str, str]) -> tuple[str, str | None]:
    """(the parameter's name, the cursor): `after`, or its deprecated name `cursor`."""
    if "after" in params and "cursor" in params:
        raise bad("cursor", "give the cursor as `after` only (`cursor` is its old name)")
    name = "cursor" if "cursor" in params else "after"
    return name, params.get(name)


def _decode(given: tuple[str, str | None], fingerprint: str, text: bool) -> tuple[int, str | None]:
    """(offset, the index's keyset cursor) from a cursor this API issued for this same
    search; errors name the parameter it came in."""
    name, cursor = given
    if not cursor:
        return 0, None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        issued_for, position = data["f"], data["p"]
    except (ValueError, KeyError, TypeError):
        raise bad(name, "not a cursor this API issued", "invalid-cursor") from None
    if issued_for != fingerprint:
        raise bad(
            name,
            "the cursor belongs to a different search; start again without it",
            "invalid-cursor",
        )
    if text:
        if not isinstance(position, int) or not 0 < position <= MAX_WINDOW:
            raise bad(name, "not a cursor this API issued", "invalid-cursor")
        return position, None
    if not isinstance(position, str):
        raise bad(name, "not a cursor this API issued", "invalid-cursor")
    return 0, position


def _next_cursor(request: SearchRequest, page: SearchPage, fingerprint: str) -> str | None:
    if not page.objects:
        return None
    position: int | str
    if request.text is not None:
        position = request.offset + len(page.objects)
        if position >= page.total or position + 1 > MAX_WINDOW:
            return None
    else:
        if len(page.objects) < request.size or page.cursor_after_last is None:
            return None
        position = page.cursor_after_last
    raw = orjson.dumps({"f": fingerprint, "p": position})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
