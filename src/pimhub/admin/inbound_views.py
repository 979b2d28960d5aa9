"""/inbound: the systems that send events to the hub. Sources listed with the address to give
the sender and their last day's messages by outcome; created and edited as YAML (checked
without saving on request, a stale edit refused with the text kept), enabled and disabled,
their secret rotated (shown once) and deleted after a confirmation. Thin over InboundService,
checked with Action.INTEGRATE as REST is.

The audit (/inbound/messages) and refused feed items (/inbound/refusals) are in
inbound_audit_views."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.inbound_forms import checked_source, editable, overlap
from pimhub.admin.once import FormAlreadySent, SentForms, new_token, token_of
from pimhub.admin.web import (
    blocking,
    checked_form,
    hub_of,
    no_store,
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
from pimhub.catalog.errors import CatalogError, Conflict, FieldError, InvalidInput
from pimhub.inbound.errors import InvalidSource, SourceExists, SourceNotFound
from pimhub.inbound.schemes import secret_problem
from pimhub.inbound.service import InboundService
from pimhub.inbound.source_parser import parse_source
from pimhub.inbound.sources import (
    SCHEME_DEFAULTS,
    Scheme,
    SourceSpec,
    StoredSource,
)

FIELD = "configuration"
COUNT_HOURS = 24
NEW_SOURCE = """\
name: erp
scheme: standard-webhooks
description: Stock and price changes from the ERP
eventType: {path: type}
eventTypes: [erp.stock.changed]
key: {path: data.sku}
"""
# Create and rotate forms already sent: sending one again makes or rotates nothing (the
# secret was in the first answer only).
CREATED = SentForms()
ROTATED = SentForms()


def _inbound(request: Request) -> InboundService:
    require(principal_of(request), Action.INTEGRATE)
    return hub_of(request).inbound


async def sources_page(request: Request) -> Response:
    inbound = _inbound(request)
    sources = await blocking(inbound.all_sources)
    counts = await blocking(_counts, inbound)
    rows = [
        {"source": s, "url": _sender_url(request, s.spec.name), "counts": counts.get(s.spec.name)}
        for s in sorted(sources, key=lambda s: s.spec.name)
    ]
    return render(request, "inbound.html", {"rows": rows, "hours": COUNT_HOURS})


async def new_page(request: Request) -> Response:
    _inbound(request)
    return _new(request, NEW_SOURCE)


async def create(request: Request) -> Response:
    inbound = _inbound(request)
    form = await checked_form(request, max_bytes=MAX_FORM_BYTES)
    text = form_text(form.get(FIELD))
    if form.get("action") == "check":
        try:
            raw = read_mapping(text, FIELD)
            checked = await blocking(_check_new, inbound, raw)
        except CatalogError as exc:
            return _new(request, text, error=exc)
        return _new(request, text, checked=checked)
    token = token_of(form)
    earlier = CREATED.reserve(token) if token else None
    if earlier is not None:
        sent = FormAlreadySent(
            f"this form was already sent: it made the source {earlier}, whose secret was "
            "shown once and is not shown again. Rotate the secret if it was lost."
        )
        return _new(request, text, error=sent, made=earlier)
    try:
        raw = read_mapping(text, FIELD)
        stored, secret = await blocking(inbound.add_source, raw)
    except CatalogError as exc:
        if token:
            CREATED.release(token)
        return _new(request, text, error=exc)
    if token:
        CREATED.record(token, stored.spec.name)
    # The secret is in this answer only (pages are no-store): never in an address or cookie.
    notice = (
        "Source created. Copy its secret now and give it to the sender: it is not shown again."
        if secret
        else "Source created. Its senders authenticate with a hub API key of scope inbound."
    )
    page = await _show(request, stored, secret=secret, notice=notice, status=201)
    return no_store(page)


async def source_page(request: Request) -> Response:
    inbound = _inbound(request)
    stored = await blocking(inbound.get_source, checked_source(request.path_params["name"]))
    return await _show(request, stored)


async def save(request: Request) -> Response:
    inbound = _inbound(request)
    form = await checked_form(request, max_bytes=MAX_FORM_BYTES)
    name = checked_source(request.path_params["name"])
    current = await blocking(inbound.get_source, name)
    text = form_text(form.get(FIELD))
    try:
        version = _required_version(form.get("version"))
        raw = read_mapping(text, FIELD)
        body = replacing(raw, current.spec)
        if form.get("action") == "check":
            checked = await blocking(_check_change, current, body)
            return await _show(request, current, text=text, version=version, checked=checked)
        saved = await blocking(inbound.update_source, name, body, expected_version=version)
    except Conflict as exc:
        # Someone saved the source since this form was made: the user's text stays, the
        # stored settings are shown beside it, and the form now carries the stored version,
        # so saving again is a choice made having seen their change.
        fresh = await blocking(inbound.get_source, name)
        return await _show(request, fresh, text=text, error=exc, conflict=True)
    except CatalogError as exc:
        version = _kept_version(form.get("version"), current.version)
        return await _show(request, current, text=text, version=version, error=exc)
    if saved.version == current.version:
        return see_other(f"/inbound/sources/{name}", f"Source {name} is unchanged.")
    return see_other(f"/inbound/sources/{name}", f"Source {name} saved: version {saved.version}.")


async def enable(request: Request) -> Response:
    return await _switch(request, True)


async def disable(request: Request) -> Response:
    return await _switch(request, False)


async def _switch(request: Request, enabled: bool) -> Response:
    inbound = _inbound(request)
    await checked_form(request)
    name = checked_source(request.path_params["name"])
    current = await blocking(inbound.get_source, name)
    # The whole configuration with only `enabled` changed, naming no version: switching
    # never conflicts with an edit (nor undoes one made since: the rest is the stored state).
    body = {**editable(current.spec), "enabled": enabled}
    await blocking(inbound.update_source, name, body)
    message = (
        f"Source {name} enabled: it accepts messages again."
        if enabled
        else f"Source {name} disabled: its senders get 503 and keep their messages to retry."
    )
    return see_other(f"/inbound/sources/{name}", message)


async def rotate(request: Request) -> Response:
    inbound = _inbound(request)
    form = await checked_form(request)
    name = checked_source(request.path_params["name"])
    current = await blocking(inbound.get_source, name)
    try:
        keep_for = overlap(form)
    except InvalidInput as exc:
        return await _show(request, current, rotate_error=exc, status=422)
    token = token_of(form)
    if token and ROTATED.reserve(token) is not None:
        sent = FormAlreadySent(
            "this form was already sent: the secret was rotated then, and the new secret was "
            "shown once and is not shown again. Rotate again if it was lost."
        )
        return await _show(request, current, rotate_error=sent, status=409)
    try:
        secret = await blocking(inbound.rotate_secret, name, None, keep_for)
    except Exception:
        if token:
            ROTATED.release(token)
        raise
    if token:
        ROTATED.record(token, name)
    stored = await blocking(inbound.get_source, name)
    notice = "New secret. Copy it now and give it to the sender: it is not shown again."
    return no_store(await _show(request, stored, secret=secret, notice=notice))


async def delete_page(request: Request) -> Response:
    inbound = _inbound(request)
    stored = await blocking(inbound.get_source, checked_source(request.path_params["name"]))
    return render(request, "inbound_delete.html", {"source": stored})


async def delete(request: Request) -> Response:
    inbound = _inbound(request)
    await checked_form(request)
    name = checked_source(request.path_params["name"])
    await blocking(inbound.remove_source, name)
    return see_other(
        "/inbound", f"Source {name} deleted: /inbound/{name} now answers 404. Its audit stays."
    )


def _check_new(inbound: InboundService, raw: dict[str, Any]) -> str:
    """What creating would do, refused as add_source would refuse it; nothing saved. A
    `secret:` in the text is the sender's own secret instead of a generated one."""
    settings = {k: v for k, v in raw.items() if k != "secret"}
    spec = parse_source(settings)
    if "secret" in raw:
        given = raw["secret"]
        problem = secret_problem(spec.scheme, given) if isinstance(given, str) else "must be a text"
        if problem is not None:
            raise InvalidSource(f"secret: {problem}", [FieldError("secret", problem)])
    if _exists(inbound, spec.name):
        raise SourceExists(
            f"a source named {spec.name} exists",
            [FieldError("name", f"{spec.name} is taken", "unique")],
        )
    return f"would create the source {spec.name} ({spec.scheme.value})"


