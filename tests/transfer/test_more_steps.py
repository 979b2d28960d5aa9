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
from pimhub.catalog.service import ListQuery
from pimhub.transfer.importer import ImportOptions, ImportSummary, RowError, run_import
from pimhub.transfer.mapping import ImportMapping, InvalidMapping, parse_mapping
from pimhub.transfer.sources import Format, from_text

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
    assert [e.field for e in caught.value.errors] == ["skip"]


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
