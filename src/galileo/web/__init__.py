"""The REST API (FastAPI): ``create_app(settings)``, served by ``galileo api``."""

from __future__ import annotations

from galileo.web.app import create_app

__all__ = ["create_app"]
