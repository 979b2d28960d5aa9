"""A YAML document typed into a form (a class definition, a datahub configuration): read with
the project's safe loader, bounded in size and in how much it expands, and shown back as the
same YAML that `pimhub classes export` and `pimhub graphql export` write.

The loader keeps YAML aliases as shared references and limits nesting, but an alias of an
alias of an alias... still expands exponentially for whoever walks the value (a validator, a
JSON encoder). `read_mapping` walks it once with a budget of MAX_NODES and refuses beyond.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from pimhub import safe_yaml
from pimhub.admin.web import parse_count
from pimhub.api.errors import status_for
from pimhub.catalog.errors import CatalogError, FieldError, InvalidInput, NulCharacter
from pimhub.catalog.query import VERSION_MAX

MAX_CHARS = 256 * 1024  # far beyond any class or configuration; the form body allows 1 MiB
MAX_FORM_BYTES = 1024 * 1024
MAX_NODES = 20_000  # values, counting every alias as often as it is used
JSON_SCALARS = (str, int, float, bool, type(None))
# Half of a UTF-16 pair on its own: YAML's "\ud800" makes one, and no page, database or JSON
# answer can encode it (UTF-8 has no form for it).
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidYaml(InvalidInput):
    code = "invalid-yaml"
    title = "Not a YAML document we can read"


def dump(value: Any) -> str:
    """`value` as block YAML, keys in their order, text as it is."""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def read_mapping(text: str, field: str, *, wrapper: str | None = None) -> dict[str, Any]:
    """The mapping the YAML `text` holds, or InvalidYaml naming `field`. With `wrapper`, the
    export file's shape is accepted too: `{wrapper: [one mapping]}`."""
    if "\x00" in text:
        raise NulCharacter(
            "the text holds a NUL character (U+0000)",
            [FieldError(field, "holds a NUL character", "nul-character")],
        )
    if _SURROGATE.search(text):
        raise _surrogate(field)
    if len(text) > MAX_CHARS:
        raise InvalidYaml(
            f"the text is {len(text):,} characters long; at most {MAX_CHARS:,} are read",
            [FieldError(field, f"longer than {MAX_CHARS:,} characters", "too-long")],
        )
    if not text.strip():
        raise InvalidYaml("the text is empty", [FieldError(field, "empty", "required")])
    try:
        value = safe_yaml.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = exc.problem or exc.context or "unreadable"
        raise InvalidYaml(
            f"not valid YAML{where}: {reason}", [FieldError(field, f"{reason}{where}")]
        ) from None
    except yaml.YAMLError as exc:  # a reader error (a control character) has no problem_mark
        reason = str(exc).splitlines()[0][:200]
        raise InvalidYaml(f"not valid YAML: {reason}", [FieldError(field, reason)]) from None
    _within_budget(value, field)
    if wrapper is not None and isinstance(value, dict) and set(value) == {wrapper}:
        items = value[wrapper]
        if isinstance(items, list) and len(items) == 1:
            value = items[0]
        else:
            raise InvalidYaml(
                f"'{wrapper}:' here holds exactly one item",
                [FieldError(field, f"'{wrapper}:' holds {_count(items)}, not one item")],
            )
    if not isinstance(value, dict):
        raise InvalidYaml(
            "the text must be a YAML mapping (name: ..., fields: ...)",
            [FieldError(field, "not a mapping", "type")],
        )
    return value


def _surrogate(field: str) -> InvalidYaml:
    return InvalidYaml(
        'the text holds a lone surrogate (U+D800 to U+DFFF, such as "\\ud800"), which is '
        "not a character",
        [FieldError(field, "holds a lone surrogate", "surrogate")],
    )


def _count(items: Any) -> str:
    return f"{len(items)} items" if isinstance(items, list) else "no list"


def _within_budget(value: Any, field: str) -> None:
    """Refuses a value that expands past MAX_NODES or holds what JSON cannot (non-text keys,
    binary, sets): the same data as a REST body, so the services see nothing new."""
    left = [MAX_NODES]

    def walk(node: Any) -> None:
        left[0] -= 1
        if left[0] < 0:
            raise InvalidYaml(
                f"the document expands to more than {MAX_NODES:,} values (aliases count "
                "each time they are used)",
                [FieldError(field, f"more than {MAX_NODES:,} values", "too-large")],
            )
        if isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise InvalidYaml(
                        f"mapping keys must be text, not {key!r:.40}",
                        [FieldError(field, f"the key {key!r:.40} is not text", "type")],
                    )
                if _SURROGATE.search(key):
                    raise _surrogate(field)
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str) and _SURROGATE.search(node):
            raise _surrogate(field)
        elif isinstance(node, float) and not math.isfinite(node):
            raise InvalidYaml(
                "numbers must be finite (.nan and .inf are not numbers JSON knows)",
                [FieldError(field, "holds .nan or .inf", "type")],
            )
        elif not isinstance(node, JSON_SCALARS):
            # What JSON could not say either (!!binary, !!set): the API never receives it.
            kind = type(node).__name__
            raise InvalidYaml(
                f"values of type {kind} are not allowed; use text, numbers, lists and mappings",
                [FieldError(field, f"holds a {kind}", "type")],
            )

    walk(value)


def form_status(error: CatalogError) -> int:
    """The status a form answers with when it shows `error` next to the user's text: 422 for
    input the service refused, otherwise the API's status (409 conflict, 404, 413...)."""
    status = status_for(error)
    return 422 if status == 400 else status


def shown(text: str) -> str:
    """The user's text to put back into the form: all of it, but a NUL or a lone surrogate
    (which no page can hold) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))


def form_text(value: Any) -> str:
    """A form field's text ('' for a missing field or a file in its place)."""
    return value if isinstance(value, str) else ""


def expected_version(value: Any) -> int | None:
    """The version a form was made from, so a save over someone else's newer change is
    refused (409) instead of undoing it; absent or empty: no check, as REST without one;
    anything but digits 0-9 (such as '²') is refused (InvalidInput, 4xx)."""
    if not isinstance(value, str) or not value:
        return None
    return parse_count(value, field="version", maximum=VERSION_MAX)
