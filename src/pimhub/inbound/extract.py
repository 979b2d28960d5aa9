"""Reading a message's id, event type and key: from a header, a JMESPath into the body, a fixed
value, or the body's hash. JMESPath expressions are compiled once per text (a source's are the
same on every request)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from pimhub.catalog.errors import FieldError
from pimhub.events.bounded_search import ResultTooLarge, bounded_search
from pimhub.events.endpoints import inbound_type_problem
from pimhub.inbound.errors import InvalidMessage
from pimhub.inbound.sources import (
    IDEMPOTENCY_HEADER,
    MAX_KEY,
    MAX_MESSAGE_ID,
    SCHEME_DEFAULTS,
    Extract,
    SourceSpec,
    TypeRule,
)

MAX_EXPRESSION = 500
# C0 controls and DEL: an id or key is shown in logs, URLs and the admin; none holds them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=2048)
def compiled(expression: str) -> ParsedResult:
    """The compiled expression (cached: the same few texts come with every request)."""
    return jmespath.compile(expression)


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@lru_cache(maxsize=2048)
def _dotted(expression: str) -> tuple[str, ...] | None:
    """The field names of a plain `a.b.c` expression (JMESPath reads each from an object and
    gives null for anything else), None for any other expression."""
    return tuple(expression.split(".")) if _DOTTED.fullmatch(expression) else None


def expression_problem(expression: str) -> str | None:
    """Why `expression` is not a usable JMESPath expression, or None."""
    if len(expression) > MAX_EXPRESSION:
        return f"is longer than {MAX_EXPRESSION} characters"
    try:
        compiled(expression)
    except JMESPathError as exc:
        return f"is not a JMESPath expression: {exc}".replace("\n", " ")
    return None


def where(extract: Extract) -> str:
    """Where a value was looked for, for messages: `header webhook-id`, `path data.id`."""
    if extract.header is not None:
        return f"header {extract.header}"
    if extract.path is not None:
        return f"path {extract.path}"
    if extract.value is not None:
        return "the fixed value"
    return "the body's hash"


def raw_value(extract: Extract, headers: Mapping[str, str], payload: Any, body_hash: str) -> Any:
    """What `extract` finds (None: nothing there)."""
    if extract.header is not None:
        return headers.get(extract.header)
    if extract.path is not None:
        steps = _dotted(extract.path)
        if steps is not None:  # the common `data.id`: what JMESPath answers, without it
            for step in steps:
                if not isinstance(payload, dict):
                    return None
                payload = payload.get(step)
            return payload
        try:
            # Metered: a path such as `[@,@]|[@,@]|...` would otherwise multiply the body
            # on the event loop.
            return bounded_search(compiled(extract.path), payload)
        except (JMESPathError, ResultTooLarge) as exc:  # a function applied to the wrong type
            raise InvalidMessage(
                f"the path {extract.path} cannot be read from this body: {exc}",
                [FieldError("body", str(exc), "unreadable")],
            ) from None
    if extract.value is not None:
        return extract.value
    return body_hash


def text_value(
    extract: Extract,
    headers: Mapping[str, str],
    payload: Any,
    body_hash: str,
    *,
    field: str,
    limit: int,
) -> str | None:
    """The value as text (integers are written out), None when absent; InvalidMessage when
    it is another kind of value, too long, or holds control characters."""
    value = raw_value(extract, headers, payload, body_hash)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _invalid(
            field,
            f"the {field} at {where(extract)} is a {type(value).__name__}; "
            "it must be a string or an integer",
            "invalid-type",
        )
    if len(value) > limit:
        raise _invalid(
            field, f"the {field} at {where(extract)} is longer than {limit} characters", "too-long"
        )
    if _CONTROL.search(value):
        raise _invalid(
            field, f"the {field} at {where(extract)} holds a control character", "control-character"
        )
    return value


def message_id(spec: SourceSpec, headers: Mapping[str, str], payload: Any, body_hash: str) -> str:
    """The sender's message id, by which repeats are recognised."""
    extract = spec.message_id or SCHEME_DEFAULTS[spec.scheme][0]
    if extract is None:  # the Idempotency-Key header when sent, else the body's hash
        extract = (
            Extract(header=IDEMPOTENCY_HEADER)
            if headers.get(IDEMPOTENCY_HEADER)
            else Extract(hash=True)
        )
    found = text_value(
        extract, headers, payload, body_hash, field="messageId", limit=MAX_MESSAGE_ID
    )
    if found is None:
        raise _invalid("messageId", f"no message id at {where(extract)}", "required")
    return found


def event_type(spec: SourceSpec, headers: Mapping[str, str], payload: Any, body_hash: str) -> str:
    """The event type after the source's renaming (`map`, else `prefix`)."""
    rule: TypeRule = spec.event_type
    found = text_value(
        rule.extract, headers, payload, body_hash, field="eventType", limit=MAX_MESSAGE_ID
    )
    if found is None:
        raise _invalid("eventType", f"no event type at {where(rule.extract)}", "required")
    mapped = rule.map.get(found)
    name = mapped if mapped is not None else rule.prefix + found
    problem = inbound_type_problem(name)
    if problem is not None:
        raise _invalid(
            "eventType", f"the event type '{name}' (from {where(rule.extract)}) {problem}"
        )
    return name


def message_key(
    spec: SourceSpec, headers: Mapping[str, str], payload: Any, body_hash: str
) -> str | None:
    """The key that orders deliveries (an order id, a SKU); None when the source reads none
    or the message has none."""
    if spec.key is None:
        return None
    return text_value(spec.key, headers, payload, body_hash, field="key", limit=MAX_KEY)


def _invalid(field: str, message: str, code: str = "invalid") -> InvalidMessage:
    return InvalidMessage(message, [FieldError(field, message, code)])
