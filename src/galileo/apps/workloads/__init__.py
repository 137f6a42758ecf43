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
every data set is generated from a fixed seed at start-up. This package only describes them;
:mod:`galileo.apps.registry` registers them (so the two modules do not import each other).
"""

from __future__ import annotations

WORKLOAD_SERVICES: dict[str, str] = {
    "kv": "In-memory key-value store (Redis-like) at GET|PUT|DELETE /kv/<key>.",
    "checksum": "SHA-256 over slices of a 64 MiB generated blob at GET /checksum.",
    "ycsb": "YCSB-A/B-like read/update mix on a 1 KiB-record cache at POST /ycsb/a|b.",
    "scenedetect": "Scene-cut detection over generated video frames at GET /scenes.",
    "superres": "Image super-resolution-like upscaling (numpy) at POST /superres.",
}
_MODULES = {"kv": "kv", "checksum": "checksum", "ycsb": "ycsb", "scenedetect": "scenes",
            "superres": "superres"}
WORKLOAD_INSTALLERS: dict[str, str] = {
    name: f"galileo.apps.workloads.{_MODULES[name]}:install" for name in WORKLOAD_SERVICES
}
"""Service name -> ``module:callable`` installing its routes (imported only when served)."""

__all__ = ["WORKLOAD_INSTALLERS", "WORKLOAD_SERVICES"]
