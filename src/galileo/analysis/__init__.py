"""Analysis hooks: an experiment as pandas DataFrames, and the seed's four questions.

    from galileo import analysis
    data = analysis.load("202401011200-ab12")        # traces, telemetry, events
    analysis.cpu_per_request(data)                    # CPU ms per request per service
    analysis.latency_by_node(data, "kv")              # mean/p50/p90/p99 per serving host
    analysis.compare_nodes(data, "kv", "h1:8080", "h2:8080")
    analysis.colocation_impact(solo_data, data)       # normalised throughput, latency ratio

Needs pandas (``pip install galileo[analysis]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.analysis.data import ExperimentData, load
    from galileo.analysis.questions import (
        colocation_impact,
        compare_nodes,
        cpu_per_request,
        latency_by_node,
        profile_table,
    )

__all__ = [
    "ExperimentData",
    "colocation_impact",
    "compare_nodes",
    "cpu_per_request",
    "latency_by_node",
    "load",
    "profile_table",
]

__getattr__ = lazy_exports(__name__, {
    "ExperimentData": "galileo.analysis.data",
    "colocation_impact": "galileo.analysis.questions",
    "compare_nodes": "galileo.analysis.questions",
    "cpu_per_request": "galileo.analysis.questions",
    "latency_by_node": "galileo.analysis.questions",
    "load": "galileo.analysis.data",
    "profile_table": "galileo.analysis.questions",
})
