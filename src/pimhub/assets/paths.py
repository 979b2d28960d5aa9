"""Asset paths: absolute, "/"-separated, a folder and a file name ("/products/a.jpg")."""

from __future__ import annotations

from pimhub.catalog.errors import FieldError, InvalidInput

# In UTF-8 bytes: what the database indexes (a btree entry holds at most ~2,700 bytes),
# not characters, which take up to 4 bytes each.
MAX_PATH_BYTES = 1024
MAX_PATH_LENGTH = MAX_PATH_BYTES  # the former name


def _shown(path: str, limit: int = 80) -> str:
    """The path for a message: what cannot be printed escaped (\\x00, \\u202e), and cut
    short (a refused path may be kilobytes long; the message must stay readable)."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in path
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _refuse(field: str, path: str, why: str) -> InvalidInput:
    shown = _shown(path)
    return InvalidInput(f"asset path '{shown}' {why}", [FieldError(field, why, "invalid-path")])


def normalize_path(path: str, *, field: str = "path") -> str:
    """The canonical form of an asset path (a leading slash added), or InvalidInput naming
    what is wrong: control characters, backslashes, empty, "." or ".." segments, a trailing
    slash, or more than MAX_PATH_BYTES bytes in UTF-8."""
    if not isinstance(path, str) or not path:
        raise _refuse(field, str(path or ""), "is empty")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        # NUL above all: PostgreSQL cannot store it; the rest cannot be a sane file name.
        raise _refuse(field, path, "holds a control character")
    if "\\" in path:
        raise _refuse(field, path, "holds a backslash; separate folders with '/'")
    if not path.startswith("/"):
        path = "/" + path
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        why = f"is longer than {MAX_PATH_BYTES} bytes in UTF-8 ({size:,} bytes)"
        raise _refuse(field, path, why)
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
    """A folder for listings and uploads: "/" or a path without a trailing slash
    ("/products"), under the same rules as a path (a file's path adds to it, and is
    checked again whole)."""
    if folder in ("", "/"):
        return "/"
    return normalize_path(folder.rstrip("/") if folder != "/" else folder, field=field)


def folder_of(path: str) -> str:
    """The folder of a normalized path: "/products/a.jpg" -> "/products", "/a.jpg" -> "/"."""
    return path.rsplit("/", 1)[0] or "/"
