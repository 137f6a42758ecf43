"""Node info published in the seed hash ``telemd.info:<node>`` (fields as the Go telemd writes
them: ``arch``, ``boot``, ``hostname``, ``ram``, ``cpus``, ``disk``, ``net``; plus ``agent`` so a
recorder can tell a Galileo agent from the Go telemd)."""

from __future__ import annotations

import platform
import socket

import psutil

from galileo.protocol import TELEMD_AGENT
from galileo.telemetry.instruments import _SKIP_DISK, _SKIP_NET


def node_info() -> dict[str, str]:
    """This node's static facts, as strings (``ram`` in kB and ``boot`` in unix seconds as the
    seed does; ``disk``/``net`` are space-separated device and interface names)."""
    disks = sorted(d for d in (psutil.disk_io_counters(perdisk=True) or {})
                   if not _SKIP_DISK.match(d))
    nets = sorted(n for n in psutil.net_if_addrs() if n not in _SKIP_NET)
    return {
        "arch": platform.machine(),
        "boot": str(int(psutil.boot_time())),
        "hostname": socket.gethostname(),
        "ram": str(psutil.virtual_memory().total // 1024),
        "cpus": str(psutil.cpu_count() or 1),
        "disk": " ".join(disks),
        "net": " ".join(nets),
        "agent": TELEMD_AGENT,
    }
