"""Workflow blocks of class definitions: parsed, checked with paths, and the rules the
catalog applies with them (no database)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pimhub.access.keys import ApiKey, parse_scopes
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.errors import InvalidClassDefinition, InvalidInput, PublishedByWorkflow
from pimhub.catalog.workflows import (
    MAX_STATES,
    check_comment,
    checked_published,
    parse_workflow,
    state_for,
)
from tests.catalog.workflow_fixtures import ARTICLE, NOTE, WORKFLOW


def problems(workflow: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    parse_workflow(workflow, lambda path, message: found.setdefault(path, message))
    return found


def moving(name: str = "go", **attrs: Any) -> dict[str, Any]:
    """The workflow with one transition `name` of these attributes."""
    return with_changes(
        transitions={name: {"from": ["draft"], "to": "review", "scopes": ["write"], **attrs}}
    )


def with_changes(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(WORKFLOW)
    out.update(changes)
    return out


def test_the_documented_workflow_parses_and_round_trips() -> None:
    definition = parse_class_definition(ARTICLE)
    workflow = definition.workflow
    assert workflow is not None
    assert workflow.initial == "draft"
    assert workflow.state_names == ["draft", "review", "approved", "published"]
    assert [t.name for t in workflow.from_state("review")] == ["reject", "approve"]
    assert workflow.transition("reject").comment_required  # type: ignore[union-attr]
    assert [t.name for t in workflow.publishing()] == ["publish", "unpublish"]
    again = parse_class_definition(definition.to_dict())
    assert again.workflow == workflow
    assert parse_class_definition(NOTE).workflow is None


@pytest.mark.parametrize(
    ("workflow", "path", "words"),
    [
        ("draft", "workflow", "must be an object"),
        (with_changes(initial="gone"), "workflow.initial", "one of the states"),
        (with_changes(initial=None), "workflow.initial", "one of the states"),
        (with_changes(states={}), "workflow.states", "at least one"),
        (with_changes(states={"Draft": {}}), "workflow.states.Draft", "lower-case"),
        (
            with_changes(states={"draft": {"publishes": "yes"}}),
            "workflow.states.draft.publishes",
            "true or false",
        ),
        (with_changes(states={"draft": {"colour": 1}}), "workflow.states.draft.colour", "unknown"),
        (
            with_changes(states=[{"name": "draft"}, {"name": "draft"}]),
            "workflow.states[1].name",
            "named twice",
        ),
        (
            moving(to="nowhere"),
            "workflow.transitions.go.to",
            "names no state",
        ),
        (
            moving(to="draft"),
            "workflow.transitions.go.to",
            "'draft' is also a state it leaves from",
        ),
        (
            moving(**{"from": ["draft", "review"]}),
            "workflow.transitions.go.to",
            "a transition must change the state",
        ),
        (
            moving(**{"from": ["limbo"]}),
            "workflow.transitions.go.from[0]",
            "names no state",
        ),
        (
            moving(scopes=["root"]),
            "workflow.transitions.go.scopes",
            "write, review, publish, delete, admin",
        ),
        (
            moving(comment="maybe"),
            "workflow.transitions.go.comment",
            "optional' or 'required",
        ),
        (
            moving("go/x"),
            "workflow.transitions.go/x",
            "lower-case",
        ),
        (
            with_changes(states={f"s{i}": {} for i in range(MAX_STATES + 1)}),
            "workflow.states",
            f"at most {MAX_STATES}",
        ),
        (with_changes(extra=1), "workflow.extra", "unknown"),
    ],
)  # fmt: skip
def test_each_problem_is_named_by_its_path(workflow: Any, path: str, words: str) -> None:
    found = problems(workflow)
    assert path in found, found
    assert words in found[path]


def test_a_class_definition_reports_workflow_problems_with_its_others() -> None:
    raw = {**ARTICLE, "workflow": with_changes(initial="gone"), "title": 3}
    with pytest.raises(InvalidClassDefinition) as caught:
        parse_class_definition(raw)
    paths = {e.field for e in caught.value.errors}
    assert {"workflow.initial", "title"} <= paths


def test_unreachable_states_are_allowed() -> None:
    assert problems(with_changes(states={**WORKFLOW["states"], "archived": {}})) == {}


def test_state_for_new_and_unmapped_objects() -> None:
    workflow = parse_class_definition(ARTICLE).workflow
    assert state_for(None, True) is None
    assert state_for(workflow, False) == "draft"
    assert state_for(workflow, True) == "published"  # a published object from before
    assert state_for(workflow, False, "review") == "review"
    assert state_for(workflow, False, "vanished") == "draft"


def test_checked_published_refuses_a_change_and_names_the_transitions() -> None:
    article = parse_class_definition(ARTICLE)
    assert checked_published(article, None, None) is False
    assert checked_published(article, None, False) is False
    with pytest.raises(PublishedByWorkflow) as caught:
        checked_published(article, None, True)
    assert "publish, unpublish" in caught.value.detail
    note = parse_class_definition(NOTE)
    assert checked_published(note, None, True) is True
    assert checked_published(note, None, None) is None


def test_comments() -> None:
    reject = parse_class_definition(ARTICLE).workflow.transition("reject")  # type: ignore[union-attr]
    assert reject is not None
    assert "requires a comment" in (check_comment(reject, None) or "")
    assert "requires a comment" in (check_comment(reject, "  ") or "")
    assert check_comment(reject, "typo in title") is None
    assert "at most" in (check_comment(reject, "x" * 5000) or "")
    assert "NUL" in (check_comment(reject, "a\x00b") or "")


def test_review_and_publish_scopes() -> None:
    assert parse_scopes(["review:Article,publish"]) == ("review:Article", "publish:*")
    with pytest.raises(InvalidInput) as caught:
        parse_scopes(["approve"])
    assert "review|publish" in caught.value.errors[0].message
    from datetime import UTC, datetime

    def api(*scopes: str) -> ApiKey:
        return ApiKey("id", "k", "test", scopes, datetime.now(UTC))

    assert api("write:Article").may_run(["write"], "Article")
    assert not api("write:Article").may_run(["review"], "Article")
    assert not api("review:Other").may_run(["review"], "Article")
    assert api("review:*").may_run(["review", "publish"], "Article")
    assert api("admin").may_run(["publish"], "Article")
    assert api("admin").may_run(["admin"], "Article")
    assert not api("write:*", "delete:*").may_run(["admin"], "Article")
