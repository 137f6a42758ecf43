"""Node agents (real ``galileo node`` processes, real cgroups) and the reconciler on the test
Redis: limits applied, routing that follows instances, restarts, refusals, failures, faults."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import psutil
import pytest
from svchelpers import AgentStarter, agent_env, wait_until

from galileo.control.galileo import Galileo
from galileo.control.state import StateKeeper
from galileo.errors import GalileoError, NotFoundError
from galileo.protocol import (
    EventField,
    InstanceSpec,
    InstanceState,
    TelemetryField,
    decode_event,
    decode_telemetry_batch,
    encode,
)
from galileo.services.reconciler import Reconciler
from galileo.settings import Settings
from galileo.testbed.cgroups import detect

BUSY = ("import socket, sys\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "x = 0\n"
        "while True:\n    x += 1\n")


def _commands(tmp_path: Path) -> Path:
    path = tmp_path / "commands.yaml"
    path.write_text(msgspec.json.encode({
        "busy": [sys.executable, "-c", BUSY, "{port}"],
        "quit": [sys.executable, "-c", "import sys; print('bad config'); sys.exit(3)"],
    }).decode())
    path.rename(path.with_suffix(".json"))
    return path.with_suffix(".json")


def _events(g: Galileo, kind: str) -> list[dict[str, object]]:
    out = []
    for _id, fields in g.redis.xrange(g.keys.events):
        event = decode_event(fields[EventField])
        if event.kind == kind:
            out.append({"name": event.name, **event.data})
    return out


def _get(endpoint: str, path: str = "/health") -> int:
    host, _, port = endpoint.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _pid(g: Galileo, service: str, endpoint: str) -> int:
    [status] = [s for s in g.services.instances(service) if s.endpoint == endpoint]
    return status.pid


def test_an_instance_at_a_quarter_cpu_uses_at_most_0_3_of_a_core(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler, tmp_path: Path) -> None:
    """A CPU-bound instance at cpus=0.25 next to an unlimited one (the control: it shows what
    the busy loop takes without a quota). Both get a large CPU weight so that the load of a
    shared machine does not cap them below 0.3 anyway."""
    start_agent("n1", "--commands", str(_commands(tmp_path)))
    g.services.run("busy", command="busy", cpus=0.25, health="")
    g.services.run("free", command="busy", health="")
    [limited] = g.services.wait("busy", 20)
    [free] = g.services.wait("free", 20)
    with _high_cpu_weight(f"galileo/node-n1-{g.keys.ns[-6:]}"):
        procs = [psutil.Process(_pid(g, s, e)) for s, e in (("busy", limited), ("free", free))]
        before, t0 = [p.cpu_times() for p in procs], time.monotonic()
        time.sleep(2.0)
        after, elapsed = [p.cpu_times() for p in procs], time.monotonic() - t0
    used = [(a.user + a.system - b.user - b.system) / elapsed
            for a, b in zip(after, before, strict=True)]
    if used[1] < 0.45:
        pytest.skip(f"machine too busy to tell: an unlimited busy loop got {used[1]:.2f} cores")
    assert 0.1 < used[0] <= 0.3, f"a cpus=0.25 instance used {used[0]:.2f} cores"


@contextlib.contextmanager
def _high_cpu_weight(node_cgroup: str) -> Iterator[None]:
    """Raise the CPU weight of the node's cgroup and its parents (v1 cpu.shares / v2
    cpu.weight) for the block."""
    cg = detect()
    files = []
    parts = node_cgroup.split("/")
    for i in range(1, len(parts) + 1):
        for d in cg.dirs("/".join(parts[:i])).values():
            name = "cpu.weight" if cg.version == 2 else "cpu.shares"
            if (d / name).exists():
                files.append((d / name, (d / name).read_text()))
                (d / name).write_text("10000" if cg.version == 2 else "262144")
    try:
        yield
    finally:
        for path, old in files:
            with contextlib.suppress(OSError):
                path.write_text(old.strip())


def test_replicas_are_spread_routed_restarted_and_measured(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler) -> None:
    start_agent("n1")
    start_agent("n2")
    g.services.run("web", app="echo", replicas=2, cpus=0.5)
    endpoints = g.services.wait("web", 30)
    assert len({s.node for s in g.services.instances("web")}) == 2  # spread: one per node
    assert all(_get(e) == 200 for e in endpoints)
    places = _events(g, "instance_place")
    assert len(places) == 2 and all("spread" in str(p["reason"]) for p in places)
    victim = endpoints[0]
    os.kill(_pid(g, "web", victim), signal.SIGKILL)
    t0 = time.monotonic()
    wait_until(lambda: victim not in _routed(g, "web"), 2.0,
               "the killed instance leaving the routing record")
    gone_after = time.monotonic() - t0
    assert gone_after < 1.0, f"a dead instance stayed routed {gone_after:.2f} s"
    g.services.wait("web", 20)  # restarted in place, routed again
    [restarted] = [s for s in g.services.instances("web") if s.endpoint == victim]
    assert restarted.restarts == 1 and restarted.exit_code == -9
    assert any(e["state"] == "backoff" for e in _events(g, "instance_state"))
    # per-instance CPU and memory go to the telemetry stream, named service@host:port
    wait_until(lambda: _svc_metrics(g, f"web@{victim}") >= {"svc_cpu", "svc_memory"}, 5,
               "per-instance telemetry")
    g.services.scale("web", 1)
    g.services.wait("web", 10)
    g.services.remove("web")
    wait_until(lambda: not g.services.instances("web"), 10, "instances gone after rm")
    assert g.rtbl.get("web") is None


def _routed(g: Galileo, service: str) -> list[str]:
    record = g.rtbl.get(service)
    return sorted(record.hosts) if record else []


def _svc_metrics(g: Galileo, subsystem: str) -> set[str]:
    out = set()
    for _id, fields in g.redis.xrange(g.keys.telemetry):
        for sample in decode_telemetry_batch(fields[TelemetryField]).samples:
            if sample.subsystem == subsystem:
                out.add(sample.metric)
    return out


def test_an_assignment_naming_a_shell_is_refused_and_never_run(
        g: Galileo, start_agent: AgentStarter, tmp_path: Path) -> None:
    """Written as the reconciler would (none runs here, so nothing retires it first)."""
    marker = tmp_path / "pwned"
    start_agent("n1", "--commands", str(_commands(tmp_path)))
    node = f"n1-{g.keys.ns[-6:]}"
    evil = InstanceSpec(id="evil-1", service="evil", kind="command",
                        what=f"sh -c 'touch {marker}'", port=21999)
    g.redis.hset(g.keys.node_assigned(node), "evil-1", encode(evil))
    g.redis.publish(g.keys.services_changes, "reconciler")
    wait_until(lambda: any(s.id == "evil-1" and s.state == InstanceState.REFUSED
                           for s in _reports(g, node)), 5, "the refusal")
    [refused] = [s for s in _reports(g, node) if s.id == "evil-1"]
    assert "not in this host's allow-list" in refused.reason
    assert not marker.exists()
    assert [e["instance"] for e in _events(g, "instance_refused")] == ["evil-1"]


def test_a_crashing_command_backs_off_then_fails_once(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler, tmp_path: Path) -> None:
    start_agent("n1", "--commands", str(_commands(tmp_path)))
    node = f"n1-{g.keys.ns[-6:]}"
    g.services.run("crash", command="quit", health="")
    def failures() -> list[dict[str, object]]:  # the report goes once it is retired: events
        return [e for e in _events(g, "instance_state") if e.get("state") == "failed"]

    wait_until(failures, 15, "the crashing instance to fail")
    [failed] = failures()
    assert failed["exit_code"] == 3 and "exited 4 times" in str(failed["reason"])
    assert "bad config" in " ".join(failed["log_tail"])  # type: ignore[arg-type]
    assert failed["node"] == node
    time.sleep(1.0)  # retired, node avoided: nothing else to place on, so it waits
    assert [e["reason"] for e in _events(g, "instance_state") if e.get("state") == "pending"]
    assert len(failures()) == 1


def _reports(g: Galileo, node: str) -> list:  # type: ignore[type-arg]
    from galileo.protocol import decode_instance_status

    return [decode_instance_status(v)
            for v in g.redis.hgetall(g.keys.node_instances(node)).values()]


def test_bad_input_is_one_line_exit_2_and_nothing_declared(
        g: Galileo, settings: Settings, start_agent: AgentStarter) -> None:
    start_agent("n1", "--cpus", "1")
    api_cases = {
        "unknown placement policy": {"app": "echo", "placement": "nope"},
        "matches no node": {"app": "echo", "hosts": "edge*"},
        "no node allows command 'busy'": {"command": "busy"},
        "replicas must be": {"app": "echo", "replicas": -1},
    }
    for message, kwargs in api_cases.items():
        with pytest.raises(GalileoError, match=message):
            g.services.run("x", **kwargs)
    with pytest.raises(NotFoundError, match="no service 'zzz' is declared"):
        g.services.scale("zzz", 2)
    cases = {  # through the CLI: exit code and one line
        ("run", "a", "--app", "nope"): "unknown app 'nope'",
        ("run", "c", "--app", "echo", "--cpus", "64"): "cpus 64 is larger than any node",
    }
    procs = {args: subprocess.Popen([sys.executable, "-m", "galileo", "services", *args],
                                    env=agent_env(settings), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for args in cases}
    for args, proc in procs.items():
        _out, err = proc.communicate(timeout=60)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert proc.returncode == 2, (args, err)
        assert len(lines) == 1 and cases[args] in lines[0], (args, err)
        assert "Traceback" not in err
    assert g.redis.hlen(g.keys.services_desired) == 0


def test_an_emptied_redis_keeps_instances_running_and_restores_services(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler) -> None:
    start_agent("n1")
    keeper = StateKeeper(g.redis, g.keys)
    keeper.tick()
    g.services.run("web", app="echo", cpus=0.25)
    [endpoint] = g.services.wait("web", 30)
    pid = _pid(g, "web", endpoint)
    keeper.tick()  # snapshot with the service declared
    keys = list(g.redis.scan_iter(f"{g.keys.ns}:*"))
    g.redis.delete(*keys)  # Redis "came back empty"
    time.sleep(1.5)  # the agent re-writes its heartbeat and reports
    assert keeper.tick() is not None  # restored
    assert g.services.wait("web", 10) == [endpoint]
    time.sleep(6.0)  # past the agent's grace for unassigned instances
    assert _pid(g, "web", endpoint) == pid and _get(endpoint) == 200


def test_a_killed_agent_has_its_instances_replaced_on_another_node(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler) -> None:
    first = start_agent("n1")
    start_agent("n2")
    g.services.run("web", app="echo", cpus=0.25, hosts=f"n1-{g.keys.ns[-6:]}")
    g.services.wait("web", 30)
    spec = g.services.get("web")
    assert spec is not None
    g.services.apply(msgspec.structs.replace(spec, hosts=""))  # now free to move
    first.kill()
    t0 = time.monotonic()
    wait_until(lambda: any(s.node.startswith("n2") and s.state == InstanceState.READY
                           for s in g.services.instances("web")), 25, "a replacement on n2")
    wait_until(lambda: _routed(g, "web") == g.services.ready("web"), 2, "the replacement routed")
    assert time.monotonic() - t0 < 15  # node key TTL 5 s + 0.5 s, then a Python start
    retired = [e for e in _events(g, "instance_state") if e.get("state") == "retired"]
    assert any("node gone" in str(e["reason"]) for e in retired)
    assert len(g.services.ready("web")) == 1
