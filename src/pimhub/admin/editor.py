"""The object editor: /objects/{class}/{key} shows an object's fields as a form generated
from its class and saves changes; /new/{class} creates one.

A save sends only the fields the user changed, with the version the form was drawn from,
through CatalogService.patch: a newer version saved meanwhile is never overwritten. The
form comes back (409) with the user's input, the other writer's changes taken over where
the user left a field alone, and both values shown where both changed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin import editor_actions, lookup
from pimhub.admin.editor_fields import (
    Raw,
    Refs,
    display,
    errors_by_field,
    inputs_for,
    problems_of,
    raw_from_form,
    raw_of,
    value_of,
)
from pimhub.admin.editor_view import (
    Rights,
    language,
    object_path,
    read_family,
    read_refs,
    version_number,
    when,
    with_lang,
)
from pimhub.admin.web import (
    author_of,
    blocking,
    checked_form,
    form_status,
    hub_of,
    principal_of,
    render,
    see_other,
    text_field,
)
from pimhub.api.auth import require
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import (
    CatalogError,
    Conflict,
    FieldError,
    InvalidInput,
    StaleVersion,
    VersionNotFound,
)
from pimhub.catalog.fields import FieldType
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.transitions import open_transitions


async def _load(request: Request, class_name: str, key: str) -> tuple[ClassDefinition, Any]:
    hub = hub_of(request)
    principal = principal_of(request)
    require(principal, Action.READ, class_name)
    definition = await blocking(hub.classes.get, class_name)
    obj = await blocking(
        hub.catalog.get_object,
        class_name,
        key,
        include_drafts=principal.allows(Action.READ_DRAFTS, class_name),
    )
    return definition, obj


def _raws(
    definition: ClassDefinition, values: Mapping[str, Any], lang: str, refs: Refs
) -> dict[str, Raw]:
    return {f.name: raw_of(f, values.get(f.name), lang, refs) for f in definition.fields}


async def show(request: Request) -> Response:
    class_name = request.path_params["class_name"]
    key = request.path_params["key"]
    definition, obj = await _load(request, class_name, key)
    lang = language(request, request.query_params.get("lang"))
    refs = await read_refs(hub_of(request), definition, [obj.values], lang)
    # A variant's form holds its own values; what it inherits shows in the hints, so an
    # inherited field left alone is never copied into it.
    own = obj.own_values
    return await _page(request, definition, obj, _raws(definition, own, lang, refs), lang)


async def _page(
    request: Request,
    definition: ClassDefinition,
    obj: CatalogObject,
    raws: dict[str, Raw],
    lang: str,
    *,
    errors: list[FieldError] | None = None,
    conflict: dict[str, Any] | None = None,
    theirs: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    hub = hub_of(request)
    principal = principal_of(request)
    rights = Rights.of(principal, definition.name)
    refs = await read_refs(hub, definition, [obj.values], lang)
    inputs = inputs_for(
        definition, raws, lang, refs, errors_by_field(definition, errors or []), with_key=False
    )
    include = principal.allows(Action.READ_DRAFTS, definition.name)
    family = await read_family(hub, definition, obj, include)
    for item in inputs:
        item.theirs = (theirs or {}).get(item.field.name)
        name = item.field.name
        if name in obj.inherited:
            value = obj.values.get(name)
            shown = (
                ("yes" if value else "no")
                if item.field.type == FieldType.BOOLEAN
                else display(raw_of(item.field, value, lang, refs))
            )
            inherited = f"inherited from {family.parent_key}: {shown}; a value here overrides it"
            item.hint = "; ".join(p for p in (inherited, item.hint) if p)
    workflow = definition.workflow
    transitions = (
        open_transitions(
            workflow, obj.workflow_state, lambda s: principal.may_run(s, definition.name)
        )
        if workflow is not None
        else []
    )
    base = object_path(definition.name, obj.key)
    default = hub.settings.default_language
    context = {
        "definition": definition,
        "obj": obj,
        "inputs": inputs,
        "key_label": definition.key_field.title or definition.business_key,
        "lang": lang,
        "languages": [(code, with_lang(base, code, default)) for code in hub.settings.languages],
        "rights": rights,
        "creating": False,
        "action": with_lang(base, lang, default),
        "base": base,
        "errors": problems_of(definition, errors or []),
        "conflict": conflict,
        "transitions": [workflow.transition(t) for t in transitions] if workflow else [],
        "state": workflow.state(obj.workflow_state) if workflow and obj.workflow_state else None,
        "publishing": [t.name for t in workflow.publishing()] if workflow else [],
        "modified": when(obj.modified_at),
        "family": family,
        "inherited": [item.label for item in inputs if item.field.name in obj.inherited],
        "new_variant": f"/admin/new/{definition.name}?{urlencode({'parent': obj.key})}",
    }
    return render(request, "object_editor.html", context, status=status)


async def save(request: Request) -> Response:
    form = await checked_form(request)
    class_name = request.path_params["class_name"]
    key = request.path_params["key"]
    hub = hub_of(request)
    require(principal_of(request), Action.WRITE, class_name)
    definition, obj = await _load(request, class_name, key)
    lang = language(request, text_field(form, "lang"))
    expected = version_number(form.get("version"))
    refs = await read_refs(hub, definition, [obj.values], lang)
    current = _raws(definition, obj.own_values, lang, refs)
    mine = {
        f.name: raw_from_form(f, form)
        for f in definition.fields
        if f.name != definition.business_key
    }
    mine[definition.business_key] = current[definition.business_key]
    if expected != obj.version:
        return await _conflict(request, definition, obj, mine, expected, lang)
    problems: list[FieldError] = []
    changes = {
        f.name: value_of(f, mine[f.name], lang, problems)
        for f in definition.fields
        if mine[f.name] != current[f.name]
    }
    if problems:
        return await _invalid(request, definition, obj, mine, lang, problems)
    if not changes:
        return see_other(
            with_lang(object_path(class_name, key), lang, hub.settings.default_language),
            "No changes to save.",
        )
    try:
        result = await blocking(
            hub.catalog.patch,
            class_name,
            key,
            changes,
            expected_version=expected,
            author=author_of(request),
        )
    except StaleVersion:
        _, fresh = await _load(request, class_name, key)
        return await _conflict(request, definition, fresh, mine, expected, lang)
    except (InvalidInput, Conflict) as exc:
        if not exc.errors:
            raise
        return await _invalid(request, definition, obj, mine, lang, exc.errors, exc)
    saved = result.object
    message = f"Saved as version {saved.version}." if result.changed else "No changes to save."
    return see_other(
        with_lang(object_path(class_name, saved.key), lang, hub.settings.default_language), message
    )


async def _invalid(
    request: Request,
    definition: ClassDefinition,
    obj: CatalogObject,
    mine: dict[str, Raw],
    lang: str,
    errors: list[FieldError],
    exc: CatalogError | None = None,
) -> Response:
    status = form_status(exc) if exc is not None else 422
    return await _page(request, definition, obj, mine, lang, errors=errors, status=status)


async def _conflict(
    request: Request,
    definition: ClassDefinition,
    fresh: CatalogObject,
    mine: dict[str, Raw],
    expected: int,
    lang: str,
) -> Response:
    """The form again with the user's input, merged with what was saved since `expected`:
    a field the user left as it was takes the newer value; one both changed keeps the
    user's input with the newer value beside it."""
    hub = hub_of(request)
    include = principal_of(request).allows(Action.READ_DRAFTS, definition.name)
    try:
        base_version, _ = await blocking(
            hub.catalog.version_diff, definition.name, fresh.key, expected, include_drafts=include
        )
        base_values: Mapping[str, Any] | None = base_version.values
    except VersionNotFound:
        base_values = None
    versions = await blocking(
        hub.catalog.list_versions, definition.name, fresh.key, include_drafts=include
    )
    latest = versions[0] if versions else None
    values_seen = [fresh.values] + ([base_values] if base_values is not None else [])
    refs = await read_refs(hub, definition, values_seen, lang)
    theirs = _raws(definition, fresh.own_values, lang, refs)
    if base_values is not None:  # a version holds effective values; the form, own ones
        base_values = {k: v for k, v in base_values.items() if k not in fresh.inherited}
    base = _raws(definition, base_values, lang, refs) if base_values is not None else None
    merged: dict[str, Raw] = {}
    differing: dict[str, str] = {}
    for f in definition.fields:
        name = f.name
        if base is not None and mine[name] == base[name]:
            merged[name] = theirs[name]
        else:
            merged[name] = mine[name]
            # "Now stored" only where the other writer changed the field as well: one only
            # this user changed still holds the value the form was drawn from.
            theirs_changed = base is None or theirs[name] != base[name]
            if theirs_changed and mine[name] != theirs[name]:
                differing[name] = display(theirs[name])
    conflict = {
        "author": latest.author if latest else "someone",
        "version": fresh.version,
        "at": when(latest.created_at if latest else fresh.modified_at),
        "expected": expected,
        "taken": [
            f.title or f.name
            for f in definition.fields
            if base is not None and mine[f.name] == base[f.name] != theirs[f.name]
        ],
    }
    return await _page(
        request, definition, fresh, merged, lang, conflict=conflict, theirs=differing, status=409
    )


