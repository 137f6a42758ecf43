"""The web dashboard served by ``galileo api`` at ``/``: experiments, live runs with controls,
workers and routing, the designer, run comparison. Pages are Jinja2 templates; charts are
plotly.js's basic bundle, vendored (no CDN), gzip-compressed and loaded only by pages with
charts; live runs stream over SSE.

``mount(app)`` adds it to the API app (needs the ``dashboard`` extra: jinja2, plotly).
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from galileo.errors import NotFoundError

from .auth import LoginRequired


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and \
        not request.url.path.startswith("/ui/api/")


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages, static files and ``/ui/api`` to ``app``."""
    from . import api, pages
    from .live import LiveHub

    app.state.dashboard_live = LiveHub()
    app.state.dashboard_runs = pages.RunCache()
    app.state.dashboard_totals = {}
    from galileo.analysis.report.html import PLOTLY_FILE, plotly_path

    from .assets import FAVICON_SVG, Asset

    js = "text/javascript; charset=utf-8"
    assets = {
        f"/static/{PLOTLY_FILE}": Asset(plotly_path().read_bytes(), js, max_age_s=86_400),
        "/static/dashboard.js": Asset(
            (resources.files("galileo.web.dashboard") / "static" / "dashboard.js")
            .read_bytes(), js),
        "/favicon.ico": Asset(FAVICON_SVG, "image/svg+xml", max_age_s=86_400),
    }
    for url, asset in assets.items():
        def serve(request: Request, asset: Asset = asset) -> Response:
            return asset.response(request)
        app.add_api_route(url, serve, methods=["GET", "HEAD"], include_in_schema=False)
    app.include_router(pages.router)
    app.include_router(pages.guarded)
    app.include_router(api.router)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(exc.next_url, status_code=303)

    async def not_found(request: Request, exc: Exception) -> Response:
        if _wants_html(request):
            return pages.not_found_page(request, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and _wants_html(request):
            return pages.not_found_page(request, f"there is no page at {request.url.path}")
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
