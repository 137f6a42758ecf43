"""``exp submit --wait`` with no runner alive says so and how to start one, and gives up after
``--timeout``; ``exp submit`` stores the user as creator, as ``galileo run`` does."""

from __future__ import annotations

import getpass
import subprocess
import sys
from pathlib import Path

from cliprocess import galileo_env
from galileo.experiments.service import ExperimentService
from galileo.settings import Settings


def test_wait_without_a_runner(settings: Settings, tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("sleep 1\n")
    out = subprocess.run([sys.executable, "-m", "galileo", "exp", "submit", str(script),
                          "--id", "lonely", "--wait", "--timeout", "1"],
                         capture_output=True, text=True, timeout=60,
                         env=galileo_env(settings))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "experiment lonely queued" in out.stdout
    assert (f"no runner is alive (namespace {settings.namespace}); experiment lonely stays "
            "QUEUED until one starts; start one with `galileo runner`") in out.stderr
    assert out.stderr.splitlines()[-1] == (
        "error: experiment lonely is still QUEUED after 1 s (galileo exp watch lonely "
        "follows it)")
    with ExperimentService(settings) as svc:
        exp = svc.get("lonely")
    assert exp.status.value == "QUEUED"
    assert exp.creator == getpass.getuser()
