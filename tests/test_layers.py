"""The layer rules of ARCHITECTURE.md, checked on the source: imports point downward only."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "galileo"

# package -> module prefixes it must not import (directly, anywhere in the package)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bus": ("sqlalchemy", "galileo.load", "galileo.worker", "galileo.control",
            "galileo.storage", "galileo.recorder", "galileo.experiments", "galileo.web",
            "galileo.telemetry"),
    "protocol": ("redis", "sqlalchemy", "galileo.load", "galileo.worker", "galileo.control",
                 "galileo.storage", "galileo.recorder"),
    "load": ("redis", "sqlalchemy", "galileo.storage", "galileo.worker", "galileo.control",
             "galileo.recorder", "galileo.bus"),
    "worker": ("sqlalchemy", "galileo.storage", "galileo.recorder", "galileo.control"),
    "control": ("sqlalchemy", "galileo.storage", "galileo.load", "galileo.worker",
                "galileo.recorder"),
    "storage": ("redis", "galileo.bus", "galileo.load", "galileo.worker", "galileo.control",
                "galileo.recorder"),
    "recorder": ("galileo.load", "galileo.worker", "galileo.control"),
    "telemetry": ("sqlalchemy", "galileo.storage", "galileo.load", "galileo.worker"),
    "analysis": ("redis", "galileo.bus", "galileo.load", "galileo.worker", "galileo.control"),
    "scheduling": ("redis", "sqlalchemy", "galileo.bus", "galileo.load", "galileo.worker",
                   "galileo.control", "galileo.storage", "galileo.recorder",
                   "galileo.experiments", "galileo.web"),
    "access": ("redis", "sqlalchemy", "fastapi", "grpc", "galileo.bus", "galileo.web",
               "galileo.grpc", "galileo.control", "galileo.storage"),
    "web": ("galileo.worker", "galileo.load"),
    "webapp": ("galileo.worker", "galileo.load"),  # Galileo 0.x's name for the API entry
    "lb": ("redis", "sqlalchemy", "galileo.storage", "galileo.recorder", "galileo.control",
           "galileo.experiments", "galileo.web", "galileo.analysis"),
    "interop": ("redis", "sqlalchemy", "galileo.storage", "galileo.recorder", "galileo.control",
                "galileo.experiments", "galileo.web", "galileo.analysis", "galileo.load"),
    "services": ("redis", "sqlalchemy", "galileo.storage", "galileo.load", "galileo.worker",
                 "galileo.recorder", "galileo.experiments", "galileo.web", "galileo.lb"),
    "testbed": ("redis", "sqlalchemy", "galileo.bus", "galileo.protocol", "galileo.load",
                "galileo.worker", "galileo.control", "galileo.telemetry", "galileo.storage",
                "galileo.recorder", "galileo.experiments", "galileo.lb", "galileo.web",
                "galileo.analysis", "galileo.scheduling"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    single = SRC / f"{package}.py"
    return [single] if single.exists() else sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_downward(package: str) -> None:
    files = _files(package)
    assert files, f"package {package} not found"
    bad = []
    for path in files:
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, "layer violation: " + "; ".join(sorted(bad))


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
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
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
