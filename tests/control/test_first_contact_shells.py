"""What a newcomer and a Galileo 0.x user meet first in the shells (issue 13): one-line errors
in IPython, line numbers for run-time errors, piped shells failing, ``rps`` as a total,
``info SERVICE``, confirmations, least-loaded back-to-back spawns and 0.x label names."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from galileo.control import Galileo
from galileo.control.executor import Executor
from galileo.control.instructions import Dialect, parse_line
from galileo.control.placement import label_key, with_pending
from galileo.settings import Settings

pytestmark = pytest.mark.usefixtures("routed")  # spawn refuses unrouted services


def _cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "galileo_redis_url": settings.redis_connection_url(),
           "galileo_namespace": settings.namespace, "galileo_data_dir": str(settings.data_dir),
           "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "galileo", *args], env=env, text=True,
                          input=stdin, capture_output=True, timeout=60)


def _run(ex: Executor, line: str) -> None:
    instruction = parse_line(line, ex.dialect)
    assert instruction is not None
    ex.execute(instruction)


def test_ipython_shows_galileo_errors_as_one_line_and_bugs_in_full(g: Galileo) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from galileo.control.shell import one_line_errors

    shell = InteractiveShell.instance()
    try:
        one_line_errors(shell)
        shell.user_ns["g"] = g
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            shell.run_cell("g.spawn('echo', worker_labels={'zone': 'nowhere'})")
            shell.run_cell("g.rtbl.set('api', 'h:1', [0])")
        said = err.getvalue().strip().splitlines()
        assert said == ["error: no live worker matches the labels zone=nowhere "
                        "(see `galileo workers`)",
                        "error: routing record for 'api': all weights are zero"]
        assert "Traceback" not in out.getvalue() + err.getvalue()
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            shell.run_cell("1 / 0")
        shown = out.getvalue()  # a real bug keeps IPython's (coloured) multi-line traceback
        assert "ZeroDivisionError" in shown and "division by zero" in shown
        assert len(shown.splitlines()) > 3
    finally:
        InteractiveShell.clear_instance()


def test_piped_shell_exits_non_zero_after_an_error_line(settings: Settings) -> None:
    done = _cli(settings, "controller", stdin="echo first\nspawn pico* api 2\necho after\n")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "first" in done.stdout and "after" in done.stdout
    assert "error: line 2: no live worker matches the host pattern 'pico*'" in done.stdout
    fine = _cli(settings, "rtbl", stdin="set api h:1\nlist\n")
    assert fine.returncode == 0, fine.stdout + fine.stderr


def test_rps_is_the_total_split_by_clients(
        g: Galileo, fake_worker: Callable[..., Any]) -> None:
    fake_worker("pico1")
    fake_worker("pico2")
    one, three = g.spawn("echo", 1), g.spawn("echo", 3)
    other = g.spawn("api", 2, rps=7)
    _run(Executor(g, Dialect.CONTROLLER, Console(quiet=True)), "rps pico* echo 100")
    rates = {grp.gid: grp.target_rps for grp in g.groups()}
    assert (rates[one.gid], rates[three.gid], rates[other.gid]) == (25.0, 75.0, 7.0)


def test_info_service_and_confirmations(
        g: Galileo, fake_worker: Callable[..., Any]) -> None:
    fake_worker("pico1")
    g.rtbl.set("echo", ["h1:80", "h2:80"], [1, 3])
    group = g.spawn("echo", 2, rps=10)
    buf = io.StringIO()
    asked: list[str] = []

    def say_no(question: str) -> bool:
        asked.append(question)
        return False

    ex = Executor(g, Dialect.CONTROLLER, Console(file=buf, width=200), confirm=say_no)
    _run(ex, "info echo")
    assert "h2:80  weight 3  (75.0%)" in buf.getvalue()
    assert f"group {group.gid}: 2 client(s) at 10 req/s on pico1(2)" in buf.getvalue()
    _run(ex, "close * echo")
    assert asked == ["close 1 group(s) of echo on workers matching *?"]
    assert [grp.gid for grp in g.groups()] == [group.gid]  # "no" kept it
    _run(Executor(g, Dialect.CONTROLLER, Console(quiet=True)), "close * echo")  # scripts: no ask
    assert g.groups() == []


def test_back_to_back_spawns_are_least_loaded(
        g: Galileo, fake_worker: Callable[..., Any]) -> None:
    for name in ("w1", "w2", "w3", "w4"):
        fake_worker(name, report_clients=False)
    # the fake workers' heartbeats never report the new clients: only pending placements count
    for w in g.workers():
        assert w.clients == 0
    groups = [g.spawn("echo", 1) for _ in range(4)]
    assert sorted(w for grp in groups for w in grp.workers) == ["w1", "w2", "w3", "w4"]
    assert with_pending({"a": 2, "b": 0}, [{"a": ["x"], "b": ["y", "z"]}]) == {"a": 2, "b": 2}


def test_galileo_0x_label_names_select_workers(
        g: Galileo, fake_worker: Callable[..., Any]) -> None:
    fake_worker("a1", labels={"zone": "A"})
    fake_worker("b1", labels={"zone": "B"})
    group = g.spawn("echo", 2, worker_labels={"galileo_zone": "A"})
    assert group.workers == ["a1"]
    assert [w.name for w in g.workers({"galileo_label_zone": "B"})] == ["b1"]
    assert label_key("galileo_zone") == "zone" and label_key("gpu") == "gpu"


def test_source_script_runtime_error_names_the_line(settings: Settings, tmp_path: Path) -> None:
    script = tmp_path / "s.exp"
    script.write_text("# comment\necho hi\n\nrps * nothing 5\n")
    done = _cli(settings, "controller", "--source", str(script))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("error: line 4: no client group of 'nothing' runs on "
                                   "workers matching '*'")


def test_spawn_of_an_unrouted_service_says_so(settings: Settings, fake_worker: Any) -> None:
    """``spawn w* nosuchsvc 1`` used to spawn silently (every trace ``no_route``)."""
    fake_worker("w1")
    done = _cli(settings, "controller", stdin="spawn w* nosuchsvc 1\n")
    assert done.returncode != 0, done.stdout + done.stderr
    assert ("error: line 1: no routing record for 'nosuchsvc'; set one with "
            "`set nosuchsvc HOST:PORT` in `galileo rtbl`") in done.stdout, done.stdout
    with Galileo(settings) as g:
        assert g.groups() == []
