"""Analysis hooks: an experiment as pandas DataFrames, and the seed's four questions.

    from galileo import analysis
    data = analysis.load("202401011200-ab12")        # traces, telemetry, events
    analysis.cpu_per_request(data)                    # CPU ms per request per service
    analysis.latency_by_node(data, "kv")              # mean/p50/p90/p99 per serving host
    analysis.compare_nodes(data, "kv", "h1:8080", "h2:8080")
    analysis.colocation_impact(solo_data, data)       # normalised throughput, latency ratio

Needs pandas (``pip install galileo[analysis]``).
"""

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
