"""Search documents: what an object is indexed as, independent of any database."""

from __future__ import annotations

from typing import Any

from pimhub.catalog.classes import parse_class_definition
from pimhub.search.documents import (
    ANY_LANGUAGE,
    MAX_QUERY_TOKENS,
    documents_for,
    index_shape,
    language_token,
    name_field,
    query_tokens,
    tokens,
)

PRODUCT = parse_class_definition(
    {
        "name": "Product",
        "businessKey": "sku",
        "fields": [
            {"name": "sku", "type": "text"},
            {"name": "name", "type": "text", "localized": True},
            {"name": "description", "type": "rich_text", "localized": True},
            {"name": "ean", "type": "text"},
            {"name": "color", "type": "select", "options": ["black", "white"]},
            {"name": "material", "type": "multiselect", "options": ["cotton", "wool"]},
            {"name": "stock", "type": "number"},
        ],
    }
)


def docs(values: dict[str, Any], languages: tuple[str, ...] = ("en", "de")) -> dict[str, Any]:
    found = documents_for(PRODUCT, "MH01-XS", values, languages=languages, default_language="en")
    return {d.language: d for d in found}


def test_tokens_fold_case_and_accents_and_split_on_punctuation() -> None:
    assert tokens("Crème Brûlée, MH01-XS/Black!") == ["creme", "brulee", "mh01", "xs", "black"]
    assert tokens("  ") == []
    assert tokens("foo_bar __ _x") == ["foo", "bar", "x"]


def test_query_tokens_are_capped() -> None:
    assert len(query_tokens(" ".join(f"w{i}" for i in range(40)))) == MAX_QUERY_TOKENS
    assert query_tokens("x" * 500) == ["x" * 64]


def test_an_object_without_localized_text_has_one_document_for_any_language() -> None:
    found = docs({"sku": "MH01-XS", "ean": "4006381333931", "color": "black", "stock": 3})
    assert list(found) == [ANY_LANGUAGE]
    doc = found[ANY_LANGUAGE]
    assert (doc.key, doc.name) == ("mh01 xs", "")
    assert doc.body == "4006381333931 black"  # numbers are not text


def test_localized_text_gives_one_document_per_language_with_fallback() -> None:
    found = docs(
        {
            "sku": "MH01-XS",
            "name": {"en": "Tee", "de": "T-Shirt"},
            "description": {"en": "<p>Soft &amp; <b>warm</b></p>"},
            "material": ["cotton", "wool"],
        }
    )
    assert set(found) == {"en", "de"}
    assert found["de"].name == "t shirt"
    assert found["en"].name == "tee"
    # German has no description: the default language's stands in; tags and entities go.
    assert found["de"].body == found["en"].body == "soft warm cotton wool"


def test_without_configured_languages_the_used_ones_and_the_default_are_indexed() -> None:
    found = docs({"sku": "X", "name": {"fr": "Chemise", "de": "Hemd"}}, languages=())
    assert set(found) == {"de", "en", "fr"}
    assert found["en"].name == "chemise"  # no English: the default falls back to any


def test_text_in_one_language_only_is_one_document_for_any_language() -> None:
    found = docs({"sku": "X", "name": {"en": "Shirt"}, "description": {"en": "<p>Soft</p>"}})
    assert list(found) == [ANY_LANGUAGE]
    assert (found[ANY_LANGUAGE].name, found[ANY_LANGUAGE].body) == ("shirt", "soft")


def test_text_in_one_other_language_only_is_one_document_with_that_text() -> None:
    # Every language falls back to the only text there is, configured languages or not.
    values = {"sku": "X", "name": {"fr": "Chemise", "en": ""}, "ean": "400", "color": "black"}
    for languages in (("en", "de"), ()):
        found = docs(values, languages)
        assert list(found) == [ANY_LANGUAGE]
        assert (found[ANY_LANGUAGE].name, found[ANY_LANGUAGE].body) == ("chemise", "400 black")


def test_name_field_is_name_or_the_first_other_text_field() -> None:
    assert name_field(PRODUCT).name == "name"  # type: ignore[union-attr]
    titled = parse_class_definition(
        {
            "name": "Doc",
            "businessKey": "code",
            "fields": [
                {"name": "code", "type": "text"},
                {"name": "size", "type": "number"},
                {"name": "title", "type": "textarea"},
            ],
        }
    )
    assert name_field(titled).name == "title"  # type: ignore[union-attr]


def test_index_shape_changes_only_with_what_documents_are_made_of() -> None:
    raw = PRODUCT.to_dict()
    with_number = {**raw, "fields": [*raw["fields"], {"name": "weight", "type": "number"}]}
    with_text = {**raw, "fields": [*raw["fields"], {"name": "notes", "type": "textarea"}]}
    assert index_shape(parse_class_definition(with_number)) == index_shape(PRODUCT)
    assert index_shape(parse_class_definition(with_text)) != index_shape(PRODUCT)
    rich_name = {
        **raw,
        "fields": [{**f, "type": "rich_text"} if f["name"] == "name" else f for f in raw["fields"]],
    }
    assert index_shape(parse_class_definition(rich_name)) != index_shape(PRODUCT)


def test_a_huge_name_is_cut_like_the_body() -> None:
    found = docs({"sku": "X", "name": {"en": " ".join(f"w{i}" for i in range(300_000))}})
    assert len(found[ANY_LANGUAGE].name) <= 10_000


def test_language_tokens_cannot_collide() -> None:
    assert language_token("en") == "langen"
    assert language_token("de_CH") == "langdech"
    assert language_token(ANY_LANGUAGE) == "lang0"


def test_the_same_text_in_every_language_is_one_document() -> None:
    found = docs({"sku": "X", "name": {"en": "Hund", "de": "Hund"}})
    assert list(found) == [ANY_LANGUAGE]


def test_translations_keep_their_own_documents_and_share_untranslated_text() -> None:
    found = docs(
        {"sku": "X", "name": {"en": "Dog", "de": "Hund"}, "ean": "4006381333931"},
        languages=("en", "de", "fr"),
    )
    assert set(found) == {"en", "de", "fr"}
    assert (found["de"].name, found["fr"].name) == ("hund", "dog")  # French falls back
    assert found["en"].body == found["de"].body == "4006381333931"


def test_a_language_configured_twice_is_one_document() -> None:
    found = documents_for(
        PRODUCT,
        "MH01-XS",
        {"sku": "MH01-XS", "name": {"en": "Tee", "de": "T-Shirt"}},
        languages=("en", "de", "en"),
        default_language="en",
    )
    assert sorted(d.language for d in found) == ["de", "en"]
