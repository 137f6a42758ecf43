"""One world per user: with nothing configured, every working directory meets the same embedded
Redis and SQLite expdb (the per-user XDG data directory), and a command that finds nothing says
where it looked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from galileo import bus
from galileo.settings import Settings, default_data_dir
from waiting import until


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh HOME, short enough for the embedded Redis' unix socket path."""
    path = Path(tempfile.mkdtemp(prefix="gh-"))
    yield path
    data = default_data_dir({"HOME": str(path)})
    bus.stop_embedded_redis(data)
    shutil.rmtree(path, ignore_errors=True)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.lower().startswith("galileo_") and k != "XDG_DATA_HOME"}
    return {**env, "HOME": str(home), "galileo_log_level": "WARNING"}


def galileo(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=_env(home))


def _redis_servers_under(root: Path) -> list[Path]:
    """Working directories (its ``--dir``) of every running redis-server under ``root``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "redis-server":
                cwd = (proc / "cwd").resolve()
                if cwd.is_relative_to(root):
                    found.append(cwd)
        except OSError:  # ended meanwhile
            continue
    return found


def test_xdg_data_home_wins_over_home() -> None:
    assert default_data_dir({"HOME": "/h"}) == Path("/h/.local/share/galileo")
    assert default_data_dir({"HOME": "/h", "XDG_DATA_HOME": "/x"}) == Path("/x/galileo")
    # the XDG spec: a relative XDG_DATA_HOME is invalid and ignored
    assert default_data_dir({"HOME": "/h", "XDG_DATA_HOME": "rel"}) == Path(
        "/h/.local/share/galileo")


def test_every_directory_meets_the_same_redis_and_expdb(home: Path) -> None:
    first, second = home / "project-a", home / "elsewhere" / "b"
    first.mkdir()
    second.mkdir(parents=True)
    data = default_data_dir({"HOME": str(home)})

    empty = galileo("workers", cwd=first, home=home)
    assert empty.returncode == 0, empty.stderr
    assert f"no workers registered on Redis embedded ({data / 'redis.sock'})" in empty.stderr
    assert "(namespace galileo)" in empty.stderr

    worker = subprocess.Popen([sys.executable, "-m", "galileo", "worker", "--name", "wa"],
                              cwd=first, env=_env(home), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        client = bus.connect(Settings.from_env({"galileo_data_dir": str(data)}))
        until(lambda: client.smembers("galileo:workers"), 30, "the worker to register")
        client.close()
        listed = galileo("workers", cwd=second, home=home)
        assert listed.returncode == 0, listed.stderr
        assert "wa" in listed.stdout
    finally:
        worker.terminate()
        worker.communicate(timeout=15)
    # both directories used the one embedded server
    assert _redis_servers_under(home) == [data]
    assert not (first / ".galileo").exists() and not (second / ".galileo").exists()

    unknown = galileo("exp", "show", "nosuchexp", cwd=second, home=home)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        f"error: unknown experiment 'nosuchexp' in the experiment database "
        f"sqlite:///{data / 'galileo.sqlite'}")


def test_a_too_long_socket_path_is_one_sentence(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    out = subprocess.run([sys.executable, "-m", "galileo", "workers"], capture_output=True,
                         text=True, timeout=60,
                         env={**_env(tmp_path), "galileo_data_dir": str(deep)})
    assert out.returncode == 2
    assert "is longer than 107 bytes; set galileo_data_dir to a shorter directory" in out.stderr
    assert "Traceback" not in out.stderr
