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


# --- the refusals in full: what a client reads ------------------------------------------------


@pytest.mark.parametrize(
    ("given", "detail", "why"),
    [
        ("", "asset path '' is empty", "is empty"),
        (None, "asset path '' is empty", "is empty"),
        ("/a\\b.jpg", "asset path '/a\\b.jpg' holds a backslash; separate folders with '/'", None),
        ("/products/", "asset path '/products/' ends with '/'; it must name a file", None),
        ("/a/../b.jpg", "asset path '/a/../b.jpg' has a '..' segment", "has a '..' segment"),
        ("/a/./b.jpg", "asset path '/a/./b.jpg' has a '.' segment", "has a '.' segment"),
        ("/a//b.jpg", "asset path '/a//b.jpg' has an empty segment ('//')", None),
        ("/a /b.jpg", "asset path '/a /b.jpg' has a segment starting or ending with a space", None),
        (
            "/p/café\ufffd.png",
            "asset path '/p/café\ufffd.png' holds U+FFFD (REPLACEMENT CHARACTER) at character 8: "
            "the text was not valid UTF-8 (in a URL, a percent-encoded byte such as %FF that is "
            "no UTF-8 sequence)",
            None,
        ),
        (
            "/p/é\x07.png",
            "asset path '/p/é\\x07.png' holds a control character (U+0007 unnamed) at character 5",
            None,
        ),
    ],
)  # fmt: skip
def test_each_refusal_names_the_path_as_given_and_says_why(
    given: str, detail: str, why: str | None
) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_path(given)
    assert caught.value.detail == detail
    [error] = caught.value.errors
    assert (error.field, error.code) == ("path", "invalid-path")
    assert error.message == (why or detail.split("' ", 1)[1])


def test_a_path_of_exactly_1024_bytes_is_taken() -> None:
    assert normalize_path("/" + "n" * 1023) == "/" + "n" * 1023
    # The slash added in front counts: 1 + 2 + 340 x 3 + 1 bytes.
    assert normalize_path("p/" + "€" * 340 + "j") == "/p/" + "€" * 340 + "j"
    with pytest.raises(InvalidInput) as caught:
        normalize_path("p/" + "€" * 340 + "jp")
    assert caught.value.errors[0].message == "is longer than 1024 bytes in UTF-8 (1,025 bytes)"


def test_a_long_refused_path_is_shown_cut_short() -> None:
    long = "/" + "a" * 2000 + "\\b.jpg"
    with pytest.raises(InvalidInput) as caught:
        normalize_path(long)
    shown = "/" + "a" * 76 + "..."  # 80 characters
    assert (
        caught.value.detail == f"asset path '{shown}' holds a backslash; separate folders with '/'"
    )


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("/" + "a" * 74 + "\\.jpg", "/" + "a" * 74 + "\\.jpg"),  # 80 characters: whole
        ("/" + "a" * 75 + "\\.jpg", "/" + "a" * 75 + "\\..."),  # 81: cut to 80
        # Escapes count as what is shown: \\x07 takes 4 of the 80.
        ("/" + "a" * 71 + "\x07.jpg", "/" + "a" * 71 + "\\x07.jpg"),
        ("/" + "a" * 72 + "\x07.jpg", "/" + "a" * 72 + "\\x07..."),
    ],
)
def test_the_shown_path_holds_at_most_80_characters(given: str, shown: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_path(given)
    assert caught.value.detail.startswith(f"asset path '{shown}' ")


def test_folder_refusals_say_folder_and_name_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_folder("/a/../b")
    assert caught.value.detail == "asset folder '/a/../b' has a '..' segment"
    assert caught.value.errors[0].field == "folder"
    with pytest.raises(InvalidInput) as caught:
        normalize_folder("///", field="asset.folder")
    assert caught.value.errors[0].field == "asset.folder"
    assert caught.value.errors[0].message == "has an empty segment ('//'); the top folder is '/'"


def test_folders_of_any_name_lose_only_their_trailing_slashes() -> None:
    assert normalize_folder("/X/") == "/X"
    assert normalize_folder("products/BOX//") == "/products/BOX"
    assert normalize_path("X/a.png", kind="folder") == "/X/a.png"


@pytest.mark.parametrize(
    ("given", "detail"),
    [
        ("/a\\b", "asset folder '/a\\b' holds a backslash; separate folders with '/'"),
        ("/a /b", "asset folder '/a /b' has a segment starting or ending with a space"),
        ("/a\u202eb", "asset folder '/a\\u202eb' holds an invisible format character (U+202E "
         "RIGHT-TO-LEFT OVERRIDE) at character 3"),
        ("/" + "n" * 1024, f"asset folder '/{'n' * 76}...' is longer than 1024 bytes in UTF-8 "
         "(1,025 bytes)"),
    ],
)  # fmt: skip
def test_folder_refusals_in_full(given: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_folder(given)
    assert caught.value.detail == detail
