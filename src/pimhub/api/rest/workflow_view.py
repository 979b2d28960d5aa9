"""Workflows in REST answers: the body of a transition request, and the transitions open to
the calling key, which only the API knows (the domain's envelope, which webhooks get too,
shows the state alone)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from pimhub.access.keys import ApiKey
from pimhub.api.auth import hub_of
from pimhub.api.body import check_length, parse_model, read_limited, refuse_nul
from pimhub.api.errors import MalformedJson
from pimhub.catalog.errors import FieldError
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.query import VERSION_MAX
from pimhub.catalog.transitions import open_transitions
from pimhub.catalog.workflows import MAX_COMMENT_LENGTH

MAX_TRANSITION_BODY = 64 * 1024


class TransitionRequest(BaseModel):
    """Body of POST .../transitions/{name} (optional: no body is the same as {})."""

    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(
        None,
        max_length=MAX_COMMENT_LENGTH,
        description="Why; required by transitions that say `comment: required`",
    )
    version: int | None = Field(
        None, ge=1, le=VERSION_MAX, description="The version you read; refused if stale"
    )


async def read_transition(request: Request) -> TransitionRequest:
    check_length(request.headers, MAX_TRANSITION_BODY)
    raw = await read_limited(request.stream(), MAX_TRANSITION_BODY)
    if not raw.strip():
        return TransitionRequest()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(
            f"the request body is not valid JSON: {exc.msg} (character {exc.pos})",
            [FieldError("body", exc.msg, "malformed-json")],
        ) from None
    refuse_nul(data, raw=raw)
    return parse_model(TransitionRequest, data)


def add_open_transitions(
    request: Request, api: ApiKey, objs: Sequence[CatalogObject], shown: list[dict[str, Any]]
) -> None:
    """Adds to each shown object of a class with a workflow the transitions `api` may run
    from its state: `"workflow": {"state", "transitions": [names]}`."""
    with_state = {o.class_name for o in objs if o.workflow_state is not None}
    if not with_state:
        return  # no class lookup for the classes without a workflow
    classes = hub_of(request).classes
    workflows = {name: classes.get(name).workflow for name in sorted(with_state)}
    for obj, out in zip(objs, shown, strict=True):
        workflow = workflows.get(obj.class_name)
        if workflow is None or "workflow" not in out:
            continue
        out["workflow"]["transitions"] = open_transitions(
            workflow, obj.workflow_state, partial(_may_run, api, obj.class_name)
        )


def _may_run(api: ApiKey, class_name: str, scopes: Sequence[str]) -> bool:
    return api.may_run(scopes, class_name)
