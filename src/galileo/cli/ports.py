"""Check that a server's port is free before serving, so a busy port is one sentence and exit 2
rather than a server's own log lines (uvicorn) or a silent second listener (gRPC's
SO_REUSEPORT)."""

from __future__ import annotations

import errno
import socket

from galileo.errors import ConfigError


def port_in_use_error(host: str, port: int) -> ConfigError:
    """The one sentence for a taken port."""
    return ConfigError(f"port {port} on {host} is already in use")


def ensure_port_free(host: str, port: int) -> None:
    """Raise ``ConfigError`` (exit 2) when ``host:port`` cannot be bound because something
    listens there (port 0, any free port, is always fine)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"cannot resolve host {host!r}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    try:
        # SO_REUSEADDR as servers set it: a port in TIME_WAIT is free, one with a listener not
        with socket.create_server(address, family=family):
            pass
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise port_in_use_error(host, port) from None
        raise ConfigError(f"cannot bind {host}:{port}: {e.strerror}") from None
