"""/lookup/{class}?q=: the relation search of the editor, a list of matching objects (by
business key or name) for htmx to put under a relation input. Each result is a button
that fills the input (static/editor.js); without JavaScript the input takes a key as typed.

It asks the search index, as the grid's search does (every word must occur, the last as a
prefix, best matches first): an ILIKE '%q%' over the listing read every row of the class,
twice with its count, on each keystroke."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.editor_view import label_of, language
from pimhub.admin.web import blocking, fragment, hub_of, principal_of
from pimhub.api.auth import require
from pimhub.search.documents import query_tokens
from pimhub.search.ports import Part, SearchRequest, TextQuery

MAX_RESULTS = 10
MAX_QUERY = 100
_TARGET = re.compile(r"^f-[A-Za-z0-9_]{1,64}$")


async def lookup(request: Request) -> Response:
    class_name = request.path_params["class_name"]
    principal = principal_of(request)
    require(principal, Action.READ, class_name)
    params = request.query_params
    target = params.get("for", "")
    target = target if _TARGET.match(target) else ""
    # htmx sends the input under its own name (f.brand); a plain link sends q.
    q = params.get("q", params.get("f." + target[2:], "") if target else "")
    q = q.replace("\x00", "").strip()[:MAX_QUERY]
    hub = hub_of(request)
    definition = await blocking(hub.classes.get, class_name)
    lang = language(request, params.get("lang"))
    items: list[tuple[str, str]] = []
    tokens = tuple(query_tokens(q))
    if tokens:
        search = SearchRequest(
            class_names=(class_name,),
            text=TextQuery(q, tokens, frozenset({Part.KEY, Part.NAME})),  # as it always did
            language=lang,
            size=MAX_RESULTS,
            published_only=not principal.allows(Action.READ_DRAFTS, class_name),
        )
        found = await blocking(hub.search.search, search)
        items = [(o.key, label_of(definition, o.values, lang)) for o in found.objects]
    return fragment(
        request,
        "field_lookup.html",
        {"items": items, "target": target, "q": q, "class_name": class_name},
    )


routes: list[BaseRoute] = [Route("/lookup/{class_name}", lookup, methods=["GET"])]
