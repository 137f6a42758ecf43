"""Galileo's built-in example services and the small, fast HTTP/1.1 server they run on.

* ``server`` / ``connection`` / ``router`` / ``http`` — the framework: asyncio Protocol +
  httptools (+ uvloop), keep-alive, pipelining, ``--processes N`` with SO_REUSEPORT.
* ``registry`` — services by name (``echo``, ``classify``; add more with ``register_service``).
* ``background`` — run a server in a thread (:func:`serve_background`) or its own process
  (:func:`spawn_process`).
* ``generators`` — request generators for Galileo clients (``galileo.apps.generators:digits``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from galileo._lazy import lazy_exports

if TYPE_CHECKING:
    from galileo.apps.background import (
        BackgroundServer,
        ServerProcess,
        serve_background,
        spawn_process,
        start_in_thread,
    )
    from galileo.apps.http import Request, Response, error_response, json_response, text_response
    from galileo.apps.registry import (
        DEFAULT_SERVICES,
        build_router,
        list_services,
        register_service,
    )
    from galileo.apps.router import Router
    from galileo.apps.server import HttpServer, serve

__all__ = [
    "DEFAULT_SERVICES",
    "BackgroundServer",
    "HttpServer",
    "Request",
    "Response",
    "Router",
    "ServerProcess",
    "build_router",
    "error_response",
    "json_response",
    "list_services",
    "register_service",
    "serve",
    "serve_background",
    "spawn_process",
    "start_in_thread",
    "text_response",
]

__getattr__ = lazy_exports(__name__, {
    "BackgroundServer": "galileo.apps.background",
    "DEFAULT_SERVICES": "galileo.apps.registry",
    "HttpServer": "galileo.apps.server",
    "Request": "galileo.apps.http",
    "Response": "galileo.apps.http",
    "Router": "galileo.apps.router",
    "ServerProcess": "galileo.apps.background",
    "build_router": "galileo.apps.registry",
    "error_response": "galileo.apps.http",
    "json_response": "galileo.apps.http",
    "list_services": "galileo.apps.registry",
    "register_service": "galileo.apps.registry",
    "serve": "galileo.apps.server",
    "serve_background": "galileo.apps.background",
    "spawn_process": "galileo.apps.background",
    "start_in_thread": "galileo.apps.background",
    "text_response": "galileo.apps.http",
})