def _exists(inbound: InboundService, name: str) -> bool:
    try:
        inbound.get_source(name)
    except SourceNotFound:
        return False
    return True


def replacing(raw: dict[str, Any], current: SourceSpec) -> dict[str, Any]:
    """The editor's text is the whole configuration: a setting left out of it goes back to
    its default (InboundService.update_source changes only the keys it is given)."""
    scheme = current.scheme
    defaults = SourceSpec(current.name, scheme, SCHEME_DEFAULTS[scheme][1]).to_dict()
    return {**defaults, **raw}


def _check_change(current: StoredSource, body: dict[str, Any]) -> str:
    """What saving would do, refused as the save would refuse it; nothing saved."""
    spec = parse_source(body, current.spec)
    if spec.scheme is not current.spec.scheme:
        detail = "a source's scheme cannot change (its secret is the scheme's); add a new one"
        raise InvalidSource(detail, [FieldError("scheme", detail, "immutable")])
    if spec.to_dict() == current.spec.to_dict():
        return "changes nothing: the settings are the same as the saved ones"
    return "would change the source's settings"


def _required_version(raw: object) -> int:
    """The version the form was made from. A save naming none is refused: a form (or a
    script replaying an old one) that does not say what it started from would otherwise
    undo others' changes unseen. REST and the CLI may name none."""
    version = expected_version(raw)
    if version is None:
        raise InvalidSource(
            "the form does not say which version of the source it was made from",
            [FieldError("version", "is missing: reload the page and edit again", "required")],
        )
    return version


