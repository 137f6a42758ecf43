"""``galileo app serve|list`` and server processes (SO_REUSEPORT), as real subprocesses."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time

import typer
from typer.testing import CliRunner

from galileo.apps import spawn_process
from galileo.apps.server import READY_PREFIX
from galileo.cli.app import register

DEADLINE_S = 60.0


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_app_list_names_every_service() -> None:
    cli = typer.Typer()
    register(cli)
    cli.command("noop")(lambda: None)  # keep "app" a sub-command, as in the real CLI
    result = CliRunner().invoke(cli, ["app", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("echo ") and "Echoes" in line for line in lines)
    assert any(line.startswith("classify ") and "digit" in line for line in lines)


def test_cli_serve_answers_then_exits_cleanly_on_sigterm() -> None:
    cmd = [sys.executable, "-m", "galileo.cli.main", "app", "serve", "echo", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the ready line; the process exits if it cannot start
        assert line.startswith(READY_PREFIX), proc.stderr.read() if proc.stderr else line
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        assert _get(port, "/echo") == (200, b"echo\n")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_spawn_process_with_two_processes_shares_the_port() -> None:
    with spawn_process(["echo"], processes=2, cpus=sorted(os.sched_getaffinity(0))) as server:
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                                  text=True, check=False).stdout.split()
        assert len(children) == 1  # the parent serves too
        for _ in range(20):  # new connections, spread by the kernel over both sockets
            assert _get(server.port, "/echo") == (200, b"echo\n")
    assert server.popen.returncode == 0
    assert subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                          check=False).returncode == 1  # children gone too


def test_extra_processes_die_with_a_killed_parent() -> None:
    server = spawn_process(["echo"], processes=2)
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True,
                              check=False).stdout.split()
    assert len(children) == 1
    server.popen.kill()  # SIGKILL: no chance to stop its children itself
    server.stop()
    deadline = time.monotonic() + DEADLINE_S
    while _alive(int(children[0])):
        assert time.monotonic() < deadline, "the extra server process outlived its parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
