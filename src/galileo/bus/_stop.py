"""Stopping without Redis: a daemon told to stop must not hang on a bus call to a Redis that
has vanished (frozen, or behind a cut link), where a command waits on its socket forever and a
connection error is retried.

:func:`interrupt` makes every call on a client fail fast: the sockets of its connections (in
use or idle, pub/sub and pipelines included) are shut down, so a blocked call returns at once;
later calls get no retries and a short timeout, so they answer in time when Redis is there and
raise ``BusUnavailable`` quickly when it is not. :func:`stop_guard` arms it for a daemon loop:
once ``stop`` is set, a loop that has not finished within ``after_s`` has its clients
interrupted. A healthy stop is not touched (it finishes before ``after_s``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger("galileo.bus")

STOP_INTERRUPT_S: Final = 1.0  # a stopping loop still waiting on Redis this long is interrupted
INTERRUPTED_TIMEOUT_S: Final = 0.5  # per call, once interrupted


def interrupt(client: Any, timeout_s: float = INTERRUPTED_TIMEOUT_S) -> None:
    """Make every call on ``client`` (a :class:`~galileo.bus.Bus`) fail fast from now on (see
    the module doc). Safe from another thread while a call is blocked."""
    raw = getattr(client, "_raw", client)
    pool = getattr(raw, "connection_pool", None)
    if pool is None:
        return
    kwargs = getattr(pool, "connection_kwargs", {})
    kwargs.update(socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                  retry=Retry(NoBackoff(), 0))
    conns = list(getattr(pool, "_available_connections", []))
    conns += list(getattr(pool, "_in_use_connections", []))
    single = getattr(raw, "connection", None)
    if single is not None:
        conns.append(single)
    for conn in conns:
        for attr in ("socket_timeout", "orig_socket_timeout", "socket_connect_timeout",
                     "orig_socket_connect_timeout"):
            if hasattr(conn, attr):
                setattr(conn, attr, timeout_s)
        retry = getattr(conn, "retry", None)
        if retry is not None:  # in place: a call blocked now holds this very object
            retry.update_retries(0)
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def stop_guard(stop: threading.Event, *clients: Any, what: str,
               after_s: float = STOP_INTERRUPT_S) -> Iterator[None]:
    """Run a daemon loop (and its clean-up) inside: once ``stop`` is set, if the block has not
    ended within ``after_s``, ``clients`` are interrupted (one log line). A client may be given
    as a function returning it (or None), for loops that connect lazily."""
    finished = threading.Event()

    def watch() -> None:
        stop.wait()
        if finished.wait(after_s):
            return
        log.warning("%s: still waiting on Redis %g s after the stop; giving up on it", what,
                    after_s)
        for client in clients:
            found = client() if isinstance(client, Callable) else client  # type: ignore[arg-type]
            if found is not None:
                interrupt(found)

    threading.Thread(target=watch, daemon=True, name="galileo-stop-guard").start()
    try:
        yield
    finally:
        finished.set()
