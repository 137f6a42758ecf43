"""Answers to the four questions Galileo 0.x users asked, from :class:`ExperimentData`.

* :func:`cpu_per_request` — how much CPU does each service use per request?
* :func:`latency_by_node` — mean and percentile latency per serving node (host).
* :func:`compare_nodes` — how do two nodes serving the same service differ?
* :func:`colocation_impact` — what does co-location do to each service (vs. running alone)?
  :func:`profile_table` shows a ``galileo profile`` / Metis ``.npz`` the same way.

Throughput is succeeded requests (not ``protocol.request_failed``: no error, HTTP 2xx/3xx) per
second between the first send and the last completion: drive services at saturation (closed
loop, or a rate above capacity with a bounded number in flight) when the question is capacity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from galileo.analysis.data import ExperimentData
from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import request_failed

if TYPE_CHECKING:
    import pandas as pd

CPU_METRICS: Final = ("proc_cpu", "cgrp_cpu", "docker_cgrp_cpu", "kubernetes_cgrp_cpu")
PERCENTILES: Final = (50, 90, 99)


def _ok(traces: pd.DataFrame, service: str | None = None) -> pd.DataFrame:
    ok = traces[~request_failed(traces["status"], traces["error"])]
    return ok if service is None else ok[ok["service"] == service]


def _rps(ok: pd.DataFrame) -> float:
    if len(ok) < 2:
        return 0.0
    span_ns = int(ok["done_ns"].max()) - int(ok["sent_ns"].min())
    return float(len(ok) / (span_ns / 1e9)) if span_ns > 0 else 0.0


def cpu_seconds(series: pd.DataFrame) -> tuple[float, int, int]:
    """CPU seconds in one percent-of-a-core series (windows abut: window i is ts[i-1]..ts[i]);
    returns (seconds, first window start, last window end)."""
    ts = series["ts_ns"].to_numpy()
    if len(ts) < 2:
        return 0.0, 0, 0
    values = series["value"].to_numpy()[1:]
    windows = (ts[1:] - ts[:-1]) / 1e9
    return float((values / 100.0 * windows).sum()), int(ts[0]), int(ts[-1])


def _check_matches(names: Mapping[str, str], subsystems: set[str], traced: set[str]) -> None:
    no_traces = sorted(s for s in names if s not in traced)
    if no_traces:
        raise ValidationError(f"cpu_per_request: no traces of service(s) {', '.join(no_traces)}"
                              f"; traced services: {', '.join(sorted(traced)) or 'none'}")
    unmatched = sorted(f"{s!r} (looked for {n!r})" if s != n else repr(s)
                       for s, n in names.items() if n not in subsystems)
    if unmatched:
        seen = ", ".join(repr(n) for n in sorted(subsystems)) or "none"
        raise ValidationError(
            f"cpu_per_request: no process/container CPU telemetry for {', '.join(unmatched)}; "
            f"names in the telemetry: {seen}; map them with services={{service: name}}")


def cpu_per_request(data: ExperimentData,
                    services: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per service: requests, CPU seconds, CPU milliseconds per request and mean CPU (% of a
    core). CPU comes from ``proc_cpu``/``*cgrp_cpu`` telemetry whose subsystem (the process or
    container name) is the service name, or ``services[service]`` when the names differ,
    summed over nodes; requests are the succeeded traces completed in the measured windows.

    Matching is explicit: a service with no such telemetry, or a mapped service without
    traces, raises ``ValidationError`` naming it and the names the telemetry does have -- never
    a silent 0."""
    import pandas as pd

    names = services or {str(s): str(s) for s in data.traces["service"].unique()}
    tel = data.telemetry[data.telemetry["metric"].isin(CPU_METRICS)]
    _check_matches(names, {str(s) for s in tel["subsystem"].unique()},
                   {str(s) for s in data.traces["service"].unique()})
    rows = []
    for service, subsystem in names.items():
        mine = tel[tel["subsystem"] == subsystem]
        total = 0.0
        start = end = 0
        for _, series in mine.groupby(["node", "metric"], observed=True):
            seconds, s0, s1 = cpu_seconds(series.sort_values("ts_ns"))
            total += seconds
            start = s0 if not start else min(start, s0)
            end = max(end, s1)
        ok = _ok(data.traces, service)
        done = ok[(ok["done_ns"] > start) & (ok["done_ns"] <= end)] if end else ok.iloc[:0]
        span = (end - start) / 1e9 if end else 0.0
        rows.append({"service": service, "requests": len(done), "cpu_s": total,
                     "cpu_ms_per_request": total * 1e3 / len(done) if len(done) else float("nan"),
                     "mean_cpu_percent": total / span * 100 if span else float("nan")})
    return pd.DataFrame(rows).set_index("service")


