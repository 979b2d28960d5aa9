"""What an object is indexed as: one search document per language, each with three weighted
parts (business key, name, other text). Pure functions of a class definition and values.

Stored values are plain JSON (dicts, lists), which is what the type checks here test for: an
ABC check per field cost more than the normalizing.

Text is normalized here, not by the databases' tokenizers (case folded, accents removed,
split into word tokens), so both index implementations see the same tokens and a query
matches the same objects on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import TEXT_TYPES, FieldDefinition, FieldType

# The language of a document built from an object with no localized text: it answers a
# search in every language.
ANY_LANGUAGE = "*"
MAX_LANGUAGES = 64  # documents per object; the SQLite index numbers them inside one id
# Normalized text per document part: rich text can be a megabyte, and PostgreSQL refuses a
# tsvector over one.
MAX_NAME_CHARS = 10_000
MAX_BODY_CHARS = 100_000
MAX_QUERY_TOKENS = 16
MAX_TOKEN_CHARS = 64

# Letters and digits; the underscore separates, as in the FTS5 and PostgreSQL parsers.
_WORD = re.compile(r"[^\W_]+")
_TAG = re.compile(r"<[^>]*>")
SEARCHABLE_TYPES = TEXT_TYPES | {FieldType.SELECT, FieldType.MULTISELECT}


@dataclass(frozen=True, slots=True)
class SearchDocument:
    language: str
    key: str
    name: str
    body: str


def tokens(text: str) -> list[str]:
    """Word tokens, case folded and without accents ("Crème brûlée" -> creme, brulee)."""
    if text.isascii():  # most catalog text: nothing to fold but case
        return _WORD.findall(text.lower())
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(plain)


def normalize(text: str) -> str:
    return " ".join(tokens(text))


def query_tokens(q: str) -> list[str]:
    """The tokens a search for `q` looks for (all of them, the last one as a prefix)."""
    return [t[:MAX_TOKEN_CHARS] for t in tokens(q)[:MAX_QUERY_TOKENS]]


def name_field(definition: ClassDefinition) -> FieldDefinition | None:
    """The field that names an object: `name` when it is text, else the first text field
    that is not the business key."""
    named = definition.field("name")
    if named is not None and named.type in TEXT_TYPES:
        return named
    return next(
        (
            f
            for f in definition.fields
            if f.type in TEXT_TYPES and f.name != definition.business_key
        ),
        None,
    )


def body_fields(definition: ClassDefinition) -> list[FieldDefinition]:
    """The fields whose text is indexed as 'other text'."""
    named = name_field(definition)
    return [
        f
        for f in definition.fields
        if f.type in SEARCHABLE_TYPES and f.name != definition.business_key and f is not named
    ]


def index_shape(definition: ClassDefinition) -> tuple[Any, ...]:
    """What decides an object's documents besides its values: when a class definition
    changes this, its objects must be indexed again."""
    named = name_field(definition)
    return (
        definition.business_key,
        (named.name, named.type.value, named.localized) if named else None,
        tuple((f.name, f.type.value, f.localized) for f in body_fields(definition)),
    )


@dataclass(frozen=True, slots=True)
class DocumentShape:
    """Which fields a class's documents are made of, worked out once for many objects."""

    named: FieldDefinition | None
    body: tuple[FieldDefinition, ...]
    localized: tuple[FieldDefinition, ...]  # of named and body, the localized ones

    @classmethod
    def of(cls, definition: ClassDefinition) -> DocumentShape:
        named = name_field(definition)
        body = tuple(body_fields(definition))
        localized = tuple(f for f in ((named,) if named else ()) + body if f.localized)
        return cls(named, body, localized)

    def documents(
        self,
        key: str,
        values: Mapping[str, Any],
        *,
        languages: Sequence[str],
        default_language: str,
    ) -> list[SearchDocument]:
        """See documents_for."""
        used = {
            lang
            for f in self.localized
            if isinstance(value := values.get(f.name), dict)
            for lang, text in value.items()
            if text
        }
        if len(used) <= 1:
            # Text in one language at most is what every language shows (its own text,
            # else the default's, else any): working it out for one language is enough.
            langs = [default_language]
        else:
            # A language configured twice is one document (a second one would collide).
            langs = list(dict.fromkeys(languages)) or sorted({*used, default_language})
        # Which stored language each localized field shows in each document language decides
        # the document: languages that show the same ones share one text, computed once.
        groups: dict[tuple[str | None, ...], list[str]] = {}
        for lang in langs[:MAX_LANGUAGES]:
            shown = tuple(
                _source_language(values.get(f.name), lang, default_language) for f in self.localized
            )
            groups.setdefault(shown, []).append(lang)
        # Text that is not localized is the same in every document: normalized once.
        shared = {f.name: _value_text(f, values.get(f.name)) for f in self.body if not f.localized}
        texts = {
            shown: self._texts(values, shared, members[0], default_language)
            for shown, members in groups.items()
        }
        key_text = normalize(key)
        if len(set(texts.values())) == 1:
            # The same text in every language: one document for any language finds the
            # same objects.
            name, body_text = next(iter(texts.values()))
            return [SearchDocument(ANY_LANGUAGE, key_text, name, body_text)]
        return [
            SearchDocument(lang, key_text, *texts[shown])
            for shown, members in groups.items()
            for lang in members
        ]

    def _texts(
        self,
        values: Mapping[str, Any],
        shared: Mapping[str, str],
        lang: str,
        default_language: str,
    ) -> tuple[str, str]:
        """(name, other text) of the document in `lang`, cut to their limits."""
        named = self.named
        name = _text(named, values, lang, default_language) if named else ""
        own = {f.name: _text(f, values, lang, default_language) for f in self.body if f.localized}
        parts = {**shared, **own}
        body_text = " ".join(text for f in self.body if (text := parts[f.name]))
        return name[:MAX_NAME_CHARS], body_text[:MAX_BODY_CHARS]


