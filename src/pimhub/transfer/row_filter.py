"""A mapping's `skip`: the rows an import leaves out, counted as skipped (neither accepted nor
refused). A row is skipped when any one of its conditions holds:

    skip:
      - {column: status, equals: discontinued}     # the trimmed cell is this text
      - {column: type, equals: [bundle, virtual]}  # ... or one of these
      - {column: sku, empty: true}                 # the cell is empty or blank
      - {column: sku, matches: "^TEST-"}           # a regular expression finds a match

Patterns are RE2 (catalog.linear_regex): a cell is untrusted data, and a backtracking engine
lets one crafted cell freeze the process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.catalog.linear_regex import PatternError, compile_search

_TESTS = ("equals", "empty", "matches")
_MAX_PATTERN = 1000  # characters: a pattern is configuration, not data

Test = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class RowFilter:
    conditions: tuple[tuple[str, Test], ...]  # (column, test of its trimmed text)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(column for column, _ in self.conditions))

    def skips(self, record: Mapping[str, Any]) -> bool:
        """Whether `record` is to be left out."""
        return any(test(_text(record.get(column))) for column, test in self.conditions)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_row_filter(raw: Any, path: str, errors: list[FieldError]) -> RowFilter | None:
    """The filter of a mapping's `skip` list; None when there is none or it has problems
    (added to `errors`, each by its path)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        errors.append(FieldError(path, "a list of conditions: {column: c, equals: text}"))
        return None
    conditions = [_condition(spec, f"{path}[{n}]", errors) for n, spec in enumerate(raw)]
    if any(c is None for c in conditions):
        return None
    return RowFilter(tuple(c for c in conditions if c is not None))


def _condition(spec: Any, path: str, errors: list[FieldError]) -> tuple[str, Test] | None:
    if not isinstance(spec, Mapping):
        errors.append(FieldError(path, "an object: {column: c, equals: text}"))
        return None
    errors.extend(
        FieldError(f"{path}.{k}", f"unknown; use column and one of {', '.join(_TESTS)}")
        for k in sorted(map(str, spec))
        if k not in ("column", *_TESTS)
    )
    column = spec.get("column")
    if not isinstance(column, str) or not column:
        errors.append(FieldError(f"{path}.column", "the column to test", "required"))
        return None
    given = [t for t in _TESTS if t in spec]
    if len(given) != 1:
        errors.append(FieldError(path, f"give exactly one of {', '.join(_TESTS)}"))
        return None
    test = _test(given[0], spec[given[0]], f"{path}.{given[0]}", errors)
    return None if test is None else (column, test)


def _test(kind: str, arg: Any, path: str, errors: list[FieldError]) -> Test | None:
    if kind == "empty":
        if arg is not True:
            errors.append(FieldError(path, "true"))
            return None
        return lambda text: not text
    if kind == "equals":
        texts = arg if isinstance(arg, list) else [arg]
        if not texts or any(isinstance(t, (bool, dict, list)) or t is None for t in texts):
            errors.append(FieldError(path, "a text or a list of texts (quote yes and no)"))
            return None
        wanted = frozenset(str(t).strip() for t in texts)
        return lambda text: text in wanted
    if not isinstance(arg, str) or not arg or len(arg) > _MAX_PATTERN:
        errors.append(FieldError(path, f"a regular expression of 1 to {_MAX_PATTERN} characters"))
        return None
    try:
        return compile_search(arg)
    except PatternError as exc:
        errors.append(FieldError(path, str(exc)))
        return None
