"""Workload services with distinct resource signatures, mirroring the seven long-running
applications of the Metis study (see ``docs/telemetry-and-workloads.md``):

=========  ===============  =========================================  ======================
Metis app  service          one request                                bound by
=========  ===============  =========================================  ======================
Redis      ``kv``           GET/PUT one key of a preloaded store       per-request overhead,
                                                                       memory-resident data
MMS        ``classify``     softmax-regression inference, one image    CPU (small dense math)
Checksum   ``checksum``     SHA-256 over 4 MiB of a 64 MiB blob        CPU + memory bandwidth
YCSB-A/B   ``ycsb``         1000 zipfian read/update ops on 1 KiB      cache misses (random
                            records (A: 50/50, B: 95/5)                access)
Scene      ``scenedetect``  content change over 48 generated frames    memory bandwidth
                            of a 26 MiB video                          (streaming)
ISR        ``superres``     bicubic ×2 upscale + 12 residual 3×3       CPU (floating point)
                            convolution blocks
=========  ===============  =========================================  ======================

Each has a request generator in :mod:`galileo.apps.workloads.generators`. Nothing is downloaded:
every data set is generated from a fixed seed at start-up.
"""

from __future__ import annotations

from galileo.apps.registry import register_service

WORKLOAD_SERVICES: dict[str, str] = {
    "kv": "In-memory key-value store (Redis-like) at GET|PUT|DELETE /kv/<key>.",
    "checksum": "SHA-256 over slices of a 64 MiB generated blob at GET /checksum.",
    "ycsb": "YCSB-A/B-like read/update mix on a 1 KiB-record cache at POST /ycsb/a|b.",
    "scenedetect": "Scene-cut detection over generated video frames at GET /scenes.",
    "superres": "Image super-resolution-like upscaling (numpy) at POST /superres.",
}
_MODULES = {"kv": "kv", "checksum": "checksum", "ycsb": "ycsb", "scenedetect": "scenes",
            "superres": "superres"}

for _name, _description in WORKLOAD_SERVICES.items():
    register_service(_name, _description, f"galileo.apps.workloads.{_MODULES[_name]}:install")

__all__ = ["WORKLOAD_SERVICES"]
