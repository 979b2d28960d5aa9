"""The shape of src/pimhub: no import cycle between its modules, and domain packages that
import no web framework, database driver, HTTP client or outer layer.

Both checks read the source with ast instead of importing it, so an import inside a function
(a deferred one, often the way a cycle is hidden) counts like one at the top. Only imports
under `if TYPE_CHECKING:` are left out of the cycle check: they never run."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pimhub

SRC = Path(pimhub.__file__).resolve().parent.parent

# Packages that hold the rules of the hub; they are used by the web, storage and CLI layers,
# never the other way round (DESIGN.md, section 4). access/jwks.py, the one adapter among
# them, is handed its HTTP fetch as a callable, so it needs no exception here.
DOMAIN_PACKAGES = ("pimhub.catalog", "pimhub.access", "pimhub.datahub")
FORBIDDEN_IN_DOMAIN = (
    "starlette",
    "fastapi",
    "sqlalchemy",
    "httpx",
    "uvicorn",
    "psycopg",
    "psycopg2",
    "asyncpg",
    "sqlite3",
    "alembic",
    "redis",
    "aio_pika",
    "aiormq",
    "requests",
    "aiohttp",
    "urllib.request",
    "typer",
    "jinja2",
    "pimhub.api",
    "pimhub.admin",
    "pimhub.cli",
    "pimhub.storage",
)


@dataclass(frozen=True, slots=True)
class Import:
    target: str  # the module imported (as written; resolved for relative imports)
    names: tuple[str, ...]  # what `from target import ...` names; () for `import target`
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root` (a src directory), by dotted name."""
    out: dict[str, Path] = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, path: Path) -> Iterator[Import]:
    """The imports of a module at any depth: top level, in functions, classes, try blocks."""
    is_package = path.name == "__init__.py"

    def walk(node: ast.AST, guarded: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, (), child.lineno, guarded)
            elif isinstance(child, ast.ImportFrom):
                target = child.module or ""
                if child.level:
                    base = module.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, target] if target else base)
                names = tuple(a.name for a in child.names)
                yield Import(target, names, child.lineno, guarded)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                yield from walk(ast.Module(body=child.body, type_ignores=[]), True)
                yield from walk(ast.Module(body=child.orelse, type_ignores=[]), guarded)
            else:
                yield from walk(child, guarded)

    yield from walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)


def import_graph(known: Mapping[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {module of `known` it imports when it runs: the line of the first import}.
    `from a import b` depends on a and, where b is a module, on a.b."""
    graph: dict[str, dict[str, int]] = {m: {} for m in known}
    for module, path in known.items():
        for imp in imports(module, path):
            if imp.type_checking:
                continue
            targets = [imp.target, *(f"{imp.target}.{name}" for name in imp.names)]
            for target in targets:
                if target in known and target != module:
                    graph[module].setdefault(target, imp.line)
    return graph


def cycles(graph: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def one_loop(graph: Mapping[str, Mapping[str, int]], component: list[str]) -> list[str]:
    """A shortest path through the component from its first module back to it, each step
    with the line of its import, to say where to look."""
    inside = set(component)
    first = component[0]
    came: dict[str, str] = {}
    frontier = [first]
    while frontier and first not in came:
        following = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt in inside and nxt not in came:
                    came[nxt] = node
                    following.append(nxt)
        frontier = following
    path = [first]
    node = came[first]
    while node != first:
        path.append(node)
        node = came[node]
    path.append(first)
    path.reverse()
    return [f"{a} (line {graph[a][b]}) -> {b}" for a, b in itertools.pairwise(path)]


def cycle_report(graph: Mapping[str, Mapping[str, int]]) -> str:
    return "\n".join(
        f"cycle of {len(c)}: {', '.join(c)}\n  " + "\n  ".join(one_loop(graph, c))
        for c in cycles(graph)
    )


def forbidden_imports(known: Mapping[str, Path], packages: tuple[str, ...]) -> list[str]:
    """Each import of a FORBIDDEN_IN_DOMAIN module by a module of `packages`, at any depth
    and under TYPE_CHECKING too (a type from a framework couples the domain to it as well)."""
    out = []
    for module, path in known.items():
        if not any(module == p or module.startswith(p + ".") for p in packages):
            continue
        for imp in imports(module, path):
            for target in [imp.target, *(f"{imp.target}.{n}" for n in imp.names)]:
                if any(target == f or target.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN):
                    out.append(f"{module} line {imp.line}: {target}")
                    break
    return out


def test_no_import_cycle_in_pimhub() -> None:
    graph = import_graph(modules(SRC, "pimhub"))
    assert len(graph) > 100  # the whole package was read, not an empty directory
    report = cycle_report(graph)
    assert not report, f"import cycles in src/pimhub:\n{report}"


def test_domain_packages_import_no_framework_driver_or_outer_layer() -> None:
    known = modules(SRC, "pimhub")
    for package in DOMAIN_PACKAGES:
        assert package in known
    assert forbidden_imports(known, DOMAIN_PACKAGES) == []


def _package(root: Path, files: Mapping[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return modules(root, "pkg")


def test_a_cycle_through_a_function_level_import_is_found_and_named(tmp_path: Path) -> None:
    known = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "import os\n\ndef thing():\n    from pkg import c\n    return c\n",
            "pkg/c.py": "def later():\n    from .a import thing\n",
            "pkg/d.py": "import pkg.a\n",
        },
    )
    graph = import_graph(known)
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert cycle_report(graph) == (
        "cycle of 3: pkg.a, pkg.b, pkg.c\n"
        "  pkg.a (line 1) -> pkg.b\n"
        "  pkg.b (line 4) -> pkg.c\n"
        "  pkg.c (line 2) -> pkg.a"
    )


def test_an_import_under_type_checking_makes_no_cycle(tmp_path: Path) -> None:
    known = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\n"
                "import typing\n"
                "if TYPE_CHECKING:\n    from pkg.a import A\n"
                "if typing.TYPE_CHECKING:\n    import pkg.a\n"
                "class B: ...\n"
            ),
        },
    )
    assert cycles(import_graph(known)) == []
    known["pkg.b"].write_text("if not_type_checking:\n    from pkg.a import A\n")
    assert cycles(import_graph(known)) == [["pkg.a", "pkg.b"]]


def test_a_domain_module_importing_a_driver_anywhere_is_named(tmp_path: Path) -> None:
    known = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/domain/__init__.py": "",
            "pkg/domain/rules.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from sqlalchemy import Engine\n"
                "def fetch():\n    import httpx\n"
                "from pimhub import storage\n"
            ),
            "pkg/web.py": "import starlette\n",
        },
    )
    assert forbidden_imports(known, ("pkg.domain",)) == [
        "pkg.domain.rules line 3: sqlalchemy",
        "pkg.domain.rules line 5: httpx",
        "pkg.domain.rules line 6: pimhub.storage",
    ]
