"""The ``galileo testbed status`` view: a header and one table row per host."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from galileo.tables import Table
from galileo.testbed.processes import alive
from galileo.testbed.testbed import Testbed

__all__ = ["status_document", "status_rows", "status_view"]


def status_rows(tb: Testbed) -> list[dict[str, str]]:
    """One dict per host: name, address, zone, link, network state, processes (``role:pid``)."""
    rows = []
    for host in tb.state.all_hosts():
        label = "control" if host is tb.state.control else host.name
        procs = [f"{p.role}:{p.pid}" + ("" if alive(p.pid) else " (dead)")
                 for p in tb.state.processes_of(label)]
        rows.append({"host": label, "address": host.address, "zone": host.zone or "-",
                     "link": host.link_spec.describe(),
                     "network": "partitioned" if host.partitioned else "connected",
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
    for column in ("host", "address", "zone", "link", "network", "processes"):
        table.add_column(column)
    for row in status_rows(tb):
        style = "red" if row["network"] == "partitioned" or "(dead)" in row["processes"] else ""
        table.add_row(*row.values(), style=style)
    return Group(head, table)
