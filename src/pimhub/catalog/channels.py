"""Completeness channels of a class: which fields an object must fill, per language, to be
ready for a channel (an online shop, a print catalog, a marketplace feed).

A class declares them in its definition:

    completeness:
      channels:
        ecommerce: {languages: [en, de], required: [name, description, price, image]}

`parse_channels` checks that block, naming every problem by its path; catalog.completeness
computes an object's completeness from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

# Language codes as objects use them in localized values: en, de, pt_BR.
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
# Channel names appear in filter paths (completeness.ecommerce.en) and GraphQL arguments.
CHANNEL_NAME_PATTERN = re.compile(r"^[a-z][A-Za-z0-9_]{0,63}$")
MAX_CHANNELS = 32
MAX_CHANNEL_LANGUAGES = 64

_COMPLETENESS_KEYS = frozenset({"channels"})
_CHANNEL_KEYS = frozenset({"title", "languages", "required"})

Report = Callable[[str, str], None]  # (path, message)


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel: the languages it publishes in and the fields it needs filled in each. A
    localized field counts per language; any other field counts for every language."""

    name: str
    languages: tuple[str, ...]
    required: tuple[str, ...]
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.title:
            out["title"] = self.title
        out["languages"] = list(self.languages)
        out["required"] = list(self.required)
        return out


def channels_to_dict(channels: tuple[Channel, ...]) -> dict[str, Any]:
    """The `completeness` block of a class definition, as parse_channels reads it."""
    return {"channels": {c.name: c.to_dict() for c in channels}}


def parse_channels(raw: Any, field_names: Collection[str], report: Report) -> tuple[Channel, ...]:
    """The channels of a class's `completeness` block (None: no channels); each problem goes
    to `report` with its path, such as completeness.channels.ecommerce.required[2]."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        report("completeness", "must be an object with 'channels'")
        return ()
    for key in sorted(set(raw) - _COMPLETENESS_KEYS):
        report(f"completeness.{key}", "unknown completeness attribute; use 'channels'")
    channels = raw.get("channels")
    if not isinstance(channels, Mapping) or not channels:
        report(
            "completeness.channels",
            "must be an object of channel name to {languages, required}",
        )
        return ()
    if len(channels) > MAX_CHANNELS:
        report("completeness.channels", f"at most {MAX_CHANNELS} channels are supported")
    parsed: list[Channel] = []
    for name, spec in channels.items():
        channel = _parse_channel(name, spec, field_names, report)
        if channel is not None:
            parsed.append(channel)
    return tuple(parsed)


def _parse_channel(
    name: Any, spec: Any, field_names: Collection[str], report: Report
) -> Channel | None:
    path = f"completeness.channels.{name}"
    ok = True
    if not isinstance(name, str) or not CHANNEL_NAME_PATTERN.match(name):
        report(path, "a channel name starts with a lower-case letter, then letters, digits or _")
        ok = False
    if not isinstance(spec, Mapping):
        report(path, "must be an object with 'languages' and 'required'")
        return None
    for key in sorted(set(spec) - _CHANNEL_KEYS):
        report(f"{path}.{key}", "unknown channel attribute; use title, languages, required")
        ok = False
    title = spec.get("title")
    if title is not None and not isinstance(title, str):
        report(f"{path}.title", "must be a string")
        ok = False
    languages = _names(spec.get("languages"), f"{path}.languages", report)
    required = _names(spec.get("required"), f"{path}.required", report)
    if languages is None or required is None:
        return None
    if len(languages) > MAX_CHANNEL_LANGUAGES:
        report(f"{path}.languages", f"at most {MAX_CHANNEL_LANGUAGES} languages per channel")
        ok = False
    for i, language in enumerate(languages):
        if not LANGUAGE_PATTERN.match(language):
            report(
                f"{path}.languages[{i}]", f"'{language}' is not a language code like en or pt_BR"
            )
            ok = False
    for i, field in enumerate(required):
        if field not in field_names:
            report(f"{path}.required[{i}]", f"names no field of this class: '{field}'")
            ok = False
    if not ok:
        return None
    assert isinstance(name, str)
    return Channel(name, tuple(languages), tuple(required), title)


def _names(value: Any, path: str, report: Report) -> list[str] | None:
    if not isinstance(value, list) or not value:
        report(path, "must be a non-empty list")
        return None
    if not all(isinstance(v, str) and v for v in value):
        report(path, "must be a list of non-empty strings")
        return None
    if len(set(value)) != len(value):
        report(path, "must not repeat a value")
        return None
    return value
