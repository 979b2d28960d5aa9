"""Workflow transitions through the catalog service, on SQLite and PostgreSQL: paths allowed
and refused per scope, versions and both events in one transaction, published kept to the
workflow by every write path, class changes, and parallel transitions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.catalog.batch import PUBLISHED_ITEM_KEY, Outcome
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.errors import (
    CatalogError,
    IncompatibleClassChange,
    InvalidInput,
    InvalidTransition,
    ObjectNotFound,
    PublishedByWorkflow,
    StaleVersion,
    TransitionForbidden,
    UnknownTransition,
    WriteConflict,
)
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.workflow_changes import assign_workflow_states
from pimhub.storage.tables import outbox
from tests.catalog.workflow_fixtures import ARTICLE, NOTE, install, key, runs_as


@pytest.fixture
def wf(bare_hub: Hub) -> Hub:
    return install(bare_hub)


def admin_runs(_scopes: object) -> bool:
    return True


def walk(hub: Hub, code: str, *names: str) -> None:
    for name in names:
        hub.catalog.transition("Article", code, name, may_run=admin_runs, author="admin")


def outbox_rows(hub: Hub) -> list[tuple[str, int, dict[str, object]]]:
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.event_type, outbox.c.version, outbox.c.payload).order_by(outbox.c.id)
        ).all()
    return [(r.event_type, r.version, r.payload) for r in rows]


def test_a_new_object_starts_in_the_initial_state_unpublished(wf: Hub) -> None:
    obj = wf.catalog.create("Article", {"code": "a1", "title": "Hello"}, author="w")
    assert (obj.workflow_state, obj.published) == ("draft", False)
    assert obj.to_dict()["workflow"] == {"state": "draft"}
    stored = wf.catalog.get_object("Article", "a1", include_drafts=True)
    assert stored.workflow_state == "draft"
    note = wf.catalog.create("Note", {"code": "n1"}, author="w")
    assert (note.workflow_state, note.published) == (None, True)
    assert "workflow" not in note.to_dict()


def test_the_full_path_with_scopes(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1", "title": "Hello"}, author="w")
    writer = key(wf, "write:Article", name="writer")
    reviewer = key(wf, "review:Article", name="reviewer")
    publisher = key(wf, "publish:*", name="publisher")
    admin = key(wf, "admin", name="root")
    run = wf.catalog.transition
    moved = run("Article", "a1", "submit", may_run=runs_as(writer), author="writer")
    assert (moved.workflow_state, moved.published, moved.version) == ("review", False, 2)
    with pytest.raises(TransitionForbidden) as forbidden:
        run("Article", "a1", "approve", may_run=runs_as(writer), author="writer")
    assert "review:Article" in forbidden.value.detail
    with pytest.raises(TransitionForbidden):
        run("Article", "a1", "approve", may_run=runs_as(reviewer, "Note"), author="reviewer")
    moved = run("Article", "a1", "approve", may_run=runs_as(reviewer), author="reviewer")
    assert moved.workflow_state == "approved"
    with pytest.raises(TransitionForbidden):
        run("Article", "a1", "publish", may_run=runs_as(reviewer), author="reviewer")
    moved = run("Article", "a1", "publish", may_run=runs_as(publisher), author="publisher")
    assert (moved.workflow_state, moved.published, moved.version) == ("published", True, 4)
    moved = run("Article", "a1", "unpublish", may_run=runs_as(admin), author="root")
    assert (moved.workflow_state, moved.published) == ("draft", False)
    versions = wf.catalog.list_versions("Article", "a1", include_drafts=True)
    assert [(v.version, v.author, v.changed_fields) for v in versions] == [
        (5, "root", ("workflowState", "published")),
        (4, "publisher", ("workflowState", "published")),
        (3, "reviewer", ("workflowState",)),
        (2, "writer", ("workflowState",)),
        (1, "w", ("code", "title")),
    ]


def test_an_invalid_transition_names_the_state_and_what_is_open(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    reviewer = key(wf, "review:Article", "write:Article")
    with pytest.raises(InvalidTransition) as caught:
        wf.catalog.transition("Article", "a1", "approve", may_run=runs_as(reviewer), author="r")
    assert "state 'draft'" in caught.value.detail
    assert "Open from 'draft': submit" in caught.value.detail
    with pytest.raises(UnknownTransition) as unknown:
        wf.catalog.transition("Article", "a1", "launch", may_run=admin_runs, author="r")
    assert "submit, reject, approve, publish, unpublish" in unknown.value.detail
    with pytest.raises(UnknownTransition):
        wf.catalog.transition("Note", "a1", "submit", may_run=admin_runs, author="r")
    with pytest.raises(ObjectNotFound):
        wf.catalog.transition("Article", "zz", "submit", may_run=admin_runs, author="r")


def test_a_caller_that_cannot_see_a_draft_finds_it_missing(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    reviewer = key(wf, "review:Article")

    def run(code: str, name: str, **kwargs: object) -> object:
        return wf.catalog.transition(
            "Article", code, name, may_run=runs_as(reviewer), author="r", sees_drafts=False,
            **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip

    with pytest.raises(ObjectNotFound) as missing:
        run("zz", "approve")
    with pytest.raises(ObjectNotFound) as hidden:
        run("a1", "approve")  # a draft, and not in review: neither is told
    assert hidden.value.detail == missing.value.detail.replace("'zz'", "'a1'")
    assert "draft" not in hidden.value.detail
    walk(wf, "a1", "submit")
    with pytest.raises(ObjectNotFound):
        run("a1", "approve", expected_version=1)  # stale: its version is not told either
    # A move the caller may run still runs, unseen (the API answers it without a body).
    assert run("a1", "approve").workflow_state == "approved"
    walk(wf, "a1", "publish")
    with pytest.raises(InvalidTransition):  # published: readable, so the state is told
        run("a1", "approve")


def test_transition_names_are_told_only_to_callers_with_a_scope_on_the_class(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    with pytest.raises(UnknownTransition) as caught:
        wf.catalog.transition(
            "Article", "a1", "launch", may_run=admin_runs, author="x", sees_class=False
        )
    assert "no transition 'launch'" in caught.value.detail
    assert "submit" not in caught.value.detail


def test_a_rejection_needs_its_comment_and_the_event_carries_it(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    walk(wf, "a1", "submit")
    with pytest.raises(InvalidInput) as caught:
        wf.catalog.transition("Article", "a1", "reject", may_run=admin_runs, author="ed")
    assert caught.value.errors[0].field == "comment"
    assert not isinstance(caught.value, InvalidTransition)
    wf.catalog.transition(
        "Article", "a1", "reject", may_run=admin_runs, author="ed", comment="fix the title"
    )
    last = outbox_rows(wf)[-1]
    assert last[0] == "workflow.transitioned"
    assert last[2]["data"] == {  # type: ignore[comparison-overlap]
        "objectType": "Article",
        "uuid": wf.catalog.get_object("Article", "a1", include_drafts=True).uuid,
        "businessKey": "a1",
        "version": 3,
        "transition": "reject",
        "from": "review",
        "to": "draft",
        "actor": "ed",
        "comment": "fix the title",
    }


def test_a_transition_writes_its_version_and_both_events_together(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    walk(wf, "a1", "submit", "approve")
    before = len(outbox_rows(wf))
    walk(wf, "a1", "publish")
    rows = outbox_rows(wf)[before:]
    assert [(t, v) for t, v, _ in rows] == [("object.published", 4), ("workflow.transitioned", 4)]
    assert rows[0][2]["data"]["changedFields"] == ["workflowState", "published"]  # type: ignore[index]
    assert rows[0][2]["data"]["object"]["workflow"] == {"state": "published"}  # type: ignore[index]
    # A transition that fails after its checks leaves nothing behind: no version, no event.
    with pytest.raises(InvalidTransition):
        walk(wf, "a1", "publish")
    assert len(outbox_rows(wf)) == before + 2
    assert len(wf.catalog.list_versions("Article", "a1", include_drafts=True)) == 4


def test_a_stale_expected_version_is_refused(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    with pytest.raises(StaleVersion):
        wf.catalog.transition(
            "Article", "a1", "submit", may_run=admin_runs, author="w", expected_version=7
        )
    moved = wf.catalog.transition(
        "Article", "a1", "submit", may_run=admin_runs, author="w", expected_version=1
    )
    assert moved.version == 2


def test_writes_may_not_change_published_on_a_workflow_class(wf: Hub) -> None:
    c = wf.catalog
    with pytest.raises(PublishedByWorkflow) as caught:
        c.create("Article", {"code": "a1"}, published=True, author="w")
    assert "publish, unpublish" in caught.value.detail
    c.create("Article", {"code": "a1"}, published=False, author="w")  # agrees: fine
    with pytest.raises(PublishedByWorkflow):
        c.put("Article", "a1", {"title": "x"}, published=True, author="w")
    with pytest.raises(PublishedByWorkflow):
        c.patch("Article", "a1", {"title": "x"}, published=True, author="w")
    with pytest.raises(PublishedByWorkflow):
        c.upsert("Article", {"code": "a1"}, published=True, author="w")
    saved = c.patch("Article", "a1", {"title": "edited"}, author="w")
    assert (saved.object.workflow_state, saved.object.published) == ("draft", False)
    walk(wf, "a1", "submit", "approve", "publish")
    saved = c.put("Article", "a1", {"title": "live edit"}, author="w")
    assert (saved.object.workflow_state, saved.object.published) == ("published", True)
    with pytest.raises(PublishedByWorkflow):
        c.patch("Article", "a1", {}, published=False, author="w")
    # A class without a workflow keeps today's flag.
    c.create("Note", {"code": "n1"}, published=False, author="w")
    assert c.patch("Note", "n1", {}, published=True, author="w").object.published


def test_batches_refuse_published_per_item(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    with wf.catalog.batch_writer("Article", author="imp") as batch:
        results = batch.save(
            [
                {"code": "a1", "title": "t", PUBLISHED_ITEM_KEY: True},
                {"code": "a2", "title": "new"},
                {"code": "a3", PUBLISHED_ITEM_KEY: True},
            ]
        )
        batch.commit()
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.CREATED, Outcome.FAILED]
    assert results[0].errors[0].field == "published"
    created = wf.catalog.get_object("Article", "a2", include_drafts=True)
    assert (created.workflow_state, created.published) == ("draft", False)
    with wf.catalog.batch_writer("Note", author="imp") as batch:
        [note] = batch.save([{"code": "n1", PUBLISHED_ITEM_KEY: False}])
        batch.commit()
    assert note.outcome == Outcome.CREATED


def test_removing_a_held_state_is_refused_and_adding_a_workflow_assigns_states(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="w")
    walk(wf, "a1", "submit")
    smaller = {
        **ARTICLE,
        "workflow": {
            "initial": "draft",
            "states": {"draft": {}, "published": {"publishes": True}},
            "transitions": {"go": {"from": ["draft"], "to": "published", "scopes": ["publish"]}},
        },
    }
    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Article", smaller, author="t")
    assert [e.field for e in caught.value.errors] == ["workflow.states.review"]
    assert "1 object(s)" in caught.value.errors[0].message
    wf.catalog.transition("Article", "a1", "reject", may_run=admin_runs, author="t", comment="no")
    wf.classes.replace("Article", smaller, author="t")
    # Notes gain a workflow: published notes land in the publishing state, drafts in draft.
    wf.catalog.create("Note", {"code": "live"}, author="t")
    wf.catalog.create("Note", {"code": "hidden"}, published=False, author="t")
    wf.classes.replace("Note", {**NOTE, "workflow": smaller["workflow"]}, author="t")
    live = wf.catalog.get_object("Note", "live", include_drafts=True)
    hidden = wf.catalog.get_object("Note", "hidden", include_drafts=True)
    assert (live.workflow_state, live.published, live.version) == ("published", True, 1)
    assert (hidden.workflow_state, hidden.published) == ("draft", False)
    wf.classes.replace("Note", NOTE, author="t")
    assert wf.catalog.get_object("Note", "live", include_drafts=False).workflow_state is None


def test_changing_whether_a_held_state_publishes_is_refused(wf: Hub) -> None:
    c = wf.catalog
    for code in ("a1", "a2"):
        c.create("Article", {"code": code}, author="t")
        walk(wf, code, "submit", "approve")
    c.create("Article", {"code": "live"}, author="t")
    walk(wf, "live", "submit", "approve", "publish")

    def changed(**states: dict[str, bool]) -> dict[str, object]:
        workflow = {**ARTICLE["workflow"], "states": {**ARTICLE["workflow"]["states"], **states}}
        return {**ARTICLE, "workflow": workflow}

    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Article", changed(approved={"publishes": True}), author="t")
    [problem] = caught.value.errors
    assert problem.field == "workflow.states.approved.publishes"
    assert "2 object(s)" in problem.message and "transition first" in problem.message
    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Article", changed(published={}), author="t")
    assert [e.field for e in caught.value.errors] == ["workflow.states.published.publishes"]
    assert "1 object(s)" in caught.value.errors[0].message
    assert c.get_object("Article", "a1", include_drafts=True).published is False
    # A state no object is in may change: nothing stored depends on it.
    wf.classes.replace("Article", changed(review={"publishes": True}), author="t")
    assert wf.classes.get("Article").workflow.publishes("review")  # type: ignore[union-attr]


def test_a_workflow_where_no_state_publishes_cannot_take_published_objects(wf: Hub) -> None:
    wf.catalog.create("Note", {"code": "live"}, author="t")
    closed = {
        "initial": "draft",
        "states": {"draft": {}, "review": {}},
        "transitions": {"submit": {"from": ["draft"], "to": "review", "scopes": ["write"]}},
    }
    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Note", {**NOTE, "workflow": closed}, author="t")
    assert "no state publishes" in caught.value.errors[0].message


def test_parallel_transitions_of_one_object_let_exactly_one_win(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "race"}, author="w")
    writer = key(wf, "write:Article")

    def submit(_: int) -> str:
        try:
            wf.catalog.transition("Article", "race", "submit", may_run=runs_as(writer), author="w")
        except CatalogError as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(submit, range(20)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("invalid-transition") == 19
    obj = wf.catalog.get_object("Article", "race", include_drafts=True)
    assert (obj.workflow_state, obj.version) == ("review", 2)
    kinds = [t for t, _, _ in outbox_rows(wf)]
    assert kinds.count("workflow.transitioned") == 1


def test_parallel_transitions_of_different_objects_all_succeed(wf: Hub) -> None:
    codes = [f"p{i}" for i in range(12)]
    for code in codes:
        wf.catalog.create("Article", {"code": code}, author="w")

    def move(code: str) -> str | None:
        walk(wf, code, "submit", "approve", "publish")
        wf.catalog.patch("Article", code, {"title": f"t-{code}"}, author="w")  # no version named
        return wf.catalog.get_object("Article", code, include_drafts=False).workflow_state

    with ThreadPoolExecutor(6) as pool:
        states = list(pool.map(move, codes))
    assert states == ["published"] * len(codes)


SHIRT = {
    "name": "Shirt",
    "businessKey": "code",
    "fields": [
        {"name": "code", "type": "text"},
        {"name": "size", "type": "select", "options": ["S", "M"]},
        {"name": "title", "type": "text"},
    ],
    "variants": {"axes": ["size"]},
    "workflow": ARTICLE["workflow"],
}


def test_variants_follow_their_own_state_and_their_parent(wf: Hub) -> None:
    wf.classes.apply([SHIRT], author="t")
    c = wf.catalog
    c.create("Shirt", {"code": "p"}, author="t")
    child = c.create("Shirt", {"code": "p-s", "size": "S"}, parent="p", author="t")
    assert (child.workflow_state, child.published) == ("draft", False)

    def move(code: str, *names: str) -> None:
        for name in names:
            c.transition("Shirt", code, name, may_run=admin_runs, author="t")

    def state(code: str) -> tuple[str | None, bool]:
        obj = c.get_object("Shirt", code, include_drafts=True)
        return obj.workflow_state, obj.published

    move("p-s", "submit", "approve", "publish")
    assert state("p-s") == ("published", False)  # its parent is not live yet
    move("p", "submit", "approve", "publish")
    assert state("p") == ("published", True)
    assert state("p-s") == ("published", True)  # the parent brings it along
    move("p", "unpublish")
    assert state("p-s") == ("published", False)
    move("p", "submit", "approve", "publish")
    assert state("p-s") == ("published", True)


def test_a_writer_wide_published_gives_way_to_the_state(wf: Hub) -> None:
    """`pimhub import --draft` on a workflow class: changed rows of live objects are written
    and stay live, new rows land in the initial state; only a row's own @published that
    contradicts the state is refused. Plain rows and family rows alike."""
    wf.classes.apply([SHIRT], author="t")
    c = wf.catalog
    for code in ("live", "live2"):
        c.create("Article", {"code": code}, author="t")
        walk(wf, code, "submit", "approve", "publish")
    c.create("Shirt", {"code": "p"}, author="t")
    c.create("Shirt", {"code": "p-s", "size": "S"}, parent="p", author="t")
    for name in ("submit", "approve", "publish"):
        c.transition("Shirt", "p", name, may_run=admin_runs, author="t")
    with c.batch_writer("Article", published=False, author="imp") as batch:
        results = batch.save(
            [
                {"code": "live", "title": "edited"},
                {"code": "new", "title": "fresh"},
                {"code": "live2", "title": "hidden", PUBLISHED_ITEM_KEY: False},
            ]
        )
        batch.commit()
    assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.CREATED, Outcome.FAILED]
    assert results[2].errors[0].field == "published"
    live = c.get_object("Article", "live", include_drafts=True)
    assert (live.workflow_state, live.published, live.values["title"]) == (
        "published",
        True,
        "edited",
    )
    new = c.get_object("Article", "new", include_drafts=True)
    assert (new.workflow_state, new.published) == ("draft", False)
    with c.batch_writer("Shirt", published=False, author="imp") as batch:
        results = batch.save(
            [
                {"code": "p", "title": "family edit"},
                {"code": "p-s", "title": "child", PUBLISHED_ITEM_KEY: True},
            ]
        )
        batch.commit()
    assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.FAILED]
    parent = c.get_object("Shirt", "p", include_drafts=True)
    assert (parent.workflow_state, parent.published, parent.values["title"]) == (
        "published",
        True,
        "family edit",
    )
    # A class without a workflow still takes the writer's published.
    c.create("Note", {"code": "n1"}, author="t")
    with c.batch_writer("Note", published=False, author="imp") as batch:
        [note] = batch.save([{"code": "n1", "title": "hidden now"}])
        batch.commit()
    assert note.outcome == Outcome.UPDATED
    assert not c.get_object("Note", "n1", include_drafts=True).published


def test_parallel_draft_imports_and_transitions_keep_published_to_the_state(wf: Hub) -> None:
    """Imports as drafts (no version named) racing transitions of the same objects: no row
    fails or conflicts, and each object ends published exactly when its state publishes."""
    codes = [f"r{i}" for i in range(6)]
    for code in codes:
        wf.catalog.create("Article", {"code": code}, author="t")
        walk(wf, code, "submit", "approve", "publish")

    def work(n: int) -> list[Outcome]:
        if n % 2:
            code = codes[n // 2 % len(codes)]
            walk(wf, code, "unpublish", "submit", "approve", "publish", "unpublish")
            return []
        with wf.catalog.batch_writer("Article", published=False, author=f"imp{n}") as batch:
            results = batch.save([{"code": c, "title": f"t{n}"} for c in codes])
            batch.commit()
        return [r.outcome for r in results]

    with ThreadPoolExecutor(6) as pool:
        outcomes = [o for found in pool.map(work, range(12)) for o in found]
    assert set(outcomes) <= {Outcome.UPDATED, Outcome.UNCHANGED}, outcomes
    for code in codes:
        obj = wf.catalog.get_object("Article", code, include_drafts=True)
        assert obj.published == (obj.workflow_state == "published"), obj


# --- class changes: what the refusals say, and states kept or assigned ------------------------

AGAIN = "move them to another state with a transition first"


def article_with(workflow: dict[str, object]) -> dict[str, object]:
    return {**ARTICLE, "workflow": workflow}


def test_a_class_change_names_each_held_state_it_breaks_with_its_count(wf: Hub) -> None:
    for code, path in {
        "r1": ("submit",),
        "r2": ("submit",),
        "p1": ("submit", "approve"),
        "l1": ("submit", "approve", "publish"),
    }.items():
        wf.catalog.create("Article", {"code": code}, author="t")
        walk(wf, code, *path)
    # review goes; approved starts publishing and published stops: each holds objects.
    changed = {
        "initial": "draft",
        "states": {"draft": {}, "approved": {"publishes": True}, "published": {}},
        "transitions": {"go": {"from": ["draft"], "to": "approved", "scopes": ["publish"]}},
    }
    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Article", article_with(changed), author="t")
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("workflow.states.review", f"is removed while 2 object(s) are in it; {AGAIN}"),
        (
            "workflow.states.approved.publishes",
            f"changes ('approved' now publishes) while 1 object(s) are in it; {AGAIN}, "
            "or add a new state instead",
        ),
        (
            "workflow.states.published.publishes",
            f"changes ('published' stops publishing) while 1 object(s) are in it; {AGAIN}, "
            "or add a new state instead",
        ),
    ]


def test_a_new_workflow_must_have_a_state_for_each_kind_of_object(wf: Hub) -> None:
    wf.catalog.create("Note", {"code": "p1"}, author="t")
    wf.catalog.create("Note", {"code": "p2"}, author="t")
    never = {
        "initial": "open",
        "states": {"open": {}, "closed": {}},
        "transitions": {"close": {"from": ["open"], "to": "closed", "scopes": ["write"]}},
    }
    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Note", {**NOTE, "workflow": never}, author="t")
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("workflow.states", "no state publishes, but 2 published object(s) need one"),
    ]
    wf.catalog.create("Note", {"code": "u1"}, published=False, author="t")
    always = {
        "initial": "live",
        "states": {"live": {"publishes": True}, "archived": {"publishes": True}},
        "transitions": {"archive": {"from": ["live"], "to": "archived", "scopes": ["write"]}},
    }
    with pytest.raises(IncompatibleClassChange) as caught:
        wf.classes.replace("Note", {**NOTE, "workflow": always}, author="t")
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("workflow.states", "no state does not publish, but 1 unpublished object(s) need one"),
    ]


def test_objects_keep_a_state_the_changed_workflow_still_has(wf: Hub) -> None:
    wf.catalog.create("Article", {"code": "a1"}, author="t")
    walk(wf, "a1", "submit", "approve")
    before = wf.catalog.get_object("Article", "a1", include_drafts=True)
    workflow = ARTICLE["workflow"]
    grown = {
        **workflow,
        "states": {**workflow["states"], "archived": {}},
        "transitions": {
            **workflow["transitions"],
            "archive": {"from": ["draft"], "to": "archived", "scopes": ["admin"]},
        },
    }
    wf.classes.replace("Article", article_with(grown), author="t")
    after = wf.catalog.get_object("Article", "a1", include_drafts=True)
    assert (after.workflow_state, after.published, after.version) == (
        "approved",
        False,
        before.version,
    )


class _Objects:
    """Just enough of an ObjectRepository for assign_workflow_states: stored objects, and
    the compare-and-set writes it makes, of which the last `lost` find another version."""

    def __init__(self, objects: list[CatalogObject], lost: int = 0) -> None:
        self.objects, self.lost = objects, lost
        self.writes: list[list[str]] = []

    def iterate(self, class_name: str) -> Iterator[CatalogObject]:
        return iter(self.objects)

    def update_many(self, changes: Sequence[tuple[CatalogObject, int]]) -> int:
        self.writes.append([obj.key for obj, _ in changes])
        return len(changes) - self.lost


def _notes(count: int) -> list[CatalogObject]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        CatalogObject("Note", f"n{i}", f"uuid-{i}", {"code": f"n{i}"}, i % 2 == 0, 3, now, now)
        for i in range(count)
    ]


def test_a_workflow_added_to_many_objects_writes_each_once_in_bounded_statements() -> None:
    old = parse_class_definition(NOTE)
    new = parse_class_definition({**NOTE, "workflow": ARTICLE["workflow"]})
    notes = _notes(1203)
    objects = _Objects(notes)
    assign_workflow_states(objects, old, new)  # type: ignore[arg-type]
    assert [n.workflow_state for n in notes[:2]] == ["published", "draft"]
    assert {n.workflow_state for n in notes[2:]} == {"published", "draft"}
    written = [key for chunk in objects.writes for key in chunk]
    assert sorted(written) == sorted(n.key for n in notes)  # each once
    assert max(len(chunk) for chunk in objects.writes) <= 500
    assert all(n.version == 3 for n in notes)  # a state assigned is no new version
    unchanged = _Objects(_notes(3))
    assign_workflow_states(unchanged, new, new)  # type: ignore[arg-type]
    assert unchanged.writes == []


def test_an_object_changed_while_states_are_assigned_is_a_retryable_conflict() -> None:
    old = parse_class_definition(NOTE)
    new = parse_class_definition({**NOTE, "workflow": ARTICLE["workflow"]})
    with pytest.raises(WriteConflict) as caught:
        assign_workflow_states(_Objects(_notes(2), lost=1), old, new)  # type: ignore[arg-type]
    assert caught.value.retryable
    assert caught.value.detail == "objects changed while their workflow states were assigned"
    assert [e.as_dict() for e in caught.value.errors] == [
        {"field": "", "code": "write-conflict", "message": "changed concurrently"}
    ]
