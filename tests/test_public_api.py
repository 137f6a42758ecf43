"""Every name a package exports resolves to the object, not to a same-named submodule (a lazy
export loses to a submodule once that submodule is imported)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import galileo

PACKAGES = sorted(m.name for m in pkgutil.iter_modules(galileo.__path__, "galileo.") if m.ispkg)


@pytest.mark.parametrize("name", PACKAGES)
def test_exports_resolve_after_all_submodules_are_imported(name: str) -> None:
    package = importlib.import_module(name)
    for sub in pkgutil.walk_packages(package.__path__, name + "."):
        if ".migrations." in sub.name:  # alembic scripts run only inside alembic
            continue
        importlib.import_module(sub.name)
    exported = getattr(package, "__all__", [])
    shadowed = [n for n in exported if isinstance(getattr(package, n), ModuleType)]
    assert not shadowed, f"{name} exports modules instead of objects: {shadowed}"
