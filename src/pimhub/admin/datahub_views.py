"""Datahub configurations: the list, one configuration with what it exposes, its generated
GraphQL schema (SDL, built as `pimhub graphql schema` builds it) and the keys that open it;
integrators and admins edit it as YAML, create and delete, through DatahubService with the
same validation as REST (/api/v1/datahub)."""

from __future__ import annotations

from typing import Any

from graphql import print_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action, ApiKey
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
from pimhub.api.graphql.executor import GraphQLService
from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import CatalogError
from pimhub.datahub.config import DatahubConfig

FIELD = "configuration"
NEW_CONFIG = """\
name: shop
description: What the shop front reads
drafts: false
classes:
  Product:
    fields: [sku, name, price]
    operations: [read]
"""


async def configs_page(request: Request) -> Response:
    require(principal_of(request), Action.INTEGRATE)
    return await _list(request, NEW_CONFIG)


async def create_config(request: Request) -> Response:
    form = await checked_form(request, max_bytes=MAX_FORM_BYTES)
    require(principal_of(request), Action.INTEGRATE)
    text = form_text(form.get(FIELD))
    try:
        raw = read_mapping(text, FIELD, wrapper="datahub")
        saved = await blocking(hub_of(request).datahub.create, raw, author=author_of(request))
    except CatalogError as exc:
        return await _list(request, text, error=exc)
    return see_other(f"/datahub/{saved.name}", f"Configuration {saved.name} created.")


async def config_page(request: Request) -> Response:
    require(principal_of(request), Action.INTEGRATE)
    config = await blocking(hub_of(request).datahub.get, request.path_params["name"])
    return await _show(request, config, dump(config.to_dict(with_version=False)))


async def save_config(request: Request) -> Response:
    form = await checked_form(request, max_bytes=MAX_FORM_BYTES)
    require(principal_of(request), Action.INTEGRATE)
    hub = hub_of(request)
    current = await blocking(hub.datahub.get, request.path_params["name"])
    text = form_text(form.get(FIELD))
    version = expected_version(form.get("version"))
    try:
        raw = read_mapping(text, FIELD, wrapper="datahub")
        saved, _ = await blocking(
            hub.datahub.replace,
            current.name,
            raw,
            author=author_of(request),
            expected_version=version,
        )
    except CatalogError as exc:
        return await _show(request, current, text, version=version, error=exc)
    if saved.version == current.version:
        return see_other(f"/datahub/{saved.name}", f"Configuration {saved.name} is unchanged.")
    return see_other(
        f"/datahub/{saved.name}", f"Configuration {saved.name} saved: version {saved.version}."
    )


async def delete_page(request: Request) -> Response:
    require(principal_of(request), Action.INTEGRATE)
    config = await blocking(hub_of(request).datahub.get, request.path_params["name"])
    return render(request, "datahub_delete.html", {"config": config})


async def delete_config(request: Request) -> Response:
    await checked_form(request)
    require(principal_of(request), Action.INTEGRATE)
    name = request.path_params["name"]
    await blocking(hub_of(request).datahub.delete, name)
    return see_other("/datahub", f"Configuration {name} deleted; /graphql/{name} now answers 404.")


async def _list(request: Request, text: str, *, error: CatalogError | None = None) -> Response:
    configs = await blocking(hub_of(request).datahub.all)
    context = {"configs": configs, "text": shown(text), "error": error, "field": FIELD}
    return render(request, "datahub.html", context, status=form_status(error) if error else 200)


async def _show(
    request: Request,
    config: DatahubConfig,
    text: str,
    *,
    version: int | None = None,
    error: CatalogError | None = None,
) -> Response:
    key = principal_of(request)
    sdl, problem = await blocking(_sdl, request.app.state.graphql, config)
    keys = await blocking(_keys_opening, hub_of(request), config)
    context: dict[str, Any] = {
        "config": config,
        "sdl": sdl,
        "sdl_problem": problem,
        "keys": keys if key.allows(Action.ADMIN) else None,
        "active_keys": sum(1 for k in keys if k.is_active(utc_now())),
        "now": utc_now(),
        "text": shown(text),
        "error": error,
        "field": FIELD,
        "version": config.version if version is None else version,
    }
    return render(
        request, "datahub_show.html", context, status=form_status(error) if error else 200
    )


def _sdl(graphql: GraphQLService, config: DatahubConfig) -> tuple[str, str | None]:
    """The schema as REST's schema.graphql and `pimhub graphql schema` print it, from the
    GraphQL service's cache (built again only when the configuration or a class changed); a
    configuration that no longer builds (a class changed under it) shows why instead of
    failing the page."""
    try:
        built = graphql.schema(config.name)
    except (CatalogError, ValueError, TypeError) as exc:
        return "", str(exc)
    return print_schema(built.schema), None


def _keys_opening(hub: Hub, config: DatahubConfig) -> list[ApiKey]:
    """Keys made for this configuration (scope datahub:<name>); admin keys open every one."""
    return [k for k in hub.access.all() if config.scope in k.scopes]


routes: list[BaseRoute] = [
    Route("/datahub", configs_page, methods=["GET"]),
    Route("/datahub", create_config, methods=["POST"]),
    Route("/datahub/{name}", config_page, methods=["GET"]),
    Route("/datahub/{name}", save_config, methods=["POST"]),
    Route("/datahub/{name}/delete", delete_page, methods=["GET"]),
    Route("/datahub/{name}/delete", delete_config, methods=["POST"]),
]