# -- creating -------------------------------------------------------------------------------


MAX_KEY = 1000


async def new_form(request: Request) -> Response:
    class_name = request.path_params["class_name"]
    require(principal_of(request), Action.WRITE, class_name)
    definition = await blocking(hub_of(request).classes.get, class_name)
    lang = language(request, request.query_params.get("lang"))
    parent = (request.query_params.get("parent") or "").replace("\x00", "")[:MAX_KEY]
    if parent and definition.variants is not None:
        principal = principal_of(request)
        include = principal.allows(Action.READ_DRAFTS, class_name)
        # An unknown parent is the 404 page here rather than a refusal after typing.
        parent = (
            await blocking(
                hub_of(request).catalog.get_object, class_name, parent, include_drafts=include
            )
        ).key
    else:
        parent = ""
    raws = {f.name: raw_of(f, None, lang, _no_refs()) for f in definition.fields}
    return _new_page(request, definition, raws, lang, [], published=False, parent=parent)


def _no_refs() -> Refs:
    return Refs()


def _new_page(
    request: Request,
    definition: ClassDefinition,
    raws: dict[str, Raw],
    lang: str,
    errors: list[FieldError],
    *,
    published: bool,
    parent: str = "",
    status: int = 200,
) -> Response:
    hub = hub_of(request)
    inputs = inputs_for(
        definition, raws, lang, _no_refs(), errors_by_field(definition, errors), with_key=True
    )
    base = f"/admin/new/{definition.name}"
    default = hub.settings.default_language
    context = {
        "definition": definition,
        "inputs": inputs,
        "lang": lang,
        "languages": [(code, with_lang(base, code, default)) for code in hub.settings.languages],
        "creating": True,
        "action": with_lang(base, lang, default),
        "errors": problems_of(definition, errors),
        "published": published,
        "parent": parent,
        "parent_href": object_path(definition.name, parent) if parent else "",
        "rights": Rights.of(principal_of(request), definition.name),
    }
    return render(request, "object_new.html", context, status=status)


