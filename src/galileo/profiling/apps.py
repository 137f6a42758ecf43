"""The applications ``galileo profile`` can co-locate: a service plus its request generator,
and the Metis column it stands for (so a profile is comparable with the Metis tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from galileo.errors import ValidationError

METIS_COLUMNS: Final = 9  # the Metis files keep 9 columns; the first 7 are used
METIS_APPS: Final = 7


@dataclass(frozen=True)
class ProfileApp:
    """``name`` (as given on the command line), the service it runs, its generator and the
    Metis column it fills."""

    name: str
    service: str
    generator: str
    column: int
    generator_args: dict[str, Any] = field(default_factory=dict)


_G = "galileo.apps.workloads.generators"
PROFILE_APPS: Final[dict[str, ProfileApp]] = {
    "kv": ProfileApp("kv", "kv", f"{_G}:kv", 0),
    "classify": ProfileApp("classify", "classify", "galileo.apps.generators:digits", 1),
    "checksum": ProfileApp("checksum", "checksum", f"{_G}:checksum", 2),
    "ycsb-a": ProfileApp("ycsb-a", "ycsb", f"{_G}:ycsb", 3, {"workload": "a"}),
    "ycsb-b": ProfileApp("ycsb-b", "ycsb", f"{_G}:ycsb", 4, {"workload": "b"}),
    "scenedetect": ProfileApp("scenedetect", "scenedetect", f"{_G}:scenes", 5),
    "superres": ProfileApp("superres", "superres", f"{_G}:superres", 6),
}


def profile_names() -> str:
    """The names ``galileo profile`` takes, by service as ``galileo app list`` names them:
    ``kv, classify, checksum, ycsb (ycsb-a, ycsb-b), scenedetect, superres``."""
    by_service: dict[str, list[str]] = {}
    for app in PROFILE_APPS.values():
        by_service.setdefault(app.service, []).append(app.name)
    return ", ".join(s if names == [s] else f"{s} ({', '.join(names)})"
                     for s, names in by_service.items())


def _apps_named(name: str) -> list[ProfileApp]:
    """A profile name (``ycsb-a``), or a service name (``ycsb``: every mix profiled of it)."""
    if name in PROFILE_APPS:
        return [PROFILE_APPS[name]]
    apps = [a for a in PROFILE_APPS.values() if a.service == name]
    if apps:
        return apps
    from galileo.apps.registry import list_services

    if name in {s.name for s in list_services()}:
        raise ValidationError(f"service {name!r} has no Metis column to profile into "
                              f"(profiled services: {profile_names()})")
    raise ValidationError(f"unknown application {name!r} to profile (profiled services: "
                          f"{profile_names()}; all services: galileo app list)")


def parse_apps(names: list[str]) -> list[ProfileApp]:
    """The named apps, in Metis column order; one clear error for an unknown or repeated one.
    A service name stands for every profiled mix of it (``ycsb``: ``ycsb-a`` and ``ycsb-b``)."""
    if not names:
        raise ValidationError("give at least one application to profile "
                              f"(profiled services: {profile_names()})")
    out: list[ProfileApp] = []
    for name in names:
        for app in _apps_named(name):
            if app in out:
                raise ValidationError(f"application {app.name!r} is named twice")
            out.append(app)
    return sorted(out, key=lambda a: a.column)
