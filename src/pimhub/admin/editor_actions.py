"""The editor's buttons: publish, unpublish, workflow transitions and delete (with a
confirmation page first). Each is a plain form POST answered by a redirect with a message;
each names the version it was shown, so it acts on nothing newer than the user saw."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.editor_view import object_path, version_number
from pimhub.admin.web import (
    author_of,
    blocking,
    checked_form,
    hub_of,
    principal_of,
    render,
    see_other,
    text_field,
    url,
)
from pimhub.api.auth import may_write_referrers, require
from pimhub.catalog.errors import HasVariants, StillReferenced


async def _publishing(request: Request, published: bool) -> Response:
    form = await checked_form(request)
    class_name, key = request.path_params["class_name"], request.path_params["key"]
    require(principal_of(request), Action.WRITE, class_name)
    expected = version_number(form.get("version"))
    result = await blocking(
        hub_of(request).catalog.patch,
        class_name,
        key,
        {},
        published=published,
        expected_version=expected,
        author=author_of(request),
    )
    obj = result.object
    if not result.changed:
        word = "published" if published else "a draft"
        return see_other(object_path(class_name, key), f"Already {word}.")
    word = "Published" if published else "Unpublished"
    return see_other(object_path(class_name, key), f"{word} as version {obj.version}.")


async def publish(request: Request) -> Response:
    return await _publishing(request, True)


async def unpublish(request: Request) -> Response:
    return await _publishing(request, False)


async def transition(request: Request) -> Response:
    form = await checked_form(request)
    class_name, key = request.path_params["class_name"], request.path_params["key"]
    name = request.path_params["name"]
    principal = principal_of(request)
    expected = version_number(form.get("version"))
    comment = text_field(form, "comment").strip() or None
    obj = await blocking(
        hub_of(request).catalog.transition,
        class_name,
        key,
        name,
        may_run=lambda scopes: principal.may_run(scopes, class_name),
        author=author_of(request),
        comment=comment,
        expected_version=expected,
        sees_drafts=principal.allows(Action.READ_DRAFTS, class_name),
        sees_class=any(principal.allows(action, class_name) for action in Action),
    )
    return see_other(
        object_path(class_name, key),
        f"Ran '{name}': now in state '{obj.workflow_state}' (version {obj.version}).",
    )


async def delete(request: Request) -> Response:
    """Without `confirm=yes`: the confirmation page. With it: the delete, or the page again
    naming what still refers to the object."""
    form = await checked_form(request)
    class_name, key = request.path_params["class_name"], request.path_params["key"]
    principal = principal_of(request)
    require(principal, Action.DELETE, class_name)
    expected = version_number(form.get("version"))
    context = {
        "class_name": class_name,
        "key": key,
        "version": expected,
        "base": object_path(class_name, key),
        "action": object_path(class_name, key, "/delete"),
        "problem": None,
        "referrers": [],
    }
    if form.get("confirm") != "yes":
        obj = await blocking(
            hub_of(request).catalog.get_object, class_name, key, include_drafts=True
        )
        return render(request, "object_delete.html", {**context, "obj": obj})
    try:
        await blocking(
            hub_of(request).catalog.delete,
            class_name,
            key,
            expected_version=expected,
            author=author_of(request),
            may_unlink=may_write_referrers(principal, f"{class_name} '{key}'"),
        )
    except (StillReferenced, HasVariants) as exc:
        referrers = []
        for e in exc.errors:
            ref_class, _, ref_key = e.field.partition("/")
            referrers.append((e.field, object_path(ref_class, ref_key), e.message))
        context.update(problem=exc.detail, referrers=referrers, obj=None)
        return render(request, "object_delete.html", context, status=409)
    return see_other(url(f"/objects/{class_name}"), f"Deleted {class_name} '{key}'.")


routes: list[BaseRoute] = [
    Route("/objects/{class_name}/{key:objkey}/publish", publish, methods=["POST"]),
    Route("/objects/{class_name}/{key:objkey}/unpublish", unpublish, methods=["POST"]),
    Route("/objects/{class_name}/{key:objkey}/delete", delete, methods=["POST"]),
    Route("/objects/{class_name}/{key:objkey}/transitions/{name}", transition, methods=["POST"]),
]
