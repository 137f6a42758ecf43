"""The original Galileo's (0.x) documented command lines still work, each printing one note that
names today's command: the host application, the ``exp>`` and ``rtbl>`` shells, ``bin/run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from galileo.control.galileo import Galileo
from galileo.settings import Settings
from waiting import until

ROOT = Path(__file__).resolve().parents[2]


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update({"galileo_namespace": settings.namespace, "galileo_redis_url":
                settings.redis_connection_url(), "galileo_data_dir": str(settings.data_dir),
                "COLUMNS": "200", "NO_COLOR": "1"})
    return env


def _module(settings: Settings, module: str, *args: str,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], env=_env(settings), text=True,
                          input=stdin, capture_output=True, timeout=60, cwd=ROOT)


def test_host_application_runs_a_worker(settings: Settings) -> None:
    env = _env(settings)
    del env["galileo_redis_url"]  # the URL comes from --redis, as in 0.x
    proc = subprocess.Popen(
        [sys.executable, "-m", "galileo.cli.host", "--redis", settings.redis_connection_url(),
         "--trace-logging", "redis", "--name", "old-host"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with Galileo.from_settings(settings) as g:
            until(lambda: [w.name for w in g.workers()] == ["old-host"], 30, "the 0.x host")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert err.splitlines()[0] == (
        "note: `python -m galileo.cli.host --redis " + settings.redis_connection_url()
        + " --trace-logging redis --name old-host` is Galileo 0.x's command; today it is "
        "`galileo_redis_url=" + settings.redis_connection_url()
        + " galileo worker --name old-host`")


def test_controller_and_rtable_shells(settings: Settings) -> None:
    rtable = _module(settings, "symmetry.cli.rtable", stdin="set api h1:80,h2:80 1,2\nlist\n")
    assert rtable.returncode == 0, rtable.stderr
    assert "note: `python -m symmetry.cli.rtable` is Galileo 0.x's command; today it is " \
           "`galileo rtbl`" in rtable.stderr
    assert "h1:80, h2:80" in rtable.stdout
    controller = _module(settings, "galileo.cli.controller", stdin="info api\n")
    assert controller.returncode == 0, controller.stderr
    assert "today it is `galileo controller`" in controller.stderr
    assert "h2:80  weight 2  (66.7%)" in controller.stdout


def test_bin_run_maps_to_galileo(settings: Settings) -> None:
    bad = subprocess.run([str(ROOT / "bin" / "run"), "nonsense"], env=_env(settings),
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "galileo worker|shell" in bad.stderr
    shell = subprocess.run([str(ROOT / "bin" / "run"), "shell", "--logging=WARNING", "--source",
                            "/dev/stdin"], env=_env(settings), input="print(g.workers())\n",
                           capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "[]"
    assert "today it is `galileo shell`" in shell.stderr


def test_symmetry_is_packaged() -> None:
    from setuptools import find_packages

    found = find_packages(str(ROOT / "src"))
    assert {"galileo", "symmetry", "symmetry.cli"} <= set(found)


def test_gunicorn_module_serves_todays_api(settings: Settings) -> None:
    code = ("from galileo.webapp.wsgi import api\n"
            "paths = api.openapi()['paths']\n"
            "print('/api/experiments' in paths, '/experiments' in paths)\n")
    done = subprocess.run([sys.executable, "-c", code], env=_env(settings), text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True True"
    assert "today it is `galileo api`" in done.stderr
