"""Jinja2 templates of the dashboard (its own folder plus the report's sections)."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from galileo.analysis.report.html import install_filters, template_loader


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("galileo.web.dashboard", "templates"),
                                    template_loader()]),
        autoescape=True, undefined=jinja2.StrictUndefined)
    install_filters(env)
    return env


def render(request: Request, name: str, status_code: int = 200, charts: bool = False,
           **ctx: Any) -> HTMLResponse:
    """The page ``name``; ``charts`` loads plotly.js (only pages that draw need it)."""
    settings = request.app.state.resources.settings
    page = environment().get_template(name).render(
        path=request.url.path, protected=settings.api_token is not None, charts=charts, **ctx)
    return HTMLResponse(page, status_code=status_code)
