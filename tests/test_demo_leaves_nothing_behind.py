"""``galileo demo`` (what ``make demo`` runs) leaves nothing that spoils the next run (issue 13):
routing records it made for its temporary services are undone, and an embedded Redis that was
already running keeps running with a note on how to stop it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from galileo import bus
from galileo.control.galileo import Galileo
from galileo.settings import Settings


def test_demo_restores_routes_and_names_the_running_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings.from_env({"galileo_data_dir": str(data_dir),
                                  "galileo_expdb_sqlite_path": str(tmp_path / "e.sqlite")})
    bus.ensure_embedded_redis(data_dir)  # a Redis other local commands are using
    try:
        with Galileo.from_settings(settings) as g:
            g.rtbl.set("echo", ["10.9.9.9:80"], [1])
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
        env.update({"galileo_data_dir": str(data_dir), "COLUMNS": "200",
                    "galileo_expdb_sqlite_path": str(tmp_path / "e.sqlite")})
        done = subprocess.run([sys.executable, "-m", "galileo", "demo", "--duration", "4",
                               "--peak", "40", "--workers", "1"], env=env, capture_output=True,
                              text=True, timeout=110)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "all recorded" in done.stdout
        assert ("the embedded Redis was already running before the demo and keeps running; "
                "stop it with `galileo redis stop`") in done.stdout
        assert bus.embedded_redis_running(data_dir)
        with Galileo.from_settings(settings) as g:
            echo = g.rtbl.get("echo")
            assert echo is not None and echo.hosts == ["10.9.9.9:80"]  # put back
            assert g.rtbl.get("classify") is None  # it had none before
            assert g.experiment.current() is None
    finally:
        bus.stop_embedded_redis(data_dir)


def test_an_app_server_that_never_answers_is_one_sentence(tmp_path: Path) -> None:
    import pytest

    from galileo.errors import GalileoError
    from galileo.localenv import free_port, wait_for_app_server

    port = free_port()
    with pytest.raises(GalileoError) as e:
        wait_for_app_server(port, tmp_path, timeout_s=0.3)
    assert str(e.value) == (f"the built-in app server did not answer on 127.0.0.1:{port} "
                            f"within 0.3 s (see the logs in {tmp_path})")
