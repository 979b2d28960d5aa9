"""Asset paths: absolute, "/"-separated, a folder and a file name ("/products/a.jpg")."""

from __future__ import annotations

import unicodedata

from pimhub.catalog.errors import FieldError, InvalidInput

# In UTF-8 bytes: what the database indexes (a btree entry holds at most ~2,700 bytes),
# not characters, which take up to 4 bytes each.
MAX_PATH_BYTES = 1024
MAX_PATH_LENGTH = MAX_PATH_BYTES  # the former name
# Characters no file name should hold: control characters (C0, DEL, C1 with U+0085),
# invisible format characters (bidi overrides such as U+202E that show "exe.png" as
# "gnp.exe", zero-width spaces), line and paragraph separators, and lone surrogates
# (which cannot be stored as UTF-8).
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a lone surrogate",
}
# Starlette and urllib decode percent-encoded bytes that are not UTF-8 (%FF) to U+FFFD:
# the path the client meant is unknown, so it is refused rather than stored mangled.
_REPLACEMENT = "\ufffd"


def _shown(path: str, limit: int = 80) -> str:
    """The path for a message: what cannot be printed escaped (\\x00, \\u202e), and cut
    short (a refused path may be kilobytes long; the message must stay readable)."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in path
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _refuse(field: str, path: str, why: str, kind: str) -> InvalidInput:
    shown = _shown(path)
    return InvalidInput(f"asset {kind} '{shown}' {why}", [FieldError(field, why, "invalid-path")])


def _character_problem(path: str) -> str | None:
    """What is wrong with the first refused character of `path`, naming it and its
    (1-based) position; None when every character may appear in a path."""
    for position, char in enumerate(path, 1):
        what = _REFUSED_CATEGORIES.get(unicodedata.category(char))
        if char == _REPLACEMENT:
            return (
                f"holds U+FFFD (REPLACEMENT CHARACTER) at character {position}: the text "
                "was not valid UTF-8 (in a URL, a percent-encoded byte such as %FF that "
                "is no UTF-8 sequence)"
            )
        if what is not None:
            name = unicodedata.name(char, "unnamed")
            return f"holds {what} (U+{ord(char):04X} {name}) at character {position}"
    return None


def normalize_path(path: str, *, field: str = "path", kind: str = "path") -> str:
    """The canonical form of an asset path (Unicode NFC, a leading slash added), or
    InvalidInput naming what is wrong: control, format or separator characters (and
    where), backslashes, empty, "." or ".." segments, a trailing slash, or more than
    MAX_PATH_BYTES bytes in UTF-8."""
    if not isinstance(path, str) or not path:
        raise _refuse(field, str(path or ""), "is empty", kind)
    problem = _character_problem(path)
    if problem is not None:
        # NUL above all: PostgreSQL cannot store it; the rest cannot be a sane file name.
        raise _refuse(field, path, problem, kind)
    if "\\" in path:
        raise _refuse(field, path, "holds a backslash; separate folders with '/'", kind)
    # One spelling per name: "café" typed on a Mac (NFD) is the asset typed elsewhere (NFC).
    path = unicodedata.normalize("NFC", path)
    if not path.startswith("/"):
        path = "/" + path
    size = len(path.encode("utf-8"))
    if size > MAX_PATH_BYTES:
        why = f"is longer than {MAX_PATH_BYTES} bytes in UTF-8 ({size:,} bytes)"
        raise _refuse(field, path, why, kind)
    if path.endswith("/"):
        raise _refuse(field, path, "ends with '/'; it must name a file", kind)
    for segment in path[1:].split("/"):
        if segment == "":
            raise _refuse(field, path, "has an empty segment ('//')", kind)
        if segment in (".", ".."):
            raise _refuse(field, path, f"has a '{segment}' segment", kind)
        if segment != segment.strip():
            raise _refuse(field, path, "has a segment starting or ending with a space", kind)
    return path


def normalize_folder(folder: str, *, field: str = "folder") -> str:
    """A folder for listings and uploads: "/" or a path without a trailing slash
    ("/products"), under the same rules as a path (a file's path adds to it, and is
    checked again whole)."""
    if folder in ("", "/"):
        return "/"
    if isinstance(folder, str) and not folder.strip("/"):
        raise _refuse(field, folder, "has an empty segment ('//'); the top folder is '/'", "folder")
    return normalize_path(folder.rstrip("/"), field=field, kind="folder")


def folder_of(path: str) -> str:
    """The folder of a normalized path: "/products/a.jpg" -> "/products", "/a.jpg" -> "/"."""
    return path.rsplit("/", 1)[0] or "/"
