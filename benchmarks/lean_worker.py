"""The lean worker install (`pip install galileo`, no extras), measured in a fresh venv.

    .venv/bin/python benchmarks/lean_worker.py [--redis-url redis://127.0.0.1:6379/0]

Prints: installed size (site-packages without pip), package count (without pip), idle RSS of a
running `galileo worker --processes 1` (its main process, and with its load process), and the
median wall and CPU time of `galileo worker --help` over 15 runs.
Goals: <= 80 MB, <= 25 packages, <= 50 MB idle RSS, <= 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import tempfile
import time
import venv
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build_venv(root: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(root)
    subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", str(REPO)], check=True)
    return root


def installed(root: Path) -> tuple[float, int]:
    """(MB installed without pip, packages without pip)."""
    site = next((root / "lib").glob("python3*/site-packages"))
    pip_size = sum(_dir_size(p) for p in site.glob("pip*"))
    out = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "list", "--format", "json",
                          "--disable-pip-version-check"], capture_output=True, text=True,
                         check=True)
    names = {p["name"].lower() for p in json.loads(out.stdout)} - {"pip"}
    return (_dir_size(site) - pip_size) / 1e6, len(names)


def help_times(root: Path, runs: int = 15) -> tuple[float, float]:
    """Median (wall s, CPU s) of `galileo worker --help`."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([str(root / "bin" / "galileo"), "worker", "--help"],
                       stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def idle_rss(root: Path, redis_url: str) -> tuple[float, float]:
    """(MB of the worker's main process, MB of it plus its load process), idle for 5 s."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update(galileo_redis_url=redis_url, galileo_namespace="bench-lean",
               galileo_worker_name="lean-bench")
    proc = subprocess.Popen([str(root / "bin" / "galileo"), "worker", "--processes", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)
        main = psutil.Process(proc.pid)
        everything = [main, *main.children(recursive=True)]
        rss = [p.memory_info().rss / 1e6 for p in everything]
        return rss[0], sum(rss)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def lean_worker_figures(redis_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = build_venv(Path(tmp) / "venv")
        size_mb, packages = installed(root)
        wall, cpu = help_times(root)
        main_rss, total_rss = idle_rss(root, redis_url)
    return {"installed_mb": round(size_mb, 1), "packages": packages,
            "idle_rss_main_mb": round(main_rss, 1), "idle_rss_with_load_process_mb":
            round(total_rss, 1), "worker_help_wall_s": round(wall, 3),
            "worker_help_cpu_s": round(cpu, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    console = Console()
    with console.status("building a fresh venv with `pip install galileo` …"):
        figures = lean_worker_figures(args.redis_url)
    table = Table("figure", "goal", "measured", title="lean worker install")
    goals = {"installed_mb": "<= 80 MB", "packages": "<= 25", "idle_rss_main_mb": "<= 50 MB",
             "idle_rss_with_load_process_mb": "-", "worker_help_wall_s": "<= 0.5 s",
             "worker_help_cpu_s": "-"}
    for key, value in figures.items():
        table.add_row(key, goals[key], str(value))
    console.print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
