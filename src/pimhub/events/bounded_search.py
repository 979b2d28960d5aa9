"""JMESPath applied within a budget, for expressions written by users (destination transforms,
inbound extraction, feed `items`).

Why: an expression can multiply what it is given. `[@,@]` builds a list of two references to
the same value, so 22 of them in a row (136 characters) give a result of a few dozen Python
objects that is four million copies of the event when written out; `[@,@][]` (a flatten)
allocates every copy for real, `to_string(@)` writes them, and `a == b` between two such
results compares every copy. None of these costs shows in the expression's length.

So the interpreter is metered in units of about a byte of JSON: STEP units for every node it
visits and every pair of values an equality compares (a step of Python costs far more than a
byte written), a unit for every element a flatten or a slice builds, every character
`join` or `to_string` writes, and the size of what any function returns. Past `limit` units
it stops with ResultTooLarge, before building more (1 MiB: a few tenths of a second at
most). Then the result, counted as it would be written (a value referred to twice counted
twice), must be at most `limit` bytes of JSON.
"""

from __future__ import annotations

from typing import Any

from jmespath.functions import Functions
from jmespath.parser import ParsedResult
from jmespath.visitor import Options, TreeInterpreter, _is_special_number_case

# The smallest budget: what a transform may write (and steps it may take) whatever the event.
MIN_LIMIT = 1 << 20
GROWTH = 4  # how many times its input an expression's result may be
STEP = 32  # units for one step of the interpreter or of a comparison (a few microseconds)


class ResultTooLarge(ValueError):
    """The expression's work or result went past the limit (in bytes of JSON / steps)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the result is larger than {limit} bytes")
        self.limit = limit


def result_limit(input_bytes: int) -> int:
    """The budget for an expression applied to a document of `input_bytes` bytes of JSON."""
    return max(GROWTH * input_bytes, MIN_LIMIT)


def bounded_search(parsed: ParsedResult, document: Any, limit: int = MIN_LIMIT) -> Any:
    """What `parsed.search(document)` gives, or ResultTooLarge when evaluating it takes more
    than `limit` steps or its JSON would be more than `limit` bytes. JMESPath's own errors
    (a function given the wrong type) pass through."""
    meter = _Meter(limit)
    result = _Interpreter(meter).visit(parsed.parsed, document)
    json_size(result, limit)
    return result


def json_size(value: Any, limit: int) -> int:
    """About how many bytes the JSON of `value` takes (every reference counted where it would
    be written); ResultTooLarge as soon as it is more than `limit`."""
    meter = _Meter(limit)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meter.charge(2 + len(item))  # braces, commas and colons
            for key, inner in item.items():
                meter.charge(len(key) + 2 if isinstance(key, str) else 8)
                stack.append(inner)
        elif isinstance(item, list):
            meter.charge(2 + len(item))
            stack.extend(item)
        elif isinstance(item, str):
            meter.charge(len(item) + 2)
        else:  # numbers, booleans, null: their text is short, whatever the value
            meter.charge(len(str(item)) if isinstance(item, int | float) else 5)
    return limit - meter.left


class _Meter:
    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def charge(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise ResultTooLarge(self.limit)


def _same(first: Any, second: Any, meter: _Meter) -> bool:
    """Python's == on JSON values, STEP units per pair compared (a value shared by reference is
    compared each time it appears, as == does)."""
    pairs = [(first, second)]
    while pairs:
        a, b = pairs.pop()
        meter.charge(STEP)
        if a is b and isinstance(a, list | dict):
            continue
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            pairs.extend(zip(a, b, strict=True))
        elif isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                return False
            pairs.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list | dict) or isinstance(b, list | dict) or a != b:
            return False
    return True


def _shallow(value: Any) -> int:
    return len(value) if isinstance(value, list | dict | str) else 1


class _Functions(Functions):  # type: ignore[misc]
    def __init__(self, meter: _Meter) -> None:
        super().__init__()
        self._meter = meter

    def call_function(self, function_name: str, resolved_args: list[Any]) -> Any:
        args = resolved_args
        if function_name == "contains" and len(args) == 2 and isinstance(args[0], list):
            return any(_same(item, args[1], self._meter) for item in args[0])
        if function_name == "to_string" and len(args) == 1 and not isinstance(args[0], str):
            try:
                self._meter.charge(json_size(args[0], self._meter.left))
            except ResultTooLarge:  # told as the whole budget, not what was left of it
                raise ResultTooLarge(self._meter.limit) from None
        if function_name == "join" and len(args) == 2 and isinstance(args[1], list):
            self._meter.charge(sum(len(s) for s in args[1] if isinstance(s, str)))
        result = super().call_function(function_name, args)
        self._meter.charge(_shallow(result))
        return result


class _Interpreter(TreeInterpreter):  # type: ignore[misc]
    def __init__(self, meter: _Meter) -> None:
        super().__init__(Options(custom_functions=_Functions(meter)))
        self._meter = meter

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self._meter.charge(STEP)
        return super().visit(node, *args, **kwargs)

    def visit_flatten(self, node: dict[str, Any], value: Any) -> Any:
        base = self.visit(node["children"][0], value)
        if isinstance(base, list):  # charged before the merged list is built
            self._meter.charge(sum(len(e) if isinstance(e, list) else 1 for e in base))
        return self._flattened(base)

    @staticmethod
    def _flattened(base: Any) -> Any:
        if not isinstance(base, list):
            return None
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    def visit_slice(self, node: dict[str, Any], value: Any) -> Any:
        result = super().visit_slice(node, value)
        self._meter.charge(_shallow(result))
        return result

    def visit_comparator(self, node: dict[str, Any], value: Any) -> Any:
        if node["value"] not in ("eq", "ne"):  # ordering compares numbers and strings only
            return super().visit_comparator(node, value)
        left = self.visit(node["children"][0], value)
        right = self.visit(node["children"][1], value)
        equal = not _is_special_number_case(left, right) and _same(left, right, self._meter)
        return equal if node["value"] == "eq" else not equal
