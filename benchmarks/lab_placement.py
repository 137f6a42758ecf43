"""What a lab placement decision costs in the reconciler (issue 17, item 5)::

    .venv/bin/python benchmarks/lab_placement.py              # ~1 min on a loaded 2-core box
    .venv/bin/python benchmarks/lab_placement.py --nodes 8 --repeats 20

For each lab policy fed by the shipped Metis table (``table=metis``): the median wall time of
``choose_many`` placing ``--count`` instances of one service onto ``--nodes`` live nodes that
already hold a few instances of other services (the model and schedulers warm, as in a
running reconciler), and the first-use cost: building the model, and ``metis`` training its
sub-scheduler for that node count (``budget=0.2``, cache in a temporary directory).

Prints one JSON line. The machine is shared: quote medians and say how loaded it was.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from galileo.protocol import NodeInfo, ServiceSpec
from galileo.services import lab_placement
from galileo.services.placement import NodeView, load_placement

POLICIES = ("greedy", "paragon", "medea", "ours", "metis", "round-robin")
APPS = ("kv", "checksum", "ycsb", "scenedetect", "superres")


def live_state(n: int) -> list[NodeView]:
    specs = {a: ServiceSpec(name=a, kind="app", what=a) for a in APPS}
    specs["cls"] = ServiceSpec(name="cls", kind="app", what="classify")
    out = []
    for i in range(n):
        services = {APPS[i % len(APPS)]: 1 + i % 2, APPS[(i + 2) % len(APPS)]: 1}
        info = NodeInfo(name=f"n{i + 1:02d}", cpus=4.0, memory=1 << 30)
        out.append(NodeView(info=info, cpus_allocated=0.0, memory_allocated=0, of_service=0,
                            instances=sum(services.values()), services=services, specs=specs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="galileo-labbench-")
    tempfile.tempdir = tmp  # metis' cache for table=metis goes here, fresh
    spec = ServiceSpec(name="cls", kind="app", what="classify", replicas=args.count)
    nodes = live_state(args.nodes)
    t0 = time.perf_counter()
    lab_placement.lab_model("metis")
    result: dict[str, object] = {"nodes": args.nodes, "count": args.count,
                                 "model_build_s": round(time.perf_counter() - t0, 3),
                                 "load_1m": round(os.getloadavg()[0], 2)}
    for name in POLICIES:
        policy = load_placement(f"{name},table=metis")
        t0 = time.perf_counter()
        policy.choose_many(spec, nodes, args.count, nodes)
        result[f"{name}_first_s"] = round(time.perf_counter() - t0, 3)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            policy.choose_many(spec, nodes, args.count, nodes)
            times.append(time.perf_counter() - t0)
        result[f"{name}_ms"] = round(1000 * statistics.median(times), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
