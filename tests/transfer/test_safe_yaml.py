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
