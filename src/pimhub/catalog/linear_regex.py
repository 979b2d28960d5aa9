"""Regular expressions written by users, matched in linear time.

Python's `re` backtracks: a pattern such as `^(a+)+$` against 30 characters takes seconds and
holds the GIL, freezing the whole process. Every pattern a user writes is therefore compiled
with RE2, whose matching time grows linearly with the text. RE2 has no backreferences and no
lookarounds; such a pattern is refused when the configuration is checked, never at match time.
The hub's own fixed patterns stay on Python's `re`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]
from re2 import _re2

UNSUPPORTED = "uses a feature that is not supported (linear-time matching)"

# RE2 reads a brace whose count has ten digits or more as literal text (`x{99999999999}` finds
# those fourteen characters), where every other dialect reads a repetition; refused rather than
# silently meaning something else. Escaped characters and \Q...\E text are literal, so ignored.
_LITERAL_PARTS = re.compile(r"\\Q.*?(?:\\E|\Z)|\\.", re.DOTALL)
_HUGE_COUNT = re.compile(r"\{(?:[0-9]{10,}(?:,[0-9]*)?|[0-9]*,[0-9]{10,})\}")


# Python's \d, \w and \s are Unicode, RE2's ASCII: written out, so a pattern means what a
# Python user expects (`\w+` accepts "Größe"). Inside a class only the positive ones can be
# spelled out; \D there is RE2's \P{Nd}, while \W and \S there, and \b, stay ASCII.
_SPACE = (
    r"\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
_WORD = r"\p{L}\p{N}_"
_OUTSIDE = {
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
_INSIDE = {"d": r"\p{Nd}", "D": r"\P{Nd}", "w": _WORD, "s": _SPACE}


def unicode_classes(pattern: str) -> str:
    r"""`pattern` with \d, \w and \s (and their negations) spelled as Unicode classes."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("\\Q", i):  # quoted text up to \E is copied as it is
            end = pattern.find("\\E", i + 2)
            stop = len(pattern) if end < 0 else end + 2
            out.append(pattern[i:stop])
            i = stop
            continue
        if c == "\\" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            out.append((_INSIDE if in_class else _OUTSIDE).get(letter, c + letter))
            i += 2
            continue
        if in_class and pattern.startswith("[:", i) and (end := pattern.find(":]", i)) > 0:
            out.append(pattern[i : end + 2])  # a POSIX class such as [:alpha:]
            i = end + 2
            continue
        if not in_class and c == "[":
            in_class = True
            start = i + 2 if pattern.startswith("[^", i) else i + 1
            if pattern.startswith("]", start):  # a first ] is a member, not the end
                start += 1
            out.append(pattern[i:start])
            i = start
            continue
        if in_class and c == "]":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    # RE2 reads UTF-8, which has no lone surrogates (a JSON "\ud800" makes one): each is
    # read as U+FFFD, the character that stands for one that cannot be shown.
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


class PatternError(ValueError):
    """A pattern that cannot be used; the message says why, for the user."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the refusal goes to the user, not to the server's stderr
    options.never_capture = True  # only whether it matches is asked
    return options


_OPTIONS = _options()
# The compiled RE2 object itself: the module's re-like wrapper builds a match object with
# character offsets for every call, four times slower than the match, and a class's
# patterns run on every write (measured: ~6.8 us against ~1.7 us for a SKU).
_ANCHOR = _re2.RE2.Anchor


def compile_search(pattern: str) -> Callable[[str], bool]:
    """A test of whether `pattern` finds a match anywhere in a text; PatternError when the
    pattern is not a regular expression or needs a feature RE2 lacks."""
    return _tester(_compile(pattern), _ANCHOR.UNANCHORED)


def compile_fullmatch(pattern: str) -> Callable[[str], bool]:
    """A test of whether `pattern` matches a whole text; PatternError as for compile_search."""
    return _tester(_compile(pattern), _ANCHOR.ANCHOR_BOTH)


@functools.lru_cache(maxsize=1024)
def cached_fullmatch(pattern: str) -> Callable[[str], bool]:
    """compile_fullmatch, kept: a class's patterns are checked on every write."""
    return compile_fullmatch(pattern)


def _tester(compiled: Any, anchor: Any) -> Callable[[str], bool]:
    def test(text: str) -> bool:
        data = _encodable(text).encode()
        return bool(compiled.Match(anchor, data, 0, len(data))[0] != (-1, -1))

    return test


def _compile(pattern: str) -> Any:
    if _SURROGATE.search(pattern):  # from a JSON "\ud800": no text can hold one
        raise PatternError("not a regular expression: holds a lone surrogate (U+D800-U+DFFF)")
    if _HUGE_COUNT.search(_LITERAL_PARTS.sub("", pattern)):
        raise PatternError(f"{UNSUPPORTED}: a repetition count above 1000")
    # The pattern as written first, so a problem is shown in the user's own text.
    for text in (pattern, unicode_classes(pattern)):
        compiled = _re2.RE2(text.encode(), _OPTIONS)
        if not compiled.ok():
            raise PatternError(_reason(pattern, compiled.error().decode(errors="replace")))
    return compiled


def _reason(pattern: str, detail: str) -> str:
    try:
        # Only compiled, never matched: a pattern Python reads is a real regular expression
        # that needs a feature RE2 lacks (a backreference, a lookaround, a count above 1000).
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return f"not a regular expression: {detail}"
    return f"{UNSUPPORTED}: {detail}"
