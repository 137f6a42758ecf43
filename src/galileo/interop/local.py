"""Local etcd and InfluxDB 1.x servers on free ports in a directory of their own, for tests,
benchmarks and demos (Debian's ``etcd-server``/``etcd-client`` and ``influxdb`` packages)."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from galileo.localenv import free_port

__all__ = ["LocalEtcd", "LocalInflux"]


def _wait_http(url: str, timeout_s: float, method: str = "GET", body: bytes | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, body, method=method)
            with urllib.request.urlopen(request, timeout=1):
                return
        except Exception as e:  # not up yet
            last = e
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s: {last}")


@dataclass
class LocalEtcd:
    """One etcd member; :meth:`restart` can wipe its data (an etcd that comes back empty)."""

    data_dir: Path
    log: Path
    port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["etcd", "--name", "t", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"t={peer}", "--log-level", "error"],
                stdout=log, stderr=subprocess.STDOUT)
        _wait_http(self.url + "/v3/kv/range", 20, "POST", b'{"key": "AA=="}')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self, *, wipe: bool) -> None:
        self.stop()
        if wipe:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.start()

    def get_prefix(self, prefix: str) -> dict[str, object]:
        """Keys under ``prefix`` read with etcd's own client, etcdctl."""
        out = subprocess.run(["etcdctl", "--endpoints", self.url, "get", "--prefix", prefix,
                              "-w", "json"], capture_output=True, text=True, check=True,
                             env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
        kvs = json.loads(out.stdout).get("kvs", [])
        return {base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv["value"]))
                for kv in kvs}


@dataclass
class LocalInflux:
    """One influxd 1.x with HTTP on ``port``, data in a temp dir."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.root / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{self.root}/meta"\n'
            f'[data]\n  dir = "{self.root}/data"\n  wal-dir = "{self.root}/wal"\n'
            f'  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            f'[monitor]\n  store-enabled = false\n')
        with (self.root / "influxd.log").open("ab") as log:
            self.proc = subprocess.Popen(["influxd", "-config", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT)
        _wait_http(self.url + "/ping", 30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def query(self, q: str, db: str = "galileo") -> list[dict[str, object]]:
        """Rows of an InfluxQL query, as dicts (one list for all series)."""
        from urllib.parse import urlencode

        url = f"{self.url}/query?{urlencode({'db': db, 'q': q, 'epoch': 'ns'})}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            answer = json.loads(resp.read())
        rows: list[dict[str, object]] = []
        for result in answer.get("results", []):
            assert "error" not in result, result
            for series in result.get("series", []):
                tags = series.get("tags", {})
                for values in series["values"]:
                    rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return rows
