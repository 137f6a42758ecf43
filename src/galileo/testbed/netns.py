"""iproute2 and ``tc`` as Python calls: namespaces, veth links, the bridge, per-namespace
``/etc/hosts`` files, link shaping, and the privilege / netem checks. Every command failure is
raised as one sentence naming the command."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from galileo.errors import ConfigError, GalileoError
from galileo.testbed.links import LinkSpec, clear_commands, shape_commands

__all__ = [
    "CommandError",
    "NetemUnavailableError",
    "add_namespace",
    "check_privileges",
    "delete_namespace",
    "list_namespaces",
    "namespace_pids",
    "netem_available",
    "remove_hosts_file",
    "run",
    "set_link_up",
    "shape_link",
    "write_hosts_file",
]

NETNS_ETC: Final = Path("/etc/netns")  # ``ip netns exec`` bind-mounts files found here
CAP_SYS_ADMIN: Final = 21
CAP_NET_ADMIN: Final = 12
COMMAND_TIMEOUT_S: Final = 30.0
_NETEM_MISSING: Final = re.compile(r"qdisc kind is unknown|No such file or directory", re.I)


class CommandError(GalileoError):
    """An iproute2/tc command failed."""


class NetemUnavailableError(ConfigError):
    """The kernel has no ``sch_netem``."""


def check_privileges() -> None:
    """Raise :class:`ConfigError` unless this process may create namespaces and links."""
    if shutil.which("ip") is None or shutil.which("tc") is None:
        raise ConfigError("galileo testbed needs iproute2 ('ip' and 'tc'); install the "
                          "iproute2 package.")
    if not _has_caps(CAP_NET_ADMIN, CAP_SYS_ADMIN):
        raise ConfigError("galileo testbed needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to "
                          "create network namespaces; run it with sudo.")


def _has_caps(*caps: int) -> bool:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return os.geteuid() == 0
    m = re.search(r"^CapEff:\s*([0-9a-f]+)$", status, re.M)
    effective = int(m.group(1), 16) if m else 0
    return all(effective >> cap & 1 for cap in caps)


def run(cmd: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command; a failure raises :class:`CommandError` with its first stderr line."""
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CommandError(f"`{' '.join(cmd)}` could not run: {e}") from None
    if check and done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no error output"])[0]
        raise CommandError(f"`{' '.join(cmd)}` failed: {reason}")
    return done


def in_ns(ns: str, cmd: Sequence[str]) -> list[str]:
    """``cmd`` run inside namespace ``ns``."""
    return ["ip", "netns", "exec", ns, *cmd]


# ---------------------------------------------------------------------- namespaces
def list_namespaces() -> list[str]:
    """Names of every network namespace (``ip netns list``)."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add_namespace(name: str) -> None:
    run(["ip", "netns", "add", name])
    run(in_ns(name, ["ip", "link", "set", "lo", "up"]))


def delete_namespace(name: str) -> None:
    """Delete ``name`` (its veth ends go with it); a missing namespace is fine."""
    if name in list_namespaces():
        run(["ip", "netns", "del", name])
    remove_hosts_file(name)


def namespace_pids(name: str) -> list[int]:
    """Processes running inside namespace ``name``."""
    done = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def write_hosts_file(ns: str, entries: Sequence[tuple[str, str]]) -> None:
    """``/etc/netns/<ns>/hosts``: the names seen inside ``ns`` (``localhost`` plus ``entries``)."""
    folder = NETNS_ETC / ns
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost"]
    lines += [f"{address}\t{name}" for address, name in entries]
    (folder / "hosts").write_text("\n".join(lines) + "\n")


def remove_hosts_file(ns: str) -> None:
    folder = NETNS_ETC / ns
    with contextlib.suppress(FileNotFoundError):
        (folder / "hosts").unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


# ---------------------------------------------------------------------- links
def add_bridge(ns: str, name: str) -> None:
    run(in_ns(ns, ["ip", "link", "add", name, "type", "bridge"]))
    run(in_ns(ns, ["ip", "link", "set", name, "up"]))


def add_host_link(host_ns: str, switch_ns: str, switch_end: str, bridge: str,
                  address: str) -> None:
    """A veth pair created directly in both namespaces (nothing ever sits in the root
    namespace): ``eth0`` with ``address`` in ``host_ns``, ``switch_end`` on the bridge."""
    run(["ip", "link", "add", "eth0", "netns", host_ns, "type", "veth",
         "peer", "name", switch_end, "netns", switch_ns])
    run(in_ns(switch_ns, ["ip", "link", "set", switch_end, "master", bridge]))
    run(in_ns(switch_ns, ["ip", "link", "set", switch_end, "up"]))
    run(in_ns(host_ns, ["ip", "addr", "add", address, "dev", "eth0"]))
    run(in_ns(host_ns, ["ip", "link", "set", "eth0", "up"]))


def set_link_up(switch_ns: str, switch_end: str, up: bool) -> None:
    """Cut (``up=False``) or restore a host's link at the switch: the host sees no carrier."""
    run(in_ns(switch_ns, ["ip", "link", "set", switch_end, "up" if up else "down"]))


def shape_link(ends: Sequence[tuple[str, str]], spec: LinkSpec) -> None:
    """Give every ``(namespace, device)`` end of a link the properties ``spec``."""
    for ns, dev in ends:
        for cmd in clear_commands(dev):
            run(in_ns(ns, cmd), check=False)  # no root qdisc yet is fine
        for cmd in shape_commands(dev, spec):
            done = run(in_ns(ns, cmd), check=False)
            if done.returncode != 0 and spec.needs_netem and _NETEM_MISSING.search(done.stderr):
                raise NetemUnavailableError(NETEM_MISSING_TEXT)
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["no error output"])[0]
                raise CommandError(f"`{' '.join(cmd)}` in {ns} failed: {reason}")


NETEM_MISSING_TEXT: Final = (
    "this kernel has no tc netem (sch_netem), so --delay, --jitter and --loss are unavailable; "
    "use --rate (tbf) and the services' own delay (galileo app serve --delay) instead.")


def netem_available() -> bool:
    """Whether ``tc netem`` works here (probed on the loopback of a throw-away namespace)."""
    probe = f"gtb-probe-{uuid.uuid4().hex[:6]}"
    run(["ip", "netns", "add", probe])
    try:
        done = run(in_ns(probe, ["tc", "qdisc", "add", "dev", "lo", "root", "netem",
                                 "delay", "1ms"]), check=False)
        return done.returncode == 0
    finally:
        run(["ip", "netns", "del", probe], check=False)
