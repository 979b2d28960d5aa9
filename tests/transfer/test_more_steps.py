"""The mapping steps users reach for, through whole imports on both databases: `fallback`
(the first non-empty of several columns), `uppercase`, `replace` (a literal backslash-n
becomes a line break), a `skip` filter (skipped rows are counted as such, not refused) and
`@published` from a column (yes/no, true/false, 1/0; anything else is a row error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import FieldError
from pimhub.catalog.service import ListQuery
from pimhub.transfer.importer import ImportOptions, ImportSummary, RowError, run_import
from pimhub.transfer.mapping import ImportMapping, InvalidMapping, parse_mapping
from pimhub.transfer.sources import Format, from_text
from pimhub.transfer.steps import STEPS, Step, parse_fallback, with_fallback

MAPPING = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": {"column": "sku", "uppercase": True},
            "name.en": {"column": "short_name", "fallback": ["long_name", "sku"]},
            "description.en": {"column": "text", "replace": {"\\n": "\n", "\\t": " "}},
            "ean": {"column": "ean", "optional": True},
            "@published": {"column": "online"},
        },
        "skip": [
            {"column": "status", "equals": ["discontinued", "draft"]},
            {"column": "sku", "empty": True},
            {"column": "sku", "matches": "^test-"},
        ],
    }
)
HEADER = "sku,short_name,long_name,text,status,online\n"


def run(
    hub: Hub, text: str, mapping: ImportMapping = MAPPING, **options: Any
) -> tuple[ImportSummary, list[RowError]]:
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer(mapping.class_name, author="import", **options)

    summary = run_import(
        writer, from_text(text, Format.CSV), mapping, ImportOptions(), on_row_error=errors.append
    )
    return summary, errors


def get(hub: Hub, key: str) -> Any:
    return hub.catalog.get_object("Product", key, include_drafts=True)


def test_fallback_uppercase_and_replace(hub: Hub) -> None:
    text = HEADER + (
        "ab-1,Tee,Tee shirt,line one\\nline two\\tend,active,yes\n"
        "ab-2,  ,Long mug,,active,yes\n"
        "ab-3,,,,active,yes\n"
    )
    summary, errors = run(hub, text)
    assert (summary.created, summary.failed) == (3, 0), errors
    tee = get(hub, "AB-1")
    assert tee.values["name"] == {"en": "Tee"}
    assert tee.values["description"] == {"en": "line one\nline two end"}
    assert get(hub, "AB-2").values["name"] == {"en": "Long mug"}  # a blank cell falls back
    assert get(hub, "AB-3").values["name"] == {"en": "ab-3"}  # then the next column


def test_skipped_rows_are_counted_apart_from_refused_ones(hub: Hub) -> None:
    text = HEADER + (
        "s-1,Kept,,,active,1\n"
        "s-2,Gone,,,discontinued,1\n"
        "s-3,Draft,,, draft ,1\n"
        ",No key,,,active,1\n"
        "test-9,Test row,,,active,1\n"
        "s-4,Bad,,,active,maybe\n"
    )
    summary, errors = run(hub, text)
    assert (summary.rows, summary.created, summary.skipped, summary.failed) == (6, 1, 4, 1)
    assert summary.to_dict()["skipped"] == 4
    assert [(e.row, e.column, e.value, e.code) for e in errors] == [
        (6, "online", "maybe", "transform")
    ]
    assert "'maybe' is not yes, no, true, false, 1 or 0" in errors[0].message
    listed = hub.catalog.list_objects("Product", ListQuery(first=10, include_drafts=True))
    assert {o.key for o in listed.items} == {"S-1"}


def test_published_comes_from_its_column_and_changes_unchanged_objects(hub: Hub) -> None:
    text = HEADER + "p-1,On,,,active,Yes\np-2,Off,,,active,0\np-3,Unsaid,,,active,\n"
    summary, errors = run(hub, text, published=False)
    assert (summary.created, summary.failed) == (3, 0), errors
    # The column wins over the import's own default; an empty cell leaves that default.
    assert [get(hub, k).published for k in ("P-1", "P-2", "P-3")] == [True, False, False]
    again = HEADER + "p-1,On,,,active,false\np-2,Off,,,active,TRUE\np-3,Unsaid,,,active,\n"
    summary, errors = run(hub, again)
    assert (summary.updated, summary.unchanged) == (2, 1), errors
    assert [get(hub, k).published for k in ("P-1", "P-2", "P-3")] == [False, True, False]
    assert [get(hub, k).version for k in ("P-1", "P-2", "P-3")] == [2, 2, 1]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"fields": {"sku": {"column": "s", "replace": {"": "x"}}}}, "fields.sku.replace."),
        ({"fields": {"sku": {"column": "s", "replace": "\\n"}}}, "fields.sku.replace"),
        ({"fields": {"sku": {"column": "s", "uppercase": "yes"}}}, "fields.sku.uppercase"),
        ({"fields": {"sku": {"column": "s", "fallback": [1]}}}, "fields.sku.fallback"),
        ({"fields": {"sku": "s"}, "skip": {"column": "s"}}, "skip"),
        ({"fields": {"sku": "s"}, "skip": [{"column": "s"}]}, "skip[0]"),
        ({"fields": {"sku": "s"}, "skip": [{"column": "s", "matches": "("}]}, "skip[0].matches"),
        ({"fields": {"sku": "s"}, "skip": [{"column": "s", "equals": True}]}, "skip[0].equals"),
        ({"fields": {"sku": "s"}, "skip": [{"column": "s", "empty": 1, "x": 2}]}, "skip[0].x"),
    ],
)
def test_bad_steps_and_filters_are_mapping_problems(raw: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping({"class": "Product", **raw})
    assert any(e.field == where for e in caught.value.errors), caught.value.errors


def test_a_skip_column_the_file_lacks_is_refused_before_anything_is_written(hub: Hub) -> None:
    mapping = parse_mapping(
        {"class": "Product", "fields": {"sku": "sku"}, "skip": [{"column": "state", "empty": True}]}
    )
    with pytest.raises(InvalidMapping) as caught:
        run(hub, "sku\nx-1\n", mapping)
    assert caught.value.errors == [
        FieldError("skip", "tests the column 'state', which the file does not have")
    ]


def test_the_documented_example_imports_as_docs_import_md_says(hub: Hub) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    block = next(b for b in docs.split("```yaml\n")[1:] if "fallback: [long_name" in b)
    mapping = parse_mapping({"class": "Product", **yaml.safe_load(block.split("```")[0])})
    text = (
        "sku,short_name,long_name,text,online,status\n"
        "ab-1,,Tee shirt,a\\nb\\tc,no,active\n"
        "ab-2,Mug,,,yes,discontinued\n"
    )
    summary, errors = run(hub, text, mapping)
    assert (summary.created, summary.skipped, summary.failed) == (1, 1, 0), errors
    tee = get(hub, "AB-1")
    assert (tee.values["name"], tee.values["description"], tee.published) == (
        {"en": "Tee shirt"},
        {"en": "a\nb c"},
        False,
    )


def test_published_from_a_column_applies_to_rows_of_families_too(hub: Hub) -> None:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name",
                "color": "color",
                "size": "size",
                "@parent": "parent",
                "@published": "online",
            },
        }
    )
    text = "sku,name,color,size,parent,online\nF,Family,,,,yes\nF-red,Red,red,S,F,no\n"
    summary, errors = run(hub, text, mapping)
    assert (summary.created, summary.failed) == (2, 0), errors
    assert (get(hub, "F").published, get(hub, "F-red").published) == (True, False)
    again = "sku,name,color,size,parent,online\nF-red,Red,red,S,F,yes\n"
    summary, errors = run(hub, again, mapping)
    assert summary.updated == 1, errors
    assert get(hub, "F-red").published is True


# -- the steps on their own (transfer/steps.py), beside the whole imports above -------------


def build(name: str, arg: Any) -> tuple[Step | None, list[FieldError]]:
    errors: list[FieldError] = []
    return dict(STEPS)[name](arg, name, errors), errors


def step(name: str, arg: Any) -> Step:
    built, errors = build(name, arg)
    assert errors == [] and built is not None
    return built


def test_uppercase_and_replace_leave_values_other_than_text_alone() -> None:
    # A JSON record's number or boolean reaches the step as it is.
    assert [step("uppercase", True)(v) for v in ("ab", 7, None, ["x", 2])] == [
        "AB",
        7,
        None,
        ["X", 2],
    ]
    replace = step("replace", {"a": "b"})
    assert [replace(v) for v in ("aa", 7, True, ["a", 2])] == ["bb", 7, True, ["b", 2]]


def test_replace_tries_the_longest_text_first_in_one_pass() -> None:
    # Where two texts match at one place (one begins the other), the longer one wins,
    # whatever order the mapping gives them in.
    assert step("replace", {"a": "1", "ab": "2"})("ab a") == "2 1"
    assert step("replace", {"ab": "2", "a": "1"})("ab a") == "2 1"
    # A replacement is not replaced again.
    assert step("replace", {"a": "b", "b": "c"})("ab") == "bc"


REPLACE_PAIRS = "a non-empty text and a text to put instead (quote both)"


@pytest.mark.parametrize(
    ("arg", "problems"),
    [
        ({}, [("replace", "an object of text to its replacement")]),
        ("\\n", [("replace", "an object of text to its replacement")]),
        ({"": "x", "a": 1, "b": "c"}, [("replace.", REPLACE_PAIRS), ("replace.a", REPLACE_PAIRS)]),
    ],
)
def test_problems_of_replace(arg: Any, problems: list[tuple[str, str]]) -> None:
    built, errors = build("replace", arg)
    assert built is None
    assert [(e.field, e.message) for e in errors] == problems


def test_fallback_takes_one_column_or_a_list() -> None:
    errors: list[FieldError] = []
    assert parse_fallback("sku", "f", errors) == ("sku",)
    assert parse_fallback(["a", "b"], "f", errors) == ("a", "b")
    assert errors == []


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ([], "a column, or a list of columns to try in order"),
        ({"a": "b"}, "a column, or a list of columns to try in order"),
        (3, "a column, or a list of columns to try in order"),
        (None, "a column, or a list of columns to try in order"),
        (["a", ""], "column names are non-empty texts"),
        (["a", 1], "column names are non-empty texts"),
        ("", "column names are non-empty texts"),
    ],
)
def test_problems_of_fallback(arg: Any, message: str) -> None:
    errors: list[FieldError] = []
    assert parse_fallback(arg, "fields.x.fallback", errors) == ()
    assert [(e.field, e.message, e.code) for e in errors] == [
        ("fields.x.fallback", message, "invalid")
    ]


def test_the_source_wins_unless_it_gives_nothing() -> None:
    def read(column: str) -> Any:
        return lambda record: record.get(column)

    first_given = with_fallback(read("a"), ("b", "c"))
    assert first_given({"a": "A", "b": "B", "c": "C"}) == "A"
    assert first_given({"a": 0, "b": "B"}) == 0  # a zero is a value
    assert first_given({"a": " ", "b": "B"}) == "B"
    assert first_given({"a": [], "b": ["B"]}) == ["B"]  # an empty split is nothing
    assert first_given({"b": None, "c": "C"}) == "C"
    assert first_given({"a": "", "b": ""}) is None  # nothing anywhere: the last column's


def test_unknown_top_level_keys_of_any_type_are_named_in_order() -> None:
    # YAML reads an unquoted 2 as a number: it is named beside the texts, not a crash.
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping({"class": "Product", "fields": {"sku": "sku"}, "z": 1, 2: "x", "a": 3})
    assert [(e.field, e.message) for e in caught.value.errors] == [
        (2, "unknown attribute"),
        ("a", "unknown attribute"),
        ("z", "unknown attribute"),
    ]
