"""Rich tables and text for the shells: workers, groups, ping, routing records."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from galileo import bus
from galileo.protocol import RoutingRecord, WorkerInfo
from galileo.tables import Table

if TYPE_CHECKING:
    from .galileo import Galileo
    from .group import ClientGroup


def add_id_column(table: Table, header: str, ids: Sequence[str]) -> None:
    """A column whose values are never cut or wrapped (other columns wrap instead), so an id
    can always be copied from the table."""
    width = max([len(header), *(len(i) for i in ids)])
    table.add_column(header, no_wrap=True, min_width=width, overflow="ignore")


def workers_table(workers: Sequence[WorkerInfo]) -> Table:
    table = Table(title="workers")
    add_id_column(table, "Name", [w.name for w in workers])
    for col in ("Host", "PID", "Processes", "Clients", "Groups", "Labels"):
        table.add_column(col)
    for w in workers:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(w.labels.items()))
        table.add_row(w.name, w.host, str(w.pid), str(w.processes), str(w.clients),
                      str(w.groups), labels)
    return table


def groups_table(groups: Sequence[ClientGroup]) -> Table:
    table = Table(title="client groups")
    add_id_column(table, "Group", [grp.gid for grp in groups])
    for col in ("Service", "Clients", "Workers", "RPS", "Paused"):
        table.add_column(col)
    for grp in groups:
        placement = ", ".join(f"{w}({len(c)})" for w, c in sorted(grp.info.placement.items()))
        table.add_row(grp.gid, grp.service, str(len(grp.clients)), placement,
                      f"{grp.target_rps:g}", "yes" if grp.paused else "no")
    return table


def ping_table(rtts: dict[str, float | None]) -> Table:
    table = Table(title="ping")
    table.add_column("Worker")
    table.add_column("RTT ms", justify="right")
    for worker, rtt in sorted(rtts.items()):
        table.add_row(worker, "no reply" if rtt is None else f"{rtt:.2f}")
    return table


def record_detail(record: RoutingRecord) -> str:
    lines = [f"service {record.service} (version {record.version})"]
    total = sum(record.weights)
    for host, weight in zip(record.hosts, record.weights, strict=True):
        lines.append(f"  {host}  weight {weight:g}  ({100 * weight / total:.1f}%)")
    return "\n".join(lines)


def service_info(g: Galileo, service: str) -> str:
    """``info SERVICE``: its routing record and its client groups."""
    record = g.rtbl.get(service)
    lines = [record_detail(record) if record else f"service {service} has no routing record"]
    groups = [grp for grp in g.groups() if grp.service == service]
    for grp in groups:
        placement = ", ".join(f"{w}({len(c)})" for w, c in sorted(grp.info.placement.items()))
        lines.append(f"  group {grp.gid}: {len(grp.clients)} client(s) at "
                     f"{grp.target_rps:g} req/s on {placement}")
    if not groups:
        lines.append("  no client groups")
    return "\n".join(lines)


def cluster_info(g: Galileo) -> str:
    workers = g.workers()
    groups = g.groups()
    return "\n".join([
        f"redis:      {bus.describe(g.settings)} (namespace {g.keys.ns})",
        f"workers:    {len(workers)} ({sum(w.clients for w in workers)} clients)",
        f"groups:     {len(groups)}",
        f"services:   {', '.join(g.rtbl.services()) or '-'}",
        f"experiment: {g.experiment.current() or '-'}",
    ])


def follow_updates(g: Galileo, console: Console, seconds: float | None) -> None:
    """Print routing updates as they arrive, for ``seconds`` (None: until interrupted)."""
    pubsub = g.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(g.keys.rtbl_updates)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            left = 0.5 if deadline is None else max(min(0.5, deadline - time.monotonic()), 0.0)
            msg = pubsub.get_message(timeout=left)
            if msg and msg["type"] == "message":
                service = msg["data"].decode()
                record = None if service == "*" else g.rtbl.get(service)
                text = record_detail(record) if record else f"{service}: removed or refreshed"
                console.print(text, highlight=False)
    except KeyboardInterrupt:
        pass
    finally:
        pubsub.close()
