"""pimhub.safe_yaml: safe tags only, and a depth limit checked while composing, so a deeply
nested document is a YAML error that names its line, never a RecursionError."""

from __future__ import annotations

import pytest
import yaml

from pimhub.safe_yaml import MAX_DEPTH, load


def nested_lists(levels: int) -> str:
    """A mapping (one level) holding `levels - 1` nested lists."""
    return "x: " + "[" * (levels - 1) + "]" * (levels - 1)


def test_documents_up_to_the_limit_load() -> None:
    assert load("class: Product\nfields: {sku: sku}\n") == {
        "class": "Product",
        "fields": {"sku": "sku"},
    }
    value = load(nested_lists(MAX_DEPTH))
    depth = 1
    while isinstance(value, (dict, list)) and value:
        value = value["x"] if isinstance(value, dict) else value[0]
        depth += 1
    assert depth == MAX_DEPTH


@pytest.mark.parametrize(
    "text",
    [
        nested_lists(MAX_DEPTH + 1),
        "name.en: " + "[" * 10_000,
        "{a: " * 3_000 + "1" + "}" * 3_000,
        "- " * 5_000 + "x",
    ],
)
def test_deeper_documents_are_a_yaml_error_naming_the_line(text: str) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        load(text)
    assert caught.value.problem == f"the document is nested deeper than {MAX_DEPTH} levels"
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 0


def test_an_alias_counts_as_deep_as_the_node_it_repeats() -> None:
    half = MAX_DEPTH // 2 + 2
    text = f"a: &a {'[' * half}{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        load(text)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 1
    shallow = "a: &a [1, [2]]\nb: [*a, *a]\n"
    assert load(shallow) == {"a": [1, [2]], "b": [[1, [2]], [1, [2]]]}


def test_aliases_stay_shared_so_a_billion_laughs_document_stays_small() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 9):
        prev, name = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    value = load("\n".join(lines))
    assert value["i"][0] is value["i"][1]  # one object, not 9**9 copies


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        load("!!python/object/apply:os.system ['true']")


UNBUILDABLE = {
    "impossible date": ("class: Product\nfields: {sku: {column: sku}}\nx: !!int 2020-99-99", 2),
    "long integer": ("x: " + "9" * 4_301, 0),
    "long integer in a mapping": ("map:\n  a: " + "9" * 4_301, 1),
    "long hex integer": ("x: 0x" + "f" * 3_600, 0),
    "bad float": ("a: 1\nx: !!float abc", 1),
    "integer key too long": ("? " + "9" * 4_301 + "\n: a", 0),
}


@pytest.mark.parametrize("name", sorted(UNBUILDABLE))
def test_a_value_that_cannot_be_built_is_a_yaml_error_naming_its_line(name: str) -> None:
    text, line = UNBUILDABLE[name]
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        load(text)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == line
    assert caught.value.problem is not None and "this" in caught.value.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x: 2020-99-99", {"x": "2020-99-99"}),
        ("x: 2020-01-01 25:61:61", {"x": "2020-01-01 25:61:61"}),
        ("2020-02-30: a", {"2020-02-30": "a"}),
        ("x: 2020-01-01", {"x": "2020-01-01"}),
        ("x: 2020-01-01T10:00:00Z", {"x": "2020-01-01T10:00:00Z"}),
        ("x: !!timestamp 2020-01-01", {"x": "2020-01-01"}),
        ("x: " + "9" * 4_000, {"x": int("9" * 4_000)}),
    ],
)
def test_timestamps_load_as_the_text_written(text: str, expected: object) -> None:
    assert load(text) == expected
