"""What a node agent may run: its operator's allow-list, never what a bus message says.

* built-in workloads (``galileo.apps``) -- all of them by default, or the ``--app`` ones;
* named commands from a file on the host (``--commands FILE``: YAML/JSON mapping
  ``name: [argv...]``; ``{port}`` in an argument becomes the instance's port);
* container images whose name starts with an allowed prefix (``--allow-image PREFIX``), run
  with podman where it is installed.

An instance names *which* entry to run; its arguments come from the allow-list, never from the
message (except an app's own ``args``, which go to ``python -m galileo.apps`` after the app
name as ``--option value`` pairs only). Everything else is refused with one sentence.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from galileo.errors import ConfigError, ValidationError
from galileo.protocol import InstanceSpec

__all__ = ["AllowList", "Refused", "builtin_apps"]

_APP_ARG_RE: Final = re.compile(r"^--[a-z][a-z0-9-]*$|^[A-Za-z0-9_.,:/%-]+$")
_IMAGE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")
# options of ``python -m galileo.apps`` an instance must not set (the agent sets them)
_RESERVED_APP_ARGS: Final = {"--host", "--port", "--processes", "--cpus", "--reuse-port"}


class Refused(ValidationError):
    """The node does not run this instance (not allowed, or does not fit)."""


def builtin_apps() -> list[str]:
    from galileo.apps.registry import list_services

    return [s.name for s in list_services()]


@dataclass
class AllowList:
    apps: list[str] = field(default_factory=builtin_apps)
    commands: dict[str, list[str]] = field(default_factory=dict)
    image_prefixes: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, apps: Sequence[str] = (), commands_file: Path | None = None,
              image_prefixes: Iterable[str] = ()) -> AllowList:
        known = builtin_apps()
        chosen = list(apps) or known
        unknown = [a for a in chosen if a not in known]
        if unknown:
            raise ConfigError(f"--app {unknown[0]!r} is not a built-in workload "
                              f"({', '.join(known)}).")
        commands = _read_commands(commands_file) if commands_file else {}
        return cls(chosen, commands, [p for p in image_prefixes if p])

    def argv(self, spec: InstanceSpec, python: str = sys.executable,
             cgroup_parent: str = "") -> list[str]:
        """The command line of ``spec``; raises :class:`Refused` when it is not allowed.
        ``cgroup_parent`` puts an image's container below the instance's cgroup."""
        if spec.kind == "app":
            if spec.what not in self.apps:
                raise Refused(f"app {spec.what!r} is not allowed on this host "
                              f"(allowed: {', '.join(self.apps) or 'none'}).")
            for arg in spec.args:
                if not _APP_ARG_RE.match(arg) or arg in _RESERVED_APP_ARGS:
                    raise Refused(f"app argument {arg!r} is not allowed.")
            return [python, "-m", "galileo.apps", spec.what, "--host", "0.0.0.0",
                    "--port", str(spec.port), *spec.args]
        if spec.kind == "command":
            if spec.what not in self.commands:
                raise Refused(f"command {spec.what!r} is not in this host's allow-list "
                              f"(allowed: {', '.join(sorted(self.commands)) or 'none'}).")
            if spec.args:
                raise Refused(f"command {spec.what!r}: arguments come from the host's "
                              "allow-list file, not from the service.")
            return [a.replace("{port}", str(spec.port)) for a in self.commands[spec.what]]
        if spec.kind == "image":
            if not _IMAGE_RE.match(spec.what) or not any(
                    spec.what.startswith(p) for p in self.image_prefixes):
                raise Refused(f"image {spec.what!r} is not allowed on this host (allowed "
                              f"prefixes: {', '.join(self.image_prefixes) or 'none'}).")
            podman = shutil.which("podman")
            if podman is None:
                raise Refused(f"image {spec.what!r}: podman is not installed on this host.")
            # never pull: what runs is what the host's operator put there
            cmd = [podman, "run", "--rm", "--replace", "--pull", "never",
                   "--name", f"galileo-{spec.id}", "--network", "host",
                   "--env", f"PORT={spec.port}"]
            if spec.cpus:
                cmd += ["--cpus", f"{spec.cpus:g}"]
            if spec.memory:
                cmd += ["--memory", str(spec.memory)]
            if cgroup_parent:
                cmd += ["--cgroup-parent", cgroup_parent]
            args = [a.replace("{port}", str(spec.port)) for a in spec.args]
            for arg in args:
                if not _APP_ARG_RE.match(arg):
                    raise Refused(f"image argument {arg!r} is not allowed.")
            return [*cmd, spec.what, *args]
        raise Refused(f"unknown instance kind {spec.kind!r}.")


def _read_commands(path: Path) -> dict[str, list[str]]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read the commands file {path}: {e.strerror or e}.") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as e:
        raise ConfigError(f"commands file {path} is not valid: {e}.") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"commands file {path} must map names to argument lists.")
    out: dict[str, list[str]] = {}
    for name, argv in data.items():
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ConfigError(f"commands file {path}: {name!r} must be a non-empty list of "
                              "strings (the argv, no shell).")
        out[str(name)] = list(argv)
    return out
