"""Search documents: what an object is indexed as, independent of any database."""

from __future__ import annotations

from typing import Any

from pimhub.catalog.classes import parse_class_definition
from pimhub.search.documents import (
    ANY_LANGUAGE,
    MAX_QUERY_TOKENS,
    SearchDocument,
    body_fields,
    documents_for,
    index_shape,
    language_token,
    name_field,
    normalize,
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


def test_every_part_of_a_document_has_exactly_its_own_text() -> None:
    found = documents_for(
        PRODUCT,
        "MH01-XS/Black",
        {
            "sku": "MH01-XS",
            "name": {"en": "Chaz Tee", "de": "Chaz T-Shirt"},
            "description": {"en": "<p>Soft&nbsp;&amp;&lt;b&gt;warm</p>", "de": "<i>Weich</i>"},
            "ean": "400 638",
            "color": "black",
            "material": ["cotton", "Wool"],
            "stock": 3,
        },
        languages=("en", "de"),
        default_language="en",
    )
    assert found == [
        SearchDocument("en", "mh01 xs black", "chaz tee", "soft b warm 400 638 black cotton wool"),
        SearchDocument("de", "mh01 xs black", "chaz t shirt", "weich 400 638 black cotton wool"),
    ]


def test_body_follows_field_order_and_skips_the_key_the_name_and_non_text() -> None:
    found = docs(
        {
            "material": ["wool"],
            "stock": 3,
            "color": "white",
            "ean": "4006",
            "sku": "MH01",
            "name": {"en": "Tee"},
        }
    )
    assert found == {
        ANY_LANGUAGE: SearchDocument(ANY_LANGUAGE, "mh01 xs", "tee", "4006 white wool")
    }


def test_a_language_with_empty_text_falls_back_to_the_default_before_any_other() -> None:
    values = {"sku": "X", "name": {"fr": "Chien", "de": "", "en": "Dog"}}
    found = docs(values, ("de", "en", "fr"))
    assert {lang: d.name for lang, d in found.items()} == {"de": "dog", "en": "dog", "fr": "chien"}
    described = {"sku": "X", "name": {"en": "A", "de": "B"}, "description": {"fr": "Y", "en": "Z"}}
    assert docs(described, ("de", "en"))["de"].body == "z"


def test_localized_fields_without_any_text_index_nothing() -> None:
    values = {"sku": "X", "name": {"en": "", "de": ""}, "description": {"en": ""}, "ean": "4"}
    assert docs(values) == {ANY_LANGUAGE: SearchDocument(ANY_LANGUAGE, "mh01 xs", "", "4")}


def test_the_same_text_in_two_languages_is_one_document_with_that_text() -> None:
    found = docs({"sku": "X", "name": {"en": "Hund", "de": "HUND"}, "ean": "4"}, ("en", "de"))
    assert found == {ANY_LANGUAGE: SearchDocument(ANY_LANGUAGE, "mh01 xs", "hund", "4")}


def test_a_text_field_called_name_names_objects_wherever_it_is() -> None:
    definition = parse_class_definition(
        {
            "name": "Doc",
            "businessKey": "code",
            "fields": [
                {"name": "code", "type": "text"},
                {"name": "title", "type": "text"},
                {"name": "name", "type": "textarea"},
            ],
        }
    )
    assert name_field(definition) is definition.field("name")
    values = {"code": "D", "title": "Intro", "name": "Guide"}
    found = documents_for(definition, "D", values, languages=(), default_language="en")
    assert found == [SearchDocument(ANY_LANGUAGE, "d", "guide", "intro")]


def test_without_default_text_a_language_falls_back_to_the_first_with_text() -> None:
    values = {"sku": "X", "name": {"fr": "", "it": "Cane", "es": "Perro"}}
    found = docs(values, ("en", "es"))
    assert {lang: d.name for lang, d in found.items()} == {"en": "cane", "es": "perro"}


def test_languages_that_show_the_same_text_share_it_but_keep_their_documents() -> None:
    found = docs({"sku": "X", "name": {"en": "Dog", "de": "Hund"}}, ("de", "en", "fr", "it"))
    assert [(d.language, d.name) for d in found.values()] == [
        ("de", "hund"),
        ("en", "dog"),
        ("fr", "dog"),
        ("it", "dog"),
    ]


def test_a_localized_body_field_alone_can_make_languages_differ() -> None:
    found = docs({"sku": "X", "name": {"en": "Tee"}, "description": {"en": "Soft", "de": "Weich"}})
    assert [(d.language, d.name, d.body) for d in found.values()] == [
        ("en", "tee", "soft"),
        ("de", "tee", "weich"),
    ]


def test_an_object_has_at_most_64_language_documents() -> None:
    languages = tuple(f"l{n}" for n in range(70))
    values = {"sku": "X", "name": {lang: f"word{n}" for n, lang in enumerate(languages)}}
    found = documents_for(PRODUCT, "X", values, languages=languages, default_language="l0")
    assert [d.language for d in found] == list(languages[:64])
    assert found[63].name == "word63"


def test_name_and_body_are_cut_to_their_limits() -> None:
    word = "abcdefghi "  # ten characters with its space
    found = docs({"sku": "X", "name": {"en": word * 2_000}, "ean": word * 20_000})
    doc = found[ANY_LANGUAGE]
    assert doc.name == (word * 1_000)[:10_000] and len(doc.name) == 10_000
    assert doc.body == (word * 10_000)[:100_000] and len(doc.body) == 100_000


def test_a_non_ascii_text_is_folded_and_an_ascii_one_only_lowered() -> None:
    assert tokens("ÉCOLE Straße ﬁne Ǆ") == ["ecole", "strasse", "fine", "dz"]
    assert tokens("École") == ["ecole"]
    assert tokens("MiXeD 42 a-b") == ["mixed", "42", "a", "b"]
    assert normalize(" Crème,  Brûlée! ") == "creme brulee"
    assert normalize("") == ""


def test_query_tokens_keep_the_first_16_tokens_of_at_most_64_characters() -> None:
    words = [f"w{i}" for i in range(20)]
    assert query_tokens(" ".join(words)) == words[:16]
    assert query_tokens("Ä" * 70 + " b") == ["a" * 64, "b"]
    assert query_tokens("x" * 64) == ["x" * 64]


def test_without_a_text_name_field_the_first_other_text_field_names_objects() -> None:
    definition = parse_class_definition(
        {
            "name": "Part",
            "businessKey": "code",
            "fields": [
                {"name": "name", "type": "number"},
                {"name": "code", "type": "text"},
                {"name": "color", "type": "select", "options": ["red"]},
                {"name": "label", "type": "rich_text"},
                {"name": "notes", "type": "textarea"},
            ],
        }
    )
    assert name_field(definition) is definition.field("label")
    assert [f.name for f in body_fields(definition)] == ["color", "notes"]
    assert index_shape(definition) == (
        "code",
        ("label", "rich_text", False),
        (("color", "select", False), ("notes", "textarea", False)),
    )


def test_a_class_without_text_fields_has_no_name_field() -> None:
    definition = parse_class_definition(
        {
            "name": "Count",
            "businessKey": "code",
            "fields": [{"name": "code", "type": "text"}, {"name": "n", "type": "number"}],
        }
    )
    assert name_field(definition) is None and body_fields(definition) == []
    assert index_shape(definition) == ("code", None, ())
    found = documents_for(
        definition, "C-1", {"code": "C-1", "n": 2}, languages=(), default_language="en"
    )
    assert found == [SearchDocument(ANY_LANGUAGE, "c 1", "", "")]


def test_index_shape_names_key_name_and_body_with_type_and_localization() -> None:
    assert index_shape(PRODUCT) == (
        "sku",
        ("name", "text", True),
        (
            ("description", "rich_text", True),
            ("ean", "text", False),
            ("color", "select", False),
            ("material", "multiselect", False),
        ),
    )


def test_rich_text_loses_tags_but_plain_text_keeps_what_looks_like_them() -> None:
    raw = "<b>bold</b>&amp;co"
    definition = parse_class_definition(
        {
            "name": "Page",
            "businessKey": "code",
            "fields": [
                {"name": "code", "type": "text"},
                {"name": "title", "type": "text"},
                {"name": "html", "type": "rich_text"},
            ],
        }
    )
    found = documents_for(
        definition, "P", {"title": raw, "html": raw}, languages=(), default_language="en"
    )
    assert (found[0].name, found[0].body) == ("b bold b amp co", "bold co")


def test_language_tokens_are_lower_case_without_underscores() -> None:
    assert language_token("pt_BR") == "langptbr"
    assert language_token("EN") == "langen"
