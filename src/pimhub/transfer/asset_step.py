"""The `asset` mapping step: a cell naming a file (a URL, or a path under `base`) becomes
a reference the import resolves to an asset, downloading the file when it has to
(transfer.asset_fetch).

    image: {column: base_image, asset: {base: "https://shop.example/media/catalog/product",
                                        folder: /products}}

A cell may hold several files separated by `|` (pimhub's list separator), or come as a list
from a `split` step: a gallery. The step itself reads nothing: it only says where each file
is, so a mapping stays checkable without a network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from pimhub.assets.paths import normalize_folder
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.transfer.steps import CellError, Step

LIST_SEPARATOR = "|"  # transfer.exporter.LIST_SEPARATOR
DEFAULT_FOLDER = "/imports"
MAX_LOCATION = 2048
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_FOLDER_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f/\\]+$")


@dataclass(frozen=True, slots=True)
class AssetOptions:
    """`asset: {base, folder}`: where relative cells are (a URL or a local folder) and the
    asset folder the files land in."""

    base: str | None = None
    folder: str = DEFAULT_FOLDER


@dataclass(frozen=True, slots=True)
class AssetSource:
    """One file a cell names: an http(s) URL, or a local file (`local`), and the asset
    folder it goes to. The import resolves it to an asset uuid before writing."""

    location: str
    local: bool
    folder: str

    def __str__(self) -> str:
        return self.location


def parse_asset_options(raw: Any, path: str, errors: list[FieldError]) -> AssetOptions | None:
    """`asset: true` or `asset: {base: URL-or-folder, folder: /products}`; None when absent
    or wrong (the problem is reported at `path`)."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return AssetOptions()
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, "true, or {base: <URL or folder>, folder: /products}"))
        return None
    errors.extend(
        FieldError(f"{path}.{k}", "unknown option; use base, folder")
        for k in sorted(set(map(str, raw)) - {"base", "folder"})
    )
    base, folder = raw.get("base"), raw.get("folder", DEFAULT_FOLDER)
    problems = len(errors)
    if base is not None and (not isinstance(base, str) or not base.strip()):
        errors.append(FieldError(f"{path}.base", "a URL (https://...) or a folder of files"))
    elif isinstance(base, str) and (scheme := _scheme(base)) and scheme not in ("http", "https"):
        errors.append(FieldError(f"{path}.base", f"{scheme}: URLs are not fetched; use http(s)"))
    normalized = _folder(folder) if isinstance(folder, str) else None
    if normalized is None:
        errors.append(
            FieldError(f"{path}.folder", "an asset folder such as /products (no '..', no '.')")
        )
    else:
        try:
            # The rules of every asset path (length in bytes above all), before any row.
            normalized = normalize_folder(normalized)
        except InvalidInput as exc:
            errors.append(FieldError(f"{path}.folder", exc.detail))
            normalized = None
    if len(errors) > problems or normalized is None:
        return None
    return AssetOptions(base.strip() if isinstance(base, str) else None, normalized)


def _folder(folder: str) -> str | None:
    """`folder` as an absolute asset folder ("products/" -> "/products"), or None."""
    segments = [s for s in folder.strip().split("/") if s]
    if any(s in (".", "..") or not _FOLDER_SEGMENT.match(s) for s in segments):
        return None
    return "/" + "/".join(segments)


def _scheme(text: str) -> str | None:
    """The URL scheme `text` starts with (lower case), if it starts with one. A Windows
    drive (C:) is no scheme."""
    match = _SCHEME.match(text)
    if match is None or len(match.group(1)) == 1:
        return None
    return match.group(1).lower()


def asset_step(options: AssetOptions) -> Step:
    """A mapping step: a cell (or a list of cells) to AssetSource values; a `|` in a text
    cell separates several files."""

    def to_sources(value: Any) -> Any:
        cells = value if isinstance(value, list) else str(value).split(LIST_SEPARATOR)
        found = [locate(str(cell).strip(), options) for cell in cells if str(cell).strip()]
        if isinstance(value, list) or len(found) > 1:
            return found
        return found[0] if found else None

    return to_sources


def locate(cell: str, options: AssetOptions) -> AssetSource:
    """Where the file a cell names is: a URL as it is, a relative path under `base` (a URL
    or a folder), an absolute path as a local file. Raises CellError."""
    if len(cell) > MAX_LOCATION:
        raise CellError(f"a file location of {len(cell)} characters (at most {MAX_LOCATION})")
    if any(c < " " or c == "\x7f" for c in cell):
        raise CellError(f"{cell[:80]!r} holds control characters, which no file location may")
    if scheme := _scheme(cell):
        if scheme not in ("http", "https"):
            raise CellError(f"{scheme}: URLs are not fetched; give an http(s) URL or a path")
        return AssetSource(cell, False, options.folder)
    base = options.base
    if base is not None and ".." in cell.split("/"):
        # Joined to the base, it would name a file outside it (a CLI import reads local
        # files): a path relative to the base stays under it.
        raise CellError(f"'{cell[:200]}' goes up out of asset.base with '..'; give a path under it")
    if base is not None and _scheme(base):
        return AssetSource(f"{base.rstrip('/')}/{cell.lstrip('/')}", False, options.folder)
    if base is not None:
        return AssetSource(str(PurePosixPath(base) / cell.lstrip("/")), True, options.folder)
    if cell.startswith("/"):
        return AssetSource(cell, True, options.folder)
    raise CellError(
        f"'{cell[:200]}' is a relative path; give a URL, or set asset.base to the URL or "
        "folder it is relative to"
    )