def _latency_row(ok: pd.DataFrame, all_rows: pd.DataFrame) -> dict[str, float]:
    lat = ok["latency_ms"]
    row = {"requests": float(len(all_rows)), "errors": float(len(all_rows) - len(ok)),
           "rps": _rps(ok), "mean_ms": float(lat.mean()) if len(ok) else float("nan")}
    for p in PERCENTILES:
        row[f"p{p}_ms"] = float(lat.quantile(p / 100)) if len(ok) else float("nan")
    return row


def latency_by_node(data: ExperimentData, service: str | None = None) -> pd.DataFrame:
    """Per serving host: requests, errors, throughput, mean and p50/p90/p99 latency (ms)."""
    import pandas as pd

    traces = data.traces if service is None else data.traces[data.traces["service"] == service]
    ok = _ok(traces)
    rows = {str(host): _latency_row(ok[ok["host"] == host], group)
            for host, group in traces.groupby("host", observed=True)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("host")


def _node_of(host: str, data: ExperimentData, nodes: Mapping[str, str] | None) -> str | None:
    if nodes and host in nodes:
        return nodes[host]
    name = host.split("://")[-1].rsplit(":", 1)[0]
    for node, info in data.nodeinfo.items():
        if name in (node, info.get("hostname")):
            return node
    return name if name in set(map(str, data.telemetry["node"].unique())) else None


def compare_nodes(data: ExperimentData, service: str, a: str, b: str,
                  nodes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Hosts ``a`` and ``b`` serving ``service`` side by side: latency, throughput and (when
    the host maps to a telemetry node) mean node CPU; columns ``a``, ``b``, ``difference``
    (b − a) and ``ratio`` (b / a)."""
    import pandas as pd

    table = latency_by_node(data, service)
    missing = [h for h in (a, b) if h not in table.index]
    if missing:
        raise NotFoundError(f"host {missing[0]!r} served no {service!r} request in experiment "
                            f"{data.exp_id} (hosts: {', '.join(map(str, table.index))})")
    out = table.loc[[a, b]].T
    cpu = {}
    for host in (a, b):
        node = _node_of(host, data, nodes)
        tel = data.telemetry
        sel = tel[(tel["node"] == node) & (tel["metric"] == "cpu") & (tel["subsystem"] == "")]
        cpu[host] = float(sel["value"].mean()) if len(sel) else float("nan")
    out.loc["node_cpu_percent"] = pd.Series(cpu)
    out.columns = ["a", "b"]
    out["difference"] = out["b"] - out["a"]
    out["ratio"] = out["b"] / out["a"]
    return out


def _service_stats(data: ExperimentData) -> pd.DataFrame:
    import pandas as pd

    rows = {str(s): _latency_row(_ok(g), g)
            for s, g in data.traces.groupby("service", observed=True)}
    return pd.DataFrame.from_dict(rows, orient="index")


def colocation_impact(solo: ExperimentData | Mapping[str, ExperimentData],
                      colocated: ExperimentData) -> pd.DataFrame:
    """Per service of ``colocated``: throughput and p50/p99 latency alone (``solo``: one
    experiment that ran each service alone, or one experiment per service) and co-located, and
    ``normalized`` throughput (co-located / solo, as in the Metis tables)."""
    import pandas as pd

    together = _service_stats(colocated)
    if isinstance(solo, ExperimentData):
        alone = _service_stats(solo)
    else:
        alone = pd.concat([_service_stats(d).loc[[s]] for s, d in solo.items()])
    missing = [s for s in together.index if s not in alone.index]
    if missing:
        raise ValidationError(f"no solo measurement of service {missing[0]!r} to compare with")
    out = pd.DataFrame({
        "solo_rps": alone.loc[together.index, "rps"], "colocated_rps": together["rps"],
        "solo_p50_ms": alone.loc[together.index, "p50_ms"],
        "colocated_p50_ms": together["p50_ms"],
        "solo_p99_ms": alone.loc[together.index, "p99_ms"],
        "colocated_p99_ms": together["p99_ms"]})
    out["normalized"] = out["colocated_rps"] / out["solo_rps"]
    out["p99_ratio"] = out["colocated_p99_ms"] / out["solo_p99_ms"]
    return out.rename_axis("service")


def profile_table(path: Path | str, apps: Sequence[str] | None = None) -> pd.DataFrame:
    """A Metis-format ``.npz`` (``galileo profile`` output) as a table: one row per measured
    composition, ``n_<app>`` container counts and ``rps_<app>`` normalised throughput."""
    import numpy as np
    import pandas as pd

    with np.load(Path(path), allow_pickle=True) as npz:
        alloc = np.asarray(npz["alloc"], dtype=np.float64)
        rps = np.asarray(npz["rps"], dtype=np.float64)
    used = [i for i in range(alloc.shape[1]) if alloc[:, i].any()]
    names = list(apps) if apps is not None else [f"app{i}" for i in range(alloc.shape[1])]
    cols: dict[str, object] = {}
    for i in used:
        cols[f"n_{names[i]}"] = alloc[:, i].astype(int)
    for i in used:
        cols[f"rps_{names[i]}"] = rps[:, i]
    return pd.DataFrame(cols)
