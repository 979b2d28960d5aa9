"""Category paths in import rows: "Default Category/Men/Tops" names the category whose code is
its segments' slugs joined with '-' (men-tops), which an import may create, parents first."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.search.documents import tokens


@dataclass(frozen=True, slots=True)
class PathOptions:
    """`path:` turns "Default Category/Men/Tops" into a reference to the category at that
    path, by its code (the segments' slugs joined with '-'), creating missing ones."""

    separator: str = "/"
    skip: int = 0  # leading segments that are not categories (a root such as "Default Category")
    create: bool = False
    name_field: str = "name"
    parent_field: str = "parent"


@dataclass(frozen=True, slots=True)
class CategoryPath:
    segments: tuple[str, ...]

    @property
    def code(self) -> str:
        return path_code(self.segments)

    def prefixes(self) -> list[CategoryPath]:
        return [CategoryPath(self.segments[: n + 1]) for n in range(len(self.segments))]


MAX_CODE = 128


def path_code(segments: Sequence[str]) -> str:
    """ "Men/Tops/Hoodies & Sweatshirts" -> men-tops-hoodies-sweatshirts. A segment without
    Latin letters or digits (東京) becomes a short hash of itself: codes stay a-z, 0-9, -."""
    code = "-".join(s for s in (_segment_slug(seg) for seg in segments) if s)
    if len(code) <= MAX_CODE:
        return code
    digest = hashlib.sha1(code.encode()).hexdigest()[:8]
    return f"{code[: MAX_CODE - 9].rstrip('-')}-{digest}"


def _segment_slug(segment: str) -> str:
    slug = "-".join(tokens(segment))
    if slug and not _ASCII_SLUG.match(slug):
        return hashlib.sha1(segment.encode()).hexdigest()[:8]
    return slug


_ASCII_SLUG = re.compile(r"^[a-z0-9-]+$")


def parse_path_options(raw: Any, path: str, errors: list[FieldError]) -> PathOptions | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        return PathOptions()
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, "true, or {separator: '/', skip: 1, create: true}"))
        return None
    unknown = sorted(set(raw) - {"separator", "skip", "create", "name_field", "parent_field"})
    errors.extend(FieldError(f"{path}.{k}", "unknown option") for k in unknown)
    options = PathOptions(
        separator=str(raw.get("separator", "/")),
        skip=raw.get("skip", 0),
        create=raw.get("create", False) is True,
        name_field=str(raw.get("name_field", "name")),
        parent_field=str(raw.get("parent_field", "parent")),
    )
    if not isinstance(options.skip, int) or options.skip < 0 or not options.separator:
        errors.append(FieldError(path, "skip is a whole number, separator not empty"))
        return None
    return options


def path_step(options: PathOptions) -> Callable[[Any], Any]:
    """A mapping step: text (or a list of texts) to category paths."""

    def to_paths(value: Any) -> Any:
        if isinstance(value, list):
            return [p for p in (to_path(v, options) for v in value) if p is not None]
        return to_path(value, options)

    return to_paths


def to_path(value: Any, options: PathOptions) -> CategoryPath | None:
    segments = [s.strip() for s in str(value).split(options.separator) if s.strip()]
    kept = tuple(segments[options.skip :])
    return CategoryPath(kept) if kept else None
