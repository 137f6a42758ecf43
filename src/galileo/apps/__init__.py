"""Galileo's built-in example services and the small, fast HTTP/1.1 server they run on.

* ``server`` / ``connection`` / ``router`` / ``http`` — the framework: asyncio Protocol +
  httptools (+ uvloop), keep-alive, pipelining, ``--processes N`` with SO_REUSEPORT.
* ``registry`` — services by name (``echo``, ``classify``; add more with ``register_service``).
* ``background`` — run a server in a thread (:func:`serve_background`) or its own process
  (:func:`spawn_process`).
* ``generators`` — request generators for Galileo clients (``galileo.apps.generators:digits``).
"""

from __future__ import annotations

from galileo.apps.background import (
    BackgroundServer,
    ServerProcess,
    serve_background,
    spawn_process,
    start_in_thread,
)
from galileo.apps.http import Request, Response, error_response, json_response, text_response
from galileo.apps.registry import DEFAULT_SERVICES, build_router, list_services, register_service
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
