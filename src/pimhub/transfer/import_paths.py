"""Category paths in an import's mapped values (transfer/category_paths.py): turned into
the codes they name, creating the missing categories in the import's own unit of work."""

from __future__ import annotations

from typing import Any

from pimhub.catalog.batch import BatchWriter, Outcome, WriteMode
from pimhub.transfer.category_paths import CategoryPath, PathOptions
from pimhub.transfer.mapping import ImportMapping


class CategoryPaths:
    """Turns category paths in mapped values into codes, creating the missing categories
    (and their parents) in the import's own unit of work, so a dry run or an abort keeps
    none of them either."""

    def __init__(self, mapping: ImportMapping, language: str) -> None:
        self.fields = [fm for fm in mapping.fields if fm.path is not None]
        self.language = language
        self.ensured: set[str] = set()  # codes known to exist (this run)
        self.failed: dict[str, str] = {}  # code -> why it could not be created

    def resolve(
        self, writer: BatchWriter, items: list[dict[str, Any]]
    ) -> dict[int, tuple[str, str]]:
        """Replaces paths by codes in `items`; the items (by index) that name a path that
        could not be created, with the column and the reason."""
        refused: dict[int, tuple[str, str]] = {}
        for fm in self.fields:
            assert fm.path is not None
            head = fm.target.split(".")[0]
            found = [_as_paths(item.get(head)) for item in items]
            relation = writer.definition.field(head)
            if fm.path.create and relation is not None and relation.target:
                self._create(writer, relation.target, fm.path, [p for ps in found for p in ps])
            for n, (item, item_paths) in enumerate(zip(items, found, strict=True)):
                if not item_paths:
                    continue
                bad = next((p for p in item_paths if p.code in self.failed), None)
                if bad is not None:
                    refused[n] = (
                        fm.column or head,
                        f"category '{'/'.join(bad.segments)}': {self.failed[bad.code]}",
                    )
                item[head] = _coded(item.get(head), item_paths)
        return refused

    def coded(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`items` as resolve leaves them (paths replaced by codes), copies where they name
        paths: what validating ahead of the unit of work must see."""
        heads = {fm.target.split(".")[0] for fm in self.fields}
        if not heads:
            return items
        out = []
        for item in items:
            found = {h: paths for h in heads if (paths := _as_paths(item.get(h)))}
            out.append(
                {**item, **{h: _coded(item[h], paths) for h, paths in found.items()}}
                if found
                else item
            )
        return out

    def _create(
        self, writer: BatchWriter, class_name: str, options: PathOptions, found: list[CategoryPath]
    ) -> None:
        wanted: dict[str, CategoryPath] = {}
        for path in found:
            for prefix in path.prefixes():
                if prefix.code not in self.ensured and prefix.code not in self.failed:
                    wanted.setdefault(prefix.code, prefix)
        if not wanted:
            return
        sibling = writer.sibling(class_name, WriteMode.CREATE)
        if sibling is None:
            return
        named = sibling.definition.field(options.name_field)
        key_field = sibling.definition.business_key
        items = []
        for code, path in wanted.items():
            name = path.segments[-1]
            item: dict[str, Any] = {
                key_field: code,
                options.name_field: {self.language: name} if named and named.localized else name,
            }
            if len(path.segments) > 1:
                item[options.parent_field] = CategoryPath(path.segments[:-1]).code
            items.append(item)
        for code, result in zip(wanted, sibling.save(items), strict=True):
            exists = result.errors and all(e.code == "unique" for e in result.errors)
            if result.outcome == Outcome.FAILED and not exists:
                self.failed[code] = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
            else:
                self.ensured.add(code)


def _coded(value: Any, paths: list[CategoryPath]) -> Any:
    codes = [p.code for p in paths]
    return codes if isinstance(value, list) else codes[0]


def _as_paths(value: Any) -> list[CategoryPath]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, CategoryPath)]
