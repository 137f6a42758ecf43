"""``galileo testbed`` as a user meets it: the real CLI in subprocesses, bad input (one line,
exit 2, nothing left behind), and ``down`` cleaning up after an ``up`` killed half-way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbedhelpers import require_root

from galileo.errors import ValidationError
from galileo.testbed import Testbed, netns
from galileo.testbed.processes import alive
from galileo.testbed.state import owned_namespace
from waiting import until

PREFIX = "gtbl"  # the testbed the CLI tests share
BAD = "gtbx"  # bad input: never comes up
KILLED = "gtbk"  # an `up` killed half-way
REACH_REDIS = ["python", "-c", "import socket; socket.create_connection(('control', 6379), 1)"]


def _galileo(data_dir: Path, *args: str, wrap: list[str] | None = None,
             timeout: float = 100) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env["galileo_data_dir"] = str(data_dir)
    return subprocess.run([*(wrap or []), sys.executable, "-m", "galileo", "testbed", *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def _one_error_line(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines


def _leftovers(prefix: str) -> list[str]:
    names = [n for n in netns.list_namespaces() if owned_namespace(prefix, n)]
    if netns.NETNS_ETC.is_dir():
        names += [f"/etc/netns/{d.name}" for d in netns.NETNS_ETC.iterdir()
                  if owned_namespace(prefix, d.name)]
    return names


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    require_root()
    yield tmp_path
    for prefix in (BAD, KILLED):
        Testbed.down_prefix(tmp_path, prefix)


def test_without_privileges_every_subcommand_says_so(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None and os.geteuid() == 0:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_NET_ADMIN as root")
    wrap = ["setpriv", "--bounding-set=-net_admin,-sys_admin"] if os.geteuid() == 0 else []
    for args in (["up", "--hosts", "1"], ["run", "--", "true"]):  # all share one check
        _one_error_line(_galileo(tmp_path, args[0], "--prefix", BAD, *args[1:], wrap=wrap),
                        "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")
    assert not (tmp_path / "testbed").exists()


def test_bad_input_is_one_line_and_creates_nothing(data_dir: Path) -> None:
    cases = [  # through the CLI: one line, exit 2
        (["up", "--hosts", "0"], "--hosts must be between 1 and 200, got 0."),
        (["up", "--rate", "fast"], "--rate 'fast' is not a rate"),
        (["run", "--", "true"], f"no testbed {BAD!r} is up"),
    ]
    if not netns.netem_available():
        cases.append((["up", "--hosts", "1", "--delay", "10ms"], "this kernel has no tc netem"))
    for args, words in cases:
        _one_error_line(_galileo(data_dir, args[0], "--prefix", BAD, *args[1:]), words)
    # the same checks behind the Python API (ValidationError = exit 2)
    api_cases: list[tuple[dict[str, Any], str]] = [
        ({"hosts": 201}, "--hosts must be between 1 and 200"),
        ({"hosts": 1, "prefix": "Bad-"}, "--prefix 'Bad-' must be"),
        ({"hosts": 1, "zones": ["a b"]}, "zone 'a b' must be"),
        ({"hosts": 1, "service_delay": "soon"}, "--service-delay 'soon' is not a duration"),
    ]
    for kwargs, words in api_cases:
        with pytest.raises(ValidationError, match=words):
            Testbed.up(**{"data_dir": data_dir, "prefix": BAD, **kwargs})
    with pytest.raises(ValidationError, match=f"no testbed {BAD!r} is up"):
        Testbed.attach(data_dir, BAD)
    assert _leftovers(BAD) == []
    assert not (data_dir / "testbed" / BAD / "state.json").exists()
    done = _galileo(data_dir, "down", "--prefix", BAD)
    assert done.returncode == 0 and "nothing to remove" in done.stdout


@pytest.fixture(scope="module")
def cli_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``galileo testbed up --hosts 2`` through the CLI, once for the tests below."""
    require_root()
    data = tmp_path_factory.mktemp("cli")
    up = _galileo(data, "up", "--hosts", "2", "--prefix", PREFIX, "--zones", "a,b",
                  "--rate", "50mbit")
    try:
        assert up.returncode == 0, up.stderr
        yield data, json.loads((data / "testbed" / PREFIX / "state.json").read_text())
    finally:
        Testbed.down_prefix(data, PREFIX)


