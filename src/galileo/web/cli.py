"""``galileo api``: serve the REST API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api(
        host: Annotated[str, typer.Option(help="interface to bind")] = "0.0.0.0",
        port: Annotated[int | None, typer.Option(
            help="port (default: galileo_api_port, 5001)")] = None,
        workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    ) -> None:
        """Serve the REST API (OpenAPI schema at /openapi.json, docs at /docs)."""
        import uvicorn

        from galileo.cli.main import load_settings

        settings = load_settings()
        bind_port = port if port is not None else settings.api_port
        log_level = settings.log_level.lower()
        if workers > 1:  # each worker process builds its own app from the environment
            uvicorn.run("galileo.web.cli:app_from_env", factory=True, host=host, port=bind_port,
                        workers=workers, log_level=log_level)
            return
        from galileo.web import create_app

        uvicorn.run(create_app(settings), host=host, port=bind_port, log_level=log_level)


def app_from_env() -> object:
    """App factory for uvicorn worker processes (settings from the environment)."""
    from galileo.cli.main import load_settings
    from galileo.web import create_app

    return create_app(load_settings())
