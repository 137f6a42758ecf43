"""``examples/analysis.ipynb`` executed (nbclient, a real kernel) on runs this test records with
real parts: three ``galileo app serve`` processes (checksum on two ports, echo on a third), a
worker, a recorder and a telemd watching the servers, SQLite as the expdb. The notebook's
figures must be the run's: request counts and latencies per host recomputed here from the
database, CPU per request from the telemd samples, throughput against the solo runs."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from galileo.control.galileo import Galileo
from galileo.localenv import ProcessGroup, wait_for_port
from galileo.settings import Settings
from galileo.storage import ExpDB
from waiting import until

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "analysis.ipynb"
CHECKSUM = {"path": "/checksum?kib=512"}
ECHO = {"method": "POST", "path": "/echo", "body": b"hello"}
RATE = 40.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(settings: Settings) -> Iterator[tuple[Galileo, list[str], str]]:
    """Servers, worker, recorder and telemd running; routes set: checksum over two hosts."""
    ports = [_free_port() for _ in range(3)]
    procs = ProcessGroup(settings)
    g = Galileo.from_settings(settings)
    try:
        for i, (service, port) in enumerate(zip(("checksum", "checksum", "echo"), ports,
                                                strict=True)):
            procs.start(f"app-{i}", ["app", "serve", service, "--port", str(port)])
        procs.start("worker", ["worker", "--name", "nb-worker", "--processes", "1"])
        procs.start("recorder", ["recorder"])
        procs.start("telemd", ["telemd", "--node", "nb-node", "--period", "0.2", "--no-topics",
                               "--no-containers", "--instruments", "cpu,proc",
                               "--proc", "checksum=app serve checksum",
                               "--proc", "echo=app serve echo"])
        for port in ports:
            wait_for_port("127.0.0.1", port, 60)
        until(lambda: [w.name for w in g.workers()] == ["nb-worker"], 30, "the worker")
        checksum_hosts = [f"127.0.0.1:{p}" for p in ports[:2]]
        g.rtbl.set("checksum", checksum_hosts, [1, 1])
        g.rtbl.set("echo", [f"127.0.0.1:{ports[2]}"], [1])
        yield g, checksum_hosts, f"127.0.0.1:{ports[2]}"
    finally:
        for group in g.groups():
            group.close()
        procs.stop_all()
        g.close()


def _record(g: Galileo, db: ExpDB, name: str, services: dict[str, dict[str, Any]],
            seconds: float) -> str:
    exp_id = g.experiment.start(name=name)
    groups = [g.spawn(s, 1, request=req, rps=RATE) for s, req in services.items()]
    time.sleep(seconds)
    for group in groups:
        group.close()
    g.experiment.stop()
    expected = int(RATE * seconds * len(services) * 0.8)
    until(lambda: db.count_traces(exp_id) >= expected, 20, f"{expected} traces of {name}")
    return exp_id


def _run_notebook(env: dict[str, str], cwd: Path) -> Any:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def _outputs(nb: Any) -> tuple[list[str], int]:
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"a cell raised: {out.get('ename')}"
            if out.get("output_type") == "stream":
                texts.append(out["text"])
            images += "image/png" in out.get("data", {})
    return texts, images


def test_notebook_shows_the_recorded_run(lab: tuple[Galileo, list[str], str],
                                         settings: Settings, tmp_path: Path) -> None:
    g, checksum_hosts, _echo_host = lab
    url = f"sqlite:///{settings.expdb_sqlite_path}"
    with ExpDB(url) as db:
        solo_checksum = _record(g, db, "solo-checksum", {"checksum": CHECKSUM}, 2.0)
        solo_echo = _record(g, db, "solo-echo", {"echo": ECHO}, 2.0)
        run = _record(g, db, "colocated", {"checksum": CHECKSUM, "echo": ECHO}, 3.0)
        until(lambda: any(t["metric"] == "proc_cpu" for t in db.telemetry(run)), 20,
              "proc_cpu telemetry of the co-located run")
        time.sleep(0.5)  # the last traces and samples of the run
        traces = db.traces(run)

    nb = _run_notebook({"ANALYSIS_EXPDB_URL": url, "ANALYSIS_RUN": run,
                        "ANALYSIS_SERVICE": "checksum",
                        "ANALYSIS_SOLO": f"checksum={solo_checksum},echo={solo_echo}"}, tmp_path)
    nbformat.write(nb, tmp_path / "analysis.ipynb")  # to look at after a run (--basetemp)
    texts, images = _outputs(nb)
    summary = json.loads([t for t in texts if t.startswith('{"run"')][-1])

    assert summary["run"] == run and summary["requests"] == len(traces)
    assert summary["services"] == ["checksum", "echo"]
    # per-node comparison of checksum, served by two hosts
    assert set(summary["by_node"]) == set(checksum_hosts)
    for host, row in summary["by_node"].items():
        mine = [t for t in traces if t["host"] == host and t["service"] == "checksum"]
        assert row["requests"] == len(mine) > 0
        lat = np.array([(t["done_ns"] - t["sent_ns"]) / 1e6 for t in mine if t["status"] == 200])
        assert row["p50_ms"] == pytest.approx(np.quantile(lat, 0.5), rel=1e-9)
        assert row["p99_ms"] == pytest.approx(np.quantile(lat, 0.99), rel=1e-9)
    compared = summary["comparison"]["requests"]
    assert {compared["a"], compared["b"]} == {r["requests"] for r in summary["by_node"].values()}
    assert compared["difference"] == compared["b"] - compared["a"]
    # CPU per request from the telemd samples of the server processes: real, positive, finite
    for name in ("checksum", "echo"):
        cpu = summary["cpu"][name]
        assert cpu["requests"] > 0 and cpu["cpu_s"] > 0
        assert 0 < cpu["cpu_ms_per_request"] < 1000
    # co-location: the co-located throughput is this run's requests over its span
    for name in ("checksum", "echo"):
        ok = [t for t in traces if t["service"] == name and t["status"] == 200]
        span_s = (max(t["done_ns"] for t in ok) - min(t["sent_ns"] for t in ok)) / 1e9
        row = summary["impact"][name]
        assert row["colocated_rps"] == pytest.approx(len(ok) / span_s, rel=1e-9)
        assert row["normalized"] == pytest.approx(row["colocated_rps"] / row["solo_rps"])
        assert 0.5 < row["normalized"] < 1.5  # the same open-loop rate alone and together
    assert images >= 6  # latency, rate, latency per host, process CPU, node CPU, co-location
