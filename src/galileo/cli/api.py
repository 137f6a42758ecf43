"""``galileo api``: serve the REST API with uvicorn, closed by default.

Without ``galileo_api_token`` the API binds loopback only; another interface is refused (one
line, exit 2) unless a token is set or the operator opts out explicitly (``--allow-open`` or
``galileo_api_allow_open=true``), which is logged loudly at start. The rule lives in
:mod:`galileo.access`, shared with ``galileo grpc``.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from galileo.access import LOOPBACK_HOST, is_loopback, open_bind_warning

__all__ = ["LOOPBACK_HOST", "app_from_env", "is_loopback", "open_bind_warning", "register"]

log = logging.getLogger(__name__)


# open responses (dashboard live streams) get this long after SIGTERM, then the server exits
GRACEFUL_SHUTDOWN_S = 3


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api(
        host: Annotated[str, typer.Option(
            help="interface to bind; other than loopback needs galileo_api_token "
                 "or --allow-open")] = LOOPBACK_HOST,
        port: Annotated[int | None, typer.Option(
            help="port (default: galileo_api_port, 5001)")] = None,
        workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
        allow_open: Annotated[bool, typer.Option(
            "--allow-open", help="serve a non-loopback interface WITHOUT a token "
                                 "(logged loudly; same as galileo_api_allow_open=true)")] = False,
        watchdog: Annotated[bool, typer.Option(
            "--watchdog/--no-watchdog", help="also host the cluster watchdog (one is active "
                                             "per namespace; see docs/reliability.md)")] = True,
    ) -> None:
        """Serve the REST API (OpenAPI schema at /openapi.json, docs at /docs)."""
        import threading

        from galileo.settings import load_settings

        settings = load_settings()
        bind_port = port if port is not None else settings.api_port
        warning = open_bind_warning(host, bind_port, settings, allow_open)
        from galileo.cli.ports import ensure_port_free

        ensure_port_free(host, bind_port)
        import uvicorn

        if warning is not None:
            log.warning(warning)
        log_level = settings.log_level.lower()
        stop = threading.Event()
        dog = None
        if watchdog:
            from galileo.experiments.watchdog import start_in_thread

            dog = start_in_thread(settings, stop)
        try:
            if workers > 1:  # each worker process builds its own app from the environment
                uvicorn.run("galileo.cli.api:app_from_env", factory=True, host=host,
                            port=bind_port, workers=workers, log_level=log_level,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
                return
            from galileo.web import create_app

            uvicorn.run(create_app(settings), host=host, port=bind_port, log_level=log_level,
                        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
        finally:
            stop.set()
            if dog is not None:
                dog.join(5)


def app_from_env() -> object:
    """App factory for uvicorn worker processes (settings from the environment)."""
    from galileo.settings import load_settings
    from galileo.web import create_app

    return create_app(load_settings())
