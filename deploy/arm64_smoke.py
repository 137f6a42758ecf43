"""``make images-arm64`` (after the build): the arm64 worker image runs under qemu-user-static
emulation, registers against a Redis and sends a group's requests.

On a podman network of its own: the Redis stand-in and an echo service (amd64 images) and the
arm64 worker (``localhost/galileo-worker:latest-arm64``, named ``arm64-1``). This script (the
controller, with the host's Galileo) waits for the worker, checks it runs aarch64 code, routes
``echo`` to the echo container, sends a group's requests through the worker and stops it
(SIGTERM, timed). One JSON line; exit 0 when every check passed. Everything it made is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from galileo.control.galileo import Galileo
from galileo.settings import Settings

DEPLOY = Path(__file__).resolve().parent
WORKER_IMAGE = "localhost/galileo-worker:latest-arm64"
REQUESTS = 50


def engine_env() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f". {DEPLOY}/engine.sh && env -0"], check=True,
                         capture_output=True, text=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def main() -> int:
    env = {**os.environ, **engine_env()}
    engine = env["ENGINE"]
    prefix = f"garm{os.getpid()}"

    def podman(*argv: str, check: bool = True, timeout: float = 300) -> str:
        proc = subprocess.run([engine, *argv], env=env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode:
            raise RuntimeError(f"{engine} {' '.join(argv[:3])}: {proc.stderr.strip()[-300:]}")
        return proc.stdout

    summary: dict[str, Any] = {"bench": "arm64-worker", "ok": False}
    t0 = time.monotonic()
    try:
        summary["image_arch"] = podman("image", "inspect", "--format", "{{.Architecture}}",
                                       WORKER_IMAGE).strip()
        summary["image_mb"] = round(int(podman("image", "inspect", "--format", "{{.Size}}",
                                               WORKER_IMAGE)) / 1e6, 1)
        podman("network", "create", prefix)
        podman("run", "-d", "--name", f"{prefix}-redis", "--network", prefix,
               "localhost/galileo-redis:7", "redis-server", "--protected-mode", "no",
               "--save", "")
        podman("run", "-d", "--name", f"{prefix}-echo", "--network", prefix,
               "localhost/galileo:latest", "app", "serve", "echo", "--host", "0.0.0.0",
               "--port", "8080")
        podman("run", "-d", "--name", f"{prefix}-worker", "--network", prefix, "--arch",
               "arm64", "-e", f"galileo_redis_url=redis://{prefix}-redis:6379/0",
               "-e", "galileo_worker_name=arm64-1", "-e", "galileo_label_zone=pi",
               WORKER_IMAGE, "worker")
        summary["machine"] = podman("exec", f"{prefix}-worker", "uname", "-m").strip()
        ip = podman("inspect", "--format",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                    f"{prefix}-redis").split()[0]
        g = Galileo.from_settings(Settings(redis_url=f"redis://{ip}:6379/0"))
        try:
            t = time.monotonic()
            deadline = t + 180
            while time.monotonic() < deadline and "arm64-1" not in [w.name for w in g.workers()]:
                time.sleep(0.5)
            workers = g.workers()
            summary["registered_s"] = round(time.monotonic() - t, 1)
            summary["workers"] = [w.name for w in workers]
            if "arm64-1" not in summary["workers"]:
                raise RuntimeError("the arm64 worker did not register within 180 s: "
                                   + podman("logs", "--tail", "5", f"{prefix}-worker",
                                            check=False))
            g.rtbl.set("echo", [f"{prefix}-echo:8080"], [1])
            group = g.spawn("echo", num=2, request={"path": "/echo"})
            t = time.monotonic()
            summary["requests"] = group.request(n=REQUESTS).wait(timeout=120)
            summary["requests_s"] = round(time.monotonic() - t, 2)
            group.close()
        finally:
            g.close()
        t = time.monotonic()
        podman("stop", "--time", "10", f"{prefix}-worker")
        summary["stop_s"] = round(time.monotonic() - t, 2)
        summary["exit_code"] = int(podman("inspect", "--format", "{{.State.ExitCode}}",
                                          f"{prefix}-worker").strip())
        summary["ok"] = (summary["machine"] == "aarch64" and summary["image_arch"] == "arm64"
                         and summary["requests"] == {"done": REQUESTS, "errors": 0}
                         and summary["exit_code"] == 0)
    except (RuntimeError, subprocess.TimeoutExpired, TimeoutError) as e:
        summary["error"] = str(e)
    finally:
        for role in ("worker", "echo", "redis"):
            podman("rm", "-f", "-t", "0", f"{prefix}-{role}", check=False)
        podman("network", "rm", "-f", prefix, check=False)
    summary["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(summary, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
