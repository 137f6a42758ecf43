"""Rolling spec changes (issue 17): ``galileo services apply`` with a changed spec replaces the
instances one at a time on real node agents -- start a new one → ready → routed → stop an old
one -- and the ready, routed replicas never dip below what the update allows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from svchelpers import AgentStarter, wait_until

from galileo.control.galileo import Galileo
from galileo.protocol import EventField, InstanceState, decode_event
from galileo.services.reconciler import Reconciler
from galileo.services.spec import read_services_file


def _serving(g: Galileo, name: str) -> int:
    """Instances that are routed *and* reported ready (routing read first: an old instance
    leaves the record before its agent stops it)."""
    record = g.rtbl.get(name)
    routed = set(record.hosts) if record else set()
    return len(routed & {s.endpoint for s in g.services.instances(name)
                         if s.state == InstanceState.READY})


@contextmanager
def _sampled(g: Galileo, name: str) -> Iterator[list[int]]:
    """Samples of :func:`_serving` every ~20 ms while the block runs."""
    samples: list[int] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            samples.append(_serving(g, name))
            stop.wait(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(5)


def _events(g: Galileo, name: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for _id, fields in g.redis.xrange(g.keys.events):
        event = decode_event(fields[EventField])
        if event.name == name:
            out.append((event.kind.value, event.data))
    return out


def _apply(g: Galileo, tmp_path: Path, text: str) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text(text)
    g.services.apply_all([spec for spec, _keep in read_services_file(path)])


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")
    except OSError:  # it exited since its report
        return []


def _settled(g: Galileo, name: str, cpus: float, args: list[str]) -> bool:
    live = [s for s in g.services.instances(name) if s.state != InstanceState.STOPPED]
    return (len(live) == 3 and all(s.state == InstanceState.READY and s.cpus == cpus
                                   for s in live)
            and all(_cmdline(s.pid)[-len(args):] == args for s in live))


def _roll(g: Galileo, tmp_path: Path, name: str, spec: str, cpus: float,
          args: list[str]) -> tuple[list[int], set[str]]:
    """Apply ``spec`` while sampling ``name``'s ready-and-routed count until every instance
    runs it: (the samples, the ids of the instances live then)."""
    with _sampled(g, name) as samples:
        _apply(g, tmp_path, spec)
        wait_until(lambda: _settled(g, name, cpus, args), 90, "every instance on the new spec")
        g.services.wait(name, 30)
    live = {s.id for s in g.services.instances(name) if s.state != InstanceState.STOPPED}
    return samples, live


def test_a_changed_spec_rolls_one_at_a_time_and_never_dips(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler, tmp_path: Path) -> None:
    start_agent("n1")
    start_agent("n2")
    _apply(g, tmp_path, "roll: {app: echo, replicas: 3, cpus: 0.1, args: [--delay, 0ms]}\n")
    g.services.wait("roll", 60)
    before = {s.id for s in g.services.instances("roll")}
    samples, after = _roll(g, tmp_path, "roll", "roll: {app: echo, replicas: 3, cpus: 0.2, "
                           "args: [--delay, 1ms]}\n", 0.2, ["--delay", "1ms"])
    assert not after & before, "every old instance was replaced"
    assert len(samples) > 20
    assert min(samples) >= 3, f"ready and routed dipped to {min(samples)} (surge room existed)"
    assert max(samples) <= 4, "one at a time: never more than one extra instance"
    events = _events(g, "roll")
    places = [d for k, d in events if k == "instance_place" and "rolling update" in
              str(d["reason"])]
    retired = [d for k, d in events if k == "instance_state" and d.get("state") == "retired"
               and "rolling update" in str(d.get("reason"))]
    assert len(places) == 3 and len(retired) == 3
    assert {d["instance"] for d in retired} == before
    # one at a time: each old one retired only after its replacement was placed
    order = [("place" if k == "instance_place" else "retire")
             for k, d in events if d in places or d in retired]
    assert order == ["place", "retire"] * 3, order


def test_without_room_an_old_one_stops_first_within_max_unavailable(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler, tmp_path: Path) -> None:
    start_agent("n1", "--cpus", "0.3")  # room for exactly the 3 replicas: no surge possible
    _apply(g, tmp_path, "tight: {app: echo, replicas: 3, cpus: 0.1, max_unavailable: 0}\n")
    g.services.wait("tight", 60)
    before = {s.id for s in g.services.instances("tight")}
    # max_unavailable 0 and no room: the update waits, the old instances keep serving
    _apply(g, tmp_path, "tight: {app: echo, replicas: 3, cpus: 0.1, args: [--delay, 1ms],"
                        " max_unavailable: 0}\n")
    wait_until(lambda: any(k == "instance_state" and d.get("state") == "pending"
                           and "max_unavailable=0" in str(d.get("reason"))
                           for k, d in _events(g, "tight")), 10, "the update to wait")
    time.sleep(1.0)
    assert {s.id for s in g.services.instances("tight")} == before
    assert _serving(g, "tight") == 3
    samples, after = _roll(g, tmp_path, "tight", "tight: {app: echo, replicas: 3, cpus: 0.1, "
                           "args: [--delay, 1ms], max_unavailable: 1}\n", 0.1, ["--delay", "1ms"])
    assert not after & before, "every old instance was replaced"
    assert min(samples) >= 2, f"ready and routed dipped to {min(samples)} (max_unavailable 1)"
    assert min(samples) == 2, "stop-first: one old instance went before its replacement"
    assert not [d for k, d in _events(g, "tight") if k == "instance_refused"]


@pytest.mark.parametrize("bad", ["-1", "x", "true"])
def test_a_bad_max_unavailable_is_one_sentence(bad: str, tmp_path: Path) -> None:
    from galileo.errors import ValidationError

    path = tmp_path / "svc.yaml"
    path.write_text(f"s: {{app: echo, max_unavailable: {bad}}}\n")
    with pytest.raises(ValidationError, match="max_unavailable must be an integer >= 0"):
        read_services_file(path)
