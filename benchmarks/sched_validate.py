"""Schedulers validated end to end on the testbed (issue 18, item 1; run as root)::

    sudo .venv/bin/python benchmarks/sched_validate.py            # ~5-10 min on a loaded 2-core box
    sudo .venv/bin/python benchmarks/sched_validate.py --schedulers greedy,round-robin,medea \\
        --hosts 4 --cpus 0.25 --batch checksum=6,ycsb-a=6 --repeats 3

Brings up a resource-limited testbed (its own prefix and data directory), measures the profile
on its first host (``galileo profile --testbed``, every composition up to ``--max-per-node``),
then runs ``galileo sched validate`` with that table, both through the real CLI, and takes the
testbed down. Prints the validation's tables and one JSON line: wall times (goal: the
validation of 3 schedulers × 12 instances on 4 hosts ≤ 10 min), per scheduler predicted and
measured mean with the 95 % CI, MAE, Kendall tau, and whether the measured best scheduler is
the predicted best (else by how much the predicted best trails it, measured). The machine is
shared: say how loaded it was (``loadavg_at_start``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from galileo.testbed import Testbed
from galileo.testbed.cgroups import Resources


def galileo(data_dir: Path, *args: str) -> float:
    """Run ``galileo ARGS`` (output through), return its wall time; exit on failure."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env["galileo_data_dir"] = str(data_dir)
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "galileo", *args], env=env, check=False)
    if done.returncode:
        sys.exit(f"galileo {' '.join(args)} failed with exit code {done.returncode}")
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schedulers", default="greedy,round-robin,medea")
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--cpus", default="0.25", help="CPU quota per host (sum ≤ one core)")
    ap.add_argument("--apps", default="checksum,ycsb-a")
    ap.add_argument("--batch", default="checksum=6,ycsb-a=6")
    ap.add_argument("--max-per-node", default="4")
    ap.add_argument("--repeats", default="3")
    ap.add_argument("--duration", default="2")
    ap.add_argument("--prefix", default="gbv")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "galileo-sched-validate"),
                    help="where the CSV files and the PNG are copied")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="galileo-bench-validate-") as tmp:
        data = Path(tmp)
        t0 = time.monotonic()
        Testbed.down_prefix(data, args.prefix)
        with Testbed.up(args.hosts, data_dir=data, prefix=args.prefix,
                        resources=Resources.parse(args.cpus)):
            up_s = time.monotonic() - t0
            profile_s = galileo(data, "profile", *args.apps.split(","), "--testbed",
                                args.prefix, "--max-per-node", args.max_per_node,
                                "--duration", args.duration, "--warmup", "1",
                                "--out", str(data / "prof"))
            validate_s = galileo(data, "sched", "validate", "--table",
                                 str(data / "prof" / "profile.npz"), "--prefix", args.prefix,
                                 "--schedulers", args.schedulers, "--batch", args.batch,
                                 "--repeats", args.repeats, "--duration", args.duration,
                                 "--out", str(data / "val"))
            with (data / "val" / "schedulers.csv").open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            with (data / "val" / "solo.csv").open(newline="") as fh:
                solo = list(csv.DictReader(fh))
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for name in ("schedulers.csv", "instances.csv", "solo.csv", "validate.png"):
                (out / name).write_bytes((data / "val" / name).read_bytes())
    from galileo.evaluation.stats import kendall_tau, mae

    pred = {r["scheduler"]: float(r["predicted_mean"]) for r in rows}
    meas = {r["scheduler"]: float(r["measured_mean"]) for r in rows}
    best_p, best_m = max(pred, key=pred.__getitem__), max(meas, key=meas.__getitem__)
    print(json.dumps({
        "benchmark": "sched_validate", "hosts": args.hosts, "cpus_per_host": args.cpus,
        "batch": args.batch, "schedulers": args.schedulers, "repeats": int(args.repeats),
        "testbed_up_s": round(up_s, 1), "profile_s": round(profile_s, 1),
        "validate_s": round(validate_s, 1), "wall_s": round(time.monotonic() - t0, 1),
        "predicted": pred, "measured": meas,
        "ci95": {r["scheduler"]: [float(r["ci95_low"]), float(r["ci95_high"])] for r in rows},
        "mae_per_scheduler_mean": {r["scheduler"]: float(r["mae"]) for r in rows},
        "scheduler_mean_abs_error": round(mae(list(pred.values()), list(meas.values())), 4),
        "kendall_tau": kendall_tau(list(pred.values()), list(meas.values())),
        "predicted_best": best_p, "measured_best": best_m, "same_best": best_p == best_m,
        "measured_gap_of_predicted_best": round(meas[best_m] - meas[best_p], 4),
        "generators_kept_up": all(s["generator_kept_up"] == "True" for s in solo),
        "loadavg_at_start": round(load, 1), "outputs": str(out.resolve()),
    }))


if __name__ == "__main__":
    main()
