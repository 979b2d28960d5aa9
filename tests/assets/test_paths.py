"""Asset paths: what is accepted, in its canonical form, and what is refused."""

from __future__ import annotations

import unicodedata

import pytest

from pimhub.assets.paths import folder_of, normalize_folder, normalize_path
from pimhub.catalog.errors import InvalidInput


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("/products/shirt.jpg", "/products/shirt.jpg"),
        ("products/shirt.jpg", "/products/shirt.jpg"),
        ("/a.png", "/a.png"),
        ("/Produkte/Hemd grün.jpg", "/Produkte/Hemd grün.jpg"),
        ("/a/b/c/d.e.f.pdf", "/a/b/c/d.e.f.pdf"),
        ("/x/" + "n" * 1000, "/x/" + "n" * 1000),
    ],
)
def test_accepted_paths_in_canonical_form(given: str, canonical: str) -> None:
    assert normalize_path(given) == canonical


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("", "is empty"),
        ("/a\x00.jpg", "control character"),
        ("/a\n.jpg", "control character"),
        ("/a/../b.jpg", "'..' segment"),
        ("/a/./b.jpg", "'.' segment"),
        ("/..", "'..' segment"),
        ("/a//b.jpg", "empty segment"),
        ("/a\\b.jpg", "backslash"),
        ("/products/", "ends with '/'"),
        ("/", "ends with '/'"),
        ("/" + "n" * 1024, "longer than 1024 bytes"),
        ("/a/ b.jpg", "space"),
    ],
)
def test_refused_paths_say_why(given: str, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_path(given)
    assert why in caught.value.detail
    assert caught.value.errors[0].field == "path"
    assert "\x00" not in caught.value.detail


def test_folders() -> None:
    assert normalize_folder("/") == "/"
    assert normalize_folder("") == "/"
    assert normalize_folder("products/") == "/products"
    assert normalize_folder("/products/shirts") == "/products/shirts"
    assert folder_of("/products/a.jpg") == "/products"
    assert folder_of("/a.jpg") == "/"
    with pytest.raises(InvalidInput):
        normalize_folder("/a/../b")


CJK_1000 = "".join(chr(0x4E00 + i) for i in range(1000))  # 1,000 characters, 3,000 bytes


def test_the_length_limit_counts_utf8_bytes() -> None:
    assert normalize_path("/p/" + "€" * 340) == "/p/" + "€" * 340  # 1,023 bytes
    for too_long in ("/p/" + CJK_1000 + ".png", "/p/" + "€" * 341, "/p/" + "😀" * 256):
        with pytest.raises(InvalidInput) as caught:
            normalize_path(too_long)
        assert "longer than 1024 bytes" in caught.value.detail


def test_a_folder_is_held_to_the_path_rules() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_folder("/" + CJK_1000)
    assert "longer than 1024 bytes" in caught.value.detail
    assert caught.value.errors[0].field == "folder"


def test_paths_are_unicode_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "/p/café.png")
    assert nfd != "/p/café.png"
    assert normalize_path(nfd) == normalize_path("/p/café.png") == "/p/caf\u00e9.png"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("/p/a\u202egnp.exe", "format character (U+202E RIGHT-TO-LEFT OVERRIDE) at character 5"),
        ("/p/a\u200bb.png", "format character (U+200B ZERO WIDTH SPACE) at character 5"),
        ("/p/a\u0085b.png", "a control character (U+0085"),
        ("/p/a\u2028b.png", "a line separator (U+2028 LINE SEPARATOR) at character 5"),
        ("/p/a\u2029b.png", "a paragraph separator (U+2029"),
        ("/p/a\ud800b.png", "a lone surrogate (U+D800"),
        ("/a\x00.jpg", "a control character (U+0000 unnamed) at character 3"),
        ("p/a\ufffdb.png", "U+FFFD (REPLACEMENT CHARACTER) at character 4: the text was not"),
    ],
)
def test_invisible_and_separator_characters_are_refused_by_position(given: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_path(given)
    assert says in caught.value.detail
    assert caught.value.errors[0].code == "invalid-path"
    shown = caught.value.detail  # the character escaped, never itself
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in shown)


def test_a_folder_of_slashes_says_so() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_folder("//")
    assert caught.value.detail == (
        "asset folder '//' has an empty segment ('//'); the top folder is '/'"
    )
    assert normalize_folder("/products//") == "/products"
    with pytest.raises(InvalidInput) as caught:
        normalize_folder("/a//b")
    assert caught.value.detail.startswith("asset folder '/a//b' has an empty segment")
