"""Synthetic recorded runs with known latency distributions (for report and dashboard tests)."""

from __future__ import annotations

import numpy as np

from galileo.protocol import Event, EventKind, Trace
from galileo.storage import ExpDB, ExperimentStatus

S = 1_000_000_000
T0 = 1_700_000_000 * S


def make_run(db: ExpDB, exp_id: str, *, seconds: int = 30, rps: int = 200, scale_ms: float = 5.0,
             error_every: int = 0, services: tuple[str, ...] = ("echo",), seed: int = 1,
             name: str = "", unsent_every: int = 0) -> np.ndarray:
    """Record a FINISHED run: ``rps`` requests/s per service for ``seconds`` s, latencies
    lognormal around ``scale_ms``; returns the latencies in ms (all services, in order).
    Every ``error_every``-th request answers 500; every ``unsent_every``-th never left the
    worker (``no_route``, as the worker records it: no host, done == sent)."""
    rng = np.random.default_rng(seed)
    db.create_experiment(name or exp_id, "tester", exp_id=exp_id,
                         status=ExperimentStatus.RUNNING)
    n = seconds * rps
    lats = []
    for k, service in enumerate(services):
        lat = scale_ms * rng.lognormal(0.0, 0.5, n)
        lats.append(lat)
        intended = T0 + (np.arange(n) * (S // rps))
        batch = []
        for i in range(n):
            bad = bool(error_every) and i % error_every == 0
            if unsent_every and i % unsent_every == 0:
                batch.append(Trace(
                    request_id=f"{exp_id}-{k}-{i}", exp_id=exp_id, group_id=f"g-{service}",
                    client_id="c0", worker=f"w{i % 2}", service=service, host="",
                    method="GET", path="/", intended_ns=int(intended[i]),
                    sent_ns=int(intended[i]), done_ns=int(intended[i]), status=0,
                    error="no_route"))
                continue
            batch.append(Trace(
                request_id=f"{exp_id}-{k}-{i}", exp_id=exp_id, group_id=f"g-{service}",
                client_id="c0", worker=f"w{i % 2}", service=service, host=f"h{i % 3}:80",
                method="GET", path="/", intended_ns=int(intended[i]),
                sent_ns=int(intended[i]) + 1000, done_ns=int(intended[i] + lat[i] * 1e6),
                status=500 if bad else 200, error=""))
            if len(batch) == 5000:
                db.insert_traces(batch)
                batch = []
        db.insert_traces(batch)
        db.insert_events([Event(kind=EventKind.GROUP_SPAWN, ts_ns=T0, exp_id=exp_id,
                                name=f"g-{service}", data={"service": service, "rps": rps})])
    db.insert_events([Event(kind=EventKind.ROUTING_SET, ts_ns=T0 + 10 * S, exp_id=exp_id,
                            name=services[0], data={"hosts": ["h0:80", "h1:80"]})])
    db.finish(exp_id, ExperimentStatus.FINISHED, "finished")
    return np.concatenate(lats)
