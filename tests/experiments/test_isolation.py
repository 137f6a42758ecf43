"""Experiments side by side (issue 21, item 1): two real ``galileo runner`` processes, three
experiments on the one service ``echo`` -- two Galileo 0.x scripts queued by ``LPUSH`` (the
bridge) and a scenario with a rate threshold. Before, run side by side, one script's
``close * echo`` closed the other's group (FAILED ``no client group of 'echo' …``), its
``rps * echo 10`` throttled the scenario's group (threshold failed) and its group events were
filed under the other experiment's id. Now each acts on its own groups only and they never
share the service at once: the later ones wait for the lease, saying why in their status."""

from __future__ import annotations

import itertools
import json

from jobhelpers import until

from galileo.control.galileo import Galileo
from galileo.experiments.bridge import Bridge
from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup
from galileo.protocol import Keys
from galileo.settings import Settings
from galileo.storage import ExperimentStatus

SCRIPT = "spawn * echo 1\nrps * echo {rps}\nsleep {sleep}\nclose * echo\n"
GROUP_EVENTS = {"group_spawn", "group_rate", "group_close"}


def test_three_experiments_on_one_service_two_runners(settings: Settings, app_host: str,
                                                      service: ExperimentService,
                                                      cluster: ProcessGroup) -> None:
    with Galileo.from_settings(settings) as g:
        g.rtbl.set("echo", app_host)
    bridge = Bridge(service)
    ids = []
    for n, (rps, sleep) in enumerate(((20, 2), (10, 1)), start=1):
        service.redis.lpush(Keys.SEED_INSTRUCTIONS, json.dumps(
            {"instructions": SCRIPT.format(rps=rps, sleep=sleep), "exp_id": f"iso-script-{n}"}))
        exp = bridge.run_once(timeout_s=2)
        assert exp is not None and exp.status == ExperimentStatus.QUEUED, exp
        ids.append(exp.id)
    ids.append(service.submit(scenario={
        "name": "iso-scenario", "duration": 2, "drain_s": 0.5,
        "workloads": [{"service": "echo", "clients": 1, "request": {"path": "/echo"},
                       "profile": {"type": "constant", "rps": 40},
                       "thresholds": ["achieved_rate > 0.9 * target"]}]},
        exp_id="iso-scenario").id)

    waits: set[str] = set()

    def ended() -> bool:
        views = [service.status(i) for i in ids]
        waits.update(v.message or "" for v in views if v.status == "QUEUED")
        running = [v.id for v in views if v.status == "RUNNING"]
        assert len(running) <= 1, running  # never two on the service at once
        return all(v.terminal for v in views)

    for n in (1, 2):
        cluster.start(f"runner-{n}", ["runner", "--concurrency", "1", "--name", f"iso-{n}"])
    until(ended, 90, "the three experiments to end")

    runs = [service.get(i) for i in ids]
    for exp in runs:  # the close of one never hit another's group; no throttled scenario
        assert exp.status == ExperimentStatus.FINISHED, (exp.id, exp.status_message)
    assert "1/1 thresholds passed" in (runs[2].status_message or ""), runs[2].status_message
    assert any(w.startswith("waiting for service 'echo' (used by experiment iso-")
               for w in waits), waits  # `exp status` said why it waited
    spans = sorted((e.start or 0, e.end or 0) for e in runs)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))

    owners: dict[str, str] = {}
    for exp_id in ids:  # every group event filed under the experiment that owns the group
        events = [e for e in service.db.events(exp_id) if e["kind"] in GROUP_EVENTS]
        assert {e["kind"] for e in events} == GROUP_EVENTS, (exp_id, events)
        for e in events:
            assert owners.setdefault(e["name"], exp_id) == exp_id, (e, owners)
        traces = service.db.traces(exp_id)
        assert traces and {t["exp_id"] for t in traces} == {exp_id}
        assert {t["group_id"] for t in traces} <= {g for g, o in owners.items() if o == exp_id}
    assert sorted(set(owners.values())) == sorted(ids)
