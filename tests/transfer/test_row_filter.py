"""The mapping's `skip` filter on its own (transfer/row_filter.py): which rows each condition
leaves out, and the problems of a bad filter, compared whole (path, message and code), since
they are what a user reads to fix the mapping. Whole imports with a filter are in
test_more_steps.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from pimhub.catalog.errors import FieldError
from pimhub.transfer.row_filter import RowFilter, parse_row_filter


def parse(raw: Any) -> tuple[RowFilter | None, list[FieldError]]:
    errors: list[FieldError] = []
    return parse_row_filter(raw, "skip", errors), errors


def accepted(raw: Any) -> RowFilter:
    row_filter, errors = parse(raw)
    assert errors == []
    assert row_filter is not None
    return row_filter


def test_no_skip_is_no_filter_and_no_problem() -> None:
    assert parse(None) == (None, [])


@pytest.mark.parametrize(
    ("spec", "cell", "skipped"),
    [
        ({"equals": "discontinued"}, "discontinued", True),
        ({"equals": "discontinued"}, "  discontinued\t", True),  # the cell is trimmed
        ({"equals": " discontinued "}, "discontinued", True),  # ... and so is the text
        ({"equals": "discontinued"}, "Discontinued", False),  # case counts
        ({"equals": "discontinued"}, "discontinued-soon", False),  # the whole cell
        ({"equals": "discontinued"}, None, False),
        ({"equals": ["bundle", "virtual"]}, "virtual", True),
        ({"equals": ["bundle", "virtual"]}, "simple", False),
        ({"equals": 0}, "0", True),  # a number in YAML is its text
        ({"equals": ""}, "  ", True),
        ({"empty": True}, "", True),
        ({"empty": True}, "   ", True),
        ({"empty": True}, None, True),
        ({"empty": True}, "x", False),
        ({"empty": True}, 0, False),  # a zero is a value, not an empty cell
        ({"matches": "^TEST-"}, "TEST-1", True),
        ({"matches": "^TEST-"}, "  TEST-1", True),  # trimmed before the match
        ({"matches": "^TEST-"}, "A-TEST-1", False),
        ({"matches": "TEST"}, "A-TEST-1", True),  # search, not a match from the start
        ({"matches": "^x$"}, None, False),
    ],
)
def test_each_condition_on_its_column(spec: dict[str, Any], cell: Any, skipped: bool) -> None:
    row_filter = accepted([{"column": "c", **spec}])
    assert row_filter.skips({"c": cell, "other": "discontinued"}) is skipped


def test_a_column_the_record_lacks_reads_as_empty() -> None:
    assert accepted([{"column": "c", "empty": True}]).skips({}) is True
    assert accepted([{"column": "c", "equals": "x"}]).skips({}) is False


def test_any_one_condition_skips_the_row() -> None:
    row_filter = accepted(
        [
            {"column": "status", "equals": "draft"},
            {"column": "sku", "empty": True},
            {"column": "sku", "matches": "^TEST-"},
        ]
    )
    assert row_filter.skips({"status": "active", "sku": "A-1"}) is False
    assert row_filter.skips({"status": "draft", "sku": "A-1"}) is True
    assert row_filter.skips({"status": "active", "sku": ""}) is True
    assert row_filter.skips({"status": "active", "sku": "TEST-1"}) is True


def test_columns_are_named_once_in_the_order_given() -> None:
    row_filter = accepted(
        [
            {"column": "sku", "empty": True},
            {"column": "status", "equals": "draft"},
            {"column": "sku", "matches": "^TEST-"},
        ]
    )
    assert row_filter.columns == ("sku", "status")
    assert len(row_filter.conditions) == 3


def test_a_pattern_of_the_longest_length_is_accepted() -> None:
    row_filter = accepted([{"column": "c", "matches": "a" * 1000}])
    assert row_filter.skips({"c": "a" * 1000}) is True
    assert row_filter.skips({"c": "a" * 999}) is False


UNSUPPORTED = "uses a feature that is not supported (linear-time matching)"
WRONG_PATTERN = "a regular expression of 1 to 1000 characters"
WRONG_EQUALS = "a text or a list of texts (quote yes and no)"


@pytest.mark.parametrize(
    ("raw", "problems"),
    [
        ({"column": "c"}, [("skip", "a list of conditions: {column: c, equals: text}", "invalid")]),
        ([], [("skip", "a list of conditions: {column: c, equals: text}", "invalid")]),
        (["c"], [("skip[0]", "an object: {column: c, equals: text}", "invalid")]),
        ([{"equals": "x"}], [("skip[0].column", "the column to test", "required")]),
        ([{"column": "", "equals": "x"}], [("skip[0].column", "the column to test", "required")]),
        ([{"column": 3, "equals": "x"}], [("skip[0].column", "the column to test", "required")]),
        (
            [{"column": "c"}],
            [("skip[0]", "give exactly one of equals, empty, matches", "invalid")],
        ),
        (
            [{"column": "c", "equals": "x", "empty": True}],
            [("skip[0]", "give exactly one of equals, empty, matches", "invalid")],
        ),
        ([{"column": "c", "empty": 1}], [("skip[0].empty", "true", "invalid")]),
        ([{"column": "c", "empty": False}], [("skip[0].empty", "true", "invalid")]),
        ([{"column": "c", "equals": True}], [("skip[0].equals", WRONG_EQUALS, "invalid")]),
        ([{"column": "c", "equals": None}], [("skip[0].equals", WRONG_EQUALS, "invalid")]),
        ([{"column": "c", "equals": []}], [("skip[0].equals", WRONG_EQUALS, "invalid")]),
        ([{"column": "c", "equals": {"a": 1}}], [("skip[0].equals", WRONG_EQUALS, "invalid")]),
        ([{"column": "c", "equals": ["a", ["b"]]}], [("skip[0].equals", WRONG_EQUALS, "invalid")]),
        ([{"column": "c", "equals": ["a", None]}], [("skip[0].equals", WRONG_EQUALS, "invalid")]),
        ([{"column": "c", "matches": ""}], [("skip[0].matches", WRONG_PATTERN, "invalid")]),
        ([{"column": "c", "matches": 3}], [("skip[0].matches", WRONG_PATTERN, "invalid")]),
        ([{"column": "c", "matches": "a" * 1001}], [("skip[0].matches", WRONG_PATTERN, "invalid")]),
        (
            [{"column": "c", "matches": "("}],
            [
                (
                    "skip[0].matches",
                    "not a regular expression: missing ): (",
                    "invalid",
                )
            ],
        ),
        (
            # Python's `re` overflows on this count (a 500 once); RE2 would read it as text.
            [{"column": "c", "matches": "x{99999999999}"}],
            [("skip[0].matches", f"{UNSUPPORTED}: a repetition count above 1000", "invalid")],
        ),
        (
            [{"column": "c", "matches": "x{1,99999999999}"}],
            [("skip[0].matches", f"{UNSUPPORTED}: a repetition count above 1000", "invalid")],
        ),
        (
            [{"column": "c", "matches": "x{2000}"}],
            [("skip[0].matches", f"{UNSUPPORTED}: invalid repetition size: {{2000}}", "invalid")],
        ),
        (
            [{"column": "c", "matches": r"(a)\1"}],
            [("skip[0].matches", f"{UNSUPPORTED}: invalid escape sequence: \\1", "invalid")],
        ),
        (
            [{"column": "c", "matches": "(?=a)"}],
            [("skip[0].matches", f"{UNSUPPORTED}: invalid perl operator: (?=", "invalid")],
        ),
        (
            [{"column": "c", "matches": "(?<!a)b"}],
            [("skip[0].matches", f"{UNSUPPORTED}: invalid perl operator: (?<!", "invalid")],
        ),
        (
            [{"column": "c", "matches": "a\ud800"}],
            [
                (
                    "skip[0].matches",
                    "not a regular expression: holds a lone surrogate (U+D800-U+DFFF)",
                    "invalid",
                )
            ],
        ),
        (
            # Unknown keys are named in sorted order, beside the condition's own problems.
            [{"column": "c", "equals": "x"}, {"z": 1, "y": 2, "column": "c", "empty": True}],
            [
                ("skip[1].y", "unknown; use column and one of equals, empty, matches", "invalid"),
                ("skip[1].z", "unknown; use column and one of equals, empty, matches", "invalid"),
            ],
        ),
        (
            # Every condition is checked, so one pass names all problems.
            [{"column": "c", "empty": 0}, {"column": "c", "matches": ""}],
            [
                ("skip[0].empty", "true", "invalid"),
                ("skip[1].matches", WRONG_PATTERN, "invalid"),
            ],
        ),
    ],
)
def test_problems_of_a_bad_filter(raw: Any, problems: list[tuple[str, str, str]]) -> None:
    row_filter, errors = parse(raw)
    assert [(e.field, e.message, e.code) for e in errors] == problems
    if not any(field.endswith((".y", ".z")) for field, _, _ in problems):
        assert row_filter is None


def test_unknown_keys_are_problems_but_a_good_condition_still_parses() -> None:
    # The caller refuses the mapping on any error; the filter itself is still built.
    row_filter, errors = parse([{"column": "c", "empty": True, "x": 1}])
    assert [e.field for e in errors] == ["skip[0].x"]
    assert row_filter is not None and row_filter.skips({"c": ""}) is True


def test_a_bad_condition_spoils_the_whole_filter() -> None:
    row_filter, errors = parse([{"column": "c", "empty": True}, {"column": "c"}])
    assert row_filter is None
    assert [e.field for e in errors] == ["skip[1]"]


def test_a_backtracking_pattern_runs_in_linear_time() -> None:
    # Python's `re` needs ~10 s for 28 a's, doubling per character, and holds the GIL, so a
    # thread could not even time out: a child process is killed after 5 s instead. RE2
    # answers 5,000 characters at once.
    code = (
        "from pimhub.transfer.row_filter import parse_row_filter\n"
        "f = parse_row_filter([{'column': 'c', 'matches': '^(a+)+$'}], 'skip', [])\n"
        "print([f.skips({'c': 'a' * 5000 + '!'}), f.skips({'c': 'a' * 5000})])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=5, check=True
    )
    assert done.stdout == "[False, True]\n"


@pytest.mark.parametrize(
    ("pattern", "cell", "skipped"),
    [
        (r"x\{99999999999}", "x{99999999999}", True),  # an escaped brace is text
        (r"\Qx{99999999999}\E", "x{99999999999}", True),  # ... and so is quoted text
        (r"x{2,1000}", "xx", True),  # counts up to 1000 are fine
        (r"^\pL+$", "Größe", True),  # RE2's Unicode classes
        (r"^\w+$", "Größe", True),  # Python's Unicode \w, \d and \s, though RE2's are ASCII
        (r"^[\w-]+$", "Grö-ße", True),
        (r"^\d+$", "١٢", True),
        (r"^\S+$", "a\u00a0b", False),
        (r"^a.b$", "a\ud800b", True),  # a lone surrogate (from JSON) is one character
        (r"(?i)^test-", "Test-1", True),
    ],
)
def test_the_dialect_is_re2(pattern: str, cell: str, skipped: bool) -> None:
    assert accepted([{"column": "c", "matches": pattern}]).skips({"c": cell}) is skipped
