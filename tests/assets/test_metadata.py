"""Asset metadata: what is stored (nulls and empty alt texts dropped) and every refusal, named
by its path, with the size limit at its boundary (no database)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pimhub.assets.metadata import MAX_METADATA_BYTES, MAX_METADATA_DEPTH, check_metadata
from pimhub.catalog.errors import FieldError, InvalidInput

LANGUAGES = frozenset({"en", "de"})


def refusal(metadata: Any, languages: frozenset[str] | None = LANGUAGES) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_metadata(metadata, languages)
    return caught.value


def padded(size: int, char: str = "x") -> dict[str, str]:
    """An object whose JSON takes exactly `size` bytes in UTF-8, mostly of `char`."""
    room = size - len(json.dumps({"p": ""}).encode())
    count, rest = divmod(room, len(char.encode()))
    return {"p": char * count + "x" * rest}


def test_nulls_are_dropped_and_the_rest_kept_as_given() -> None:
    stored = check_metadata(
        {"credit": "Studio A", "rights": None, "tags": ["red", None], "size": {"w": 3}},
        LANGUAGES,
    )
    assert stored == {"credit": "Studio A", "tags": ["red", None], "size": {"w": 3}}


def test_alt_texts_per_language_empty_ones_dropped() -> None:
    stored = check_metadata({"alt": {"en": "Red shirt", "de": "", "en_GB": None}}, None)
    assert stored == {"alt": {"en": "Red shirt"}}
    assert check_metadata({"alt": {"en": "", "de": None}, "x": 1}, LANGUAGES) == {"x": 1}
    assert check_metadata({"alt": {}}, LANGUAGES) == {}
    assert check_metadata({"alt": {"de": "", "en": "Red"}}, LANGUAGES) == {"alt": {"en": "Red"}}
    assert check_metadata({"alt": {"de_CH": "Rotes Hemd"}}, None) == {
        "alt": {"de_CH": "Rotes Hemd"}
    }


@pytest.mark.parametrize("metadata", [[1, 2], "alt", 3, None])
def test_metadata_must_be_an_object(metadata: Any) -> None:
    error = refusal(metadata)
    assert error.errors == [FieldError("metadata", "must be a JSON object", "type")]
    assert str(error) == "the asset metadata is invalid: metadata: must be a JSON object"


@pytest.mark.parametrize(
    ("metadata", "path"),
    [
        ({"credit": "a\x00b"}, "metadata.credit"),
        ({"alt": {"en": "Red\x00"}}, "metadata.alt.en"),
        ({"sizes": [{"w": "1"}, {"w": "\x00"}]}, "metadata.sizes[1].w"),
    ],
)
def test_a_nul_anywhere_is_refused_naming_where(metadata: Any, path: str) -> None:
    error = refusal(metadata)
    assert [(e.field, e.code) for e in error.errors] == [(path, "nul-character")]
    assert f"{path} holds a NUL character" in str(error)


@pytest.mark.parametrize(
    "metadata",
    [
        {"ratio": float("nan")},
        {"ratio": float("inf")},
        {"when": {1, 2}},  # no JSON type
    ],
)
def test_metadata_must_be_plain_json(metadata: Any) -> None:
    error = refusal(metadata)
    assert [(e.field, e.code) for e in error.errors] == [("metadata", "type")]
    assert error.errors[0].message == ("must be plain JSON (no NaN or Infinity)")


def nested(depth: int, inner: Any = 1) -> dict[str, Any]:
    """An object `depth` levels deep, alternating lists and objects."""
    value: Any = inner
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    return {"deep": value}


def test_nesting_is_limited_before_anything_walks_or_encodes_it() -> None:
    # The stored form is encoded with orjson, which refuses about 255 levels: deeper
    # metadata used to pass these checks and fail the write (a 500).
    assert MAX_METADATA_DEPTH == 32
    assert check_metadata(nested(32), None) == nested(32)
    for depth in (33, 300, 900):
        error = refusal(nested(depth))
        assert error.errors == [
            FieldError("metadata", "is nested more than 32 levels deep", "too-deep")
        ]
    assert check_metadata({"flat": [1, 2, {"a": []}]}, None) == {"flat": [1, 2, {"a": []}]}


def test_the_size_limit_counts_utf8_bytes_of_the_json() -> None:
    assert MAX_METADATA_BYTES == 16 * 1024
    assert check_metadata(padded(MAX_METADATA_BYTES), None) == padded(MAX_METADATA_BYTES)
    error = refusal(padded(MAX_METADATA_BYTES + 1))
    assert error.errors == [
        FieldError("metadata", "is 16,385 bytes as JSON; at most 16,384 are allowed", "too-large")
    ]
    # Text outside ASCII counts as its UTF-8 bytes, not its characters nor its \u escapes.
    assert check_metadata(padded(MAX_METADATA_BYTES, "é"), None) == padded(MAX_METADATA_BYTES, "é")
    assert refusal(padded(MAX_METADATA_BYTES + 2, "é")).errors[0].code == "too-large"


def test_alt_must_map_languages_to_texts() -> None:
    error = refusal({"alt": "Red shirt"})
    assert error.errors == [
        FieldError(
            "metadata.alt",
            'alt takes an object of language to text, e.g. {"en": "Red shirt"}',
            "type",
        )
    ]


def test_every_bad_alt_entry_is_named_and_the_first_in_the_message() -> None:
    error = refusal({"alt": {"fr": "Chemise", "EN": "Shirt", "de": 5, "en": "Shirt"}})
    assert error.errors == [
        FieldError("metadata.alt.fr", "unknown language code; configured: de, en", "language"),
        FieldError("metadata.alt.EN", "unknown language code; configured: de, en", "language"),
        FieldError("metadata.alt.de", "expected a text", "type"),
    ]
    assert str(error) == (
        "the asset metadata is invalid: metadata.alt.fr: unknown language code; configured: de, en"
    )


def test_without_configured_languages_any_well_formed_code_is_taken() -> None:
    assert check_metadata({"alt": {"fr": "Chemise"}}, None) == {"alt": {"fr": "Chemise"}}
    error = refusal({"alt": {"french": "Chemise"}}, None)
    assert error.errors == [FieldError("metadata.alt.french", "unknown language code", "language")]
