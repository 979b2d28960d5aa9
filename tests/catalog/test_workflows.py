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


# --- every problem named, in words a class author can act on ---------------------------------


def all_problems(workflow: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    parse_workflow(workflow, lambda path, message: found.append((path, message)))
    return found


def test_titles_of_states_and_transitions_are_kept_and_round_trip() -> None:
    raw = with_changes(
        states={**WORKFLOW["states"], "review": {"title": "In review"}},
        transitions={
            **WORKFLOW["transitions"],
            "submit": {**WORKFLOW["transitions"]["submit"], "title": "Send to review"},
        },
    )
    definition = parse_class_definition({**ARTICLE, "workflow": raw})
    workflow = definition.workflow
    assert workflow is not None
    assert workflow.state("review").title == "In review"  # type: ignore[union-attr]
    assert workflow.state("draft").title is None  # type: ignore[union-attr]
    assert workflow.transition("submit").title == "Send to review"  # type: ignore[union-attr]
    stored = definition.to_dict()["workflow"]
    assert stored["states"][1] == {"name": "review", "title": "In review"}
    assert stored["states"][3] == {"name": "published", "publishes": True}
    assert stored["transitions"][0] == {
        "name": "submit",
        "title": "Send to review",
        "from": ["draft"],
        "to": "review",
        "scopes": ["write"],
    }
    assert parse_class_definition(definition.to_dict()).workflow == workflow


def test_a_title_must_be_text() -> None:
    raw = with_changes(
        states={**WORKFLOW["states"], "review": {"title": 5}},
        transitions={"go": {"from": "draft", "to": "review", "scopes": ["write"], "title": []}},
    )
    assert all_problems(raw) == [
        ("workflow.states.review.title", "must be a string"),
        ("workflow.transitions.go.title", "must be a string"),
    ]


def test_states_and_transitions_may_be_lists_of_named_objects() -> None:
    listed = with_changes(
        states=[{"name": "draft"}, {"name": "review", "title": "In review"}],
        transitions=[{"name": "submit", "from": ["draft"], "to": "review", "scopes": ["write"]}],
    )
    workflow = parse_workflow(listed, lambda path, message: pytest.fail(f"{path}: {message}"))
    assert workflow is not None
    assert workflow.state_names == ["draft", "review"]
    assert workflow.transition("submit").target == "review"  # type: ignore[union-attr]


def test_every_bad_entry_of_a_list_is_named() -> None:
    raw = with_changes(
        states=[
            {"title": "no name"},
            {"name": "draft"},
            {"name": "draft"},
            "review",
            {"name": 7},
            {"name": "review", "publishes": "no"},
        ]
    )
    assert all_problems(raw)[:5] == [
        ("workflow.states[0].name", "each entry needs a name"),
        ("workflow.states[2].name", "'draft' is named twice"),
        ("workflow.states[3].name", "each entry needs a name"),
        ("workflow.states[4].name", "each entry needs a name"),
        ("workflow.states.review.publishes", "must be true or false"),
    ]


def test_every_bad_entry_of_a_mapping_is_named() -> None:
    raw = with_changes(
        initial="draft",
        states={"Draft": {}, "draft": None, "b c": {}, "review": 3, "approved": "x", "x": {}},
        transitions={},
    )
    name_rule = (
        "a name starts with a lower-case letter, then lower-case letters, digits, _ or - "
        "(at most 64)"
    )
    assert all_problems(raw) == [
        ("workflow.states.Draft", name_rule),
        ("workflow.states.b c", name_rule),
        ("workflow.states.review", "must be an object (or {})"),
        ("workflow.states.approved", "must be an object (or {})"),
        ("workflow.transitions", "must name at least one"),
    ]


@pytest.mark.parametrize("states", ["draft", 5, True])
def test_states_must_be_a_mapping_or_a_list(states: Any) -> None:
    assert all_problems(with_changes(initial="draft", states=states, transitions={}))[:2] == [
        ("workflow.states", "must be a mapping from names to their attributes"),
        ("workflow.initial", "must name one of the states, got 'draft'"),
    ]


def test_the_whole_block_must_be_an_object() -> None:
    assert all_problems(["draft"]) == [
        ("workflow", "must be an object with initial, states and transitions")
    ]
    assert parse_workflow(None, lambda path, message: pytest.fail(path)) is None


def test_the_counts_are_limited_at_their_maximum() -> None:
    from pimhub.catalog.workflows import MAX_TRANSITIONS

    states = {f"s{i}": {} for i in range(MAX_STATES)}
    at_limit = {
        f"t{i}": {"from": ["s0"], "to": f"s{1 + i % (MAX_STATES - 1)}", "scopes": ["write"]}
        for i in range(MAX_TRANSITIONS)
    }
    assert all_problems({"initial": "s0", "states": states, "transitions": at_limit}) == []
    over = {**at_limit, "extra": {"from": ["s0"], "to": "s1", "scopes": ["write"]}}
    assert all_problems({"initial": "s0", "states": states, "transitions": over}) == [
        ("workflow.transitions", "at most 100 are allowed, got 101"),
    ]
    assert ("workflow.states", "at most 50 are allowed, got 51") in all_problems(
        with_changes(states={f"s{i}": {} for i in range(MAX_STATES + 1)})
    )


def test_unknown_attributes_are_named_each() -> None:
    raw = with_changes(
        colour="red",
        states={**WORKFLOW["states"], "draft": {"publish": True}},
        transitions={"go": {"from": "draft", "to": "review", "scopes": ["write"], "by": "x"}},
    )
    assert all_problems(raw) == [
        ("workflow.colour", "unknown attribute"),
        ("workflow.states.draft.publish", "unknown attribute"),
        ("workflow.transitions.go.by", "unknown attribute"),
    ]


def test_a_single_source_state_may_be_given_as_text() -> None:
    workflow = parse_workflow(moving(**{"from": "draft"}), lambda p, m: pytest.fail(f"{p}: {m}"))
    assert workflow is not None
    assert workflow.transition("go").sources == ("draft",)  # type: ignore[union-attr]


@pytest.mark.parametrize("sources", [[], 5, None, ["draft", 3]])
def test_a_transition_must_list_its_source_states(sources: Any) -> None:
    assert all_problems(moving(**{"from": sources})) == [
        ("workflow.transitions.go.from", "must list the states it leaves from"),
    ]


def test_a_transition_names_each_source_once() -> None:
    assert all_problems(moving(**{"from": ["draft", "approved", "draft"]})) == [
        ("workflow.transitions.go.from", "must not repeat a state"),
    ]


@pytest.mark.parametrize("scopes", [[], None, "write", ["write", "root"]])
def test_a_transition_must_list_who_may_run_it(scopes: Any) -> None:
    assert all_problems(moving(scopes=scopes)) == [
        (
            "workflow.transitions.go.scopes",
            "must list who may run it, any of: write, review, publish, delete, admin",
        ),
    ]


def test_repeated_scopes_are_kept_once() -> None:
    workflow = parse_workflow(moving(scopes=["review", "write", "review"]), lambda p, m: None)
    assert workflow.transition("go").scopes == ("review", "write")  # type: ignore[union-attr]


def test_bad_publishes_and_comment_rules_say_what_is_allowed() -> None:
    raw = with_changes(
        states={**WORKFLOW["states"], "review": {"publishes": 1}},
        transitions={"go": {"from": ["draft"], "to": "review", "scopes": ["write"], "comment": 1}},
    )
    assert all_problems(raw) == [
        ("workflow.states.review.publishes", "must be true or false"),
        ("workflow.transitions.go.comment", "must be 'optional' or 'required'"),
    ]


def test_a_comment_at_the_limit_is_taken_and_a_nul_is_refused() -> None:
    from pimhub.catalog.workflows import MAX_COMMENT_LENGTH

    submit = parse_class_definition(ARTICLE).workflow.transition("submit")  # type: ignore[union-attr]
    assert submit is not None
    assert check_comment(submit, None) is None  # optional here
    assert check_comment(submit, "x" * MAX_COMMENT_LENGTH) is None
    assert check_comment(submit, "x" * (MAX_COMMENT_LENGTH + 1)) == (
        "a comment holds at most 2000 characters, got 2001"
    )
    assert check_comment(submit, "a\x00b") == "a comment must not hold a NUL character (U+0000)"
    reject = parse_class_definition(ARTICLE).workflow.transition("reject")  # type: ignore[union-attr]
    assert check_comment(reject, "") == "the transition 'reject' requires a comment"  # type: ignore[arg-type]


# An editorial workflow whose first state is an archive that publishes too, and whose initial
# state (live) publishes: objects start published, and only `retract` changes that.
LIVE_FIRST: dict[str, Any] = {
    "initial": "live",
    "states": {"archived": {"publishes": True}, "live": {"publishes": True}, "hidden": {}},
    "transitions": {
        "archive": {"from": ["live"], "to": "archived", "scopes": ["admin"]},
        "retract": {"from": ["live"], "to": "hidden", "scopes": ["publish"]},
    },
}
# No state publishes: nothing of the class is ever published.
NEVER: dict[str, Any] = {
    "initial": "open",
    "states": {"open": {}, "closed": {}},
    "transitions": {"close": {"from": ["open"], "to": "closed", "scopes": ["write"]}},
}


def test_a_state_is_chosen_by_the_initial_state_first() -> None:
    live = parse_workflow(LIVE_FIRST, lambda p, m: pytest.fail(m))
    assert state_for(live, True) == "live"
    assert state_for(live, False) == "hidden"
    never = parse_workflow(NEVER, lambda p, m: pytest.fail(m))
    # No state agrees with a published object from before: it starts where new ones do.
    assert state_for(never, True) == "open"


def test_checked_published_on_a_workflow_whose_initial_state_publishes() -> None:
    live = parse_class_definition({**NOTE, "workflow": LIVE_FIRST})
    assert checked_published(live, None, None) is True
    assert checked_published(live, None, True) is True
    with pytest.raises(PublishedByWorkflow) as caught:
        checked_published(live, None, False)
    assert caught.value.detail == (
        "Note is published by its workflow, not by writing 'published'; run one of its "
        "transitions that publish or unpublish: retract"
    )
    assert [e.as_dict() for e in caught.value.errors] == [
        {
            "field": "published",
            "code": "workflow",
            "message": "set by the workflow; transitions: retract",
        }
    ]


def test_checked_published_says_when_no_transition_publishes() -> None:
    never = parse_class_definition({**NOTE, "workflow": NEVER})
    with pytest.raises(PublishedByWorkflow) as caught:
        checked_published(never, None, True)
    assert caught.value.detail.endswith("transitions that publish or unpublish: none")
    assert caught.value.errors[0].message == "set by the workflow; transitions: none"
