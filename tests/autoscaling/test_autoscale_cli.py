"""``galileo autoscale``: bad input is one line and exit 2 (nothing touched); a real run scales
a declared service by its policy in the foreground and ends cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from svchelpers import AgentStarter, wait_until

from cliprocess import galileo_env
from galileo.control.galileo import Galileo
from galileo.settings import Settings


def galileo(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", "autoscale", *args],
                          env=galileo_env(settings), capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize(("args", "line"), [
    (["kv", "--policy", "nope"], "error: unknown autoscaling policy 'nope' (built in: "),
    (["kv", "--min", "3", "--max", "2"], "error: autoscaler min replicas (3) is above max (2)."),
    (["kv", "--period", "0"], "error: autoscaler period must be a number of seconds > 0"),
    (["kv", "--cooldown", "-1"], "error: autoscaler cooldown must be a number of seconds >= 0"),
    (["kv", "-o", "target"], "error: --option 'target' is not KEY=VALUE."),
    (["kv", "-o", "target=lots"], "error: autoscaling policy 'cpu': option target must be a "
                                  "number > 0, got 'lots'."),
    (["kv", "-p", "cpu", "-o", "slo_ms=5"], "error: autoscaling policy 'cpu' has no option(s) "
                                            "slo_ms (options: target, tolerance, window_s)."),
    (["kv", "-p", "os:system"], "error: autoscaling policy 'os:system' is not allowed"),
    (["nosuch", "-p", "cpu"], "error: no service 'nosuch' is declared (declared: none)."),
])
def test_bad_input_is_one_line_and_exit_2(settings: Settings, args: list[str],
                                          line: str) -> None:
    done = galileo(settings, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_it_scales_in_the_foreground_and_obeys_sigterm(
        settings: Settings, g: Galileo, start_agent: AgentStarter) -> None:
    start_agent("gas1")
    g.services.run("gascli", app="echo", replicas=1, cpus=0.1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "galileo", "autoscale", "gascli", "--policy", "schedule",
         "--option", "at=0s=1,1s=3", "--min", "1", "--max", "2", "--period", "0.5"],
        env=galileo_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: g.services.get("gascli").replicas == 2  # type: ignore[union-attr]
                   or proc.poll() is not None, 30, "the schedule's scale (clamped to max 2)")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    assert "3 clamped to 2" in out and "stopped after" in out and "1 change(s)" in out, out
