"""Cgroup v2 readings against a real cgroup (when the machine lets us create one) and the
container discovery rules on a directory tree shaped like Docker's and Kubernetes'."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo.telemetry.cgroups import (
    CgroupInstrument,
    cgroup2_mount,
    discover_containers,
    read_cgroup,
)


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


@pytest.fixture
def real_cgroup() -> Iterator[Path]:
    """A fresh child cgroup in the real cgroup v2 hierarchy, removed after the test."""
    mount = cgroup2_mount()
    if mount is None:
        pytest.skip("this machine has no cgroup v2 hierarchy mounted")
    path = mount / f"galileo-test-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir()
    except OSError as e:
        pytest.skip(f"cannot create a cgroup under {mount}: {e.strerror}")
    yield path
    for _ in range(50):  # rmdir fails with EBUSY until the killed process is gone
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.02)


def test_cpu_of_a_process_in_a_real_cgroup(real_cgroup: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        try:
            (real_cgroup / "cgroup.procs").write_text(str(proc.pid))
        except OSError as e:
            pytest.skip(f"cannot move a process into {real_cgroup}: {e.strerror}")
        inst = CgroupInstrument({"spin": real_cgroup}, discover=False)
        t0 = time.time_ns()
        assert all(m == "cgrp_memory" for m, *_ in inst.sample(t0))  # baseline: no window yet
        _busy(0.3)
        t1 = time.time_ns()
        readings = {m: (v, w) for m, s, v, w in inst.sample(t1) if s == "spin"}
        cpu, window = readings["cgrp_cpu"]
        assert window == t1 - t0
        assert 5.0 < cpu <= 105.0  # percent of one core
        counters = read_cgroup(real_cgroup)
        assert counters.cpu_usec is not None and counters.cpu_usec > 0
        if (real_cgroup / "memory.current").exists():
            assert readings["cgrp_memory"][0] > 0
    finally:
        proc.kill()
        proc.wait()
        with contextlib.suppress(OSError):  # hand the cgroup back empty
            (real_cgroup.parent / "cgroup.procs").write_text(str(os.getpid()))


def test_discovers_docker_and_kubernetes_containers(tmp_path: Path) -> None:
    def cgroup(rel: str, usage: int) -> None:
        d = tmp_path / rel
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text("")
        (d / "cpu.stat").write_text(f"usage_usec {usage}\nuser_usec 1\n")
        (d / "memory.current").write_text("4096\n")
        (d / "io.stat").write_text("8:0 rbytes=100 wbytes=200 rios=1 wios=2\n"
                                   "8:16 rbytes=1 wbytes=2 rios=1 wios=1\n")

    cgroup("system.slice/docker-" + "a" * 64 + ".scope", 10)
    cgroup("docker/" + "b" * 64, 10)
    pod = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice"
    cgroup(pod + "/cri-containerd-" + "c" * 64 + ".scope", 10)
    cgroup("kubepods/besteffort/pod99/" + "d" * 64, 10)
    found = discover_containers(tmp_path)
    assert found.keys() == {"docker:" + "a" * 12, "docker:" + "b" * 12,
                            "kubernetes:" + "c" * 12, "kubernetes:" + "d" * 12}
    inst = CgroupInstrument(root=tmp_path)
    first = inst.sample(1_000_000_000)
    assert {(m, s) for m, s, _, _ in first} == {
        ("docker_cgrp_memory", "a" * 12), ("docker_cgrp_memory", "b" * 12),
        ("kubernetes_cgrp_memory", "c" * 12), ("kubernetes_cgrp_memory", "d" * 12)}
    counters = read_cgroup(tmp_path / "docker" / ("b" * 64))
    assert (counters.read, counters.write, counters.memory) == (101.0, 202.0, 4096.0)
    (tmp_path / "docker" / ("b" * 64) / "cpu.stat").write_text("usage_usec 500010\n")
    second = {(m, s): (v, w) for m, s, v, w in inst.sample(2_000_000_000)}
    assert second["docker_cgrp_cpu", "b" * 12] == (pytest.approx(50.0), 1_000_000_000)
    assert second["docker_cgrp_cpu", "a" * 12] == (0.0, 1_000_000_000)
    assert second["kubernetes_cgrp_read", "c" * 12] == (0.0, 1_000_000_000)
