"""Publishing workflows of a class: the states an object of it passes through and the named
transitions between them, each guarded by scopes (write, review, publish, delete, admin).

A class declares one in its definition:

    workflow:
      initial: draft
      states: {draft: {}, review: {}, approved: {}, published: {publishes: true}}
      transitions:
        submit:  {from: [draft], to: review, scopes: [write]}
        reject:  {from: [review], to: draft, scopes: [review], comment: required}

An object of such a class starts in `initial`; it is published exactly while its state
`publishes`, and only transitions change that (catalog.transitions runs them).
`parse_workflow` checks the block, naming every problem by its path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pimhub.catalog.errors import FieldError, PublishedByWorkflow

if TYPE_CHECKING:
    from pimhub.catalog.objects import CatalogObject

# Names travel in URLs (/transitions/{name}), GraphQL arguments and event bodies.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_STATES = 50
MAX_TRANSITIONS = 100
MAX_COMMENT_LENGTH = 2000
# The actions a transition may name; a key runs it if it holds any of them on the class.
TRANSITION_SCOPES = ("write", "review", "publish", "delete", "admin")

_WORKFLOW_KEYS = frozenset({"initial", "states", "transitions"})
_STATE_KEYS = frozenset({"title", "publishes"})
_TRANSITION_KEYS = frozenset({"title", "from", "to", "scopes", "comment"})
_COMMENT_RULES = ("optional", "required")

Report = Callable[[str, str], None]  # (path, message)


@dataclass(frozen=True, slots=True)
class State:
    name: str
    publishes: bool = False
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.title:
            out["title"] = self.title
        if self.publishes:
            out["publishes"] = True
        return out


@dataclass(frozen=True, slots=True)
class Transition:
    """A named move from any of `sources` to `target`, open to keys holding any of
    `scopes` on the class."""

    name: str
    sources: tuple[str, ...]
    target: str
    scopes: tuple[str, ...]
    comment_required: bool = False
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.title:
            out["title"] = self.title
        out["from"] = list(self.sources)
        out["to"] = self.target
        out["scopes"] = list(self.scopes)
        if self.comment_required:
            out["comment"] = "required"
        return out


@dataclass(frozen=True, slots=True)
class Workflow:
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]

    def state(self, name: str | None) -> State | None:
        return next((s for s in self.states if s.name == name), None)

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.transitions if t.name == name), None)

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]

    def publishes(self, state: str | None) -> bool:
        found = self.state(state)
        return found is not None and found.publishes

    def from_state(self, state: str | None) -> list[Transition]:
        """The transitions that leave `state`, in definition order."""
        return [t for t in self.transitions if state in t.sources]

    def publishing(self) -> list[Transition]:
        """The transitions that change whether an object is published (into or out of a
        publishing state): the only way to publish on a class with a workflow."""
        return [
            t
            for t in self.transitions
            if any(self.publishes(s) != self.publishes(t.target) for s in t.sources)
        ]

    def to_dict(self) -> dict[str, Any]:
        # Lists, not mappings by name (which parse_workflow reads too): PostgreSQL's jsonb
        # keeps no key order, and the order of states and transitions is what lists show.
        return {
            "initial": self.initial,
            "states": [{"name": s.name, **s.to_dict()} for s in self.states],
            "transitions": [{"name": t.name, **t.to_dict()} for t in self.transitions],
        }


def _named_entries(raw: Any, path: str, limit: int, report: Report) -> list[tuple[str, Any]]:
    """`raw` as (name, attributes): a mapping by name, or a list of objects with `name`
    (where a name given twice is refused; a YAML mapping cannot repeat a key)."""
    if isinstance(raw, Mapping):
        entries = list(raw.items())
    elif isinstance(raw, list):
        entries = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str):
                report(f"{path}[{i}].name", "each entry needs a name")
                continue
            if name in seen:
                report(f"{path}[{i}].name", f"'{name}' is named twice")
                continue
            seen.add(name)
            entries.append((name, {k: v for k, v in item.items() if k != "name"}))
    else:
        report(path, "must be a mapping from names to their attributes")
        return []
    if not entries:
        report(path, "must name at least one")
    if len(entries) > limit:
        report(path, f"at most {limit} are allowed, got {len(entries)}")
        return []
    good = []
    for name, attrs in entries:
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            report(
                f"{path}.{name}",
                "a name starts with a lower-case letter, then lower-case letters, digits, "
                "_ or - (at most 64)",
            )
            continue
        if attrs is None:
            attrs = {}
        if not isinstance(attrs, Mapping):
            report(f"{path}.{name}", "must be an object (or {})")
            continue
        good.append((name, attrs))
    return good


def _unknown(attrs: Mapping[str, Any], known: frozenset[str], path: str, report: Report) -> None:
    for key in sorted(str(k) for k in set(attrs) - known):
        report(f"{path}.{key}", "unknown attribute")


def _title(attrs: Mapping[str, Any], path: str, report: Report) -> str | None:
    title = attrs.get("title")
    if title is not None and not isinstance(title, str):
        report(f"{path}.title", "must be a string")
        return None
    return title


def _parse_states(raw: Any, report: Report) -> list[State]:
    states = []
    for name, attrs in _named_entries(raw, "workflow.states", MAX_STATES, report):
        path = f"workflow.states.{name}"
        _unknown(attrs, _STATE_KEYS, path, report)
        publishes = attrs.get("publishes", False)
        if not isinstance(publishes, bool):
            report(f"{path}.publishes", "must be true or false")
            publishes = False
        states.append(State(name, publishes, _title(attrs, path, report)))
    return states


def _parse_transition(
    name: str, attrs: Mapping[str, Any], states: set[str], report: Report
) -> Transition:
    path = f"workflow.transitions.{name}"
    _unknown(attrs, _TRANSITION_KEYS, path, report)
    sources = attrs.get("from")
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        report(f"{path}.from", "must list the states it leaves from")
        sources = []
    for i, source in enumerate(sources):
        if source not in states:
            report(f"{path}.from[{i}]", f"names no state: '{source}'")
    if len(set(sources)) != len(sources):
        report(f"{path}.from", "must not repeat a state")
    target = attrs.get("to")
    if not isinstance(target, str) or target not in states:
        report(f"{path}.to", f"names no state: {target!r}")
        target = ""
    elif target in sources:
        # A transition is a change of state: one into its own source would store nothing
        # new, yet announce a move (workflow.transitioned) that no version records.
        report(
            f"{path}.to",
            f"'{target}' is also a state it leaves from; a transition must change the state",
        )
    scopes = attrs.get("scopes")
    if (
        not isinstance(scopes, list)
        or not scopes
        or not all(isinstance(s, str) and s in TRANSITION_SCOPES for s in scopes)
    ):
        report(
            f"{path}.scopes",
            f"must list who may run it, any of: {', '.join(TRANSITION_SCOPES)}",
        )
        scopes = []
    comment = attrs.get("comment", "optional")
    if comment not in _COMMENT_RULES:
        report(f"{path}.comment", "must be 'optional' or 'required'")
    return Transition(
        name,
        tuple(sources),
        target,
        tuple(dict.fromkeys(scopes)),
        comment == "required",
        _title(attrs, path, report),
    )


def parse_workflow(raw: Any, report: Report) -> Workflow | None:
    """The class's `workflow` block (None: the class has none); each problem goes to
    `report` with its path, such as workflow.transitions.submit.to."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        report("workflow", "must be an object with initial, states and transitions")
        return None
    _unknown(raw, _WORKFLOW_KEYS, "workflow", report)
    states = _parse_states(raw.get("states"), report)
    names = {s.name for s in states}
    initial = raw.get("initial")
    if not isinstance(initial, str) or initial not in names:
        report("workflow.initial", f"must name one of the states, got {initial!r}")
    entries = _named_entries(
        raw.get("transitions"), "workflow.transitions", MAX_TRANSITIONS, report
    )
    transitions = [_parse_transition(n, a, names, report) for n, a in entries]
    return Workflow(initial if isinstance(initial, str) else "", tuple(states), tuple(transitions))


