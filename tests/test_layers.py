"""The layer rules of ``docs/architecture.md``, checked on the source: imports point downward.

The layer table is read from the document itself (between its ``layer-table`` markers), so the
page and this test cannot disagree. Every import counts for the layer rules -- at module level,
under ``if TYPE_CHECKING:`` and inside functions -- and for the cycle test too (see its doc).
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "galileo"
DOC = ROOT / "docs" / "architecture.md"
ANYTHING = "anything"

KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()  # none left: keep it that way


@dataclass(frozen=True)
class Layer:
    """One row of the table: a package, its rank, what it may and must never import."""

    package: str
    rank: int
    may_import: frozenset[str] | None  # None: anything (the edge)
    never: tuple[str, ...]  # foreign modules (redis, sqlalchemy, ...)
    planned: bool


@functools.cache
def layers() -> dict[str, Layer]:
    text = DOC.read_text()
    table = re.search(r"<!-- layer-table.*?-->\n(.*?)<!-- /layer-table -->", text, re.S)
    assert table, f"{DOC} has no layer table between <!-- layer-table --> markers"
    out: dict[str, Layer] = {}
    for line in table.group(1).splitlines()[2:]:  # after the header and |---| rows
        rank, packages, role, may, never = (c.strip() for c in line.strip().strip("|").split("|"))
        ticks = functools.partial(re.findall, r"`([^`]+)`")
        for package in ticks(packages):
            out[package] = Layer(
                package, int(rank),
                None if may == ANYTHING else frozenset(ticks(may)),
                tuple(ticks(never)), "*planned*" in role)
    return out


def foundation() -> frozenset[str]:
    return frozenset(p for p, layer in layers().items() if layer.rank == 0)


def _files(package: str) -> list[Path]:
    single = SRC / f"{package}.py"
    return [single] if single.exists() else sorted((SRC / package).rglob("*.py"))


def _package_of(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


@functools.cache
def _tree(path: Path) -> ast.Module:
    """The parsed file (parsed once for all the tests of this module)."""
    return ast.parse(path.read_text(), str(path))


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    """Every absolute module name ``path`` imports, anywhere in the file."""
    tree = _tree(path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _galileo_package(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "galileo" or len(parts) < 2:
        return None
    return parts[1] if (SRC / parts[1]).is_dir() or (SRC / f"{parts[1]}.py").exists() else None


def test_every_package_has_a_layer() -> None:
    """A new package is given its place in the document's table before it is written."""
    present = {_package_of(p) for p in SRC.glob("*.py")} | {
        p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(present - set(layers()))
    assert not missing, f"packages without a row in {DOC.name}'s layer table: {missing}"
    gone = sorted(p for p, layer in layers().items() if p not in present and not layer.planned)
    assert not gone, f"rows of {DOC.name}'s layer table name no package (mark *planned*?): {gone}"


def test_the_table_is_an_order() -> None:
    """What a row may import sits lower in the table: no two packages may import each other."""
    bad = [f"{layer.package} (rank {layer.rank}) may import {other} (rank "
           f"{layers()[other].rank if other in layers() else '?'})"
           for layer in layers().values() for other in sorted(layer.may_import or ())
           if other not in layers() or layers()[other].rank >= layer.rank]
    assert not bad, "the layer table is not an order: " + "; ".join(bad)


@pytest.mark.parametrize("package", sorted(p for p in layers() if p not in foundation()))
def test_imports_point_downward(package: str) -> None:
    layer = layers()[package]
    files = _files(package)
    if not files and layer.planned:
        pytest.skip(f"{package} is planned, not written yet")
    assert files, f"package {package} not found"
    if layer.may_import is None:
        return
    allowed = layer.may_import | foundation() | {package}
    bad = sorted(f"{path.relative_to(SRC)} imports {name}" for path in files
                 for name in _imports(path)
                 if (p := _galileo_package(name)) is not None and p not in allowed)
    assert not bad, f"layer violation ({package} may import {sorted(allowed)}): " + "; ".join(bad)


def test_the_foundation_imports_only_itself() -> None:
    bad = sorted(f"{path.relative_to(SRC)} imports {name}" for package in foundation()
                 for path in _files(package) for name in _imports(path)
                 if (p := _galileo_package(name)) is not None and p not in foundation())
    assert not bad, "the foundation imports a layer: " + "; ".join(bad)


@pytest.mark.parametrize("package", sorted(p for p, layer in layers().items() if layer.never))
def test_foreign_modules_stay_out(package: str) -> None:
    """redis only in ``bus``, SQLAlchemy only below ``storage``'s users, web frameworks apart."""
    never = layers()[package].never
    bad = sorted(f"{path.relative_to(SRC)} imports {name}" for path in _files(package)
                 for name in _imports(path)
                 if any(name == f or name.startswith(f + ".") for f in never))
    assert not bad, f"{package} must never import {never}: " + "; ".join(bad)


def test_only_the_bus_imports_redis() -> None:
    """``galileo.bus`` is the one door to Redis: no other module imports redis-py."""
    bad = [f"{path.relative_to(SRC)} imports {name}"
           for path in sorted(SRC.rglob("*.py")) if "bus" not in path.relative_to(SRC).parts[:1]
           for name in _imports(path) if name == "redis" or name.startswith("redis.")]
    assert not bad, "Redis used outside galileo.bus: " + "; ".join(bad)


def test_redis_keys_are_spelled_only_in_protocol() -> None:
    """Keys are built by ``protocol.Keys``: no other module formats one from the namespace."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).as_posix() == "protocol/keys.py":
            continue
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.JoinedStr):
                continue
            parts = node.values
            for part, after in itertools.pairwise(parts):
                if (isinstance(part, ast.FormattedValue)
                        and ast.unparse(part.value).split(".")[-1] in ("ns", "namespace")
                        and isinstance(after, ast.Constant) and str(after.value).startswith(":")):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, "keys built outside protocol/keys.py at " + ", ".join(offenders)


def test_the_cli_is_the_edge() -> None:
    """Commands live in ``galileo.cli`` and import the layers; no layer imports the CLI back.
    ``webapp`` is an edge too (Galileo 0.x's gunicorn entry point) and may print the 0.x note."""
    bad = [f"{path.relative_to(SRC)} imports {name}"
           for path in sorted(SRC.rglob("*.py"))
           if path.relative_to(SRC).parts[0] not in ("cli", "webapp", "__main__.py")
           for name in _imports(path) if name == "galileo.cli" or name.startswith("galileo.cli.")]
    assert not bad, "the CLI imported from below: " + "; ".join(bad)


# ------------------------------------------------------------------------------ module cycles
def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the Galileo modules it imports. ``from pkg import name`` is an import of
    ``pkg.name`` when that is a module, else of ``pkg`` (its ``__init__``); relative imports are
    resolved; a parent package's ``__init__`` that Python runs on the way is not an edge."""
    paths = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                subs = {f"{base}.{a.name}" for a in node.names} & paths.keys()
                edges |= subs
                if len(subs) < len(node.names):
                    edges.add(base)
        graph[name] = {e for e in edges if e in paths and e != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_cycles() -> None:
    """No two modules import each other, directly or round a longer loop. Imports inside
    functions and under ``TYPE_CHECKING`` count: deferring an import hides a cycle from Python,
    not from the reader."""
    cycles = [c for c in _cycles(_module_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)
