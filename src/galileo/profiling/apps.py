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


def parse_apps(names: list[str]) -> list[ProfileApp]:
    """The named apps, in Metis column order; one clear error for an unknown or repeated one."""
    if not names:
        raise ValidationError("give at least one application to profile "
                              f"(available: {', '.join(PROFILE_APPS)})")
    out = []
    for name in names:
        app = PROFILE_APPS.get(name)
        if app is None:
            raise ValidationError(f"unknown application {name!r} to profile (available: "
                                  f"{', '.join(PROFILE_APPS)})")
        if app in out:
            raise ValidationError(f"application {name!r} is named twice")
        out.append(app)
    return sorted(out, key=lambda a: a.column)
