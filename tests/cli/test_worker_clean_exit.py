"""A worker that ran several client groups ends on SIGTERM without asyncio's "Task was
destroyed but it is pending!" (every task it started is ended on the shutdown path)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cliprocess import galileo_env, serving
from galileo.control import Galileo
from galileo.control.group import ClientGroup
from galileo.errors import GalileoError
from galileo.settings import Settings
from waiting import until


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(3)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the worker hung up on a slow request at its exit: expected


def _close_quietly(group: ClientGroup) -> None:
    with contextlib.suppress(GalileoError):
        group.close(timeout=1.0)


@pytest.fixture
def target() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("processes", [1, 2])
def test_sigterm_after_several_groups(settings: Settings, target: str, processes: int) -> None:
    name = f"clean-{processes}"
    env = {**galileo_env(settings), "galileo_log_level": "DEBUG"}
    with serving(["worker", "--name", name, "--processes", str(processes)], env) as proc, \
            Galileo.from_settings(settings) as g:
        until(lambda: any(w.name == name for w in g.workers()), 30, "the worker to register")
        for service in ("a", "b", "c"):
            g.rtbl.set(service, [target])
        groups = [g.spawn(service, 3, rps=20) for service in ("a", "b", "c")]
        slow = g.spawn("a", 2, rps=20, request={"path": "/slow"})
        until(lambda: all(sum(s.sent for s in grp.stats(1)) > 0 for grp in groups[:2]),
              30, "the groups to send")
        groups[0].rps(50)
        groups[1].close()  # one closed, two still running at SIGTERM
        # a close still draining (its requests take 3 s) when SIGTERM comes
        closing = threading.Thread(target=_close_quietly, args=(slow,), daemon=True)
        closing.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Task was destroyed but it is pending" not in err, err
    assert "was never awaited" not in err, err
