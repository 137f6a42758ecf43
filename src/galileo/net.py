"""Socket and event-loop helpers shared by every server and client in Galileo (the app server,
the balancer, the load generator): one home low in the stack, so none imports another for them."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from galileo.errors import ConfigError

__all__ = ["bind_socket", "new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed, else the default asyncio loop."""
    with contextlib.suppress(ImportError):
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()


def bind_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound, non-blocking TCP socket (not yet listening); a host that does not resolve or a
    busy port raises :class:`ConfigError`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"cannot resolve listen host {host!r}: {e.strerror}.") from e
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}.") from e
    sock.setblocking(False)
    return sock
