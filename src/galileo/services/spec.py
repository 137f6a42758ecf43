"""Building and checking :class:`~galileo.protocol.ServiceSpec` from options or a file.

A services file (``galileo services apply FILE``, a scenario's ``services:`` section) is YAML
or JSON: a list of services, a mapping ``name: {...}``, or ``{services: ...}`` of either::

    services:
      - name: kv
        app: kv            # or command: NAME (host allow-list) or image: REF (podman)
        replicas: 3
        cpus: 0.5
        memory: 256M
        placement: spread  # binpack, least-loaded, module:Class
        hosts: "pico[1-2]" # host name pattern; labels: {zone: a}; max_per_host: 1
        weights: equal     # or cpu (routing weight = the instance's CPU share)
        max_unavailable: 1 # rolling update: ready may dip to replicas - this (when no room)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from galileo.errors import ValidationError
from galileo.protocol import ServiceSpec, check_name
from galileo.testbed.cgroups import parse_memory

__all__ = ["SERVICE_FIELDS", "parse_services", "read_services_file", "service_spec"]

SERVICE_FIELDS: Final = {"name", "app", "command", "image", "args", "replicas", "cpus", "memory",
                         "port", "health", "placement", "hosts", "labels", "max_per_host",
                         "weights", "max_unavailable", "keep"}


def service_spec(name: str, *, app: str | None = None, command: str | None = None,
                 image: str | None = None, args: Sequence[str] = (), replicas: int = 1,
                 cpus: float | str = 0.0, memory: str | int | None = None, port: int = 0,
                 health: str = "/health", placement: str = "spread", hosts: str = "",
                 labels: Mapping[str, str] | None = None, max_per_host: int = 0,
                 weights: str = "equal", max_unavailable: int = 1) -> ServiceSpec:
    """A checked spec (static checks only; :meth:`Services.apply` checks it against the
    nodes). Raises ValidationError with one sentence."""
    try:
        check_name("service", name)
    except ValidationError as e:
        raise ValidationError(str(e).replace("invalid service", "service name")) from None
    chosen = [(k, v) for k, v in (("app", app), ("command", command), ("image", image)) if v]
    if len(chosen) != 1:
        raise ValidationError(f"service {name!r}: give exactly one of app, command, image.")
    kind, what = chosen[0]
    if kind == "app":
        from galileo.services.allow import builtin_apps

        known = builtin_apps()
        if what not in known:
            raise ValidationError(f"service {name!r}: unknown app {what!r} (built in: "
                                  f"{', '.join(known)}).")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ValidationError(f"service {name!r}: replicas must be an integer >= 0, "
                              f"got {replicas!r}.")
    try:
        cpu = float(cpus)
    except (TypeError, ValueError):
        raise ValidationError(f"service {name!r}: cpus {cpus!r} is not a number.") from None
    if not 0 <= cpu <= 1024:
        raise ValidationError(f"service {name!r}: cpus must be between 0 and 1024, got {cpus!r}.")
    mem = parse_memory(memory, f"service {name!r}: memory") if memory not in (None, "", 0) else 0
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValidationError(f"service {name!r}: port must be 0-65535, got {port!r}.")
    if health and not health.startswith("/"):
        raise ValidationError(f"service {name!r}: health path {health!r} must start with /.")
    if weights not in ("equal", "cpu"):
        raise ValidationError(f"service {name!r}: weights must be equal or cpu, got {weights!r}.")
    if not isinstance(max_per_host, int) or max_per_host < 0:
        raise ValidationError(f"service {name!r}: max_per_host must be an integer >= 0.")
    if isinstance(max_unavailable, bool) or not isinstance(max_unavailable, int) \
            or max_unavailable < 0:
        raise ValidationError(f"service {name!r}: max_unavailable must be an integer >= 0, "
                              f"got {max_unavailable!r}.")
    return ServiceSpec(name=name, kind=kind, what=what, args=[str(a) for a in args],  # type: ignore[arg-type]
                       replicas=replicas, cpus=cpu, memory=mem, port=port, health=health,
                       placement=placement, hosts=hosts,
                       labels={str(k): str(v) for k, v in (labels or {}).items()},
                       max_per_host=max_per_host, weights=weights,  # type: ignore[arg-type]
                       max_unavailable=max_unavailable)


def parse_services(data: Any, where: str) -> list[tuple[ServiceSpec, bool]]:
    """(spec, keep) for every service in ``data`` (see the module doc)."""
    if isinstance(data, Mapping) and "services" in data and len(data) == 1:
        data = data["services"]
    if isinstance(data, Mapping):
        data = [{"name": k, **(v or {})} if isinstance(v, Mapping | type(None)) else v
                for k, v in data.items()]
    if not isinstance(data, list):
        raise ValidationError(f"{where}: services must be a list or a mapping of name to "
                              "service.")
    out: list[tuple[ServiceSpec, bool]] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        if not isinstance(item, Mapping) or "name" not in item:
            raise ValidationError(f"{where}: service #{i + 1} must be a mapping with a name.")
        unknown = sorted(set(item) - SERVICE_FIELDS)
        if unknown:
            raise ValidationError(f"{where}: service {item['name']!r} has unknown field "
                                  f"{unknown[0]!r} (known: {', '.join(sorted(SERVICE_FIELDS))}).")
        fields = {k: v for k, v in item.items() if k not in ("name", "keep")}
        args = fields.get("args", [])
        if isinstance(args, str) or not isinstance(args, list):
            raise ValidationError(f"{where}: service {item['name']!r}: args must be a list.")
        try:
            spec = service_spec(str(item["name"]), **fields)
        except TypeError as e:
            raise ValidationError(f"{where}: service {item['name']!r}: {e}.") from None
        except ValidationError as e:
            raise ValidationError(f"{where}: {e}") from None
        if spec.name in seen:
            raise ValidationError(f"{where}: service {spec.name!r} is declared twice.")
        seen.add(spec.name)
        out.append((spec, bool(item.get("keep", False))))
    return out


def read_services_file(path: Path) -> list[tuple[ServiceSpec, bool]]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror or e}.") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValidationError(f"{path} is not valid YAML: {str(e).splitlines()[0]}.") from None
    return parse_services(data, str(path))
