"""Thumbnail presets from the settings: the limits at their boundaries, overrides of the
built-in presets, every refusal named by its path, and the fingerprint that names the files
(no images drawn; tests/assets/test_thumbnails.py draws them)."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.assets.presets import (
    BUILTIN_PRESETS,
    MAX_SIDE,
    ThumbnailPreset,
    parse_presets,
)
from pimhub.catalog.errors import FieldError, InvalidInput


def refusal(raw: dict[Any, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_presets(raw)
    return caught.value


def test_a_preset_from_the_settings_defaults_to_contain_webp_at_85() -> None:
    presets = parse_presets({"card": {"width": 1, "height": MAX_SIDE}})
    assert presets["card"] == ThumbnailPreset("card", 1, 4000, "contain", "webp", 85)
    assert {n: p for n, p in presets.items() if n != "card"} == BUILTIN_PRESETS
    assert parse_presets({}) == BUILTIN_PRESETS


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"width": 0, "height": 10}, "width", "must be 1..4000"),
        ({"width": 10, "height": MAX_SIDE + 1}, "height", "must be 1..4000"),
        ({"width": True, "height": 10}, "width", "must be 1..4000"),
        ({"width": 10.0, "height": 10}, "width", "must be 1..4000"),
        ({"width": 10, "height": 10, "quality": 0}, "quality", "must be 1..100"),
        ({"width": 10, "height": 10, "quality": 101}, "quality", "must be 1..100"),
        (
            {"width": 10, "height": 10, "fit": "fill"},
            "fit",
            "must be one of contain, cover, stretch",
        ),
        (
            {"width": 10, "height": 10, "format": "gif"},
            "format",
            "must be one of jpeg, png, webp, original",
        ),
        ({"height": 10}, "width", "required"),
        (
            {"width": 10, "height": 10, "Fit": "cover"},
            "Fit",
            "unknown; known: fit, format, height, quality, width",
        ),
    ],
)  # fmt: skip
def test_each_bad_field_is_refused_naming_its_path(
    spec: dict[str, Any], field: str, message: str
) -> None:
    error = refusal({"card": spec})
    assert [(e.field, e.message) for e in error.errors] == [
        (f"assets_thumbnails.card.{field}", message)
    ]
    assert str(error) == f"assets_thumbnails.card.{field}: {message}"


def test_the_limits_themselves_are_allowed() -> None:
    presets = parse_presets(
        {
            "low": {"width": 1, "height": 1, "quality": 1, "fit": "stretch", "format": "original"},
            "high": {"width": MAX_SIDE, "height": MAX_SIDE, "quality": 100, "format": "png"},
        }
    )
    assert presets["low"] == ThumbnailPreset("low", 1, 1, "stretch", "original", 1)
    assert presets["high"] == ThumbnailPreset("high", 4000, 4000, "contain", "png", 100)


def test_a_missing_size_is_marked_required() -> None:
    error = refusal({"card": {}})
    assert error.errors == [
        FieldError("assets_thumbnails.card.width", "required", "required"),
        FieldError("assets_thumbnails.card.height", "required", "required"),
    ]


def test_an_override_of_a_built_in_preset_changes_only_the_fields_it_names() -> None:
    presets = parse_presets({"large": {"height": 900}, "thumbnail": {"fit": "stretch"}})
    assert presets["large"] == ThumbnailPreset("large", 1600, 900, "contain", "webp", 85)
    assert presets["thumbnail"] == ThumbnailPreset("thumbnail", 150, 150, "stretch", "jpeg", 85)
    assert presets["product_list"] == BUILTIN_PRESETS["product_list"]


def test_every_problem_of_every_preset_is_named_in_one_refusal() -> None:
    error = refusal(
        {
            "a": {"width": 0, "height": 0, "colour": "red"},
            "ok": {"width": 5, "height": 5},
            "c": [5, 5],
            "B": {"width": 5, "height": 5},
            7: {"width": 5, "height": 5},
        }
    )
    assert [(e.field, e.message) for e in error.errors] == [
        ("assets_thumbnails.a.colour", "unknown; known: fit, format, height, quality, width"),
        ("assets_thumbnails.a.width", "must be 1..4000"),
        ("assets_thumbnails.a.height", "must be 1..4000"),
        ("assets_thumbnails.c", "must be an object such as {width, height}"),
        ("assets_thumbnails.B", "a preset name is 1-64 of a-z, 0-9, _ and -"),
        ("assets_thumbnails.7", "a preset name is 1-64 of a-z, 0-9, _ and -"),
    ]
    assert str(error).startswith(
        "assets_thumbnails.a.colour: unknown; known: fit, format, height, quality, width; "
        "assets_thumbnails.a.width: must be 1..4000; "
    )


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a", True),
        ("9-up_x", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("-a", False),
        ("_a", False),
        ("a.b", False),
        ("a/b", False),
        ("", False),
        ("a\n", False),
    ],
)
def test_preset_names_fit_file_keys_and_urls(name: str, valid: bool) -> None:
    raw = {name: {"width": 5, "height": 5}}
    if valid:
        assert parse_presets(raw)[name] == ThumbnailPreset(name, 5, 5)
    else:
        assert refusal(raw).errors[0].field == f"assets_thumbnails.{name}"


def test_the_fingerprint_follows_everything_a_preset_draws() -> None:
    base = ThumbnailPreset("p", 300, 200, "contain", "webp", 85)
    # Pinned: a changed fingerprint names new files for every stored thumbnail of the preset.
    assert BUILTIN_PRESETS["thumbnail"].fingerprint == "a2f84617edcd"
    changed = [
        ThumbnailPreset("p", 301, 200, "contain", "webp", 85),
        ThumbnailPreset("p", 300, 201, "contain", "webp", 85),
        ThumbnailPreset("p", 200, 300, "contain", "webp", 85),
        ThumbnailPreset("p", 300, 200, "cover", "webp", 85),
        ThumbnailPreset("p", 300, 200, "contain", "png", 85),
        ThumbnailPreset("p", 300, 200, "contain", "webp", 84),
    ]
    assert len({base.fingerprint, *(p.fingerprint for p in changed)}) == 1 + len(changed)
    # The name is not drawn: a renamed preset with the same settings reuses its files.
    assert ThumbnailPreset("q", 300, 200, "contain", "webp", 85).fingerprint == base.fingerprint
