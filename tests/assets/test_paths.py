"""Asset paths: what is accepted, in its canonical form, and what is refused."""

from __future__ import annotations

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
