"""The shells driven through ``galileo … --source FILE`` in a subprocess, and interactively."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from galileo.control import Galileo
from galileo.control.instructions import Dialect
from galileo.control.shell import run_line_shell
from galileo.settings import Settings


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "galileo_redis_url": settings.redis_connection_url(),
           "galileo_namespace": settings.namespace, "galileo_data_dir": str(settings.data_dir),
           "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "galileo", *args], env=env, text=True,
                          capture_output=True, timeout=60)


def test_rtbl_source_script(settings: Settings, g: Galileo, tmp_path: Path) -> None:
    inner = tmp_path / "inner.rtbl"
    inner.write_text("set web w:80\n")
    script = tmp_path / "routes.rtbl"
    script.write_text("# routes\nset api h1:8080,h2:8080 1,2\nsource inner.rtbl\n"
                      "echo done setting\nlist\nunset web\ninfo api\n")
    result = _cli(settings, "rtbl", "--source", str(script))
    assert result.returncode == 0, result.stderr
    assert "done setting" in result.stdout and "h1:8080, h2:8080" in result.stdout
    assert "h2:8080  weight 2  (66.7%)" in result.stdout
    assert g.rtbl.services() == ["api"] and g.rtbl.get("api").weights == [1.0, 2.0]  # type: ignore[union-attr]


def test_bad_line_exits_before_running_anything(settings: Settings, g: Galileo,
                                                tmp_path: Path) -> None:
    script = tmp_path / "bad.rtbl"
    script.write_text("set api h1:8080 1\n\nset web h1:80,h2:80 1\n")
    result = _cli(settings, "rtbl", "--source", str(script))
    assert result.returncode == 2
    assert "line 3: routing record for 'web' has 2 hosts but 1 weights" in result.stderr
    assert "Traceback" not in result.stderr
    assert g.rtbl.services() == []  # line 1 never ran


@pytest.mark.usefixtures("routed")  # spawn refuses unrouted services
def test_controller_runtime_error_is_one_line(settings: Settings, tmp_path: Path) -> None:
    script = tmp_path / "load.exp"
    script.write_text("echo start\nspawn pico* api 2\n")
    result = _cli(settings, "controller", "--source", str(script))
    assert result.returncode == 1
    assert "start" in result.stdout
    assert result.stderr.strip() == ("error: line 2: no live worker matches the host pattern "
                                     "'pico*' (see `galileo workers`)")


def test_python_shell_source(settings: Settings, g: Galileo, tmp_path: Path) -> None:
    ok = tmp_path / "ok.py"
    ok.write_text("rtbl.set('api', 'h:1')\nshow('routing')\nprint('exp', exp.current(), pwd)\n"
                  "print('telemd nodes', telemd.nodes())\n")
    result = _cli(settings, "shell", "--source", str(ok))
    assert result.returncode == 0, result.stderr
    assert "exp None" in result.stdout and "api" in result.stdout
    assert "telemd nodes []" in result.stdout
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\nrtbl.set('api', 'h:1', [0])\n")
    result = _cli(settings, "shell", "--source", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {bad}, line 2: routing record for 'api': all weights are zero")


@pytest.fixture
def console_out() -> Iterator[tuple[Console, io.StringIO]]:
    buf = io.StringIO()
    yield Console(file=buf, width=200, color_system=None), buf


def test_interactive_shell_continues_after_errors(
        g: Galileo, console_out: tuple[Console, io.StringIO]) -> None:
    console, buf = console_out
    lines = iter(["set api h:1 1", "bogus", "set x h:1,h:2 1", "echo still here", "exit",
                  "echo never"])
    prompts: list[str] = []

    def read(prompt: str) -> str:
        prompts.append(prompt)
        return next(lines)

    run_line_shell(g, Dialect.RTBL, console, read)
    out = buf.getvalue()
    assert "error: line 2: unknown command 'bogus'" in out
    assert "error: line 3: routing record for 'x' has 2 hosts but 1 weights" in out
    assert "still here" in out and "never" not in out
    assert set(prompts) == {"rtbl> "} and g.rtbl.services() == ["api"]
