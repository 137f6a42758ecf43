"""``galileo run`` says what it starts and when the local cluster is ready; INFO log lines stay
out of the console unless asked (``-v`` or ``galileo_log_level``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cliprocess import galileo_env
from galileo.control import Galileo
from galileo.settings import Settings

SCENARIO = """name: quick
duration: 1
workloads:
  - {service: web, clients: 1, profile: {type: constant, rps: 5}}
"""


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web(settings: Settings) -> Iterator[None]:
    """A real HTTP server routed as service ``web``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with Galileo.from_settings(settings) as g:
        g.rtbl.set("web", [f"127.0.0.1:{server.server_address[1]}"])
    yield
    server.shutdown()
    server.server_close()


def test_run_shows_progress_not_info_logs(settings: Settings, tmp_path: Path, web: None) -> None:
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(SCENARIO)
    env = galileo_env(settings)
    del env["galileo_log_level"]  # the default: the console shows no INFO lines
    done = subprocess.run([sys.executable, "-m", "galileo", "run", str(scenario), "--local"],
                          capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "local: 1 worker(s), recorder ready (logs in " in done.stdout
    assert " INFO " not in done.stderr, done.stderr
    assert "FINISHED" in done.stdout
