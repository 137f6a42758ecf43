"""A closed bus: generators only from the operator's allow-list, names validated, bad input
refused with a reply (never a traceback, never a dead loop)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from workerhelpers import Bus, WorkerThread

from galileo.errors import ValidationError
from galileo.load.localserver import LocalServer
from galileo.protocol import (
    ArrivalSpec,
    CloseGroup,
    Keys,
    RequestSpec,
    SpawnGroup,
    decode_group_stats,
    valid_members,
)
from galileo.settings import Settings
from galileo.worker.generators import GeneratorPolicy, make_generator, resolve_generator


@pytest.fixture
def gworker(settings: Settings) -> Iterator[WorkerThread]:
    """A worker whose operator allows the built-ins and the tests' ``genfixtures`` module."""
    w = WorkerThread(settings.model_copy(update={"worker_generators": "builtin,genfixtures"}))
    w.start()
    yield w
    w.stop()


def spawn(gid: str, request: RequestSpec, rps: float = 50.0,
          arrival: ArrivalSpec | None = None):  # type: ignore[no-untyped-def]
    return lambda corr: SpawnGroup(corr=corr, gid=gid, service="api", clients=[f"{gid}-c0"],
                                   request=request, arrival=arrival or ArrivalSpec(), rps=rps,
                                   timeout_s=5)


