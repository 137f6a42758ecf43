"""Balancers in experiments: the instruction language (``lb start|stop|policy``) and scenarios
(``balancers:`` with timed policy switches), recorded as events."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import yaml
from rich.console import Console
from tests.lb.http import backend_of
from tests.waiting import until

from galileo.control import instructions as ins
from galileo.control.executor import Executor
from galileo.control.galileo import Galileo
from galileo.errors import InstructionError
from galileo.localenv import ProcessGroup, free_port, settings_env
from galileo.protocol import EventField, EventKind, Keys, decode_event


def test_instructions_parse_and_format():
    script = "lb start\nlb start edge 0 p2c\nlb policy hash,header=X-User edge\n" \
             "lb policy ewma *\nlb stop edge\n"
    steps = ins.parse_script(script, ins.Dialect.CONTROLLER)
    assert [s.instruction for s in steps] == [
        ins.LbStart(), ins.LbStart("edge", 0, "p2c"), ins.LbPolicy("hash,header=X-User", "edge"),
        ins.LbPolicy("ewma", "*"), ins.LbStop("edge")]
    for step in steps:
        again = ins.parse_line(step.instruction.format(), ins.Dialect.CONTROLLER)
        assert again == step.instruction
    for bad, needle in (("lb policy fastest", "line 1: unknown balancing policy 'fastest'"),
                        ("lb start x 99999", "port '99999'"), ("lb", "usage: lb start"),
                        ("lb stop a:b", "invalid balancer 'a:b'")):
        with pytest.raises(InstructionError) as err:
            ins.parse_script(bad, ins.Dialect.CONTROLLER)
        assert needle in str(err.value)


def _events(redis_client, settings):
    keys = Keys(settings.namespace)
    return [decode_event(f[EventField]) for _, f in redis_client.xrange(keys.events)]


def test_script_starts_switches_and_stops_a_balancer(settings, backends, routing, redis_client):
    a = backends("a")
    routing.set("svc", [a.address])
    g = Galileo(settings)
    out = io.StringIO()
    executor = Executor(g, ins.Dialect.CONTROLLER, console=Console(file=out))
    try:
        executor.run(ins.parse_script("lb start edge 0 least-outstanding\nlb policy p2c edge\n",
                                      ins.Dialect.CONTROLLER))
        url = out.getvalue().split("serving on ")[1].split()[0]
        port = int(url.rsplit(":", 1)[1])
        assert backend_of(port) == "a"
        executor.run(ins.parse_script("lb stop edge", ins.Dialect.CONTROLLER))
        with pytest.raises(OSError):
            backend_of(port)
    finally:
        executor.close()
        g.close()
    kinds = [(e.kind, e.name, e.data.get("policy")) for e in _events(redis_client, settings)
             if e.kind.startswith("lb_")]
    assert kinds == [(EventKind.LB_START, "edge", "least-outstanding"),
                     (EventKind.LB_POLICY, "edge", "p2c"), (EventKind.LB_STOP, "edge", None)]


def test_scenario_runs_a_balancer_with_a_policy_switch(settings, backends, routing, tmp_path):
    a = backends("a")
    port = free_port()
    doc = {
        "name": "lb-scenario",
        "routing": {"svc": {"hosts": [a.address]}, "front": {"hosts": [f"127.0.0.1:{port}"]}},
        "balancers": [{"name": "edge", "port": port, "policy": "wrr",
                       "policy_changes": [{"at": 1.0, "policy": "ewma"}]}],
        "workloads": [{"service": "front", "request": {"path": "/svc/x"},
                       "profile": {"type": "constant", "rps": 20},
                       "thresholds": ["errors < 1"]}],
        "duration": 2, "drain_s": 0.5,
    }
    path = tmp_path / "lb.yaml"
    path.write_text(yaml.safe_dump(doc))
    with ProcessGroup(settings) as procs:
        procs.start("worker", ["worker", "--name", "lb-worker", "--processes", "1"])
        procs.start("recorder", ["recorder"])
        g = Galileo(settings)
        try:
            until(lambda: [w.name for w in g.workers()] == ["lb-worker"], 30, "the worker")
        finally:
            g.close()
        run = subprocess.run([sys.executable, "-m", "galileo", "run", str(path), "--id",
                              "lb-run"], env=settings_env(settings), capture_output=True,
                             text=True, timeout=90)
    assert run.returncode == 0, run.stdout + run.stderr
    assert a.requests >= 30  # every request went through the balancer to the backend
    from galileo.storage import ExpDB

    db = ExpDB.from_settings(settings)
    try:
        events = [(e["kind"], e["name"]) for e in db.events("lb-run")]
        until(lambda: db.count_lb_traces("lb-run") >= db.count_traces("lb-run") >= 30, 20,
              "the balancer's traces of the run")
        policies = {r["policy"] for r in db.lb_traces("lb-run")}
    finally:
        db.close()
    assert policies == {"wrr", "ewma"}  # the switch at 1 s shows in the traces
    assert ("lb_start", "edge") in events and ("lb_policy", "edge") in events
    assert ("lb_stop", "edge") in events
