"""A class with the documented publishing workflow and one without, for workflow tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pimhub.access.keys import ApiKey
from pimhub.bootstrap import Hub

WORKFLOW: dict[str, Any] = {
    "initial": "draft",
    "states": {"draft": {}, "review": {}, "approved": {}, "published": {"publishes": True}},
    "transitions": {
        "submit": {"from": ["draft"], "to": "review", "scopes": ["write"]},
        "reject": {"from": ["review"], "to": "draft", "scopes": ["review"], "comment": "required"},
        "approve": {"from": ["review"], "to": "approved", "scopes": ["review"]},
        "publish": {"from": ["approved"], "to": "published", "scopes": ["publish"]},
        "unpublish": {"from": ["published"], "to": "draft", "scopes": ["publish"]},
    },
}
ARTICLE: dict[str, Any] = {
    "name": "Article",
    "businessKey": "code",
    "fields": [{"name": "code", "type": "text"}, {"name": "title", "type": "text"}],
    "workflow": WORKFLOW,
}
NOTE: dict[str, Any] = {
    "name": "Note",
    "businessKey": "code",
    "fields": [{"name": "code", "type": "text"}, {"name": "title", "type": "text"}],
}


def install(hub: Hub) -> Hub:
    hub.classes.apply([ARTICLE, NOTE], author="test")
    return hub


def key(hub: Hub, *scopes: str, name: str = "k") -> ApiKey:
    created, _ = hub.access.create(name, list(scopes), environment="test")
    return created


def runs_as(api: ApiKey, class_name: str = "Article") -> Callable[[Sequence[str]], bool]:
    return lambda scopes: api.may_run(scopes, class_name)
