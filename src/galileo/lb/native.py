"""The balancer's hot path compiled with mypyc: built on demand, used only when it matches.

The modules a proxied request runs through (:data:`MODULES`) are plain typed Python; mypyc
compiles them to C extensions (``galileo lb build``, about a minute) into
``<data_dir>/lb-native/<digest>``, where the digest covers the Python version and the source of
the whole ``galileo`` package. A balancer process calls :func:`activate` before it imports
them: when a build for the installed source exists, the compiled modules are put first on the
package's search path; otherwise (the source changed since, or nothing was built) the
pure-Python modules run, and the two behave the same (the test suite runs the proxy's tests on
both). So an edited module can never be shadowed by a stale compiled copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from galileo.errors import ConfigError

__all__ = ["MODULES", "NativeStatus", "activate", "build", "build_dir", "digest", "running",
           "status"]

log = logging.getLogger(__name__)

PACKAGE: Final = "galileo.lb"
# what one proxied request runs through (balancer.py and policies.py stay Python: user policies
# subclass Policy, and the balancer's routing updates are not per request)
MODULES: Final = ("backends", "batching", "deadlines", "headers", "exchange", "upstream", "proxy")
GROUP: Final = "galileo_lb_native"  # mypyc's shared library: ``<GROUP>__mypyc``
INFO_FILE: Final = "build.json"

Mode = Literal["auto", "off", "require"]


@dataclass(frozen=True)
class NativeStatus:
    """Whether this process runs the compiled balancer, and why (for the ready line and logs)."""

    active: bool
    reason: str

    def describe(self) -> str:
        return "compiled with mypyc" if self.active else f"pure Python ({self.reason})"


def _source_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not importable")
    for location in spec.submodule_search_locations:  # (the source dir, not a build on it)
        if (Path(location) / "proxy.py").exists():
            return Path(location)
    raise RuntimeError(f"no source of {PACKAGE} found")


def digest() -> str:
    """What a build must match: the Python version and every Python file of the installed
    ``galileo`` package (not only the compiled modules: their code relies on the types of what
    they import). About 15 ms."""
    h = hashlib.sha256()
    h.update(f"{sys.implementation.cache_tag} {sysconfig.get_platform()}".encode())
    package = _source_dir().parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes()
                 + b"\0")
    return h.hexdigest()[:20]


def build_dir(data_dir: Path) -> Path:
    """Where the build for the installed source lives (it may not exist)."""
    return data_dir / "lb-native" / digest()


def _shared_library(root: Path) -> Path | None:
    found = sorted(root.glob(f"{GROUP}__mypyc*{_ext_suffix()}"))
    return found[0] if found else None


def _ext_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def _complete(root: Path) -> bool:
    package = root.joinpath(*PACKAGE.split("."))
    return (root / INFO_FILE).exists() and _shared_library(root) is not None and all(
        (package / f"{name}{_ext_suffix()}").exists() for name in MODULES)


def status(data_dir: Path) -> tuple[bool, Path]:
    """(a build for the installed source exists, its directory)."""
    root = build_dir(data_dir)
    return _complete(root), root


def activate(mode: Mode, data_dir: Path) -> NativeStatus:
    """Make this process import the compiled modules, if ``mode`` allows and a build for the
    installed source exists; call before anything imports them (``require`` without a build
    raises :class:`ConfigError`)."""
    if mode == "off":
        return NativeStatus(False, "galileo_lb_native=off")
    root = build_dir(data_dir)
    package_dir = str(root.joinpath(*PACKAGE.split(".")))
    package = importlib.import_module(PACKAGE)
    if package.__path__[0] == package_dir:
        return NativeStatus(True, str(root))  # (activated before in this process)
    loaded = [n for n in MODULES if f"{PACKAGE}.{n}" in sys.modules]
    reason = ""
    if loaded:
        reason = f"{PACKAGE}.{loaded[0]} was imported before the compiled modules could be"
    elif not _complete(root):
        reason = "not built for this source: run `galileo lb build`"
    if reason:
        if mode == "require":
            raise ConfigError(f"galileo_lb_native=require, but the compiled balancer cannot be "
                              f"used: {reason}.")
        return NativeStatus(False, reason)
    shared = _shared_library(root)
    assert shared is not None  # (_complete checked)
    name = shared.name.split(".", 1)[0]
    try:
        if name not in sys.modules:  # the compiled modules import it by this top-level name
            spec = importlib.util.spec_from_file_location(name, shared)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {shared}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        package.__path__.insert(0, package_dir)
        for module_name in MODULES:  # now, so that a build that does not load is found here
            importlib.import_module(f"{PACKAGE}.{module_name}")
        if running() != "compiled with mypyc":
            raise ImportError(f"{PACKAGE}.proxy did not load from {package_dir}")
    except (ImportError, OSError) as e:  # a damaged build, or one for another interpreter
        if package_dir in package.__path__:
            package.__path__.remove(package_dir)
        for module_name in (*(f"{PACKAGE}.{m}" for m in MODULES), name):
            sys.modules.pop(module_name, None)  # (the pure modules load instead)
        reason = f"the build in {root} does not load: {e}"
        if mode == "require":
            raise ConfigError(f"galileo_lb_native=require, but {reason}.") from None
        log.warning("balancer runs pure Python: %s", reason)
        return NativeStatus(False, reason)
    return NativeStatus(True, str(root))


def running() -> str:
    """What this process runs, for the ready line: "compiled with mypyc" or "pure Python"."""
    module = sys.modules.get(f"{PACKAGE}.proxy")
    compiled = module is not None and not str(getattr(module, "__file__", "")).endswith(".py")
    return "compiled with mypyc" if compiled else "pure Python"


def build(data_dir: Path, *, force: bool = False) -> Path:
    """Compile :data:`MODULES` with mypyc into :func:`build_dir` (nothing to do when it exists
    and not ``force``); returns that directory. Needs mypy, setuptools and a C compiler."""
    root = build_dir(data_dir)
    if _complete(root) and not force:
        return root
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution  # type: ignore[import-untyped]
    except ImportError as e:
        raise ConfigError(f"building the compiled balancer needs mypy and setuptools ({e}); "
                          "install them with: pip install 'galileo[native]'.") from e
    compiler = str(sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        raise ConfigError("building the compiled balancer needs a C compiler (cc/gcc) and the "
                          "Python headers; install them (Debian: gcc python3-dev).")
    src = _source_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        staging = work / "out"
        cwd = Path.cwd()
        logging.disable(logging.INFO)  # (setuptools logs every compiler command at INFO)
        try:
            # (from the build directory: no mypy configuration of wherever the command ran
            # applies; the modules are named by the packages above the files, galileo.lb.*)
            os.chdir(work)
            extensions = mypycify([str(src / f"{name}.py") for name in MODULES],
                                  opt_level="3", group_name=GROUP, target_dir=str(work / "c"))
            dist = Distribution({"name": GROUP, "ext_modules": extensions})
            command = dist.get_command_obj("build_ext")
            command.build_lib = str(staging)
            command.build_temp = str(work / "tmp")
            command.inplace = False
            dist.run_command("build_ext")
        except SystemExit as e:  # (distutils ends a failed compile with SystemExit)
            raise ConfigError(f"compiling the balancer with mypyc failed: {e}.") from None
        finally:
            logging.disable(logging.NOTSET)
            os.chdir(cwd)
        (staging / INFO_FILE).write_text(json.dumps({
            "digest": root.name, "modules": list(MODULES), "python": sys.version.split()[0],
            "mypy": _mypy_version(), "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                time.gmtime())}, indent=1))
        if not _complete(staging):
            raise ConfigError(f"mypyc built an incomplete balancer in {staging}.")
        if root.exists():  # force, or an incomplete earlier build
            shutil.rmtree(root)
        try:
            staging.rename(root)
        except OSError:  # another process finished the same build first
            if not _complete(root):
                raise
    return root


def _mypy_version() -> str:
    try:
        from mypy.version import __version__
    except ImportError:
        return "?"
    return str(__version__)
