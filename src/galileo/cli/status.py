"""``galileo status``: the cluster at a glance -- bus, workers, recorders and the backlog of every
data stream (entries waiting, oldest age, arrival vs ingest rate, the traces cap)."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def status_command(
    window: Annotated[float, typer.Option(
        "--window", min=0.0, max=60.0,
        help="Seconds between the two readings that give the rates (0: no rates).")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Bus, workers, recorders and the recorder backlog per stream (with rates)."""
    from rich.console import Console
    from rich.table import Table

    from galileo import bus
    from galileo.protocol import Keys
    from galileo.recorder.backlog import Rates, read_backlog, sample
    from galileo.settings import load_settings

    settings = load_settings()
    keys = Keys(settings.namespace)
    client = bus.connect(settings)
    try:
        workers = sorted(m.decode() if isinstance(m, bytes) else str(m)
                         for m in client.smembers(keys.workers))
        if window > 0:
            backlog, rate = sample(client, keys, window)
        else:
            backlog = read_backlog(client, keys)
            rate = [Rates(None, None)] * len(backlog)
    finally:
        client.close()
    cap = settings.trace_backlog_max_entries
    if as_json:
        print(json.dumps({
            "bus": bus.describe(settings), "namespace": settings.namespace,
            "workers": workers, "trace_cap_entries": cap,
            "streams": [dict(b.as_dict(), arrival_per_s=r.arrival_per_s,
                             ingest_per_s=r.ingest_per_s) for b, r in zip(backlog, rate,
                                                                          strict=True)]}))
        return
    out = Console(soft_wrap=True, highlight=False)
    recorders = max((b.recorders for b in backlog), default=0)
    out.print(f"bus {bus.describe(settings)} (namespace {settings.namespace}): "
              f"{len(workers)} worker(s), {recorders} recorder(s)", markup=False)
    table = Table(title="recorder backlog")
    for header in ("stream", "waiting", "pending", "oldest", "arrival/s", "ingest/s", "cap"):
        table.add_column(header, justify="left" if header == "stream" else "right",
                         no_wrap=header == "stream")
    for b, r in zip(backlog, rate, strict=True):
        table.add_row(
            b.name, str(b.entries), str(b.pending),
            "-" if b.oldest_age_s is None else f"{b.oldest_age_s:.1f} s",
            _rate(r.arrival_per_s), _rate(r.ingest_per_s),
            f"{b.entries / cap:.0%} of {cap}" if b.name == "traces" else "-")
    out.print(table)
    traces = backlog[0]
    if traces.entries and not traces.recorders:
        out.print("no recorder has ever read the traces stream: start one with "
                  "`galileo recorder`", markup=False)
    elif rate[0].growing:
        out.print("the traces backlog is growing: the recorder ingests less than arrives "
                  "(start another `galileo recorder` or see docs/scale.md)", markup=False)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)
