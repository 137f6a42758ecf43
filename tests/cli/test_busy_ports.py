"""A server command on a taken port: one line, exit 2 (and never a second silent listener)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from cliprocess import galileo_env
from galileo.errors import ConfigError
from galileo.experiments.service import ExperimentService
from galileo.grpc.server import create_server
from galileo.settings import Settings


def _galileo(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", *args], capture_output=True,
                          text=True, timeout=60, env=galileo_env(settings))


def test_second_grpc_server_on_a_bound_port(settings: Settings) -> None:
    with ExperimentService(settings) as service:
        first, port = create_server(service, 0)
        first.start()
        try:
            # in process: gRPC's SO_REUSEPORT would have bound the port a second time
            with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
                create_server(service, port)
            out = _galileo(["grpc", "--port", str(port)], settings)
        finally:
            first.stop(None).wait()
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"error: port {port} on 127.0.0.1 is already in use\n"
    assert "listening" not in out.stdout


def test_api_on_a_taken_port(settings: Settings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = _galileo(["api", "--port", str(port), "--no-watchdog"], settings)
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"error: port {port} on 127.0.0.1 is already in use\n"
