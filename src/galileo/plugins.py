"""Pluggable classes by name, from an allow-list: the one home for how a researcher's balancing
policy (``galileo lb``) or placement policy (services) is found.

A spec is ``name[,key=value...]``. ``name`` is a built-in, a class's short ``name`` attribute
defined in one of the allowed modules, or ``module:Class`` (``module`` being, or inside, an
allowed module). Nothing else is imported: a name arriving over the bus or an API never loads
code the operator did not allow. Every refusal is one sentence (:class:`ConfigError`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from galileo.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class PluginKind(Generic[T]):
    """One family of pluggable classes: its base class, built-ins and wording."""

    what: str  # "balancing policy", "placement policy"
    base: type  # the (abstract) base class every plugin subclasses
    builtin: Mapping[str, type[T]]
    allow_hint: str  # how an operator allows a module, for the refusal sentence
    aliases: Mapping[str, str] | None = None

    def load(self, spec: str, allowed_modules: Iterable[str] = ()) -> T:
        """An instance of the class ``spec`` names, built with its options."""
        name, *pairs = [p.strip() for p in spec.split(",")]
        options: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ConfigError(f"{self.what} option {pair!r} in {spec!r} is not key=value.")
            options[key] = value
        cls: Any = self.find(name, tuple(m.strip() for m in allowed_modules if m.strip()))
        try:
            instance: T = cls(**options)
        except TypeError as e:
            raise ConfigError(f"{self.what} {spec!r}: {e}.") from None
        return instance

    def find(self, name: str, allowed: tuple[str, ...]) -> type[T]:
        """The class ``name`` stands for (no options)."""
        name = (self.aliases or {}).get(name, name)
        if name in self.builtin:
            return self.builtin[name]
        module, sep, attr = name.partition(":")
        if not sep:
            for module_name in allowed:
                for found in vars(self._import(module_name)).values():
                    if (isinstance(found, type) and issubclass(found, self.base)
                            and found is not self.base and getattr(found, "name", None) == name):
                        return cast("type[T]", found)
            known = ", ".join(sorted(self.builtin))
            raise ConfigError(f"unknown {self.what} {name!r} (built in: {known}; or "
                              f"module:Class from an allowed module).")
        if not any(module == m or module.startswith(m + ".") for m in allowed):
            raise ConfigError(f"{self.what} {name!r} is not allowed: module {module!r} is not "
                              f"allowed ({self.allow_hint}).")
        try:
            obj: object = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"{self.what} {name!r} cannot be loaded: {e}.") from None
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise ConfigError(f"{self.what} {name!r} is not a subclass of "
                              f"{self.base.__module__}.{self.base.__qualname__}.")
        return cast("type[T]", obj)

    def _import(self, module_name: str) -> object:
        try:
            return importlib.import_module(module_name)
        except ImportError as e:
            raise ConfigError(f"allowed {self.what} module {module_name!r} cannot be imported: "
                              f"{e}.") from None
