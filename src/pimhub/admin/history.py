"""An object's version history: /objects/{class}/{key}/versions lists every version;
/versions/{n} shows what it changed against the version before and how it differs from the
current one, field by field (localized values per language); POST /versions/{n}/restore
saves its values as a new version, refused like a save when the object changed meanwhile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.editor_fields import Refs
from pimhub.admin.editor_view import (
    Rights,
    language,
    object_path,
    read_refs,
    version_number,
    when,
)
from pimhub.admin.web import (
    author_of,
    blocking,
    checked_form,
    hub_of,
    principal_of,
    render,
    see_other,
)
from pimhub.api.auth import require
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import StaleVersion
from pimhub.catalog.fields import FieldType
from pimhub.catalog.objects import FieldChange, ObjectVersion, diff_versions


def _params(request: Request) -> tuple[str, str]:
    return request.path_params["class_name"], request.path_params["key"]


async def versions(request: Request) -> Response:
    class_name, key = _params(request)
    principal = principal_of(request)
    require(principal, Action.READ, class_name)
    hub = hub_of(request)
    definition = await blocking(hub.classes.get, class_name)
    items = await blocking(
        hub.catalog.list_versions,
        class_name,
        key,
        include_drafts=principal.allows(Action.READ_DRAFTS, class_name),
    )
    rows = [
        {
            "version": v.version,
            "action": v.action.value,
            "author": v.author,
            "at": when(v.created_at),
            "published": v.published,
            "changed": ", ".join(v.changed_fields),
            "href": object_path(class_name, key, f"/versions/{v.version}"),
        }
        for v in items
    ]
    context = {
        "class_name": class_name,
        "class_title": definition.title or class_name,
        "key": key,
        "rows": rows,
        "base": object_path(class_name, key),
    }
    return render(request, "version_list.html", context)


def _text(f: Any, value: Any, refs: Refs) -> str:
    """A stored value as a person reads it: keys for relations, paths for assets."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    kind = f.type if f is not None else None
    if kind == FieldType.RELATION:
        items = value if isinstance(value, list) else [value]
        return ", ".join(refs.keys.get(str(v), str(v)) for v in items)
    if kind == FieldType.ASSET:
        items = value if isinstance(value, list) else [value]
        return ", ".join(refs.paths.get(str(v), str(v)) for v in items)
    if isinstance(value, Mapping) and {"amount", "currency"} == set(value):
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, Mapping) and {"value", "unit"} == set(value):
        return f"{value['value']} {value['unit']}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


EMPTY = "(empty)"
REMOVED = "(removed)"


def _cells(old: str, new: str) -> dict[str, str]:
    """An empty cell says so: a value that went away reads '(removed)', one that was not
    there before '(empty)'."""
    return {"old": old or EMPTY, "new": new or (REMOVED if old else EMPTY)}


def readable(
    definition: ClassDefinition, changes: list[FieldChange], refs: Refs
) -> list[dict[str, str]]:
    """Rows of (field, language, old, new): a localized field gives one row per language
    that changed."""
    rows = []
    for change in changes:
        f = definition.field(change.field)
        label = (f.title or f.name) if f is not None else change.field.capitalize()
        if f is not None and f.localized:
            old = change.before if isinstance(change.before, Mapping) else {}
            new = change.after if isinstance(change.after, Mapping) else {}
            for lang in sorted(set(old) | set(new)):
                if old.get(lang) != new.get(lang):
                    cells = _cells(str(old.get(lang) or ""), str(new.get(lang) or ""))
                    rows.append({"field": label, "lang": lang, **cells})
            continue
        cells = _cells(_text(f, change.before, refs), _text(f, change.after, refs))
        rows.append({"field": label, "lang": "", **cells})
    return rows


async def version(request: Request) -> Response:
    class_name, key = _params(request)
    principal = principal_of(request)
    require(principal, Action.READ, class_name)
    number = version_number(request.path_params["n"], "n")
    hub = hub_of(request)
    definition = await blocking(hub.classes.get, class_name)
    include = principal.allows(Action.READ_DRAFTS, class_name)
    this, changes = await blocking(
        hub.catalog.version_diff, class_name, key, number, include_drafts=include
    )
    obj = await blocking(hub.catalog.get_object, class_name, key, include_drafts=include)
    current = _as_version(this, obj.values, obj.published)
    against_current = diff_versions(current, this) if obj.version != number else []
    lang = language(request, request.query_params.get("lang"))
    # The version before may refer to objects and assets neither this one nor now holds.
    before = {c.field: c.before for c in changes if c.before is not None}
    refs = await read_refs(hub, definition, [this.values, obj.values, before], lang)
    differences = readable(definition, against_current, refs)
    context = {
        "class_name": class_name,
        "class_title": definition.title or class_name,
        "key": key,
        "this": this,
        "at": when(this.created_at),
        "changes": readable(definition, changes, refs),
        "against_current": differences,
        "current_version": obj.version,
        "base": object_path(class_name, key),
        "history": object_path(class_name, key, "/versions"),
        "restore": object_path(class_name, key, f"/versions/{number}/restore"),
        "may_restore": Rights.of(principal, class_name).write
        and bool(differences)  # restoring what is already stored would change nothing
        and bool(this.values),
    }
    return render(request, "version_detail.html", context)


def _as_version(like: ObjectVersion, values: dict[str, Any], published: bool) -> ObjectVersion:
    return ObjectVersion(
        like.object_uuid, like.class_name, like.key, 0, like.action, "", like.created_at,
        published, (), values,
    )  # fmt: skip


async def restore(request: Request) -> Response:
    form = await checked_form(request)
    class_name, key = _params(request)
    require(principal_of(request), Action.WRITE, class_name)
    number = version_number(request.path_params["n"], "n")
    expected = version_number(form.get("version"))
    try:
        result = await blocking(
            hub_of(request).catalog.restore,
            class_name,
            key,
            number,
            expected_version=expected,
            author=author_of(request),
        )
    except StaleVersion as exc:
        return see_other(
            object_path(class_name, key, f"/versions/{number}"),
            f"Not restored: the object was saved as version {exc.current_version} since you "
            "opened this page. Check the differences again, then restore.",
        )
    obj = result.object
    if not result.changed:
        return see_other(
            object_path(class_name, obj.key), "Nothing to restore: the values are the same."
        )
    return see_other(
        object_path(class_name, obj.key),
        f"Restored version {number} as version {obj.version}.",
    )


routes: list[BaseRoute] = [
    Route("/objects/{class_name}/{key:objkey}/versions", versions, methods=["GET"]),
    Route("/objects/{class_name}/{key:objkey}/versions/{n}", version, methods=["GET"]),
    Route("/objects/{class_name}/{key:objkey}/versions/{n}/restore", restore, methods=["POST"]),
]
