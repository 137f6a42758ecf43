"""Which request generators a worker runs: an allow-list its operator configures (a closed bus).

A spawn command names a generator; code is never loaded just because a bus message asked for
it. ``galileo_worker_generators`` is a comma-separated list of

* ``builtin`` -- Galileo's own generators (:data:`BUILTIN_MODULES`); the default;
* a module prefix, e.g. ``mylab.generators``: allows ``mylab.generators:name`` and
  ``mylab.generators.sub:name`` (not ``mylab.generatorsx``);
* ``entrypoint:NAME`` -- the installed entry point ``NAME`` of group ``galileo.generators``,
  named in a spec by its bare name (``NAME``) or by its target (``module:attr``);
  ``entrypoint:*`` allows every installed one.

* ``apps`` -- client apps from the repository (``app:NAME``; fetched, hash-checked, cached
  and loaded by :mod:`galileo.worker.apps` from ``galileo_apps_repository``).

``none`` (or an empty value) allows nothing. ``galileo worker --generators PATH`` puts a folder
on the worker's import path and allows every module in it. A spec is ``module:callable`` with a
plain attribute name (no dots, no leading ``_``) defined in that module, or an entry point name.
:func:`resolve_generator` returns the factory or raises ``ValidationError`` naming the worker
and what is allowed; :func:`make_generator` also calls it with the arguments, turning a bad
argument into one sentence that names it.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from galileo.errors import GalileoError, ValidationError
from galileo.load.requests import GeneratorFactory, RequestGenerator
from galileo.settings import Settings

if TYPE_CHECKING:
    from galileo.worker.apps import ClientAppCache

BUILTIN_MODULES: Final = ("galileo.apps.generators", "galileo.apps.workloads.generators")
ENTRY_POINT_GROUP: Final = "galileo.generators"
_MODULE_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ATTR_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_EP_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class GeneratorPolicy:
    """The generators one worker accepts."""

    modules: tuple[str, ...] = BUILTIN_MODULES
    entry_points: tuple[str, ...] = ()  # entry point names; "*" = every installed one
    worker: str = ""
    client_apps: bool = False  # ``apps``: client apps from the repository (``app:NAME``)
    apps: ClientAppCache | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str, worker: str = "") -> GeneratorPolicy:
        """Read the ``galileo_worker_generators`` syntax; ``ConfigError``-free: a bad entry
        raises ``ValidationError`` naming it."""
        modules: list[str] = []
        eps: list[str] = []
        client_apps = False
        for raw in text.split(","):
            item = raw.strip()
            if not item or item == "none":
                continue
            if item == "apps":
                client_apps = True
            elif item == "builtin":
                modules.extend(BUILTIN_MODULES)
            elif item.startswith("entrypoint:"):
                name = item[len("entrypoint:"):]
                if name != "*" and not _EP_RE.match(name):
                    raise ValidationError(f"galileo_worker_generators: bad entry point name "
                                          f"{name!r}")
                eps.append(name)
            elif _MODULE_RE.match(item):
                modules.append(item)
            else:
                raise ValidationError(f"galileo_worker_generators: {item!r} is neither "
                                      "'builtin', a module prefix nor 'entrypoint:NAME'")
        return cls(tuple(dict.fromkeys(modules)), tuple(dict.fromkeys(eps)), worker,
                   client_apps)

    @classmethod
    def from_settings(cls, settings: Settings, worker: str) -> GeneratorPolicy:
        policy = cls.parse(settings.worker_generators, worker)
        if not policy.client_apps:
            return policy
        from galileo.worker.apps import AppRepositoryClient, ClientAppCache, cache_dir

        cache = ClientAppCache(AppRepositoryClient.from_settings(settings), cache_dir(settings))
        return replace(policy, apps=cache)

    def describe(self) -> str:
        parts = [f"{m}:*" for m in self.modules]
        parts += ["entry points galileo.generators" if e == "*" else f"entry point {e}"
                  for e in self.entry_points]
        if self.client_apps:
            parts.append("client apps (app:NAME)")
        return ", ".join(parts) or "nothing"

    def module_allowed(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self.modules)

    def entry_point(self, spec: str) -> EntryPoint | None:
        """The allowed entry point ``spec`` names (by name or by target), if any."""
        if not self.entry_points:
            return None
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if (("*" in self.entry_points or ep.name in self.entry_points)
                    and spec in (ep.name, ep.value.replace(" ", ""))):
                return ep
        return None

    def refuse(self, spec: str, why: str = "is not allowed") -> ValidationError:
        where = f" on worker {self.worker}" if self.worker else ""
        return ValidationError(f"generator {spec} {why}{where}; allowed: {self.describe()} "
                               "(set galileo_worker_generators)")


def check_generator(spec: str, allowed: GeneratorPolicy) -> None:
    """Refuse ``spec`` early (``ValidationError``) unless ``allowed``; a client app is only
    checked against the policy here -- fetching it is network I/O, done where it is built."""
    if spec.startswith("app:"):
        if allowed.apps is None:
            raise allowed.refuse(spec, "is a client app, and client apps are not allowed")
        return
    resolve_generator(spec, allowed)


def resolve_generator(spec: str, allowed: GeneratorPolicy) -> GeneratorFactory:
    """The factory ``spec`` names, if ``allowed``; else ``ValidationError`` (one sentence)."""
    if spec.startswith("app:"):
        if allowed.apps is None:
            raise allowed.refuse(spec, "is a client app, and client apps are not allowed")
        try:
            return allowed.apps.factory(spec[len("app:"):])
        except ValidationError:
            raise
        except GalileoError as e:  # unknown app, repository unreachable
            raise allowed.refuse(spec, f"cannot be fetched ({e})") from None
    ep = allowed.entry_point(spec)
    if ep is not None:
        try:
            factory: Any = ep.load()
        except Exception as e:
            raise allowed.refuse(spec, f"cannot be loaded ({type(e).__name__}: {e})") from None
        return _callable(spec, factory, allowed)
    module_name, sep, attr = spec.partition(":")
    if not sep or not _MODULE_RE.match(module_name) or not _ATTR_RE.match(attr):
        raise allowed.refuse(spec, "is not 'module:callable' nor an allowed entry point")
    if not allowed.module_allowed(module_name):
        raise allowed.refuse(spec)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise allowed.refuse(spec, f"cannot be imported ({e})") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise allowed.refuse(spec, f"does not exist (module {module_name} has no {attr})")
    owner = getattr(factory, "__module__", None)
    if not isinstance(owner, str) or not allowed.module_allowed(owner):
        # e.g. ``allowed.module:os`` re-exporting something from elsewhere
        raise allowed.refuse(spec, f"is defined in {owner}, which is not allowed")
    return _callable(spec, factory, allowed)


def _callable(spec: str, factory: Any, allowed: GeneratorPolicy) -> GeneratorFactory:
    if not callable(factory):
        raise allowed.refuse(spec, "is not callable")
    result: GeneratorFactory = factory
    return result


def make_generator(spec: str, args: dict[str, Any], allowed: GeneratorPolicy) -> RequestGenerator:
    """Resolve ``spec`` and call it with ``**args``; a bad argument gives one sentence."""
    factory = resolve_generator(spec, allowed)
    try:
        gen = factory(**args)
    except TypeError as e:
        raise ValidationError(f"generator {spec}: bad arguments {sorted(args)}: {e}") from None
    except GalileoError as e:
        raise ValidationError(f"generator {spec}: {e}") from None
    except Exception as e:  # user code: report, never a traceback in the worker log
        raise ValidationError(f"generator {spec} failed with arguments {sorted(args)}: "
                              f"{type(e).__name__}: {e}") from None
    if not callable(getattr(gen, "next_request", None)):
        raise ValidationError(f"generator {spec} returned an object without next_request()")
    result: RequestGenerator = gen
    return result


def modules_in(folder: Path) -> list[str]:
    """The importable top-level modules and packages in ``folder`` (``--generators PATH``)."""
    if not folder.is_dir():
        raise ValidationError(f"--generators {str(folder)!r}: not a directory")
    names = [p.stem for p in folder.glob("*.py")]
    names += [p.name for p in folder.iterdir() if (p / "__init__.py").is_file()]
    return sorted(n for n in set(names) if _MODULE_RE.match(n) and n.isidentifier())