def _kept_version(raw: object, stored: int) -> int:
    """The form's own version to carry on when the form is shown again, else the stored."""
    try:
        version = expected_version(raw)
    except InvalidInput:
        return stored
    return stored if version is None else version


def _counts(inbound: InboundService) -> dict[str, dict[str, int]]:
    """Messages of the last COUNT_HOURS by source and outcome (one grouped query)."""
    since = inbound.clock() - timedelta(hours=COUNT_HOURS)
    found: dict[str, dict[str, int]] = {}
    for (source, outcome), count in inbound.counts(since).items():
        found.setdefault(source, {})[outcome] = count
    return found


def _sender_url(request: Request, name: str) -> str:
    """The full address the sender posts to (this site's, as the browser reached it)."""
    return str(request.url.replace(path=f"/inbound/{name}", query="", fragment=""))


def _new(
    request: Request,
    text: str,
    *,
    error: CatalogError | None = None,
    checked: str | None = None,
    made: str | None = None,
) -> Response:
    context = {
        "text": shown(text),
        "field": FIELD,
        "error": error,
        "checked": checked,
        "made": made,
        "form_token": new_token(),
        "schemes": [s.value for s in Scheme],
    }
    return render(request, "inbound_new.html", context, status=form_status(error) if error else 200)


async def _show(
    request: Request,
    stored: StoredSource,
    *,
    text: str | None = None,
    version: int | None = None,
    error: CatalogError | None = None,
    checked: str | None = None,
    conflict: bool = False,
    rotate_error: CatalogError | None = None,
    secret: str | None = None,
    notice: str | None = None,
    status: int | None = None,
) -> Response:
    inbound = hub_of(request).inbound
    name = stored.spec.name
    counts = (await blocking(_counts, inbound)).get(name, {})
    stored_text = dump(editable(stored.spec))
    context = {
        "source": stored,
        "spec": stored.spec,
        "sender_url": _sender_url(request, name),
        "counts": counts,
        "hours": COUNT_HOURS,
        "text": shown(stored_text if text is None else text),
        "stored_text": stored_text,
        "version": stored.version if version is None else version,
        "field": FIELD,
        "error": error,
        "checked": checked,
        "conflict": conflict,
        "rotate_error": rotate_error,
        "secret": secret,
        "notice": notice,
        "now": inbound.clock(),
        "overlap_hours": inbound.rotation_overlap / timedelta(hours=1),
        "form_token": new_token(),
    }
    if status is None:
        status = form_status(error) if error else 200
    return render(request, "inbound_source.html", context, status=status)


routes: list[BaseRoute] = [
    Route("/inbound", sources_page, methods=["GET"]),
    Route("/inbound/new", new_page, methods=["GET"]),
    Route("/inbound/new", create, methods=["POST"]),
    Route("/inbound/sources/{name}", source_page, methods=["GET"]),
    Route("/inbound/sources/{name}", save, methods=["POST"]),
    Route("/inbound/sources/{name}/enable", enable, methods=["POST"]),
    Route("/inbound/sources/{name}/disable", disable, methods=["POST"]),
    Route("/inbound/sources/{name}/rotate", rotate, methods=["POST"]),
    Route("/inbound/sources/{name}/delete", delete_page, methods=["GET"]),
    Route("/inbound/sources/{name}/delete", delete, methods=["POST"]),
]