def test_up_starts_every_process_and_status_shows_them(
        cli_up: tuple[Path, dict[str, Any]]) -> None:
    data_dir, state = cli_up
    assert sorted(p["role"] for p in state["processes"]) == sorted(
        ["redis", "recorder"] + ["worker", "telemd", "echo", "node"] * 2)
    assert all(alive(p["pid"]) for p in state["processes"])
    _one_error_line(_galileo(data_dir, "up", "--hosts", "1", "--prefix", PREFIX),
                    f"testbed {PREFIX!r} is already up")
    _one_error_line(_galileo(data_dir, "partition", "nohost", "--prefix", PREFIX),
                    "unknown testbed host 'nohost' (hosts: control, gtbl1, gtbl2).")
    status = _galileo(data_dir, "status", "--prefix", PREFIX)
    assert status.returncode == 0
    ctl, h1 = state["control"]["address"], state["hosts"][0]["address"]
    for words in ("gtbl1", h1, "rate 50mbit", "worker:", "echo:", "redis:", "zone"):
        assert words in status.stdout, status.stdout
    doc = json.loads(_galileo(data_dir, "status", "--prefix", PREFIX, "--json").stdout)
    assert doc["redis_url"] == f"redis://{ctl}:6379/0"
    assert [(h["host"], h["zone"], h["link"]) for h in doc["hosts"]] == [
        ("control", "-", "unshaped"), ("gtbl1", "a", "rate 50mbit"), ("gtbl2", "b", "rate 50mbit")]


def test_run_executes_inside_a_host_with_the_testbed_environment(
        cli_up: tuple[Path, dict[str, Any]]) -> None:
    data_dir, state = cli_up
    run = _galileo(data_dir, "run", "--host", "gtbl2", "--prefix", PREFIX, "--",
                   "sh", "-c", "hostname; tc qdisc show dev eth0; getent hosts gtbl1 control; "
                               "echo $galileo_label_zone; exit 7")
    assert run.returncode == 7, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "gtbl2" and "tbf" in lines[1] and "rate 50Mbit" in lines[1]
    assert lines[2].split() == [state["hosts"][0]["address"], "gtbl1"]
    assert "control" in lines[3] and lines[4] == "b"
    workers = _galileo(data_dir, "run", "--prefix", PREFIX, "--", "galileo", "workers")
    assert workers.returncode == 0 and "gtbl1" in workers.stdout and "zone=a" in workers.stdout


def test_partition_heal_link_and_restart(cli_up: tuple[Path, dict[str, Any]]) -> None:
    data_dir, _ = cli_up
    assert _galileo(data_dir, "partition", "gtbl1", "--prefix", PREFIX).returncode == 0
    tb = Testbed.attach(data_dir, PREFIX)
    assert tb.state.host("gtbl1").partitioned
    assert tb.run("gtbl1", REACH_REDIS, capture=True).returncode != 0
    assert tb.run("gtbl2", REACH_REDIS, capture=True).returncode == 0
    assert _galileo(data_dir, "heal", "gtbl1", "--prefix", PREFIX).returncode == 0
    ok = tb.run("gtbl1", REACH_REDIS, capture=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    old_worker = next(p for p in tb.state.processes if (p.host, p.role) == ("gtbl1", "worker"))
    new_worker = tb.restart_process("gtbl1", "worker")
    assert not alive(old_worker.pid) and alive(new_worker.pid)
    assert new_worker.cmd == old_worker.cmd
    assert _galileo(data_dir, "link", "gtbl1", "--prefix", PREFIX).stdout.strip() == \
        "gtbl1: unshaped"
    assert "tbf" not in tb.run("gtbl1", ["tc", "qdisc", "show", "dev", "eth0"],
                               capture=True).stdout


def test_down_removes_everything_but_logs(cli_up: tuple[Path, dict[str, Any]]) -> None:
    data_dir, _ = cli_up
    pids = [p.pid for p in Testbed.attach(data_dir, PREFIX).state.processes]
    down = _galileo(data_dir, "down", "--prefix", PREFIX)
    assert down.returncode == 0 and "removed 4 namespaces" in down.stdout
    assert _leftovers(PREFIX) == []
    assert not any(alive(pid) for pid in pids)
    assert (data_dir / "testbed" / PREFIX / "logs" / "gtbl1-worker.log").exists()  # kept


def test_down_cleans_up_after_an_up_killed_half_way(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env["galileo_data_dir"] = str(data_dir)
    up = subprocess.Popen([sys.executable, "-m", "galileo", "testbed", "up", "--hosts", "2",
                           "--prefix", KILLED], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    state_path = data_dir / "testbed" / KILLED / "state.json"

    def some_processes_started() -> bool:
        try:
            return len(json.loads(state_path.read_text())["processes"]) >= 3
        except (OSError, ValueError):
            return False

    try:
        until(some_processes_started, 60, "the testbed's first processes")
    finally:
        up.send_signal(signal.SIGKILL)
        up.wait()
    pids = [p["pid"] for p in json.loads(state_path.read_text())["processes"]]
    assert any(alive(pid) for pid in pids)  # orphans of the killed `up`
    assert _leftovers(KILLED)
    text = state_path.read_text()
    state_path.write_text(text[: len(text) // 2])  # damaged too: `down` goes by listing alone
    start = time.monotonic()
    down = _galileo(data_dir, "down", "--prefix", KILLED)
    assert down.returncode == 0, down.stderr
    assert _leftovers(KILLED) == []
    until(lambda: not any(alive(pid) for pid in pids), 5, "the orphans to be gone")
    assert time.monotonic() - start < 30
    assert not state_path.exists()
