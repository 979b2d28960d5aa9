"""Class definitions: the list with field and object counts, one class's fields and workflow,
and for admins the definition as YAML to change, check or create.

Saving goes through ClassService.replace/create, the same as REST PUT/POST and `pimhub classes
apply`, so the same changes are refused with the same messages (shown next to the text, which
is kept). "Check" runs ClassService.check: every one of those refusals, nothing saved.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.web import (
    author_of,
    blocking,
    checked_form,
    hub_of,
    principal_of,
    render,
    see_other,
)
from pimhub.admin.yaml_field import (
    MAX_FORM_BYTES,
    dump,
    expected_version,
    form_status,
    form_text,
    read_mapping,
    shown,
)
from pimhub.api.auth import require
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import CatalogError
from pimhub.catalog.fields import FieldDefinition
from pimhub.catalog.ports import ObjectCounts

FIELD = "definition"
# What a field's row shows in its own columns; everything else goes under "rules".
_OWN_COLUMNS = {"name", "type", "title", "localized", "required", "unique", "target", "multiple"}
NEW_CLASS = """\
name: Supplier
title: Supplier
businessKey: code
fields:
  - name: code
    type: text
    required: true
  - name: name
    type: text
    localized: true
"""
OUTCOMES = {
    "created": "would create the class",
    "updated": "would change the class; its stored objects stay valid",
    "unchanged": "changes nothing: the definition is the same as the saved one",
}


async def classes_page(request: Request) -> Response:
    key = principal_of(request)
    hub = hub_of(request)
    definitions = [c for c in await blocking(hub.classes.all) if key.allows(Action.READ, c.name)]
    counts = await blocking(hub.catalog.object_counts)
    rows = [(c, counts.get(c.name, ObjectCounts(0, 0))) for c in definitions]
    return render(
        request,
        "classes.html",
        {"rows": rows, "may_edit": key.allows(Action.ADMIN)},
    )


async def class_page(request: Request) -> Response:
    name = request.path_params["name"]
    require(principal_of(request), Action.READ, name)
    definition = await blocking(hub_of(request).classes.get, name)
    return await _show(request, definition, dump(definition.to_dict(with_version=False)))


async def save_class(request: Request) -> Response:
    form = await checked_form(request, max_bytes=MAX_FORM_BYTES)
    name = request.path_params["name"]
    require(principal_of(request), Action.ADMIN)
    hub = hub_of(request)
    current = await blocking(hub.classes.get, name)
    text = form_text(form.get(FIELD))
    version = expected_version(form.get("version"))
    try:
        raw = read_mapping(text, FIELD, wrapper="classes")
        if form.get("action") == "check":
            outcome = await blocking(hub.classes.check, raw, name=name)
            return await _show(request, current, text, version=version, checked=outcome)
        saved = await blocking(
            hub.classes.replace,
            name,
            raw,
            author=author_of(request),
            expected_version=version,
        )
    except CatalogError as exc:
        return await _show(request, current, text, version=version, error=exc)
    if saved.version == current.version:
        return see_other(f"/classes/{name}", f"Class {name} is unchanged: nothing to save.")
    return see_other(f"/classes/{name}", f"Class {name} saved: version {saved.version}.")


async def new_class_page(request: Request) -> Response:
    require(principal_of(request), Action.ADMIN)
    return render(request, "classes_new.html", _form_context(NEW_CLASS))


async def create_class(request: Request) -> Response:
    form = await checked_form(request, max_bytes=MAX_FORM_BYTES)
    require(principal_of(request), Action.ADMIN)
    hub = hub_of(request)
    text = form_text(form.get(FIELD))
    try:
        raw = read_mapping(text, FIELD, wrapper="classes")
        if form.get("action") == "check":
            outcome = await blocking(hub.classes.check, raw)
            return render(request, "classes_new.html", _form_context(text, checked=outcome))
        saved = await blocking(hub.classes.create, raw, author=author_of(request))
    except CatalogError as exc:
        return render(
            request, "classes_new.html", _form_context(text, error=exc), status=form_status(exc)
        )
    return see_other(f"/classes/{saved.name}", f"Class {saved.name} created.")


async def _show(
    request: Request,
    definition: ClassDefinition,
    text: str,
    *,
    version: int | None = None,
    checked: str | None = None,
    error: CatalogError | None = None,
) -> Response:
    counts = (await blocking(hub_of(request).catalog.object_counts)).get(
        definition.name, ObjectCounts(0, 0)
    )
    context = {
        "definition": definition,
        "counts": counts,
        "fields": [_field_row(definition, f) for f in definition.fields],
        "as_yaml": dump(definition.to_dict(with_version=False)),
        "may_edit": principal_of(request).allows(Action.ADMIN),
        "version": definition.version if version is None else version,
        **_form_context(text, checked=checked, error=error),
    }
    return render(
        request, "classes_show.html", context, status=form_status(error) if error else 200
    )


def _form_context(
    text: str, *, checked: str | None = None, error: CatalogError | None = None
) -> dict[str, Any]:
    return {
        "text": shown(text),
        "checked": OUTCOMES.get(checked or "", checked),
        "error": error,
        "field": FIELD,
    }


def _field_row(definition: ClassDefinition, f: FieldDefinition) -> dict[str, Any]:
    kind = f.type.value
    if f.target:
        kind += f" → {f.target}"
    if f.multiple:
        kind += " (list)"
    rules = {k: v for k, v in f.to_dict().items() if k not in _OWN_COLUMNS}
    return {
        "field": f,
        "kind": kind,
        "key": f.name == definition.business_key,
        "rules": ", ".join(f"{k}: {_plain(v)}" for k, v in rules.items()),
    }


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return str(value)


routes: list[BaseRoute] = [
    Route("/classes", classes_page, methods=["GET"]),
    Route("/classes", create_class, methods=["POST"]),
    Route("/classes/new", new_class_page, methods=["GET"]),
    Route("/classes/{name}", class_page, methods=["GET"]),
    Route("/classes/{name}", save_class, methods=["POST"]),
]
