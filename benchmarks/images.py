"""Images and the compose stack against their goals (issue 19), one JSON line.

    python benchmarks/images.py            # with the images already built (or cached layers)
    python benchmarks/images.py --bare     # from a bare machine: images and base removed first

Runs ``deploy/stack_test.py`` (build or reuse the images, one experiment through the stack,
restart, stop, remove) and checks its figures against the goals: stack test ≤ 10 min bare and
≤ 4 min with images; worker image ≤ base + 80 MB; full image ≤ 900 MB; every container stopped
within 10 s; 0 traces lost across the restart. The machine is shared and often loaded: quote the
load average printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE = "localhost/galileo-base:bookworm"


def goals(run: dict[str, Any], bare: bool) -> dict[str, Any]:
    sizes = run.get("sizes_mb", {})
    base = sizes.get(BASE, 0.0)
    worker = sizes.get("localhost/galileo-worker:latest", float("inf"))
    full = sizes.get("localhost/galileo:latest", float("inf"))
    limit_s = 600 if bare else 240
    return {
        f"stack_test_{'bare' if bare else 'with_images'}_s<={limit_s}":
            run.get("total_s", float("inf")) <= limit_s,
        "worker_mb<=base+80": worker <= base + 80,
        "full_mb<=900": full <= 900,
        "stop_s<=10_each": run.get("stop_max_s", float("inf")) <= 10,
        "traces_lost_across_restart==0": run.get("traces_lost_across_restart") == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bare", action="store_true", help="remove the images and base first")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    cmd = [sys.executable, str(ROOT / "deploy" / "stack_test.py"), *(["--bare"] if args.bare
                                                                      else [])]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        print(json.dumps({"bench": "images", "ok": False, "error": "no JSON from stack_test"}))
        return 1
    run = json.loads(lines[-1])
    verdicts = goals(run, args.bare)
    out = {"bench": "images", "bare": args.bare, "load_before": round(load, 1),
           "load_after": round(os.getloadavg()[0], 1), "stack_test_ok": run["ok"],
           "goals_met": verdicts, **{k: run.get(k) for k in (
               "total_s", "images_s", "up_s", "healthy_s", "experiment_s", "restart_s",
               "stop_max_s", "sizes_mb", "traces_lost_across_restart", "error")}}
    print(json.dumps(out, sort_keys=True))
    return 0 if run["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
