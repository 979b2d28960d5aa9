"""Regular expressions written by users, matched in linear time.

Python's `re` backtracks: a pattern such as `^(a+)+$` against 30 characters takes seconds and
holds the GIL, freezing the whole process. Every pattern a user writes is therefore compiled
with RE2, whose matching time grows linearly with the text. RE2 has no backreferences and no
lookarounds; such a pattern is refused when the configuration is checked, never at match time.
The hub's own fixed patterns stay on Python's `re`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]

UNSUPPORTED = "uses a feature that is not supported (linear-time matching)"

# RE2 reads a brace whose count has ten digits or more as literal text (`x{99999999999}` finds
# those fourteen characters), where every other dialect reads a repetition; refused rather than
# silently meaning something else. Escaped characters and \Q...\E text are literal, so ignored.
_LITERAL_PARTS = re.compile(r"\\Q.*?(?:\\E|\Z)|\\.", re.DOTALL)
_HUGE_COUNT = re.compile(r"\{(?:[0-9]{10,}(?:,[0-9]*)?|[0-9]*,[0-9]{10,})\}")


class PatternError(ValueError):
    """A pattern that cannot be used; the message says why, for the user."""


def _options() -> object:
    options = re2.Options()
    options.log_errors = False  # the refusal goes to the user, not to the server's stderr
    return options


_OPTIONS = _options()


def compile_search(pattern: str) -> Callable[[str], bool]:
    """A test of whether `pattern` finds a match anywhere in a text; PatternError when the
    pattern is not a regular expression or needs a feature RE2 lacks."""
    compiled: Any = _compile(pattern)
    return lambda text: compiled.search(text) is not None


def compile_fullmatch(pattern: str) -> Callable[[str], bool]:
    """A test of whether `pattern` matches a whole text; PatternError as for compile_search."""
    compiled: Any = _compile(pattern)
    return lambda text: compiled.fullmatch(text) is not None


def _compile(pattern: str) -> object:
    if _HUGE_COUNT.search(_LITERAL_PARTS.sub("", pattern)):
        raise PatternError(f"{UNSUPPORTED}: a repetition count above 1000")
    try:
        return re2.compile(pattern, _OPTIONS)
    except Exception as exc:  # re2 raises its own error type, and may add others
        raise PatternError(_reason(pattern, exc)) from None


def _reason(pattern: str, exc: Exception) -> str:
    detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    try:
        # Only compiled, never matched: a pattern Python reads is a real regular expression
        # that needs a feature RE2 lacks (a backreference, a lookaround, a count above 1000).
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return f"not a regular expression: {detail}"
    return f"{UNSUPPORTED}: {detail}"
