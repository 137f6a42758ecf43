"""The ``galileo testbed status`` view: a header and one table row per host."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.text import Text

from galileo.errors import ConfigError
from galileo.tables import Table
from galileo.testbed.cgroups import Cgroups, Resources, format_memory
from galileo.testbed.processes import alive
from galileo.testbed.testbed import Testbed

USE_WINDOW_S = 0.3  # status measures each host's CPU use over this window

__all__ = ["status_document", "status_rows", "status_view"]


def host_use(tb: Testbed, window_s: float = USE_WINDOW_S) -> dict[str, tuple[float, int]]:
    """{host: (CPU cores used over ``window_s``, memory bytes now)} from the hosts' cgroups."""
    try:
        cg: Cgroups = tb.cgroups()
    except ConfigError:
        return {}
    hosts = [h for h in tb.state.hosts if h.cgroup]
    before = {h.name: cg.usage(h.cgroup) for h in hosts}
    t0 = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - t0
    out = {}
    for h in hosts:
        now, old = cg.usage(h.cgroup), before[h.name]
        cpu = ((now.cpu_usec - old.cpu_usec) / 1e6 / elapsed
               if now.cpu_usec is not None and old.cpu_usec is not None else 0.0)
        out[h.name] = (cpu, now.memory or 0)
    return out


def status_rows(tb: Testbed) -> list[dict[str, str]]:
    """One dict per host: name, address, zone, link, network state, limits, use, processes."""
    rows = []
    use = host_use(tb)
    for host in tb.state.all_hosts():
        label = "control" if host is tb.state.control else host.name
        procs = [f"{p.role}:{p.pid}" + ("" if alive(p.pid) else " (dead)")
                 for p in tb.state.processes_of(label)]
        limits = (Resources(host.cpus, host.memory).describe() if host.cgroup
                  else "machine (no cgroup)")
        cpu, memory = use.get(label, (None, None))
        used = f"{cpu:.2f} CPU, {format_memory(memory)}" if cpu is not None else "-"
        rows.append({"host": label, "address": host.address, "zone": host.zone or "-",
                     "link": host.link_spec.describe(),
                     "network": "partitioned" if host.partitioned else "connected",
                     "limits": limits, "use": used,
                     "processes": ", ".join(procs) or "-"})
    return rows


def status_document(tb: Testbed) -> dict[str, Any]:
    """What ``status --json`` prints: the testbed's endpoints and :func:`status_rows`."""
    st = tb.state
    return {"prefix": st.prefix, "status": st.status, "subnet": st.subnet, "netem": st.netem,
            "redis_url": tb.env()["galileo_redis_url"],
            "redis_socket": str(tb.redis_socket), "expdb": str(tb.expdb_path),
            "service_port": st.service_port, "logs": f"{st.directory}/logs",
            "hosts": status_rows(tb)}


def status_view(tb: Testbed) -> Group:
    st = tb.state
    netem = "available" if st.netem else "not in this kernel (delay via app --delay)"
    head = Text.from_markup(
        f"testbed [bold]{st.prefix}[/] ({st.status}) · subnet {st.subnet} · netem {netem}\n"
        f"redis {st.control.address if st.control else '?'}:{st.redis_port} "
        f"(root namespace: unix://{tb.redis_socket}) · expdb {tb.expdb_path}\n"
        f"services: echo on every host at <host>:{st.service_port} · logs {st.directory}/logs")
    table = Table(show_edge=False)
    # the limits and use columns only where hosts have limits (status --json always has them)
    limited = any(h.cpus is not None or h.memory is not None for h in st.hosts)
    columns = ["host", "address", "zone", "link", "network"] + (
        ["limits", "use"] if limited else []) + ["processes"]
    for column in columns:
        table.add_column(column)
    for row in status_rows(tb):
        style = "red" if row["network"] == "partitioned" or "(dead)" in row["processes"] else ""
        table.add_row(*(row[c] for c in columns), style=style)
    return Group(head, table)