def test_generator_outside_the_allow_list_is_refused(
        gworker: WorkerThread, wbus: Bus, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    marker = tmp_path / "pwned"
    for spec in ("os:system", "genfixtures:os", "galileo.apps.generators:ValidationError",
                 "galileo.apps.generatorsx:echo", "genfixtures:_private"):
        reply = wbus.send(spawn("g1", RequestSpec(generator=spec,
                                                  generator_args={"command": f"touch {marker}"})))
        assert not reply.ok
        assert reply.error is not None and f"generator {spec} " in reply.error
        assert f"on worker {wbus.worker}; allowed: galileo.apps.generators:*, " in reply.error
    assert reply.error == (  # the full sentence, once
        f"worker {wbus.worker} refused the command: generator genfixtures:_private is not "
        f"'module:callable' nor an allowed entry point on worker {wbus.worker}; allowed: "
        "galileo.apps.generators:*, galileo.apps.workloads.generators:*, genfixtures:* "
        "(set galileo_worker_generators)")
    assert not marker.exists()
    assert not [r for r in caplog.records if r.exc_info]


def test_allowed_generator_runs_and_bad_arguments_are_one_sentence(
        gworker: WorkerThread, wbus: Bus, http_server: LocalServer,
        caplog: pytest.LogCaptureFixture) -> None:
    wbus.set_route("api", [http_server.address], [1])
    reply = wbus.send(spawn("g1", RequestSpec(generator="genfixtures:Paths",
                                              generator_args={"nope": 1})))
    assert not reply.ok and reply.error is not None
    assert "generator genfixtures:Paths: bad arguments ['nope']: " in reply.error
    assert "unexpected keyword argument 'nope'" in reply.error
    reply = wbus.send(spawn("g2", RequestSpec(path="/x"), arrival=ArrivalSpec(
        kind="distribution", distribution="expovariate")))
    assert not reply.ok and reply.error is not None
    assert "expovariate[]: wrong parameters (missing a required argument: 'lambd')" in reply.error
    ok = wbus.send(spawn("g3", RequestSpec(generator="genfixtures:Paths",
                                           generator_args={"paths": ["/a", "/b"]}), rps=100))
    assert ok.ok, ok.error
    traces = wbus.wait_traces(lambda ts: len(ts) >= 20)
    assert {t.path for t in traces} == {"/a", "/b"} and all(t.status == 200 for t in traces)
    assert not [r for r in caplog.records if r.exc_info], "a traceback reached the worker log"


def test_invalid_group_id_is_refused_and_stats_go_on(
        worker: WorkerThread, wbus: Bus, http_server: LocalServer,
        redis_client: redis.Redis) -> None:
    wbus.set_route("api", [http_server.address], [1])
    for bad in ("x:stats", "has space", "", "é"):
        reply = wbus.send(spawn(bad, RequestSpec(path="/x")))
        assert not reply.ok and reply.error is not None and "invalid group" in reply.error
    assert wbus.send(spawn("good", RequestSpec(path="/x"), rps=50)).ok
    key = wbus.keys.group_stats("good")
    deadline = time.monotonic() + 5
    while redis_client.xlen(key) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert redis_client.xlen(key) >= 2, "the stats loop stopped"


def test_closed_group_reports_its_last_partial_second(
        worker: WorkerThread, wbus: Bus, http_server: LocalServer,
        redis_client: redis.Redis) -> None:
    wbus.set_route("api", [http_server.address], [1])
    assert wbus.send(spawn("g1", RequestSpec(path="/x"), rps=200)).ok
    time.sleep(1.6)
    closed = wbus.send(lambda c: CloseGroup(corr=c, gid="g1"))
    assert closed.ok and closed.data["sent"] > 250
    key = wbus.keys.group_stats("g1")

    def sent_in_stats() -> int:
        return sum(decode_group_stats(f[b"s"]).sent for _, f in redis_client.xrange(key))

    deadline = time.monotonic() + 3
    while sent_in_stats() < closed.data["sent"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent_in_stats() == closed.data["sent"]


def test_bad_members_are_skipped_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    keys = Keys("ns")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert valid_members([b"w2", b"bad name", "w1", b"x:stats"], "worker",
                                 keys.workers) == ["w1", "w2"]
    assert len([r for r in caplog.records if "bad name" in r.getMessage()]) == 1


def test_policy_syntax_and_prefix_matching() -> None:
    p = GeneratorPolicy.parse(" builtin , mylab.gens ,entrypoint:kv", worker="w1")
    assert p.module_allowed("mylab.gens") and p.module_allowed("mylab.gens.sub")
    assert not p.module_allowed("mylab.gensx") and not p.module_allowed("mylab")
    assert p.entry_points == ("kv",)
    assert GeneratorPolicy.parse("none").describe() == "nothing"
    with pytest.raises(ValidationError, match="'os:system' is neither"):
        GeneratorPolicy.parse("builtin,os:system")
    with pytest.raises(ValidationError, match="is not allowed on worker w0; allowed: nothing"):
        resolve_generator("galileo.apps.generators:echo", GeneratorPolicy.parse("", "w0"))
    gen = make_generator("galileo.apps.generators:echo", {"size": 0}, GeneratorPolicy())
    assert gen.next_request()["path"] == "/echo"
    with pytest.raises(ValidationError, match=r"echo: echo generator: size must be between"):
        make_generator("galileo.apps.generators:echo", {"size": -1}, GeneratorPolicy())


def test_entry_point_generators_are_allowed_by_name(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package's ``galileo.generators`` entry point, allowed by name only."""
    (tmp_path / "labgens.py").write_text(
        "class Paths:\n    def __init__(self, path='/ep'):\n        self.path = path\n"
        "    def next_request(self):\n        return {'path': self.path}\n")
    info = tmp_path / "labgens-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: labgens\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[galileo.generators]\npaths = labgens:Paths\nother = labgens:Paths\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    policy = GeneratorPolicy.parse("entrypoint:paths", worker="w1")
    assert make_generator("paths", {"path": "/x"}, policy).next_request() == {"path": "/x"}
    assert resolve_generator("labgens:Paths", policy).__name__ == "Paths"  # by its target
    with pytest.raises(ValidationError, match="generator other is not 'module:callable' nor an "
                                              "allowed entry point on worker w1; allowed: "
                                              "entry point paths"):
        resolve_generator("other", policy)
    assert resolve_generator("other", GeneratorPolicy.parse("entrypoint:*")).__name__ == "Paths"