async def create(request: Request) -> Response:
    form = await checked_form(request)
    class_name = request.path_params["class_name"]
    hub = hub_of(request)
    require(principal_of(request), Action.WRITE, class_name)
    definition = await blocking(hub.classes.get, class_name)
    lang = language(request, text_field(form, "lang"))
    mine = {f.name: raw_from_form(f, form) for f in definition.fields}
    published = form.get("published") == "true" and definition.workflow is None
    parent = text_field(form, "parent")[:MAX_KEY] if definition.variants is not None else ""
    problems: list[FieldError] = []
    values: dict[str, Any] = {}
    for f in definition.fields:
        value = value_of(f, mine[f.name], lang, problems)
        if f.localized and isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None} or None
        if value is not None and value is not False:
            values[f.name] = value
    if problems:
        return _new_page(
            request,
            definition,
            mine,
            lang,
            problems,
            published=published,
            parent=parent,
            status=422,
        )
    try:
        obj = await blocking(
            hub.catalog.create,
            class_name,
            values,
            published=published if definition.workflow is None else None,
            author=author_of(request),
            parent=parent or None,
        )
    except (InvalidInput, Conflict) as exc:
        if not exc.errors:
            raise
        status = form_status(exc)
        return _new_page(
            request, definition, mine, lang, exc.errors, published=published, parent=parent,
            status=status,
        )  # fmt: skip
    return see_other(
        object_path(class_name, obj.key),
        f"Created {class_name} '{obj.key}' as version {obj.version}.",
    )


routes: list[BaseRoute] = [
    Route("/new/{class_name}", new_form, methods=["GET"]),
    Route("/new/{class_name}", create, methods=["POST"]),
    *editor_actions.routes,
    *lookup.routes,
    Route("/objects/{class_name}/{key:objkey}", show, methods=["GET"]),
    Route("/objects/{class_name}/{key:objkey}", save, methods=["POST"]),
]
