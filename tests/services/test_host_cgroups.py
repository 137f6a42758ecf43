"""Cgroup drivers: v2 against a directory tree laid out like the unified hierarchy (this
machine has no v2 controllers), v1 against the real hierarchy (root)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from galileo.errors import ConfigError, ValidationError
from galileo.testbed.cgroups import Cgroups, Resources, detect, parse_memory


def _mounts(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "mounts"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_v2_writes_cpu_max_and_memory_max_and_delegates_controllers(tmp_path: Path) -> None:
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    cg = detect(_mounts(tmp_path, [f"cgroup2 {root} cgroup2 rw 0 0"]))
    assert cg.version == 2
    cg.create("galileo/tb/h1", Resources.parse("0.25", "512M"))
    assert (root / "galileo/tb/h1/cpu.max").read_text() == "25000 100000"
    assert (root / "galileo/tb/h1/memory.max").read_text() == str(512 << 20)
    for parent in (root, root / "galileo", root / "galileo/tb"):
        assert (parent / "cgroup.subtree_control").read_text() == "+cpu +memory"
    limits = cg.limits("galileo/tb/h1")
    assert (limits.cpus, limits.memory) == (0.25, 512 << 20)
    (root / "galileo/tb/h1/cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (root / "galileo/tb/h1/memory.current").write_text("4096\n")
    usage = cg.usage("galileo/tb/h1")
    assert (usage.cpu_usec, usage.memory) == (1500.0, 4096)


def test_v1_is_chosen_when_the_unified_hierarchy_has_no_controllers(tmp_path: Path) -> None:
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("hugetlb\n")
    lines = [f"cgroup2 {unified} cgroup2 rw 0 0"] + [
        f"cgroup {tmp_path / c} cgroup rw,{c} 0 0" for c in ("cpu", "cpuacct", "memory")]
    assert detect(_mounts(tmp_path, lines)).version == 1
    with pytest.raises(ConfigError, match="no cgroup hierarchy"):
        detect(_mounts(tmp_path, [f"cgroup2 {unified} cgroup2 rw 0 0"]))


def test_v1_limits_on_this_machine() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        cg: Cgroups = detect()
    except ConfigError as e:
        pytest.skip(str(e))
    rel = f"galileo/test-{uuid.uuid4().hex[:8]}"
    try:
        cg.create(rel, Resources.parse(0.5, "64M"))
        limits = cg.limits(rel)
        assert (limits.cpus, limits.memory) == (0.5, 64 << 20)
        assert cg.pids(rel) == []
    finally:
        cg.remove(rel)
    assert not cg.exists(rel)


def test_sizes_and_resources_parse_or_say_why() -> None:
    assert parse_memory("512M") == 512 << 20
    assert parse_memory("1.5g") == 3 << 29
    assert Resources.parse_pair("1,512M", "x") == Resources(1.0, 512 << 20)
    with pytest.raises(ValidationError, match="--cpus must be between"):
        Resources.parse("0")
    with pytest.raises(ValidationError, match="pico1=x: --cpus 'x' is not a number"):
        Resources.parse_pair("x", "pico1=x")


def test_telemd_reports_a_hosts_cgroup_as_the_nodes_figures() -> None:
    """``telemd --node-cgroup``: ram against the cgroup's limit, cpu against its quota."""
    import subprocess
    import sys
    import time

    from galileo.telemetry.cgroups import NodeCgroupInstrument
    from galileo.testbed.processes import join_cgroups

    if os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        cg = detect()
    except ConfigError as e:
        pytest.skip(str(e))
    rel = f"galileo/test-{uuid.uuid4().hex[:8]}"
    cg.create(rel, Resources.parse(0.5, "256M"))
    procs = [d / "cgroup.procs" for d in cg.dirs(rel).values()]
    busy = subprocess.Popen([sys.executable, "-c", "x = bytearray(32 << 20)\nwhile True: pass"],
                            preexec_fn=join_cgroups(procs))
    try:
        inst = NodeCgroupInstrument(rel)
        inst.sample(time.time_ns())
        time.sleep(1.0)
        readings = {(m, s): v for m, s, v, _w in inst.sample(time.time_ns())}
        assert readings[("ram", "used")] + readings[("ram", "available")] == 256 << 20
        assert readings[("ram", "used")] >= 32 << 20
        assert 0.0 < readings[("cpu", "")] <= 100.0
    finally:
        busy.kill()
        busy.wait()
        cg.remove(rel)
