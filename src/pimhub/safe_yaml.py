"""The one loader for YAML that comes from users (mappings, class and datahub files, connector
settings): safe tags only, and no document nested deeper than MAX_DEPTH.

PyYAML's composer recurses once per nesting level, so a document `[[[[...` some thousands
deep ends in a RecursionError (a 500 on the API, a traceback in the CLI). The loader counts
the depth while it composes and refuses the document before the stack grows, with a
MarkedYAMLError that names the line, so every caller's existing YAML error handling reports
it. An alias counts as deep as the node it repeats, so anchors cannot chain shallow pieces
into a deep object. Aliases stay shared references, as PyYAML builds them: expanding them
into copies is what would make a billion-laughs document expensive.

Building the values can fail too: `2020-99-99` matches YAML's timestamp pattern but is no date,
and an integer of more than 4300 digits exceeds Python's int-from-text limit. Any such error
becomes a ConstructorError (a MarkedYAMLError) naming the value's line, like the depth limit.

Timestamps are not built at all: a plain `2020-01-01` or `2020-01-01 10:00:00` loads as the
string it is written as. Nothing read from these files wants a date object (mappings compare
with cell text, class defaults and connector settings are stored as JSON), and a date object
there is a surprise: it does not serialize to JSON, compares unequal to the same text, and
impossible dates used to fail while loading.

Neutral on purpose: it imports nothing of pimhub, so the domain, the API and the CLI can all
use it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64  # far beyond any mapping or class file; far below Python's recursion limit
# Hex, octal and binary integers are not bound by Python's 4300-digit limit on reading decimal
# text, but printing one that long fails later; ~4200 decimal digits, below that limit.
MAX_INT_BITS = 14_000


class TooDeep(ComposerError):
    """A document nested deeper than MAX_DEPTH."""


class _DepthLimitedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._heights: dict[int, int] = {}  # id(node) -> levels of the subtree it roots

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            return self._compose_alias(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            self._refuse(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._heights[id(node)] = 1 + self._children_height(node)
        return node

    def _compose_alias(self, parent: Node | None, index: Any) -> Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        if node is not None and self._depth + self._heights.get(id(node), 1) > MAX_DEPTH:
            self._refuse(mark)
        return node

    def _children_height(self, node: Node) -> int:
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            return 0
        return max((self._heights.get(id(child), 1) for child in children), default=0)

    def _refuse(self, mark: Any) -> None:
        raise TooDeep(None, None, f"the document is nested deeper than {MAX_DEPTH} levels", mark)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # Each node is built here, so a value that cannot be built is reported at its own line
        # (a mapping's items are built by a later call for the mapping's own node).
        try:
            value = super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            # Python's advice after the ';' (sys.set_int_max_str_digits) is not for users.
            reason = str(exc).split(";")[0]
            raise ConstructorError(
                None, None, f"cannot read this value: {reason}", node.start_mark
            ) from exc
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise ConstructorError(None, None, "this integer is too long", node.start_mark)
        return value

    def construct_timestamp_as_text(self, node: Node) -> str:
        """Timestamps load as the text they are written as (see the module docstring)."""
        return str(self.construct_scalar(node))  # type: ignore[arg-type]


_DepthLimitedLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _DepthLimitedLoader.construct_timestamp_as_text
)


def load(text: str) -> Any:
    """The Python value of a YAML document from outside: only YAML's safe tags, at most
    MAX_DEPTH levels deep, timestamps as strings. Raises yaml.YAMLError (a MarkedYAMLError
    naming the line for a document that is too deep or a value that cannot be built)."""
    loader = _DepthLimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
