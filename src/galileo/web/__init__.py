"""The REST API (FastAPI): ``create_app(settings)``, served by ``galileo api``.

FastAPI is an optional dependency (``galileo[api]``), so it is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from galileo.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from galileo.web.app import create_app

        return create_app
    raise AttributeError(name)
