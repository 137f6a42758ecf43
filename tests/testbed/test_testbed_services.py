"""Hosts with resources and services on a real 2-host testbed: each host in a cgroup with its
quota, node agents inside, services placed, routed across hosts, moved off a cut host."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbedhelpers import running_testbed

from galileo.control.galileo import Galileo
from galileo.testbed import Testbed
from galileo.testbed.cgroups import Resources
from galileo.testbed.render import status_rows
from waiting import until

P = "gtsv"
H1, H2 = f"{P}1", f"{P}2"


@pytest.fixture(scope="module")
def tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    with running_testbed(tmp_path_factory.mktemp("tb"), P, 2, resources=Resources.parse(0.5),
                         host_resources={H2: Resources.parse(1, "512M")}) as testbed:
        yield testbed


@pytest.fixture(scope="module")
def g(tb: Testbed) -> Iterator[Galileo]:
    with Galileo.from_settings(tb.settings()) as galileo:
        yield galileo


def test_every_process_of_a_host_runs_inside_its_limited_cgroup(tb: Testbed) -> None:
    cg = tb.cgroups()
    h1, h2 = tb.state.host(H1), tb.state.host(H2)
    assert cg.limits(h1.cgroup) == Resources(0.5, None, cg.limits(h1.cgroup).cpuset)
    assert (cg.limits(h2.cgroup).cpus, cg.limits(h2.cgroup).memory) == (1.0, 512 << 20)
    inside = set(cg.pids(h1.cgroup, recursive=True))
    for proc in tb.state.processes_of(H1):  # worker, telemd, echo, node agent
        assert proc.pid in inside or any(c.pid in inside for c in _children(proc.pid)), proc.role
    rows = {r["host"]: r for r in status_rows(tb)}
    assert rows[H1]["limits"] == "0.5 CPU, no memory limit"
    assert rows[H2]["limits"] == "1 CPU, 512M" and "CPU" in rows[H2]["use"]


def _children(pid: int) -> list:  # type: ignore[type-arg]
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def test_services_are_placed_routed_and_moved_off_a_cut_host(tb: Testbed, g: Galileo) -> None:
    g.services.run("kv", app="echo", replicas=3, cpus=0.25)
    endpoints = g.services.wait("kv", 60)
    # spread: one on each host, the third where the larger share is free (H2: 1 CPU)
    assert sorted(e.split(":")[0] for e in endpoints) == [H1, H2, H2]
    # a client inside the testbed reaches every routed instance by name
    for endpoint in endpoints:
        done = tb.run(H1, ["python", "-c", "import sys, urllib.request; print(urllib.request."
                           f"urlopen('http://{endpoint}/health', timeout=5).status)"],
                      capture=True, timeout_s=30)
        assert done.stdout.strip() == "200", done.stderr
    # the instance's own cgroup is a child of its host's, with its own quota
    cg = tb.cgroups()
    inst = [d.name for d in Path(cg.dirs(tb.state.host(H1).cgroup)["cpu"]).iterdir()
            if d.name.startswith("i-")]
    assert len(inst) == 1
    assert cg.limits(f"{tb.state.host(H1).cgroup}/{inst[0]}").cpus == 0.25
    tb.partition(H2)
    try:
        t0 = time.monotonic()
        until(lambda: all(not h.startswith(H2) for h in _routed(g, "kv")), 15,
              "the cut host's instances leaving the routing record")
        left_after = time.monotonic() - t0
        # H1 has 0.25 CPU free: one replacement fits there, the third waits
        until(lambda: len(g.services.ready("kv")) == 2, 30, "a replacement on H1")
        assert left_after < 8.0, f"routed to a cut host for {left_after:.1f} s"
    finally:
        tb.heal(H2)
    g.services.remove("kv")
    until(lambda: not g.services.instances("kv"), 20, "every instance stopped after rm")


def _routed(g: Galileo, service: str) -> list[str]:
    record = g.rtbl.get(service)
    return list(record.hosts) if record else []


def test_a_scenario_deploys_its_services_before_the_load_and_removes_them_after(
        tb: Testbed, g: Galileo, tmp_path: Path) -> None:
    import yaml
    from testbedhelpers import expdb_rows

    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump({
        "name": "svc-scenario",
        "services": [{"name": "web", "app": "echo", "replicas": 2, "cpus": 0.2,
                      "max_per_host": 1},
                     {"name": "kept", "app": "echo", "keep": True}],
        "workloads": [{"service": "web", "clients": 1, "request": {"path": "/echo"},
                       "profile": {"type": "constant", "rps": 20},
                       "thresholds": ["error_rate < 0.01"]}],
        "duration": 2, "drain_s": 0.5}))
    done = tb.run("control", ["galileo", "run", str(path), "--id", "svc-run"], capture=True,
                  timeout_s=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert g.services.get("web") is None and g.rtbl.get("web") is None  # removed after
    assert g.services.get("kept") is not None  # keep: true
    hosts = {r["host"].split(":")[0] for r in expdb_rows(tb, "svc-run")}
    assert hosts == {H1, H2}  # the load reached both instances, one per host
    g.services.remove("kept")
