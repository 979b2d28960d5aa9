"""Destination transforms: a JMESPath expression that reshapes an event's body for one endpoint.

Why JMESPath rather than a template language: an expression only selects and rebuilds JSON
from the document it is given. It cannot run code, read files, call out or loop beyond the
document, so an operator's expression needs no sandbox to be safe (a Jinja template does, and
its sandbox is a blocklist). It has a specification with a compliance suite, implementations in
many languages (so receivers' developers can try an expression in their own tools), and the
hub already uses it to read inbound messages. What it cannot do (string formatting, arithmetic
beyond sum/avg) is what a receiver is better placed to do itself.

Expressions are checked when saved (syntax, function names and argument counts), compiled once
per expression, and applied at claim time; the JSON of the result is the body signed and sent.
Applying one is metered (events.bounded_search): a short expression can multiply the event
(`[@,@]` repeated), so work and result are bounded by result_limit of the event's size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jmespath
import orjson
from jmespath import exceptions as jmespath_errors
from jmespath.functions import Functions
from jmespath.parser import ParsedResult

from pimhub.events.bounded_search import ResultTooLarge, bounded_search, result_limit

MAX_TRANSFORM = 2000  # characters of an expression
# Levels of nesting of a parsed expression. Far beyond any real one; what matters is that
# applying it stays well inside the interpreter's recursion limit (a chain of 500 pipes
# parses, then fails on every event).
MAX_DEPTH = 100
_FUNCTIONS: dict[str, Any] = Functions().FUNCTION_TABLE
# What applying a valid expression to an event can raise: a function given the wrong type of
# value (abs of a string), a result orjson cannot write (an integer beyond 64 bits), an
# expression nested deeper than the interpreter's recursion allows.
_RUN_FAULTS = (jmespath_errors.JMESPathError, RecursionError, ValueError, TypeError)


class TransformFailed(Exception):
    """The expression could not be applied to this event (its message says why)."""


@lru_cache(maxsize=512)
def compiled(expression: str) -> ParsedResult:
    """The parsed expression; parsed once per distinct text (a claim applies it per delivery)."""
    return jmespath.compile(expression)


def transform_problem(expression: str) -> str | None:
    """Why `expression` cannot be a transform, or None. Unknown functions and wrong argument
    counts are found here too (JMESPath itself reports them only when applied)."""
    if not expression.strip():
        return "must not be empty (leave it out for no transform)"
    if len(expression) > MAX_TRANSFORM:
        return f"is longer than {MAX_TRANSFORM} characters"
    if "\x00" in expression:
        return "contains a NUL character"
    try:
        parsed = compiled(expression)
    except jmespath_errors.LexerError as exc:
        return f"is not valid JMESPath: {exc.message} at character {exc.lex_position + 1}"
    except jmespath_errors.ParseError as exc:
        return f"is not valid JMESPath: {_parse_message(exc)} at character {exc.lex_position + 1}"
    except jmespath_errors.JMESPathError as exc:
        return f"is not valid JMESPath: {_one_line(str(exc))}"
    except RecursionError:
        return "is nested too deeply"
    return _tree_problem(parsed.parsed)


def apply_transform(expression: str, document: Any, input_bytes: int = 0) -> bytes:
    """The JSON of `expression` applied to `document` (`input_bytes` of JSON), or
    TransformFailed. A null result (the expression found nothing in this event) fails too: a
    receiver sent `null` learns nothing, and a failed delivery is visible in the log where a
    `null` one is not. So does a result (or the work to build it) beyond
    result_limit(input_bytes), before it is written out."""
    limit = result_limit(input_bytes)
    try:
        result = bounded_search(compiled(expression), document, limit)
        if result is None:
            raise TransformFailed("the expression gave null (it found nothing in this event)")
        body = orjson.dumps(result)
        if len(body) > limit:  # the estimate undercounts escapes and non-ASCII text
            raise ResultTooLarge(limit)
        return body
    except ResultTooLarge as exc:
        raise TransformFailed(str(exc)) from exc
    except _RUN_FAULTS as exc:
        raise TransformFailed(_one_line(str(exc)) or type(exc).__name__) from exc


def _parse_message(exc: jmespath_errors.ParseError) -> str:
    if isinstance(exc, jmespath_errors.IncompleteExpressionError):
        return "the expression is incomplete"
    token = exc.token_value
    if token is None:
        return _one_line(exc.msg)
    return f"{_one_line(exc.msg)} (unexpected {str(token)[:40]!r})"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _tree_problem(tree: Any) -> str | None:
    """Nesting beyond MAX_DEPTH, or the first call of an unknown function or with the wrong
    number of arguments. Walked with a stack, not recursion: the tree may be as deep as the
    parser allowed."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        if depth > MAX_DEPTH:
            return f"is nested too deeply (more than {MAX_DEPTH} levels)"
        if node.get("type") == "function_expression":
            problem = _call_problem(str(node.get("value")), len(node.get("children", ())))
            if problem is not None:
                return problem
        stack.extend((child, depth + 1) for child in node.get("children", ()))
    return None


def _call_problem(name: str, given: int) -> str | None:
    entry = _FUNCTIONS.get(name)
    if entry is None:
        return f"calls {name}(), which is not a JMESPath function"
    signature = entry["signature"]
    if signature and signature[-1].get("variadic"):
        if given < len(signature):
            return f"calls {name}() with {given} arguments; it takes at least {len(signature)}"
    elif given != len(signature):
        return f"calls {name}() with {given} arguments; it takes {len(signature)}"
    return None
