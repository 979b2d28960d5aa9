"""Asset paths: absolute, "/"-separated, a folder and a file name ("/products/a.jpg")."""

from __future__ import annotations

from pimhub.catalog.errors import FieldError, InvalidInput

MAX_PATH_LENGTH = 1024


def _refuse(field: str, path: str, why: str) -> InvalidInput:
    shown = path.encode("unicode_escape").decode("ascii")
    return InvalidInput(f"asset path '{shown}' {why}", [FieldError(field, why, "invalid-path")])


def normalize_path(path: str, *, field: str = "path") -> str:
    """The canonical form of an asset path (a leading slash added), or InvalidInput naming
    what is wrong: control characters, backslashes, empty, "." or ".." segments, a trailing
    slash, or more than MAX_PATH_LENGTH characters."""
    if not isinstance(path, str) or not path:
        raise _refuse(field, str(path or ""), "is empty")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        # NUL above all: PostgreSQL cannot store it; the rest cannot be a sane file name.
        raise _refuse(field, path, "holds a control character")
    if "\\" in path:
        raise _refuse(field, path, "holds a backslash; separate folders with '/'")
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > MAX_PATH_LENGTH:
        raise _refuse(field, path[:64] + "...", f"is longer than {MAX_PATH_LENGTH} characters")
    if path.endswith("/"):
        raise _refuse(field, path, "ends with '/'; it must name a file")
    for segment in path[1:].split("/"):
        if segment == "":
            raise _refuse(field, path, "has an empty segment ('//')")
        if segment in (".", ".."):
            raise _refuse(field, path, f"has a '{segment}' segment")
        if segment != segment.strip():
            raise _refuse(field, path, "has a segment starting or ending with a space")
    return path


def normalize_folder(folder: str, *, field: str = "folder") -> str:
    """A folder for listings: "/" or a path without a trailing slash ("/products")."""
    if folder in ("", "/"):
        return "/"
    return normalize_path(folder.rstrip("/") if folder != "/" else folder, field=field)


def folder_of(path: str) -> str:
    """The folder of a normalized path: "/products/a.jpg" -> "/products", "/a.jpg" -> "/"."""
    return path.rsplit("/", 1)[0] or "/"
