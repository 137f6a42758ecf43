"""The REST API application factory: ``create_app(settings)``.

Nothing is built at import time; Redis and the expdb are reached on the first request that needs
them (see :class:`~galileo.web.resources.Resources`) and released when the app shuts down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from galileo.settings import Settings
from galileo.web import errors
from galileo.web.deps import require_token
from galileo.web.errors import error_responses
from galileo.web.resources import Resources
from galileo.web.routers import (
    apps,
    backlog,
    experiments,
    groups,
    legacy,
    routing,
    services,
    workers,
)

API_VERSION = "1"


def create_app(settings: Settings, *, resources: Resources | None = None) -> FastAPI:
    """The API for ``settings``; pass ``resources`` to share or inject backends (tests)."""
    res = resources if resources is not None else Resources(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if resources is None:  # ours to close
            await run_in_threadpool(res.close)

    protected = settings.api_token is not None
    app = FastAPI(
        title="Galileo API",
        version=API_VERSION,
        description="Experiments, workers, client groups and the routing table of a Galileo "
                    "cluster.",
        lifespan=lifespan,
    )
    app.state.resources = res
    errors.install(app)
    origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"],
                           allow_headers=["*"], allow_credentials="*" not in origins)
    guard = [Depends(require_token)] if protected else []
    guard_docs = error_responses(401) if protected else {}
    for module in (experiments, workers, groups, routing, legacy, apps, backlog, services):
        app.include_router(module.router, dependencies=guard, responses=guard_docs)

    _mount_dashboard(app)

    @app.get("/health", tags=["meta"], summary="Liveness (touches no backend)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _mount_dashboard(app: FastAPI) -> None:
    """The web dashboard at ``/`` when its extra (jinja2, plotly) is installed."""
    from galileo.web.dashboard import mount

    try:
        mount(app)
    except ModuleNotFoundError as e:  # pip install 'galileo[dashboard]'
        if e.name not in ("jinja2", "plotly", "markupsafe"):
            raise
