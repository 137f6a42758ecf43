"""``galileo rtbl list|set|unset|…`` as one-shot commands, and ``updates`` without a duration
refused where nobody can interrupt it (piped input, one-shot with stdin not a terminal)."""

from __future__ import annotations

import subprocess
import sys

from cliprocess import galileo_env
from galileo.control import Galileo
from galileo.settings import Settings


def _cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", *args], input=stdin, text=True,
                          capture_output=True, timeout=60,
                          env={**galileo_env(settings), "COLUMNS": "200", "NO_COLOR": "1"})


def test_one_shot_commands(settings: Settings) -> None:
    done = _cli(settings, "rtbl", "set", "api", "h1:8080,h2:8080", "1,2")
    assert done.returncode == 0, done.stderr
    with Galileo.from_settings(settings) as g:
        record = g.rtbl.get("api")
        assert record is not None and record.weights == [1.0, 2.0]
        listed = _cli(settings, "rtbl", "list")
        assert listed.returncode == 0 and "h1:8080, h2:8080" in listed.stdout
    bad = _cli(settings, "rtbl", "set", "api")
    assert bad.returncode == 2
    assert bad.stderr == "error: usage: set SERVICE HOSTS [WEIGHTS]  (e.g. set api " \
                         "h1:8080,h2:8080 1,2)\n"


def test_updates_without_duration_never_blocks_a_pipe(settings: Settings) -> None:
    refusal = ("`updates` without SECONDS follows routing updates until interrupted, which a "
               "script or piped input cannot do; give a duration, e.g. `updates 10`")
    piped = _cli(settings, "rtbl", stdin="updates\necho after\nupdates 0.1\n")
    assert piped.returncode == 2
    assert f"error: line 1: {refusal}" in piped.stdout.replace("\n", " ").replace("  ", " ")
    assert "after" in piped.stdout  # the rest of the script ran
    one_shot = _cli(settings, "rtbl", "updates")
    assert one_shot.returncode == 2 and one_shot.stderr == f"error: {refusal}\n"
