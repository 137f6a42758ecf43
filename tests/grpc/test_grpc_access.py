"""``galileo grpc`` is closed like ``galileo api``: with ``galileo_api_token`` every RPC needs
``authorization: Bearer <token>`` (real server on a free port, real Redis and SQLite); without
one the real CLI binds loopback only and refuses another interface unless told ``--allow-open``.
"""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
import time

import psutil
import pytest
from pydantic import SecretStr

import grpc  # type: ignore[import-untyped]
from cliprocess import galileo_env, serving
from galileo.access import LOOPBACK_HOST
from galileo.control.galileo import Galileo
from galileo.errors import ConfigError
from galileo.experiments.service import ExperimentService
from galileo.grpc.client import ExperimentClient
from galileo.grpc.server import create_server
from galileo.grpc.stubs import legacy_pb2, legacy_pb2_grpc, pb2, pb2_grpc
from galileo.localenv import free_port, wait_for_port
from galileo.settings import Settings

TOKEN = "s3cret-t0ken"
SCRIPT = "spawn * echo 2\nrps * echo 10\nsleep 1\nclose * echo\n"
pytestmark = pytest.mark.usefixtures("routed")  # SCRIPT spawns echo


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings, protected by ``galileo_api_token`` (the server fixtures of
    conftest.py build on these)."""
    return settings.model_copy(update={"api_token": SecretStr(TOKEN)})


def _refused(call: object, *args: object, **kwargs: object) -> str:
    """Make a raw gRPC call (no Galileo client) and return the UNAUTHENTICATED details."""
    assert callable(call)
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=10, **kwargs)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, info.value
    details = str(info.value.details())
    assert "galileo_api_token" in details
    return details


def test_writes_without_the_right_token_are_refused_and_change_nothing(
        address: str, service: ExperimentService) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = pb2_grpc.ExperimentServiceStub(channel)
        request = pb2.Experiment(id="t1", name="x", script=SCRIPT)
        _refused(stub.StartExperiment, request)
        _refused(stub.StartExperiment, request, metadata=(("authorization", "Bearer nope"),))
        _refused(stub.StartExperiment, request, metadata=(("authorization", TOKEN),))  # no scheme
    assert service.list() == []  # nothing was queued

    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        with ExperimentClient(address, token=token) as anon, \
                pytest.raises(ConfigError, match="galileo_api_token"):
            anon.start(exp_id="t1", script=SCRIPT)
    assert service.list() == []

    with ExperimentClient(address, token=TOKEN) as client:
        assert client.start(exp_id="t1", name="x", script=SCRIPT).answer.startswith(
            "Started experiment id t1")
        with ExperimentClient(address) as anon, pytest.raises(ConfigError):
            anon.stop("t1")
        assert service.get("t1").status == "QUEUED"  # the refused stop changed nothing
        assert client.stop("t1").experiment.status == "CANCELLED"
    assert service.get("t1").status == "CANCELLED"


def test_reads_need_the_token_too_when_one_is_set(address: str,
                                                  service: ExperimentService) -> None:
    """As on the REST API, where every route but /health needs the token once it is set."""
    service.submit(script=SCRIPT, exp_id="r1", name="read me")
    with ExperimentClient(address) as anon:
        with pytest.raises(ConfigError, match="galileo_api_token"):
            anon.status("r1")
        with pytest.raises(ConfigError, match="galileo_api_token"):
            anon.list()
        with pytest.raises(ConfigError, match="galileo_api_token"):
            list(anon.watch("r1", timeout_s=10))
    with ExperimentClient(address, token=SecretStr(TOKEN)) as client:
        assert client.status("r1").status == "QUEUED"
        assert [e.id for e in client.list()] == ["r1"]
        service.cancel("r1")
        assert [m.status for m in client.watch("r1", timeout_s=10)][-1] == "CANCELLED"


def test_the_original_0x_service_needs_the_token_too(address: str, settings: Settings) -> None:
    with grpc.insecure_channel(address) as channel:  # what Galileo 0.x's client.py sends
        stub = legacy_pb2_grpc.ExperimentServiceStub(channel)
        _refused(stub.StartExperiment, legacy_pb2.Experiment(id="m1", name="marker"))
        _refused(stub.StopExperiment, legacy_pb2.Experiment(id="m1"))
        _refused(stub.GetExperimentStatus, legacy_pb2.ExperimentId(id="m1"))
    with Galileo.from_settings(settings) as g:
        assert g.experiment.current() is None  # the refused start marked nothing
        with ExperimentClient(address, token=TOKEN) as client:
            assert client.original("start", "m1", "marker").startswith("Started experiment id m1")
            assert g.experiment.current() == "m1"
            with ExperimentClient(address, token="wrong") as anon, \
                    pytest.raises(ConfigError, match="galileo_api_token"):
                anon.original("stop", "m1")
            assert g.experiment.current() == "m1"
            assert client.original("stop", "m1").endswith("state FINISHED")
            assert g.experiment.current() is None


def test_grpc_client_command_sends_the_token_and_fails_in_one_line(
        address: str, service: ExperimentService) -> None:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}

    def grpc_client(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "galileo", "grpc-client", "-g", address,
                               *args], env={**env, **extra}, capture_output=True, text=True,
                              timeout=60)

    wrong = grpc_client("-c", "start", "-i", "c1", galileo_api_token="wrong")
    assert wrong.returncode == 2, wrong.stderr
    assert "Traceback" not in wrong.stderr
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1 and "galileo_api_token" in lines[0], wrong.stderr
    assert grpc_client("-c", "list").returncode == 2  # no token at all
    assert service.list() == []

    status = grpc_client("-c", "list", galileo_api_token=TOKEN)  # from the environment
    assert status.returncode == 0, status.stderr
    service.submit(script=SCRIPT, exp_id="c2")
    stopped = grpc_client("-c", "stop", "-i", "c2", "--token", TOKEN)  # from the option
    assert stopped.returncode == 0, stopped.stderr
    assert "status CANCELLED" in stopped.stdout


# -- the real ``galileo grpc`` command: where it listens ---------------------------------------


def _listening(proc: subprocess.Popen[str], port: int) -> set[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        # gRPC binds IPv6 sockets: 127.0.0.1 shows as ::ffff:127.0.0.1
        found = {c.laddr.ip.removeprefix("::ffff:")
                 for c in psutil.Process(proc.pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"galileo grpc does not listen on port {port}")


def _stderr_after_stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return err


def test_an_open_interface_without_a_token_is_refused(settings: Settings) -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "galileo", "grpc", "--host", "0.0.0.0",
                           "--port", str(port)], env=galileo_env(settings), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refusing to serve the gRPC ExperimentService on 0.0.0.0" in lines[0]
    assert "without galileo_api_token" in lines[0] and "--allow-open" in lines[0]
    assert "listening" not in done.stdout
    assert time.monotonic() - started < 60
    with socket.socket() as probe:  # nobody took the port
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("opt_out", ["--allow-open", "galileo_api_allow_open=true"])
def test_the_explicit_opt_out_serves_an_open_interface_and_warns(
        settings: Settings, opt_out: str) -> None:
    port = free_port()
    flag, env = ([opt_out], {}) if opt_out.startswith("--") else ([], {"galileo_api_allow_open":
                                                                      "true"})
    with serving(["grpc", "--host", "0.0.0.0", "--port", str(port), *flag],
                  galileo_env(settings, **env)) as proc:
        assert _listening(proc, port) & {"0.0.0.0", "::"}  # gRPC may take it dual-stack
        with ExperimentClient(f"127.0.0.1:{port}") as client:
            assert client.list() == []
            assert client.start(exp_id="o1", script=SCRIPT).experiment.status == "QUEUED"
        err = _stderr_after_stop(proc)
    assert "THE GRPC EXPERIMENTSERVICE ON 0.0.0.0:" in err and "HAS NO TOKEN" in err, err


def test_default_host_is_loopback_and_a_token_closes_every_call(settings: Settings) -> None:
    port = free_port()
    params = inspect.signature(create_server).parameters
    assert params["host"].default == LOOPBACK_HOST
    env = galileo_env(settings, galileo_api_token=TOKEN)
    with serving(["grpc", "--port", str(port)], env) as proc:
        assert _listening(proc, port) == {LOOPBACK_HOST}
        wait_for_port(LOOPBACK_HOST, port)
        address = f"{LOOPBACK_HOST}:{port}"
        with ExperimentClient(address) as anon, pytest.raises(ConfigError):
            anon.start(exp_id="d1", script=SCRIPT)
        with ExperimentClient(address, token=TOKEN) as client:
            assert client.list() == []
            assert client.start(exp_id="d1", script=SCRIPT).experiment.status == "QUEUED"
        err = _stderr_after_stop(proc)
    assert "NO TOKEN" not in err