def documents_for(
    definition: ClassDefinition,
    key: str,
    values: Mapping[str, Any],
    *,
    languages: Sequence[str],
    default_language: str,
) -> list[SearchDocument]:
    """The documents of one object. An object with localized text gets one document per
    language (`languages`, or when that is empty the languages its text uses, plus the
    default), missing translations falling back to the default language; an object without
    localized text, or whose documents would all be the same, gets a single document for
    any language."""
    return DocumentShape.of(definition).documents(
        key, values, languages=languages, default_language=default_language
    )


def _source_language(value: Any, lang: str, default_language: str) -> str | None:
    """The stored language a localized value shows in `lang`: that language, else the
    default, else any with text."""
    if not isinstance(value, dict):
        return None
    for candidate in (lang, default_language):
        if value.get(candidate):
            return candidate
    return next((k for k, v in value.items() if v), None)


def _text(f: FieldDefinition, values: Mapping[str, Any], lang: str, default_language: str) -> str:
    value = values.get(f.name)
    if isinstance(value, dict):  # a localized field's texts: no other stored value is an object
        value = _pick(value, lang, default_language)
    return _value_text(f, value)


def _value_text(f: FieldDefinition, value: Any) -> str:
    if value is None:
        return ""
    if f.type == FieldType.RICH_TEXT and isinstance(value, str):
        value = html.unescape(_TAG.sub(" ", value))
    if isinstance(value, list):
        return normalize(" ".join(str(v) for v in value))
    return normalize(str(value))


def _pick(value: Mapping[str, Any], lang: str, default_language: str) -> Any:
    shown = _source_language(value, lang, default_language)
    return None if shown is None else value[shown]


def language_token(language: str) -> str:
    """The token that marks a document's language in an index that can only match tokens:
    letters after 'lang' for a code (en_GB -> langengb), a digit for any language, which no
    code contains."""
    return "lang0" if language == ANY_LANGUAGE else "lang" + language.lower().replace("_", "")
