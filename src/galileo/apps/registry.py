"""Services by name. A service installs its routes on a :class:`Router`; installers are given
as ``module:callable`` strings so listing services imports nothing heavy.

Add a workload service with :func:`register_service` (e.g. from a plug-in module)::

    register_service("kv", "An in-memory key-value store.", "mypkg.kv:install")
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from galileo.apps.http import Request, Response, json_response
from galileo.apps.router import Router
from galileo.apps.workloads import WORKLOAD_INSTALLERS, WORKLOAD_SERVICES
from galileo.errors import NotFoundError, ValidationError

__all__ = [
    "DEFAULT_SERVICES",
    "ServiceInfo",
    "build_router",
    "list_services",
    "register_service",
]

Installer = Callable[[Router], None]
DEFAULT_SERVICES: tuple[str, ...] = ("echo", "classify")


@dataclass(frozen=True)
class ServiceInfo:
    """A named service: one-line description and the installer that adds its routes."""

    name: str
    description: str
    installer: str | Installer  # "module:callable" or the callable itself

    def load(self) -> Installer:
        if not isinstance(self.installer, str):
            return self.installer
        return load_callable(self.installer)  # type: ignore[return-value]


_SERVICES: dict[str, ServiceInfo] = {}


def register_service(name: str, description: str, installer: str | Installer) -> None:
    """Make a service available by ``name`` (replacing an earlier one of that name)."""
    if not name.isidentifier():
        raise ValidationError(f"service name {name!r} must be a Python-style identifier.")
    _SERVICES[name] = ServiceInfo(name, description, installer)


def list_services() -> list[ServiceInfo]:
    """Every registered service, sorted by name."""
    return [_SERVICES[n] for n in sorted(_SERVICES)]


def build_router(names: Iterable[str]) -> Router:
    """A router serving the named services plus ``GET /health`` and ``GET /`` (both list the
    services, so a client with the default request ``GET /`` gets a 200)."""
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in _SERVICES]
    if unknown:
        known = ", ".join(sorted(_SERVICES))
        raise NotFoundError(f"unknown service {unknown[0]!r} (available: {known}).")
    router = Router()
    health = json_response({"status": "ok", "services": chosen})

    async def health_handler(req: Request) -> Response:
        return health

    router.get("/health", health_handler)
    router.get("/", health_handler)
    for name in chosen:
        _SERVICES[name].load()(router)
    return router


def load_callable(target: str) -> Callable[..., object]:
    """Import ``module:callable``; a bad target raises :class:`ValidationError`."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValidationError(f"{target!r} is not of the form 'module:callable'.")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValidationError(f"cannot load {target!r}: {e}.") from e
    if not callable(obj):
        raise ValidationError(f"{target!r} is not callable.")
    return obj  # type: ignore[no-any-return]


register_service(
    "echo", "Echoes the request body at /echo and /echo/<anything>.", "galileo.apps.echo:install"
)
register_service(
    "classify",
    "Classifies 8x8 digit images (scikit-learn digits) at POST /classify.",
    "galileo.apps.classify:install",
)
for _name, _description in WORKLOAD_SERVICES.items():  # kv, checksum, ycsb, scenedetect, superres
    register_service(_name, _description, WORKLOAD_INSTALLERS[_name])