def check_comment(transition: Transition, comment: str | None) -> str | None:
    """What is wrong with `comment` for `transition`, or None when it is fine."""
    if transition.comment_required and not (comment or "").strip():
        return f"the transition '{transition.name}' requires a comment"
    if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
        return f"a comment holds at most {MAX_COMMENT_LENGTH} characters, got {len(comment)}"
    if comment is not None and "\x00" in comment:
        return "a comment must not hold a NUL character (U+0000)"
    return None


def state_for(workflow: Workflow | None, published: bool, held: str | None = None) -> str | None:
    """The state an object of a class with `workflow` holds: `held` when the workflow has
    it; otherwise (a new object, or one from before the class had this workflow) the initial
    state, or, where that disagrees with `published`, the first state that agrees."""
    if workflow is None:
        return None
    if held is not None and workflow.state(held) is not None:
        return held
    if workflow.publishes(workflow.initial) == published:
        return workflow.initial
    return next((s.name for s in workflow.states if s.publishes == published), workflow.initial)


class WorkflowHolder(Protocol):
    """What `checked_published` reads of a class definition. A protocol rather than
    catalog.classes.ClassDefinition because classes imports this module to parse the block."""

    @property
    def name(self) -> str: ...

    @property
    def workflow(self) -> Workflow | None: ...


def checked_published(
    definition: WorkflowHolder, before: CatalogObject | None, requested: bool | None
) -> bool | None:
    """The `published` a write stores. On a class with a workflow it is what the object's
    state gives (a new object's: the initial state's), and a write asking for another value
    is refused, naming the transitions that publish; elsewhere it is `requested`."""
    workflow = definition.workflow
    if workflow is None:
        return requested
    holds = before.published if before is not None else workflow.publishes(workflow.initial)
    if requested is not None and requested != holds:
        names = ", ".join(t.name for t in workflow.publishing()) or "none"
        raise PublishedByWorkflow(
            f"{definition.name} is published by its workflow, not by writing 'published'; "
            f"run one of its transitions that publish or unpublish: {names}",
            [FieldError("published", f"set by the workflow; transitions: {names}", "workflow")],
        )
    return holds
